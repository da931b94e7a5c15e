/**
 * vitest globalSetup of the integration project: starts the emulators once, on free ports,
 * and hands their endpoints to every test file (`inject('endpoints')`). Each file provisions
 * its own resources under a unique prefix (`provisionLocalCloud` / `provisionResources`), so
 * files never see each other's data. Teardown stops the emulators; the process handlers in
 * local/cloud/processes.ts kill kinesis-local even if vitest is interrupted.
 */
import type { TestProject } from 'vitest/node';
import { startEmulators } from '../../local/cloud/emulators.js';
import './backend.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const emulators = await startEmulators();
  if (process.env.WINDOWPANE_TEST_VERBOSE) {
    console.log(`emulators started in ${Date.now() - started} ms`, emulators.endpoints);
  }
  project.provide('endpoints', emulators.endpoints);
  project.provide('backend', 'embedded');
  return async () => {
    await emulators.stop();
  };
}
