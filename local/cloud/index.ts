/**
 * The embedded local cloud: emulators on free ports, SDK clients from the one factory,
 * windowpane's resources provisioned on them, and the environment the handler expects.
 *
 *   const cloud = await startLocalCloud({ config });
 *   Object.assign(process.env, cloud.env);   // handler clients now reach the emulators
 *   ...
 *   await cloud.stop();
 *
 * Tests share one set of emulators (vitest globalSetup) and call `provisionLocalCloud`
 * with their own prefix instead. `drainQueue` / `readAlertsTap` read what the pipeline
 * sent to its queues and to the alert topic.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DEFAULT_CONFIG, type WindowpaneConfig } from '../../functions/domain/config.js';
import { type AwsClients, createClients, localClientOptions } from '../../functions/lib/clients.js';
import { type EmulatorEndpoints, type StartEmulatorsOptions, startEmulators } from './emulators.js';
import { handlerEnv, type ProvisionedResources, planFromConfig, provisionResources } from './provision.js';

export * from './emulators.js';
export * from './moto.js';
export * from './provision.js';

/** One pipeline's resources on running emulators, with clients to reach them. */
export interface LocalPipeline {
  clients: AwsClients;
  resources: ProvisionedResources;
  config: WindowpaneConfig;
  /** `handlerEnv` plus the SDK's endpoint, region and credential variables (`sdkEnv`). */
  env: Record<string, string>;
  /** Closes the clients' sockets. */
  destroyClients(): void;
}

export interface LocalCloud extends Omit<LocalPipeline, 'destroyClients'> {
  endpoints: EmulatorEndpoints;
  /** Closes the clients and stops the emulators; idempotent. */
  stop(): Promise<void>;
}

export interface LocalCloudOptions extends StartEmulatorsOptions {
  config?: WindowpaneConfig;
  /** Resource name prefix (default `windowpane`). */
  prefix?: string;
}

/**
 * The SDK's standard variables for the emulators: a client built with `createClients()`
 * and no options (as the handler does) then talks to them.
 */
export function sdkEnv(endpoints: EmulatorEndpoints): Record<string, string> {
  const { region, credentials } = localClientOptions(endpoints);
  return {
    AWS_ENDPOINT_URL_KINESIS: endpoints.kinesis,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SNS: endpoints.sns,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_REGION: region ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: credentials?.accessKeyId ?? 'local',
    AWS_SECRET_ACCESS_KEY: credentials?.secretAccessKey ?? 'local',
  };
}

/** Provisions a pipeline's resources on running emulators (a test's own prefix). */
export async function provisionLocalCloud(
  endpoints: EmulatorEndpoints,
  opts: { config?: WindowpaneConfig; prefix?: string; log?: (line: string) => void } = {},
): Promise<LocalPipeline> {
  const config = opts.config ?? DEFAULT_CONFIG;
  const clients = createClients(localClientOptions(endpoints));
  let resources: ProvisionedResources;
  try {
    resources = await provisionResources(clients, planFromConfig(config, { prefix: opts.prefix }), {
      log: opts.log,
    });
  } catch (err) {
    destroyClients(clients);
    throw err;
  }
  return {
    clients,
    resources,
    config,
    env: { ...sdkEnv(endpoints), ...handlerEnv(resources, config) },
    destroyClients: () => destroyClients(clients),
  };
}

function destroyClients(clients: AwsClients): void {
  clients.kinesis.destroy();
  clients.dynamodb.destroy();
  clients.sns.destroy();
  clients.sqs.destroy();
}

/** Starts the emulators and provisions one pipeline on them. */
export async function startLocalCloud(opts: LocalCloudOptions = {}): Promise<LocalCloud> {
  const emulators = await startEmulators(opts);
  try {
    const { destroyClients: closeClients, ...cloud } = await provisionLocalCloud(emulators.endpoints, opts);
    let stopping: Promise<void> | undefined;
    return {
      endpoints: emulators.endpoints,
      ...cloud,
      stop() {
        stopping ??= (async () => {
          closeClients();
          await emulators.stop();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await emulators.stop();
    throw err;
  }
}

export interface DrainedMessage {
  messageId: string;
  /** The body as sent. */
  raw: string;
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  body: unknown;
  /** SQS message attributes (string and number values). */
  messageAttributes: Record<string, string>;
}

export interface DrainOptions {
  /** How long to wait for messages once the queue is empty (default 1000 ms). */
  waitMs?: number;
  /** Return as soon as this many messages have been read. */
  expect?: number;
}

export class QueueDrainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueDrainError';
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Reads and deletes messages from a queue: everything already there, plus whatever arrives
 * within `waitMs`; stops early once `expect` messages were read.
 */
export async function drainQueue(
  clients: AwsClients,
  queueUrl: string,
  opts: DrainOptions = {},
): Promise<DrainedMessage[]> {
  const deadline = Date.now() + (opts.waitMs ?? 1_000);
  const drained: DrainedMessage[] = [];
  for (;;) {
    const remaining = deadline - Date.now();
    // Long polling has whole-second granularity; below a second, poll briefly instead.
    const waitSeconds = remaining >= 1_000 ? Math.min(20, Math.floor(remaining / 1_000)) : 0;
    const { Messages = [] } = await clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: waitSeconds,
        MessageAttributeNames: ['All'],
      }),
    );
    for (const m of Messages) {
      const raw = m.Body ?? '';
      const messageAttributes: Record<string, string> = {};
      for (const [name, value] of Object.entries(m.MessageAttributes ?? {})) {
        if (value.StringValue !== undefined) messageAttributes[name] = value.StringValue;
      }
      drained.push({ messageId: m.MessageId ?? '', raw, body: parseJson(raw), messageAttributes });
    }
    if (Messages.length > 0) {
      const { Failed = [] } = await clients.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      if (Failed.length > 0) {
        throw new QueueDrainError(
          `could not delete ${Failed.length} message(s) from ${queueUrl}: ${Failed[0]?.Message}`,
        );
      }
    }
    if (opts.expect !== undefined && drained.length >= opts.expect) return drained;
    if (Messages.length === 0) {
      if (Date.now() >= deadline) return drained;
      if (waitSeconds === 0) await sleep(Math.min(50, Math.max(0, deadline - Date.now())));
    }
  }
}

/** An SNS notification as delivered to an SQS subscriber without raw message delivery. */
export interface SnsEnvelope {
  Type: 'Notification';
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  Subject?: string | null;
  MessageAttributes?: Record<string, { Type: string; Value: string }>;
}

export class AlertsTapFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlertsTapFormatError';
  }
}

function asEnvelope(message: DrainedMessage): SnsEnvelope {
  const body = message.body as Partial<SnsEnvelope> | undefined;
  if (
    body?.Type !== 'Notification' ||
    typeof body.Message !== 'string' ||
    typeof body.TopicArn !== 'string'
  ) {
    throw new AlertsTapFormatError(
      `alerts-tap message ${message.messageId} is not an SNS notification: ${message.raw}`,
    );
  }
  return body as SnsEnvelope;
}

/** Drains the alerts-tap queue: each alert published to the topic, as SNS delivered it. */
export async function readAlertsTap(
  clients: AwsClients,
  resources: ProvisionedResources,
  opts: DrainOptions = {},
): Promise<SnsEnvelope[]> {
  const messages = await drainQueue(clients, resources.queues.alertsTap.url, opts);
  return messages.map(asEnvelope);
}
