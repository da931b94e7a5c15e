import { defineConfig } from 'vitest/config';

// Three projects: pure unit tests (no I/O), integration tests against the embedded
// emulators (one globalSetup starts them on free ports and stops them), and CDK
// template assertions (slow because NodejsFunction bundles with esbuild).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          // Handler logs and EMF metrics would drown the test output; errors still print.
          env: { POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true' },
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // The emulators are shared by every integration file; each test uses its own
          // resource names, but kinesis-local is CPU-bound, so run files one at a time.
          fileParallelism: false,
        },
      },
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
          testTimeout: 900_000,
          hookTimeout: 900_000,
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
