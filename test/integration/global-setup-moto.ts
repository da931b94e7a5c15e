/**
 * vitest globalSetup of the integration-moto project: the same suites against moto_server,
 * an AWS emulator nobody here wrote. One moto_server on a free 127.0.0.1 port serves every
 * service (`inject('endpoints')` names it five times); `inject('backend')` is `moto`, for
 * the few tests that need what only the embedded emulators provide. Teardown stops it; the
 * supervisor's watchdog (local/cloud/supervise.cjs) kills it if vitest dies first.
 */
import type { TestProject } from 'vitest/node';
import { motoEndpoints, startMotoServer } from '../../local/cloud/moto.js';
import './backend.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const moto = await startMotoServer();
  if (process.env.WINDOWPANE_TEST_VERBOSE) {
    console.log(`moto_server started in ${Date.now() - started} ms at ${moto.endpoint}`);
  }
  project.provide('endpoints', motoEndpoints(moto.endpoint));
  project.provide('backend', 'moto');
  return async () => {
    await moto.stop();
  };
}
