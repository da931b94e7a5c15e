/**
 * The dashboard on a running local pipeline, in Debian's Chromium: final windows fill a
 * chart as they close, alerts published to SNS reach the page through the topic's tap,
 * and the pipeline panel shows throughput and batch sizes from the mapping. The pipeline
 * is configured with percentiles (p50, p99): the chart, its table and the open window
 * show them. An alarm-mode rule raises alarms, which the alarm panel shows with their state.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectPageErrors, type LaunchedBrowser, launchChromium, screenshot } from './chromium.js';
import { type LivePipeline, OVERHEAT, startLivePipeline } from './live-pipeline.js';

let browser: LaunchedBrowser | undefined;
let live: LivePipeline | undefined;
let page: Page | undefined;

beforeAll(async () => {
  [browser, live] = await Promise.all([
    launchChromium(),
    startLivePipeline({ percentiles: [0.99, 0.5], rules: [OVERHEAT] }),
  ]);
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
      // The label is set by the page's first request to the server: wait for it, as page.test.ts does.
      await expect
        .poll(() => p.textContent('#source-label'), { timeout: 15_000 })
        .toContain('local pipeline');
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

  it('shows the configured percentiles: p50 and p99 lines, the windows table, the open window', async () => {
    const p = page!;
    try {
      const chart = p.locator('#charts .chart[data-def="tumbling:5000"][data-metric="temperature"]');
      await expect.poll(() => chart.getAttribute('data-percentiles'), { timeout: 30_000 }).toBe('p50,p99');
      // The legend has a p99 line beside the mean.
      expect(await chart.locator('.u-legend .u-series .u-label').allTextContents()).toEqual(
        expect.arrayContaining(['temperature mean', 'p50', 'p99']),
      );
      expect(await chart.locator('table.windows th').allTextContents()).toEqual([
        'start',
        'count',
        'mean',
        'min',
        'max',
        'p50',
        'p99',
      ]);
      const p99 = Number(
        await chart.locator('table.windows tbody tr').first().locator('td[data-p="p99"]').textContent(),
      );
      const max = Number(
        await chart.locator('table.windows tbody tr').first().locator('td').nth(4).textContent(),
      );
      const min = Number(
        await chart.locator('table.windows tbody tr').first().locator('td').nth(3).textContent(),
      );
      // Within the window's range (the estimate is clamped to [min, max], SEMANTICS "Windows").
      expect(p99).toBeGreaterThanOrEqual(min);
      expect(p99).toBeLessThanOrEqual(max);
      await expect
        .poll(() => p.textContent('#open-window'), { timeout: 30_000 })
        .toMatch(/p50 -?\d.*, p99 -?\d/);
    } finally {
      await screenshot(p, 'pipeline-percentiles');
    }
  });

  it('shows an alarm raised by the pipeline, with its state, since, value and peak', async () => {
    const p = page!;
    try {
      const row = p.locator('#alarms tr[data-alarm-id^="overheat@sensor_"]').first();
      await row.waitFor({ timeout: 60_000 });
      expect(await row.getAttribute('data-alarm-state')).toBe('ACTIVE');
      expect(await row.getAttribute('data-alarm-transition')).toBe('ALARM');
      const cells = await row.locator('td').allTextContents();
      expect(cells[1]).toBe('overheat');
      expect(cells[2]).toBe('ACTIVE');
      expect(cells[3]).toMatch(/^\d\d:\d\d:\d\d$/);
      expect(Number(cells[4])).toBeGreaterThan(30);
      expect(Number(cells[5])).toBeGreaterThanOrEqual(Number(cells[4]) - 0.01);
      // No alarm actions in this pipeline: no buttons.
      expect(await row.locator('button').count()).toBe(0);
    } finally {
      await screenshot(p, 'pipeline-alarm');
    }
  });
});
