/**
 * The page in Debian's Chromium against a dashboard fed by a ManualSource: charts, the
 * virtualised searchable list, live updates, the alarm buttons and their round trip
 * through AlarmActions, and a server restart. A screenshot of each test goes to
 * test-results/.
 */
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WindowpaneError } from '../../functions/domain/errors.js';
import { type Dashboard, startDashboard } from '../../local/dashboard/index.js';
import type { AlarmActions, AlarmView } from '../../local/dashboard/model.js';
import { ManualSource } from '../../local/dashboard/sources/manual.js';
import { collectPageErrors, type LaunchedBrowser, launchChromium, screenshot } from './chromium.js';
import { alert, finalWindow, fleetWindows, MINUTE } from './fleet.js';

let browser: LaunchedBrowser;
let dashboard: Dashboard | undefined;
let page: Page;
let errors: string[];

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async (ctx) => {
  if (page) await screenshot(page, `page-${ctx.task.name}`);
  await page?.close();
  await dashboard?.close();
  dashboard = undefined;
});

async function open(source: ManualSource, actions?: AlarmActions, port?: number): Promise<Page> {
  dashboard = await startDashboard({
    source,
    tickMs: 50,
    who: 'tester',
    ...(actions ? { actions } : {}),
    ...(port ? { port } : {}),
  });
  page = await browser.context.newPage();
  errors = collectPageErrors(page);
  await page.goto(dashboard.url);
  return page;
}

class UnknownAlarmError extends WindowpaneError {}

