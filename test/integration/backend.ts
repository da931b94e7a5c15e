/**
 * What the integration projects' global setups hand to every test file: the endpoints of
 * the backend under test, and which backend it is. `integration` runs on the embedded
 * emulators (global-setup.ts), `integration-moto` on moto_server (global-setup-moto.ts).
 */
import type { EmulatorEndpoints } from '../../local/cloud/emulators.js';

export type Backend = 'embedded' | 'moto';

declare module 'vitest' {
  export interface ProvidedContext {
    endpoints: EmulatorEndpoints;
    backend: Backend;
  }
}
