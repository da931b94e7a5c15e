/**
 * Builds the windowpane CDK app: reads and validates the context, creates the stack and
 * attaches cdk-nag. `app.ts` (what `cdk synth` runs) and the infra tests share it, so the
 * tests check the app that deploys, configured by the same `cdk.json`.
 */
import { App } from 'aws-cdk-lib';
import { attachNag } from './nag.js';
import { type AppSettings, checkContextKeys, readAppSettings, readCdkJson } from './settings.js';
import { WindowpaneStack } from './windowpane-stack.js';

export interface BuildAppOptions {
  /** Context for the App (the CLI passes cdk.json's through the environment instead). */
  context?: Record<string, unknown>;
  outdir?: string;
  /** Attach the cdk-nag AwsSolutions checks (default true; synth fails on findings). */
  nag?: boolean;
}

export interface WindowpaneApp {
  app: App;
  stack: WindowpaneStack;
  settings: AppSettings;
}

/** The `context` object of the repository's cdk.json (read by `readCdkJson`, the one reader). */
export function cdkJsonContext(file?: string): Record<string, unknown> {
  return readCdkJson(file).context;
}

export function buildApp(options: BuildAppOptions = {}): WindowpaneApp {
  const app = new App({
    ...(options.context ? { context: options.context } : {}),
    ...(options.outdir ? { outdir: options.outdir } : {}),
  });
  // Context from cdk.json, ~/.cdk.json and -c flags alike: a misspelt key of ours is refused.
  checkContextKeys(Object.keys(app.node.getAllContext() as object), 'CDK context');
  const settings = readAppSettings((key) => app.node.tryGetContext(key));
  const stack = new WindowpaneStack(app, settings.deploy.stackName, {
    settings,
    // Environment-agnostic unless the CLI resolved an account and region: nothing here
    // needs a lookup, and the same template deploys to any account and region.
    ...(process.env.CDK_DEFAULT_ACCOUNT && process.env.CDK_DEFAULT_REGION
      ? { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } }
      : {}),
  });
  if (options.nag ?? true) attachNag(app);
  return { app, stack, settings };
}
