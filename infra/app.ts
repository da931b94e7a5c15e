/**
 * The CDK app `cdk synth` / `cdk deploy` run (cdk.json: `npx tsx infra/app.ts`).
 * Configuration comes from the context keys `windowpane` and `windowpaneDeploy`; an invalid
 * value stops here with every problem named, before anything is synthesized.
 */
import { ConfigError } from '../functions/domain/config.js';
import { buildApp } from './build-app.js';
import { DeploySettingsError } from './settings.js';

try {
  buildApp().app.synth();
} catch (err) {
  if (err instanceof ConfigError || err instanceof DeploySettingsError) {
    console.error(`windowpane: ${err.name}: ${err.message}`);
    process.exit(1);
  }
  throw err;
}
