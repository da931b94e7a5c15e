/**
 * Dashboard suite: is the page responsive at fleet scale, and is the server's memory
 * bounded? Measured in Debian's Chromium (playwright-core), with the dashboard fed by a
 * ManualSource, so the numbers are the dashboard's own and not the emulators'.
 *
 * - Time to first chart: navigation start to the page's `windowpane:first-chart` mark
 *   (snapshot, series fetch, uPlot draw), median of several fresh pages.
 * - Frame time: requestAnimationFrame intervals over a few seconds while the server
 *   streams a live load (every sensor's open window each second, a final window per
 *   sensor every 2 s, alerts), with the sensor list scrolled and searched meanwhile.
 * - Server: time to load the day into the store, bytes reserved, heap growth (after a
 *   collection: bench/stats.ts exposes V8's collector at run time).
 *
 * Each figure is taken for the scale scenario (1,000 sensors, a day of 1-minute windows)
 * and for a baseline in the same run (10 sensors, an hour), and reported as a ratio.
 *
 * Run as `npm run bench -- --only dashboard [--quick]`.
 */
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { type Dashboard, startDashboard } from '../../local/dashboard/index.js';
import type { DashboardEvent, OpenWindowView } from '../../local/dashboard/model.js';
import { ManualSource } from '../../local/dashboard/sources/manual.js';
import { CHROMIUM, launchChromium } from '../../test/browser/chromium.js';
import { alert, finalWindow, fleetWindows, MINUTE } from '../../test/browser/fleet.js';
import { type BenchContext, BenchSuiteError, type Headline } from '../context.js';
import { collectGarbage, collector, median, round } from '../stats.js';

export interface ScenarioResult {
  sensors: number;
  windowsPerSensor: number;
  loadIntoStoreMs: number;
  reservedBytes: number;
  heapGrowthMb: number;
  snapshotBytes: number;
  seriesBytes: number;
  timeToFirstChartMs: { median: number; runs: number[] };
  frames: { count: number; p50Ms: number; p95Ms: number; maxMs: number; over50Ms: number };
}

export interface DashboardSuiteResult {
  scale: ScenarioResult;
  baseline: ScenarioResult;
  ratios: { timeToFirstChart: number; frameP95: number };
}

type Options = Pick<BenchContext, 'quick' | 'log'>;

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const FIRST_CHART = `new Promise((resolve) => {
  const poll = () => {
    const mark = performance.getEntriesByName('windowpane:first-chart')[0];
    if (mark) resolve(mark.startTime); else setTimeout(poll, 5);
  };
  poll();
})`;

const frameScript = (ms: number) => `new Promise((resolve) => {
  const out = [];
  let last = performance.now();
  const end = last + ${ms};
  const step = (t) => { out.push(t - last); last = t; if (t < end) requestAnimationFrame(step); else resolve(out); };
  requestAnimationFrame(step);
})`;

/** What the server streams while frames are measured: a busy fleet, compressed in time. */
function liveLoad(source: ManualSource, sensors: number): () => void {
  let tick = 0;
  let next = Math.floor(Date.now() / MINUTE) * MINUTE;
  const timer = setInterval(() => {
    tick++;
    const events: DashboardEvent[] = [];
    for (let s = 1; s <= sensors; s++) {
      const open: OpenWindowView = {
        sensorId: `sensor_${s}`,
        metric: 'temperature',
        windowType: 'tumbling',
        spec: 'tumbling:60000',
        start: next,
        end: next + MINUTE,
        count: tick,
        mean: 20 + Math.sin(tick + s),
        min: 18,
        max: 23,
      };
      events.push({ kind: 'open', open });
    }
    if (tick % 2 === 0) {
      for (let s = 1; s <= sensors; s++)
        events.push({ kind: 'window', window: finalWindow(`sensor_${s}`, next, 21) });
      next += MINUTE;
    }
    events.push({ kind: 'alert', alert: alert(`sensor_${(tick % sensors) + 1}`, `live-${tick}`) });
    source.emitAll(events);
  }, 1_000);
  return () => clearInterval(timer);
}

