/**
 * The app's context is validated before any construct exists: invalid values stop synth
 * with the context path named (ConfigError for `windowpane`, DeploySettingsError for
 * `windowpaneDeploy`), and `infra/app.ts` turns them into a one-line message and exit 1.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG } from '../../functions/domain/config.js';
import { buildApp, cdkJsonContext } from '../../infra/build-app.js';
import { REPO_ROOT } from '../../infra/paths.js';
import { DeploySettingsError, readAppSettings, readCdkJson } from '../../infra/settings.js';
import { loadProjectConfig } from '../../local/config.js';

const read = (context: Record<string, unknown>) => readAppSettings((key) => context[key]);

describe('CDK context: windowpane and windowpaneDeploy', () => {
  it('cdk.json holds the default configuration, spelled out, and valid deploy settings', () => {
    const { config, deploy } = read(cdkJsonContext());
    expect(config).toEqual(DEFAULT_CONFIG);
    expect(deploy).toMatchObject({ stackName: 'Windowpane', removalPolicy: 'retain', logRetentionDays: 30 });
  });

  it('absent context means defaults', () => {
    const { config, deploy } = read({});
    expect(config).toEqual(DEFAULT_CONFIG);
    expect(deploy.shardScaling).toMatchObject({ enabled: true, minShards: 1, maxShards: 64 });
  });

  it('IoT ingest is on by default (free when idle); the schema registry and the lake are opt-in', () => {
    const { deploy } = read({});
    expect(deploy.iot).toEqual({ enabled: true });
    expect(deploy.avro).toEqual({ enabled: false, compatibility: 'BACKWARD' });
    expect(deploy.lake).toEqual({ enabled: false, retentionDays: 365, bufferIntervalSeconds: 300 });
    const lake = read({
      windowpaneDeploy: { lake: { enabled: true, retentionDays: 400, transitionToIaDays: 30 } },
    });
    expect(lake.deploy.lake).toEqual({
      enabled: true,
      retentionDays: 400,
      transitionToIaDays: 30,
      bufferIntervalSeconds: 300,
    });
  });

  it('accepts context given as JSON text (cdk -c key=...)', () => {
    const { config, deploy } = read({
      windowpane: JSON.stringify({ stream: { mode: 'PROVISIONED', shardCount: 3 } }),
      windowpaneDeploy: JSON.stringify({ removalPolicy: 'destroy' }),
    });
    expect(config.stream).toMatchObject({ mode: 'PROVISIONED', shardCount: 3 });
    expect(deploy.removalPolicy).toBe('destroy');
  });

  it.each([
    [
      { windowpaneDeploy: { logRetentionDays: 42 } },
      /windowpaneDeploy\.logRetentionDays: must be one of 1, 3, 5/,
    ],
    [{ windowpaneDeploy: { removalPolicy: 'snapshot' } }, /windowpaneDeploy\.removalPolicy/],
    [{ windowpaneDeploy: { alarmEmail: 'not-an-address' } }, /windowpaneDeploy\.alarmEmail/],
    [
      { windowpaneDeploy: { alertSubscription: { type: 'sms' } } },
      /windowpaneDeploy\.alertSubscription\.type: unknown alert subscription type "sms"; expected one of email, sqs/,
    ],
    [{ windowpaneDeploy: { stackName: '1-starts-with-a-digit' } }, /windowpaneDeploy\.stackName/],
    [{ windowpaneDeploy: { handler: { memoryMb: 64 } } }, /windowpaneDeploy\.handler\.memoryMb/],
    [
      { windowpaneDeploy: { shardScaling: { minShards: 9, maxShards: 4 } } },
      /windowpaneDeploy\.shardScaling\.minShards/,
    ],
    [{ windowpaneDeploy: '{oops' }, /context "windowpaneDeploy" is not a JSON object/],
    [
      {
        windowpane: { stream: { mode: 'PROVISIONED', shardCount: 100 } },
        windowpaneDeploy: { shardScaling: { maxShards: 64 } },
      },
      /windowpane\.stream\.shardCount 100 is outside minShards\.\.maxShards \(1\.\.64\)/,
    ],
  ])('rejects %j naming the path', (context, message) => {
    expect(() => read(context)).toThrow(DeploySettingsError);
    expect(() => read(context)).toThrow(message);
  });

  it.each([
    [
      { removalpolicy: 'destroy' },
      'windowpaneDeploy.removalpolicy: unknown key; did you mean removalPolicy?',
    ],
    [{ logRetentionDay: 7 }, 'windowpaneDeploy.logRetentionDay: unknown key; did you mean logRetentionDays?'],
    [
      { handler: { memoryMB: 1024 } },
      'windowpaneDeploy.handler.memoryMB: unknown key; did you mean memoryMb?',
    ],
    [
      { idleSweep: { interval: 5 } },
      'windowpaneDeploy.idleSweep.interval: unknown key; expected one of enabled, intervalMinutes',
    ],
    [
      { shardScaling: { maxShard: 8 } },
      'windowpaneDeploy.shardScaling.maxShard: unknown key; did you mean maxShards?',
    ],
    [
      { alertSubscription: { type: 'email', adress: 'a@example.com' } },
      'windowpaneDeploy.alertSubscription.adress: unknown key; did you mean address?',
    ],
    [
      { tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) },
      'windowpaneDeploy.tags: at most 50 tags',
    ],
    [
      { alarms: { iteratorAgeSeconds: 86_401 } },
      "windowpaneDeploy.alarms.iteratorAgeSeconds: 86401 s is longer than the stream's retention",
    ],
    [{ iot: { enable: false } }, 'windowpaneDeploy.iot.enable: unknown key; did you mean enabled?'],
    [{ lakes: { enabled: true } }, 'windowpaneDeploy.lakes: unknown key; did you mean lake?'],
    [{ avro: { compatibility: 'SIDEWAYS' } }, 'windowpaneDeploy.avro.compatibility: Invalid option'],
    [
      { avro: { registryName: 'has space' } },
      'windowpaneDeploy.avro.registryName: a Glue registry name is 1 to 255 of',
    ],
    [{ lake: { retentionDays: 0 } }, 'windowpaneDeploy.lake.retentionDays: Too small'],
    [{ lake: { retentionDays: 3_651 } }, 'windowpaneDeploy.lake.retentionDays: Too big'],
    [{ lake: { transitionToIaDays: 29 } }, 'windowpaneDeploy.lake.transitionToIaDays: Too small'],
    [{ lake: { bufferIntervalSeconds: 59 } }, 'windowpaneDeploy.lake.bufferIntervalSeconds: Too small'],
    [{ lake: { bufferIntervalSeconds: 901 } }, 'windowpaneDeploy.lake.bufferIntervalSeconds: Too big'],
    [
      { lake: { retentionDays: 60, transitionToIaDays: 60 } },
      'windowpaneDeploy.lake.transitionToIaDays: 60 is not before retentionDays 60',
    ],
    [
      { stackName: `W${'x'.repeat(47)}`, lake: { enabled: true } },
      'windowpaneDeploy.stackName: with the lake, at most 47 characters',
    ],
  ])('refuses windowpaneDeploy %j: %s', (deploy, message) => {
    expect(() => read({ windowpaneDeploy: deploy })).toThrow(DeploySettingsError);
    expect(() => read({ windowpaneDeploy: deploy })).toThrow(message);
  });

  it.each([
    [
      { allowedLatenesMs: 5_000 },
      'windowpane.allowedLatenesMs: unknown key; did you mean allowedLatenessMs?',
    ],
    [
      { eventSource: { batchsize: 100 } },
      'windowpane.eventSource.batchsize: unknown key; did you mean batchSize?',
    ],
    [
      { allowedLatenessMs: 10 * 365 * 86_400_000 },
      "windowpane.allowedLatenessMs: 315360000000 ms is longer than the stream's retention",
    ],
    [
      { windows: [{ type: 'tumbling', sizeMs: 2 }] },
      'windowpane.windows.0.sizeMs: must be whole milliseconds from 1000 (1 s)',
    ],
  ])('refuses windowpane %j as ConfigError: %s', (config, message) => {
    expect(() => read({ windowpane: config })).toThrow(ConfigError);
    expect(() => read({ windowpane: config })).toThrow(message);
  });

  it('names the problems of both contexts at once', () => {
    const both = () =>
      read({ windowpane: { allowedLatenesMs: 1 }, windowpaneDeploy: { removalpolicy: 'destroy' } });
    expect(both).toThrow(ConfigError);
    expect(both).toThrow(
      'invalid CDK context: windowpane.allowedLatenesMs: unknown key; did you mean allowedLatenessMs?; ' +
        'windowpaneDeploy.removalpolicy: unknown key; did you mean removalPolicy?',
    );
  });

  it('rejects an invalid pipeline configuration with ConfigError and its path', () => {
    const context = {
      windowpane: { rules: [{ name: 'hot', type: 'threshold', metric: 'humidity', above: 1 }] },
    };
    expect(() => read(context)).toThrow(ConfigError);
    expect(() => read(context)).toThrow(/CDK context "windowpane".*rules\.0\.metric/);
  });

  it('rejects a configuration too large for the 4 KB Lambda environment before deploying', () => {
    const rules = Array.from({ length: 40 }, (_, i) => ({
      name: `rule-${i}-with-a-long-descriptive-name`,
      type: 'threshold',
      metric: 'temperature',
      above: i,
    }));
    expect(() => read({ windowpane: { rules } })).toThrow(/WINDOWPANE_CONFIG; Lambda allows 4 KB/);
  });
});

describe('cdk.json: one reader for the CDK app and the local commands', () => {
  const withFile = (content: string | undefined, run: (file: string) => void) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'windowpane-cdkjson-'));
    try {
      const file = path.join(dir, 'cdk.json');
      if (content !== undefined) writeFileSync(file, content);
      run(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('reads the context; an absent file means every default', () => {
    withFile('{"context":{"windowpane":{"allowedLatenessMs":0}}}', (file) => {
      expect(readCdkJson(file)).toEqual({
        file,
        found: true,
        context: { windowpane: { allowedLatenessMs: 0 } },
      });
      expect(loadProjectConfig({}, file).config.allowedLatenessMs).toBe(0);
    });
    withFile(undefined, (file) => expect(readCdkJson(file)).toEqual({ file, found: false, context: {} }));
  });

  it.each([
    ['{"context":', /cdk\.json is not JSON/],
    ['{"context":[1]}', /cdk\.json: "context" must be an object/],
    [
      '{"context":{"windowpanedeploy":{"removalPolicy":"destroy"}}}',
      /windowpanedeploy: unknown context key; did you mean windowpaneDeploy\?/,
    ],
    ['{"context":{"windowpane":{"batchsize":1}}}', /windowpane\.batchsize: unknown key/],
  ])('refuses %s for both readers, naming the problem', (content, message) => {
    withFile(content, (file) => {
      expect(() => loadProjectConfig({}, file)).toThrow(ConfigError);
      expect(() => loadProjectConfig({}, file)).toThrow(message);
      if (!content.includes('batchsize')) expect(() => readCdkJson(file)).toThrow(message);
    });
  });

  it('the CDK app refuses a misspelt context key from any source (cdk.json, -c)', () => {
    expect(() => buildApp({ context: { windowPane: { allowedLatenessMs: 0 } }, nag: false })).toThrow(
      /windowPane: unknown context key; did you mean windowpane\?/,
    );
  });
});

describe('infra/app.ts (what cdk synth runs)', () => {
  it('exits 1 with the named error and path on invalid context, synthesizing nothing', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'windowpane-app-'));
    try {
      // The CDK CLI hands context to the app through CDK_CONTEXT_JSON and the output
      // directory through CDK_OUTDIR; this is the same contract.
      const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'infra', 'app.ts')], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          CDK_OUTDIR: outdir,
          CDK_CONTEXT_JSON: JSON.stringify({ windowpaneDeploy: { logRetentionDays: 42 } }),
        },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('DeploySettingsError');
      expect(run.stderr).toContain('windowpaneDeploy.logRetentionDays');
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
