/**
 * Issue 11 item 5: from a running local pipeline, an alarm appears on the page; it is
 * acknowledged there, through the same AlarmActions as `npm run alarms -- ack` and `npm
 * start` (local/alarms/actions.ts: a control record on the readings stream, A-C1); its new state
 * reaches the page from the pipeline, and the ACKNOWLEDGED transition reaches an SQS
 * queue subscribed to the alert topic, as any SNS subscriber would get it.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localAlarmActions } from '../../local/dashboard/alarm-actions.js';
import { collectPageErrors, type LaunchedBrowser, launchChromium, screenshot } from './chromium.js';
import { type LivePipeline, OVERHEAT, startLivePipeline } from './live-pipeline.js';
import { subscribeToAlertTopic, type TopicSubscriber } from './topic-subscriber.js';

let browser: LaunchedBrowser | undefined;
let live: LivePipeline | undefined;
let page: Page | undefined;
let subscriber: TopicSubscriber;

beforeAll(async () => {
  [browser, live] = await Promise.all([
    launchChromium(),
    startLivePipeline({
      rules: [OVERHEAT],
      actions: (pipeline) => {
        const actions = localAlarmActions(pipeline);
        if (!actions) throw new Error('the local pipeline has no alarms projection table');
        return actions;
      },
    }),
  ]);
  subscriber = await subscribeToAlertTopic(live.pipeline, 'windowpane-test-alarm-subscriber');
});
afterAll(async () => {
  await page?.close().catch(() => {});
  await live?.stop();
  await browser?.close();
});

describe('alarm actions from the page', () => {
  it('acknowledges an alarm on the page: its state changes there and ACKNOWLEDGED is published on SNS', async () => {
    page = await browser!.context.newPage();
    const errors = collectPageErrors(page);
    await page.goto(live!.dashboard.url);
    const p = page;
    try {
      const active = p.locator('#alarms tr[data-alarm-state="ACTIVE"]').first();
      await active.waitFor({ timeout: 60_000 });
      const id = (await active.getAttribute('data-alarm-id'))!;
      expect(id).toMatch(/^overheat@sensor_\d$/);
      const row = p.locator(`#alarms tr[data-alarm-id="${id}"]`);
      await row.locator('input.alarm-note').fill('checked the fan');
      await row.locator('button[data-action="ack"]').click();
      await expect.poll(() => row.getAttribute('data-alarm-state'), { timeout: 30_000 }).toBe('ACKNOWLEDGED');
      expect(await row.locator('.by').textContent()).toMatch(/by .+: checked the fan/);
      expect(await row.locator('button[data-action="ack"]').count()).toBe(0);
      // The same transition, as an SNS subscriber receives it.
      await expect
        .poll(
          async () =>
            (await subscriber.read(500)).some((m) => {
              const body = JSON.parse(m.Message) as { alarmId?: string; note?: string };
              return (
                m.MessageAttributes?.kind?.Value === 'alarm' &&
                m.MessageAttributes?.transition?.Value === 'ACKNOWLEDGED' &&
                body.alarmId === id &&
                body.note === 'checked the fan'
              );
            }),
          { timeout: 30_000 },
        )
        .toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await screenshot(p, 'alarm-acknowledged-on-page');
    }
  });
});