async function scenario(sensors: number, windows: number, opts: Options): Promise<ScenarioResult> {
  const source = new ManualSource(`bench: ${sensors} sensors`);
  collectGarbage();
  const heapBefore = process.memoryUsage();
  const events = fleetWindows(sensors, windows);
  let dashboard: Dashboard | undefined;
  const browser = await launchChromium();
  try {
    const t0 = performance.now();
    source.emitAll(events);
    dashboard = await startDashboard({ source });
    await dashboard.ready;
    const loadIntoStoreMs = performance.now() - t0;
    events.length = 0;
    collectGarbage();
    const heapAfter = process.memoryUsage();
    const heapGrowthMb =
      (heapAfter.heapUsed + heapAfter.arrayBuffers - heapBefore.heapUsed - heapBefore.arrayBuffers) / 2 ** 20;
    const snapshotBytes = (await (await fetch(`${dashboard.url}api/snapshot`)).arrayBuffer()).byteLength;
    const seriesBytes = (
      await (await fetch(`${dashboard.url}api/series?sensor=sensor_1&points=1000`)).arrayBuffer()
    ).byteLength;

    const runs: number[] = [];
    // One unmeasured load first: the browser's own start-up is not the page's.
    for (let i = -1; i < (opts.quick ? 2 : 5); i++) {
      const page = await browser.context.newPage();
      await page.goto(dashboard.url);
      const ms = Number(await page.evaluate(FIRST_CHART));
      if (i >= 0) runs.push(ms);
      await page.close();
    }

    const page: Page = await browser.context.newPage();
    await page.goto(dashboard.url);
    await page.evaluate(FIRST_CHART);
    const stopLoad = liveLoad(source, sensors);
    const measuring = page.evaluate(frameScript(opts.quick ? 3_000 : 6_000)) as Promise<number[]>;
    // Meanwhile, as a user would: scroll the list, search, pick another sensor.
    await page.mouse.move(100, 400);
    for (let i = 0; i < 10; i++) {
      await page.mouse.wheel(0, 600);
      await page.waitForTimeout(100);
    }
    await page.fill('#sensor-search', 'sensor_1');
    await page.waitForTimeout(200);
    await page.fill('#sensor-search', '');
    await page.click(`.sensor-row[data-id="sensor_${Math.min(3, sensors)}"]`).catch(() => {});
    const frames = (await measuring).slice(1).sort((a, b) => a - b);
    stopLoad();
    await page.close();
    const result: ScenarioResult = {
      sensors,
      windowsPerSensor: windows,
      loadIntoStoreMs: round(loadIntoStoreMs, 1),
      reservedBytes: dashboard.store.snapshot().counts.reservedBytes,
      heapGrowthMb: round(heapGrowthMb, 1),
      snapshotBytes,
      seriesBytes,
      timeToFirstChartMs: { median: round(median(runs), 1), runs: runs.map((r) => round(r, 1)) },
      frames: {
        count: frames.length,
        p50Ms: round(percentile(frames, 0.5), 1),
        p95Ms: round(percentile(frames, 0.95), 1),
        maxMs: round(frames.at(-1) ?? 0, 1),
        over50Ms: frames.filter((f) => f > 50).length,
      },
    };
    opts.log(
      `dashboard ${sensors} sensors x ${windows} windows: first chart ${result.timeToFirstChartMs.median} ms, ` +
        `frames p50 ${result.frames.p50Ms} / p95 ${result.frames.p95Ms} / max ${result.frames.maxMs} ms, ` +
        `store ${round(result.reservedBytes / 2 ** 20, 1)} MiB reserved, load ${result.loadIntoStoreMs} ms`,
    );
    return result;
  } finally {
    await dashboard?.close();
    await browser.close();
  }
}

export async function runDashboardSuite(ctx: Options): Promise<DashboardSuiteResult> {
  if (!existsSync(CHROMIUM)) {
    throw new BenchSuiteError(
      `Chromium not found at ${CHROMIUM}: run .ci/install-packages (or set WINDOWPANE_CHROMIUM)`,
    );
  }
  if (!collector()) ctx.log('dashboard: no V8 collector at run time, heap growth includes garbage');
  const baseline = await scenario(10, 60, ctx);
  const scale = await scenario(1_000, 1_440, ctx);
  return {
    scale,
    baseline,
    ratios: {
      timeToFirstChart: round(scale.timeToFirstChartMs.median / baseline.timeToFirstChartMs.median, 2),
      frameP95: round(scale.frames.p95Ms / baseline.frames.p95Ms, 2),
    },
  };
}

export function dashboardHeadlines(r: DashboardSuiteResult): Headline[] {
  const s = r.scale;
  return [
    {
      suite: 'dashboard',
      metric: `time to first chart, ${s.sensors} sensors x ${s.windowsPerSensor} windows (vs 10 x 60: ${r.ratios.timeToFirstChart}x)`,
      value: s.timeToFirstChartMs.median,
      unit: 'ms',
      display: `${s.timeToFirstChartMs.median} ms`,
    },
    {
      suite: 'dashboard',
      metric: `frame time p95 under live load (vs baseline: ${r.ratios.frameP95}x)`,
      value: s.frames.p95Ms,
      unit: 'ms',
      display: `${s.frames.p95Ms} ms`,
      target: '<= 50 ms',
      met: s.frames.p95Ms <= 50,
    },
    {
      suite: 'dashboard',
      metric: 'server store, reserved for a day of 1-minute windows',
      value: s.reservedBytes,
      unit: 'bytes',
      display: `${round(s.reservedBytes / 2 ** 20, 1)} MiB`,
    },
  ];
}
