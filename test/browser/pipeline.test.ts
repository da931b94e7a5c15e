/**
 * The dashboard on a running local pipeline, in Debian's Chromium: final windows fill a
 * chart as they close, alerts published to SNS reach the page through the topic's tap,
 * and the pipeline panel shows throughput and batch sizes from the mapping.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectPageErrors, type LaunchedBrowser, launchChromium, screenshot } from './chromium.js';
import { type LivePipeline, startLivePipeline } from './live-pipeline.js';

let browser: LaunchedBrowser | undefined;
let live: LivePipeline | undefined;
let page: Page | undefined;

beforeAll(async () => {
  [browser, live] = await Promise.all([launchChromium(), startLivePipeline()]);
});
afterAll(async () => {
  await page?.close().catch(() => {});
  await live?.stop();
  await browser?.close();
});

describe('dashboard on a running local pipeline', () => {
  it('shows a window chart and an alert appear as the pipeline produces them', async () => {
    page = await browser!.context.newPage();
    const errors = collectPageErrors(page);
    await page.goto(live!.dashboard.url);
    const p = page;
    try {
      expect(await p.textContent('#source-label')).toContain('local pipeline');
      await p.waitForSelector('body[data-first-chart]', { timeout: 60_000 });
      const chart = p.locator('#charts .chart[data-def="tumbling:5000"][data-metric="temperature"]');
      await expect.poll(() => chart.getAttribute('data-points'), { timeout: 30_000 }).not.toBeNull();
      const first = Number(await chart.getAttribute('data-points'));
      await p.waitForSelector('#alerts li', { timeout: 60_000 });
      expect(await p.textContent('#alerts li')).toMatch(/(too-hot|too-cold|jump) sensor_\d+ temperature/);
      // The chart keeps filling as windows close (every 5 s of event time).
      await expect
        .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 30_000 })
        .toBeGreaterThan(first);
      await expect
        .poll(() => p.textContent('[data-figure="processed"]'), { timeout: 30_000 })
        .toMatch(/^[1-9]\d*$/);
      expect(await p.textContent('[data-figure="batch size"]')).toMatch(/median \d+|no batch lately/);
      await expect.poll(() => p.textContent('#sensor-count')).toBe('5 sensors');
      expect(await p.textContent('#open-window')).toMatch(/open window .* count \d+/);
      expect(errors).toEqual([]);
    } finally {
      await screenshot(p, 'pipeline-window-chart-and-alert');
    }
  });
});
