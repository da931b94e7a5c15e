import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { findMotoServer, MOTO_INSTALL_HINT } from './local/cloud/moto-locate.js';

// The projects: pure unit tests (no I/O); integration tests against the embedded emulators
// (one globalSetup starts them on free ports and stops them); the suites that matter run a
// second time against moto_server (integration-moto); the chaos proof; CDK template
// assertions (slow because NodejsFunction bundles with esbuild).

const INTEGRATION_ENV = { POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true' };

/**
 * The suites run on moto too: moto_server's own lifecycle, shard lineage (where moto
 * deviates: local/chaos/reshard.ts), the pipeline, handler, poison, replay and recovery
 * suites. Left out: the embedded emulators' lifecycle (cloud.test.ts), the ESM's own
 * mechanics (esm-mapping, esm-failures, esm-resharding: backend-independent logic, and
 * moto cannot reshard), start.test.ts (`npm start` runs its own emulators), and the
 * template-provisioning, shard-scaler, sweeper and benchmark tests (their AWS calls are
 * the ones the selected suites make; CI time is kept for those).
 */
// These need moto_server itself: integration-moto only.
const MOTO_ONLY = ['test/integration/moto-server.test.ts', 'test/integration/backends.test.ts'];

const MOTO_SUITES = [
  ...MOTO_ONLY,
  'test/integration/esm-lineage.test.ts',
  'test/integration/esm-pipeline.test.ts',
  'test/integration/handler.test.ts',
  'test/integration/poison.test.ts',
  'test/integration/replay.test.ts',
  'test/integration/recover.test.ts',
  'test/integration/golden.test.ts',
  // Issue 10's done-when by endpoint: rules, a z-score alarm acknowledged, a silence.
  'test/integration/alarms-done.test.ts',
];

/**
 * integration-moto and deploy-moto, when moto_server is installed. Missing, it is left out with a line
 * saying how to install it; with CI=true a missing moto fails the run instead.
 */
function motoProject(): TestProjectInlineConfiguration[] {
  if (!findMotoServer()) {
    const install = `install it with ${MOTO_INSTALL_HINT}`;
    if (process.env.CI === 'true') {
      throw new Error(
        `moto_server not found on PATH; CI=true requires it for integration-moto and deploy-moto (${install})`,
      );
    }
    console.warn(
      `windowpane: moto_server not found on PATH: integration-moto and deploy-moto are skipped (${install})`,
    );
    return [];
  }
  return [
    {
      test: {
        name: 'integration-moto',
        include: MOTO_SUITES,
        environment: 'node',
        globalSetup: ['test/integration/global-setup-moto.ts'],
        env: INTEGRATION_ENV,
        testTimeout: 90_000,
        hookTimeout: 60_000,
        fileParallelism: false,
      },
    },
    {
      test: {
        // The CDK template deployed to moto's CloudFormation (synth with bundling, then the
        // CDK CLI): a minute or two, so a project of its own (`npm run test:deploy`).
        name: 'deploy-moto',
        include: ['test/deploy/**/*.test.ts'],
        environment: 'node',
        globalSetup: ['test/integration/global-setup-moto.ts'],
        env: INTEGRATION_ENV,
        testTimeout: 120_000,
        hookTimeout: 600_000,
      },
    },
  ];
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // Pure but CPU-bound: the simulator's 4,000-record comparison took 5.8 s beside the
          // emulator projects on 2 cores, past vitest's default 5 s. A limit for a hang.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: MOTO_ONLY,
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          // Handler logs and EMF metrics would drown the test output; errors still print.
          env: INTEGRATION_ENV,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // The emulators are shared by every integration file; each test uses its own
          // resource names, but kinesis-local is CPU-bound, so run files one at a time.
          fileParallelism: false,
        },
      },
      ...motoProject(),
      {
        test: {
          // The chaos proof (local/chaos): replays of 100k+ readings under injected faults.
          // Each replay starts its own emulators; minutes, not seconds, so on its own.
          name: 'proof',
          include: ['test/proof/**/*.test.ts'],
          environment: 'node',
          env: {
            POWERTOOLS_LOG_LEVEL: 'SILENT',
            POWERTOOLS_METRICS_DISABLED: 'true',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          },
          // In CI beside the other projects on 2 cores it took 13 minutes (npm test now runs
          // it alone, last). The limit is for a hang, not a measure.
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          // The dashboard (local/dashboard) over HTTP and in Debian's Chromium through
          // playwright-core; .ci/install-packages installs the browser. Pipeline tests start
          // their own emulators, so files run one at a time.
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          env: {
            POWERTOOLS_LOG_LEVEL: 'SILENT',
            POWERTOOLS_METRICS_DISABLED: 'true',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          },
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
