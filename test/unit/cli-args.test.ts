/**
 * Flags of `npm start` and `npm run replay`: what they accept, and that every mistake is a
 * UsageError naming the flag (the commands turn it into exit status 2).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG } from '../../functions/domain/config.js';
import { parseReplayArgs, parseStartArgs, START_DEFAULTS } from '../../local/cli/args.js';
import { parseDuration, UsageError } from '../../local/cli/flags.js';
import { loadProjectConfig } from '../../local/config.js';
import { endpointTarget } from '../../local/pipeline/index.js';

function usageError(run: () => unknown): UsageError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['1.5m', 90_000],
    ['2h', 7_200_000],
    ['500ms', 500],
    ['0', 0],
    ['40', 40_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration('duration', text)).toBe(ms);
  });

  it.each(['', 'abc', '-5s', '10 minutes', '1.0005s', '5d'])('rejects %j, naming the flag', (text) => {
    expect(usageError(() => parseDuration('window', text)).message).toContain('--window');
  });
});

describe('parseStartArgs', () => {
  it('has the documented defaults', () => {
    expect(parseStartArgs([])).toEqual({
      help: false,
      sensors: START_DEFAULTS.sensors,
      rateHz: START_DEFAULTS.rateHz,
      durationMs: 0,
      seed: START_DEFAULTS.seed,
      verbose: false,
      dashboard: true,
      anomalies: true,
      open: false,
      format: 'json',
      mqtt: false,
    });
  });

  it('reads every flag, in both spellings', () => {
    expect(
      parseStartArgs([
        '--sensors',
        '3',
        '--rate=2.5',
        '--duration',
        '40s',
        '--window',
        '10s',
        '--backfill=0',
        '--seed',
        '-7',
        '--verbose',
        '--format',
        'avro',
        '--mqtt',
        '--lake=lake',
        '--no-anomalies',
      ]),
    ).toEqual({
      help: false,
      sensors: 3,
      rateHz: 2.5,
      durationMs: 40_000,
      windowMs: 10_000,
      backfillMs: 0,
      seed: -7,
      verbose: true,
      dashboard: true,
      anomalies: false,
      open: false,
      format: 'avro',
      mqtt: true,
      lakeDir: 'lake',
    });
  });

  it('--format names the formats it accepts', () => {
    expect(() => parseStartArgs(['--format', 'kpl'])).toThrow(
      'flag --format must be one of json, avro, got "kpl"',
    );
  });

  it.each([['--help'], ['-h']])('%s asks for help', (flag) => {
    expect(parseStartArgs([flag]).help).toBe(true);
  });

  it.each([
    [['--sensor', '3'], 'unknown flag --sensor'],
    [['-x'], 'unknown flag -x'],
    [['sensors'], 'unexpected argument "sensors"'],
    [['--sensors'], 'flag --sensors needs a value'],
    [['--sensors', '--rate', '2'], 'flag --sensors needs a value'],
    [['--sensors', 'three'], 'flag --sensors must be a whole number'],
    [['--sensors', '2.5'], 'flag --sensors must be a whole number'],
    [['--sensors', '0'], 'flag --sensors must be between 1 and'],
    [['--sensors', '1', '--sensors', '2'], 'flag --sensors is given more than once'],
    [['--rate', '0'], 'flag --rate must be above 0'],
    [['--rate', 'fast'], 'flag --rate must be a number'],
    [['--rate', '1e9'], 'flag --rate must be above 0 and at most'],
    [['--duration', 'soon'], 'flag --duration must be a duration'],
    [['--window', '500ms'], 'flag --window must be at least 1s'],
    [['--seed', '1.5'], 'flag --seed must be a whole number'],
    [['--verbose=yes'], 'flag --verbose takes no value'],
  ])('%j fails with "%s"', (argv, message) => {
    expect(usageError(() => parseStartArgs(argv)).message).toContain(message);
  });
});

describe('parseReplayArgs', () => {
  it('reads a file input and an output directory', () => {
    expect(parseReplayArgs(['--input', 'events/readings-small.jsonl', '--out', 'out'])).toEqual({
      help: false,
      input: 'events/readings-small.jsonl',
      outDir: 'out',
      keepResources: false,
      quiet: false,
      verbose: false,
      format: 'json',
    });
  });

  it('reads --format and --lake', () => {
    expect(parseReplayArgs(['--stdin', '--out', 'o', '--format', 'kpl', '--lake', 'l'])).toMatchObject({
      format: 'kpl',
      lakeDir: 'l',
    });
    expect(() => parseReplayArgs(['--stdin', '--out', 'o', '--format', 'xml'])).toThrow(
      'flag --format must be one of json, avro, kpl, got "xml"',
    );
  });

  it('reads standard input with --stdin or --input -', () => {
    expect(parseReplayArgs(['--stdin', '--out', 'o']).input).toBe('-');
    expect(parseReplayArgs(['--input', '-', '--out', 'o']).input).toBe('-');
  });

  it('reads the endpoint, prefix, drain timeout and switches', () => {
    expect(
      parseReplayArgs([
        '--stdin',
        '--out',
        'o',
        '--endpoint',
        'http://localhost:4566',
        '--prefix',
        'run-1',
        '--drain-timeout',
        '5m',
        '--keep-resources',
        '-q',
      ]),
    ).toMatchObject({
      endpoint: 'http://localhost:4566',
      prefix: 'run-1',
      drainTimeoutMs: 300_000,
      keepResources: true,
      quiet: true,
    });
  });

  it('--help needs nothing else', () => {
    expect(parseReplayArgs(['--help']).help).toBe(true);
  });

  it.each([
    [['--out', 'o'], 'missing --input FILE'],
    [['--input', 'f'], 'missing --out DIR'],
    [['--input', 'f', '--stdin', '--out', 'o'], 'either --input FILE or --stdin'],
    [['--input', '--out', 'o'], 'flag --input needs a value'],
    [
      ['--input', 'f', '--out', 'o', '--endpoint', 'localhost:4566'],
      'flag --endpoint must be an http(s) URL',
    ],
    [['--input', 'f', '--out', 'o', '--endpoint', 'not a url'], 'flag --endpoint must be a URL'],
    [['--input', 'f', '--out', 'o', '--prefix', 'a b'], 'flag --prefix must be'],
    [['--input', 'f', '--out', 'o', '--drain-timeout', '0'], 'flag --drain-timeout must be above 0'],
    [['--input', 'f', '--out', 'o', '--sensors', '3'], 'unknown flag --sensors'],
  ])('%j fails with "%s"', (argv, message) => {
    expect(usageError(() => parseReplayArgs(argv)).message).toContain(message);
  });
});

describe('endpointTarget (where replay runs when not on the embedded emulators)', () => {
  it('is undefined without --endpoint and AWS_ENDPOINT_URL*', () => {
    expect(endpointTarget(undefined, {})).toBeUndefined();
  });

  it('--endpoint sends every service there, with LocalStack credentials unless the environment has some', () => {
    expect(endpointTarget('http://localhost:4566', { AWS_ENDPOINT_URL_SQS: 'http://elsewhere:1' })).toEqual({
      region: 'us-east-1',
      endpoints: {
        kinesis: 'http://localhost:4566',
        dynamodb: 'http://localhost:4566',
        sns: 'http://localhost:4566',
        sqs: 'http://localhost:4566',
      },
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  });

  it('follows the SDK variables: per service first, then AWS_ENDPOINT_URL; region and keys from the environment', () => {
    const target = endpointTarget(undefined, {
      AWS_ENDPOINT_URL: 'http://all:4566',
      AWS_ENDPOINT_URL_KINESIS: 'http://kinesis:4567',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'id',
      AWS_SECRET_ACCESS_KEY: 'secret',
    });
    expect(target).toEqual({
      region: 'eu-west-1',
      endpoints: {
        kinesis: 'http://kinesis:4567',
        dynamodb: 'http://all:4566',
        sns: 'http://all:4566',
        sqs: 'http://all:4566',
      },
      credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
    });
  });

  it('refuses a partial set (half the pipeline on real AWS), naming the missing variables', () => {
    expect(() => endpointTarget(undefined, { AWS_ENDPOINT_URL_KINESIS: 'http://k:1' })).toThrow(ConfigError);
    expect(() => endpointTarget(undefined, { AWS_ENDPOINT_URL_KINESIS: 'http://k:1' })).toThrow(
      /AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL_SQS/,
    );
  });
});

describe('loadProjectConfig', () => {
  const withCdkJson = (content: string | undefined, run: (file: string) => void) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wp-config-'));
    const file = path.join(dir, 'cdk.json');
    try {
      if (content !== undefined) writeFileSync(file, content);
      run(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('uses the defaults when cdk.json or its windowpane context is absent', () => {
    withCdkJson(undefined, (file) => expect(loadProjectConfig({}, file).config).toEqual(DEFAULT_CONFIG));
    withCdkJson('{"context":{}}', (file) => {
      const loaded = loadProjectConfig({}, file);
      expect(loaded.config).toEqual(DEFAULT_CONFIG);
      expect(loaded.source).toContain('has no context "windowpane"');
    });
  });

  it('reads context.windowpane, and --window replaces the windows with one tumbling window', () => {
    withCdkJson('{"context":{"windowpane":{"allowedLatenessMs":5000}}}', (file) => {
      expect(loadProjectConfig({}, file).config.allowedLatenessMs).toBe(5_000);
      const overridden = loadProjectConfig({ windowSizeMs: 10_000 }, file).config;
      expect(overridden.windows).toEqual([{ type: 'tumbling', sizeMs: 10_000 }]);
      expect(overridden.allowedLatenessMs).toBe(5_000);
    });
  });

  it('names the file and the offending path of an invalid configuration', () => {
    withCdkJson('{"context":{"windowpane":{"allowedLatenessMs":-1}}}', (file) => {
      expect(() => loadProjectConfig({}, file)).toThrow(ConfigError);
      expect(() => loadProjectConfig({}, file)).toThrow(/allowedLatenessMs/);
    });
    withCdkJson('{not json', (file) => expect(() => loadProjectConfig({}, file)).toThrow(/is not JSON/));
  });
});