describe('dashboard page', () => {
  it('loads: a chart of the first sensor, a virtualised list of 1,000 sensors, search', async () => {
    const source = new ManualSource('synthetic fleet');
    source.emitAll(fleetWindows(1_000, 60));
    const p = await open(source);
    await p.waitForSelector('body[data-first-chart]');
    expect(await p.textContent('#selected-sensor')).toBe('sensor_1');
    expect(
      await p.locator('#charts .chart[data-def="tumbling:60000"][data-metric="temperature"] canvas').count(),
    ).toBe(1);
    expect(await p.textContent('#sensor-count')).toBe('1000 sensors');
    // Virtualised: the DOM holds the rows in view, not a thousand.
    expect(await p.locator('.sensor-row:not([hidden])').count()).toBeLessThan(80);
    await p.fill('#sensor-search', 'sensor_99');
    await expect.poll(() => p.textContent('#sensor-count')).toBe('11 of 1000 sensors');
    await p.click('.sensor-row[data-id="sensor_998"]');
    await expect.poll(() => p.textContent('#selected-sensor')).toBe('sensor_998');
    expect(new URL(p.url()).hash).toBe('#sensor=sensor_998');
    expect(errors).toEqual([]);
  });

  it('updates live: a new final window extends the chart, alerts and late/invalid records appear', async () => {
    const source = new ManualSource('live');
    const last = Math.floor(Date.now() / MINUTE) * MINUTE;
    source.emit(
      { kind: 'window', window: finalWindow('sensor_1', last - 2 * MINUTE, 20) },
      { kind: 'window', window: finalWindow('sensor_1', last - MINUTE, 21) },
    );
    const p = await open(source);
    await p.waitForSelector('body[data-first-chart]');
    const chartPoints = () => p.getAttribute('#charts .chart', 'data-points');
    await expect.poll(chartPoints).toBe('2');
    source.emit(
      { kind: 'window', window: finalWindow('sensor_1', last, 37) },
      { kind: 'alert', alert: alert('sensor_1', 'alert-1') },
      {
        kind: 'invalid',
        at: Date.now(),
        invalid: {
          id: 'shard-0:9',
          reason: 'not-json',
          detail: 'Unexpected token',
          partitionKey: 'sensor_1',
          shardId: 'shard-0',
          sequenceNumber: '9',
          data: '',
          byteLength: 3,
        },
      },
      {
        kind: 'open',
        open: {
          sensorId: 'sensor_1',
          metric: 'temperature',
          windowType: 'tumbling',
          spec: 'tumbling:60000',
          start: last + MINUTE,
          end: last + 2 * MINUTE,
          count: 7,
          mean: 22.5,
          min: 21,
          max: 24,
        },
      },
    );
    await expect.poll(chartPoints).toBe('3');
    await p.waitForSelector('#alerts li[data-alert-id="alert-1"]');
    expect(await p.textContent('#alerts')).toContain('too-hot sensor_1 temperature 41.50 (above 35)');
    expect(await p.textContent('#set-aside')).toContain('not-json');
    await expect.poll(() => p.textContent('#open-window')).toContain('count 7, mean 22.50');
    await expect.poll(() => p.textContent('.sensor-row[data-id="sensor_1"] .alerts')).toBe('1!');
    expect(await p.textContent('.sensor-row[data-id="sensor_1"] .val')).toBe('22.50');
    // Its final window ends the open one: the sensor shows its final windows again.
    source.emit({ kind: 'window', window: finalWindow('sensor_1', last + MINUTE, 23.25) });
    await expect.poll(() => p.textContent('#open-window')).toBe('');
    await expect.poll(() => p.textContent('.sensor-row[data-id="sensor_1"] .val')).toBe('23.25');
    await expect.poll(chartPoints).toBe('4');
    // The page never polls: after the first load, only the event stream is open.
    const apiCalls: string[] = [];
    p.on('request', (r) => {
      if (r.url().includes('/api/')) apiCalls.push(r.url());
    });
    await p.waitForTimeout(1_000);
    expect(apiCalls).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('hides the alarm buttons when there are no alarm actions', async () => {
    const source = new ManualSource('no actions');
    source.emit({
      kind: 'alarm',
      alarm: {
        id: 'al-1',
        sensorId: 'sensor_1',
        rule: 'too-hot',
        state: 'ACTIVE',
        since: Date.now(),
        value: 40,
        peak: 42,
      },
    });
    const p = await open(source);
    await p.waitForSelector('tr[data-alarm-id="al-1"]');
    expect(await p.locator('tr[data-alarm-id="al-1"] button').count()).toBe(0);
  });

  it('acknowledges an alarm through AlarmActions and shows the state the source then reports', async () => {
    const source = new ManualSource('alarms');
    const active: AlarmView = {
      id: 'al-7',
      sensorId: 'sensor_3',
      rule: 'too-hot',
      state: 'ACTIVE',
      since: Date.now(),
      value: 40,
      peak: 44,
    };
    source.emit({ kind: 'alarm', alarm: active });
    const acks: unknown[][] = [];
    const actions: AlarmActions = {
      async ack(id, note, who) {
        if (id !== active.id) throw new UnknownAlarmError(`no alarm ${id}`);
        acks.push([id, note, who]);
        // As the alarm store would: the new state reaches the page through the source.
        source.emit({
          kind: 'alarm',
          alarm: { ...active, state: 'ACKNOWLEDGED', since: Date.now(), by: who, note },
        });
      },
      async snooze() {
        throw new UnknownAlarmError('not in this test');
      },
    };
    const p = await open(source, actions);
    const row = p.locator('tr[data-alarm-id="al-7"]');
    await row.locator('input.alarm-note').fill('looking at it');
    await row.locator('button[data-action="ack"]').click();
    await expect.poll(() => row.getAttribute('data-alarm-state')).toBe('ACKNOWLEDGED');
    expect(acks).toEqual([['al-7', 'looking at it', 'tester']]);
    expect(await row.locator('button[data-action="ack"]').count()).toBe(0);
    expect(await row.locator('button[data-action="snooze"]').count()).toBe(1);
    // A refusal from the alarms module is shown beside the button.
    await row.locator('button[data-action="snooze"]').click();
    await expect.poll(() => row.locator('.feedback').textContent()).toBe('not in this test');
    expect(errors.filter((e) => !e.includes('409'))).toEqual([]);
  });

  it('keeps a note being typed while other alarms change', async () => {
    const source = new ManualSource('two alarms');
    const alarm = (id: string, state: string, since: number): AlarmView => ({
      id,
      sensorId: id,
      rule: 'too-hot',
      state,
      since,
      value: 40,
      peak: 41,
    });
    source.emit(
      { kind: 'alarm', alarm: alarm('s1', 'ACTIVE', Date.now() - 2_000) },
      { kind: 'alarm', alarm: alarm('s2', 'ACTIVE', Date.now() - 1_000) },
    );
    const actions: AlarmActions = { async ack() {}, async snooze() {} };
    const p = await open(source, actions);
    const note = p.locator('tr[data-alarm-id="s1"] input.alarm-note');
    await note.fill('half a sentence');
    source.emit({ kind: 'alarm', alarm: alarm('s2', 'ACKNOWLEDGED', Date.now()) });
    await p.waitForSelector('tr[data-alarm-id="s2"][data-alarm-state="ACKNOWLEDGED"]');
    expect(await note.inputValue()).toBe('half a sentence');
    // The page's context, not this file's: a string keeps the DOM out of Node's types.
    expect(await p.evaluate('document.activeElement?.value')).toBe('half a sentence');
    expect(errors).toEqual([]);
  });

  it('works after the server restarts: it reconnects and reloads from the new server', async () => {
    const first = new ManualSource('before restart');
    first.emit(...fleetWindows(3, 10));
    const p = await open(first);
    await p.waitForSelector('body[data-first-chart]');
    const port = dashboard!.port;
    await dashboard!.close();
    await expect.poll(() => p.getAttribute('#connection', 'data-state')).toBe('reconnecting');
    const second = new ManualSource('after restart');
    second.emit(...fleetWindows(5, 10), { kind: 'alert', alert: alert('sensor_5', 'after') });
    dashboard = await startDashboard({ source: second, port, tickMs: 50 });
    await expect.poll(() => p.textContent('#source-label'), { timeout: 15_000 }).toBe('after restart');
    expect(await p.getAttribute('#connection', 'data-state')).toBe('live');
    expect(await p.textContent('#sensor-count')).toBe('5 sensors');
    await p.waitForSelector('#alerts li[data-alert-id="after"]');
    // Still live after the restart.
    second.emit({ kind: 'window', window: finalWindow('sensor_6', Date.now(), 20) });
    await expect.poll(() => p.textContent('#sensor-count')).toBe('6 sensors');
    expect(errors.filter((e) => !e.includes('ERR_CONNECTION_REFUSED') && !e.includes('EventSource'))).toEqual(
      [],
    );
  });
});
