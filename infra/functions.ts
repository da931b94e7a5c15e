/**
 * How windowpane's Lambda functions are built: NodejsFunction bundled locally by esbuild
 * (offline, no Docker), arm64, Node.js 22, minified ESM with source maps, a role of its
 * own with no managed policy, and a log group whose retention the stack sets.
 */
import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';
import { LOCK_FILE, REPO_ROOT } from './paths.js';

export interface WindowpaneFunctionProps {
  entry: string;
  description: string;
  memorySize: number;
  timeout: Duration;
  environment: Record<string, string>;
  logRetentionDays: number;
  removalPolicy: RemovalPolicy;
}

/** The runtime every function is built and tested for (moving on is a tested change of this line). */
const RUNTIME = lambda.Runtime.NODEJS_22_X;

/**
 * A function, its role and its log group. The role starts empty except for writing to
 * that one log group (instead of AWSLambdaBasicExecutionRole, which allows every log
 * group); everything else is granted by the stack, resource by resource.
 */
export class WindowpaneFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WindowpaneFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (execution role)`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      environment: {
        ...props.environment,
        // Stack traces point into the TypeScript sources (the bundle ships its source map).
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        forceDockerBundling: false,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        target: 'node22',
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        // Bundle the AWS SDK too: the handler runs against the SDK version it was tested
        // with, not whichever one the runtime ships this month.
        externalModules: [],
        // CommonJS dependencies inside an ESM bundle still call require() for built-ins.
        banner:
          "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
      },
    });
    acknowledge(this.function, {
      id: 'AwsSolutions-L1',
      reason:
        'windowpane pins nodejs22.x (supported LTS) deliberately: it is the runtime the functions and their ' +
        'bundles are tested for; moving to a newer runtime is a tested change of RUNTIME in infra/functions.ts.',
    });
  }
}
