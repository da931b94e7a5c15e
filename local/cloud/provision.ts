/**
 * Creates windowpane's resources on an endpoint that has no CloudFormation: the embedded
 * emulators or LocalStack. What to create is a `ResourcePlan`, plain data, so it can come
 * from the configuration (`planFromConfig`) or later from a synthesized CDK template.
 *
 * Provisioning is idempotent per name (an existing stream or table is reused), and waits
 * until the stream and tables are ACTIVE. DynamoDB TTL is best-effort, as the configuration
 * says: an endpoint without UpdateTimeToLive (dynalite) gets a one-line notice, not a failure.
 */
import { randomBytes } from 'node:crypto';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  ResourceInUseException as KinesisResourceInUseException,
} from '@aws-sdk/client-kinesis';
import { CreateTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { WindowpaneConfig } from '../../functions/domain/config.js';
import type { AwsClients } from '../../functions/lib/clients.js';
import {
  ALARMS_TABLE,
  ALERT_LEDGER_TABLE,
  ENV,
  RESULTS_TABLE,
  RULES_TABLE,
  STATE_TABLE,
  TABLES,
  type TableDefinition,
} from '../../functions/lib/resources.js';
import { ResourcePlanError } from '../../infra/resource-plan.js';

export { ResourcePlanError };

export interface ResourcePlan {
  stream: { name: string; shardCount: number };
  /** Output stream of final windows (optional: a plan without it runs without one). */
  resultsStream?: { name: string; shardCount: number };
  tables: Array<{ name: string; def: TableDefinition }>;
  topic: { name: string };
  queues: {
    /** Records that can never be processed, with their reason. */
    invalid: { name: string };
    /** Readings whose window was already final. */
    late: { name: string };
    /** On-failure destination of the (local) event source mapping. */
    dlq: { name: string };
    /** Subscribed to the alert topic (envelope delivery) so tests and the console can read alerts. */
    alertsTap: { name: string };
  };
}

export type QueueRole = keyof ResourcePlan['queues'];

export interface ProvisionedQueue {
  name: string;
  url: string;
  arn: string;
}

export interface ProvisionedTable {
  name: string;
  arn: string;
  def: TableDefinition;
  /** `none`: the definition has no TTL attribute. */
  ttl: 'enabled' | 'unsupported' | 'failed' | 'none';
}

export interface ProvisionedResources {
  stream: { name: string; arn: string; shardCount: number };
  resultsStream?: { name: string; arn: string; shardCount: number };
  tables: ProvisionedTable[];
  topic: { name: string; arn: string };
  queues: Record<QueueRole, ProvisionedQueue>;
  /** The alert topic's subscription delivering to the alerts-tap queue. */
  alertsTapSubscriptionArn: string;
}

export interface ProvisionOptions {
  log?: (line: string) => void;
  /** Upper bound for the stream and each table to become ACTIVE. */
  activeTimeoutMs?: number;
}

export class ProvisioningError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProvisioningError';
  }
}

export const DEFAULT_PREFIX = 'windowpane';

// The narrowest name rules of the services involved: SQS queue names are 1-80 of
// [A-Za-z0-9_-] and the longest suffix below is 16 characters; DynamoDB table names
// need at least 3 characters. A prefix that fits all of them keeps every name valid.
const PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{1,59}$/;

/** The resources one pipeline needs, named `<prefix>-...`. */
export function planFromConfig(config: WindowpaneConfig, names: { prefix?: string } = {}): ResourcePlan {
  const prefix = names.prefix ?? DEFAULT_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new ResourcePlanError(
      `invalid resource prefix "${prefix}": 2-60 letters, digits, "-" or "_", starting with a letter or digit`,
    );
  }
  return {
    // The local emulators have no on-demand mode: the configured shard count applies.
    stream: { name: `${prefix}-readings`, shardCount: config.stream.shardCount },
    resultsStream: { name: `${prefix}-final-windows`, shardCount: 1 },
    tables: TABLES.map((def) => ({ name: `${prefix}-${def.id}`, def })),
    topic: { name: `${prefix}-alerts` },
    queues: {
      invalid: { name: `${prefix}-invalid-records` },
      late: { name: `${prefix}-late-readings` },
      dlq: { name: `${prefix}-on-failure-dlq` },
      alertsTap: { name: `${prefix}-alerts-tap` },
    },
  };
}

/** A prefix no other test run uses: `<label>-<base36 time>-<random>`. */
export function uniquePrefix(label = 'wp'): string {
  return `${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline)
      throw new ProvisioningError(`${what} did not become ACTIVE within ${timeoutMs} ms`);
    await sleep(delay);
  }
}

async function createStream(
  clients: AwsClients,
  stream: ResourcePlan['stream'],
  timeoutMs: number,
): Promise<ProvisionedResources['stream']> {
  try {
    await clients.kinesis.send(
      new CreateStreamCommand({
        StreamName: stream.name,
        ShardCount: stream.shardCount,
        StreamModeDetails: { StreamMode: 'PROVISIONED' },
      }),
    );
  } catch (err) {
    if (!(err instanceof KinesisResourceInUseException)) throw err;
  }
  return pollUntil(`stream ${stream.name}`, timeoutMs, async () => {
    const { StreamDescriptionSummary: s } = await clients.kinesis.send(
      new DescribeStreamSummaryCommand({ StreamName: stream.name }),
    );
    if (s?.StreamStatus !== 'ACTIVE' || !s.StreamARN) return undefined;
    return { name: stream.name, arn: s.StreamARN, shardCount: s.OpenShardCount ?? stream.shardCount };
  });
}

/**
 * Best-effort TTL: `unsupported` when the endpoint does not know UpdateTimeToLive
 * (dynalite), `failed` for any other error; both are reported through `log`, neither
 * fails provisioning, because expiry only bounds storage and never changes results.
 */
export async function enableTimeToLive(
  dynamodb: DynamoDBClient,
  tableName: string,
  attributeName: string,
  log: (line: string) => void = () => {},
): Promise<'enabled' | 'unsupported' | 'failed'> {
  try {
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: attributeName, Enabled: true },
      }),
    );
    return 'enabled';
  } catch (err) {
    const name = (err as Error).name ?? '';
    const message = (err as Error).message ?? String(err);
    if (
      /UnknownOperation|NotImplemented|not (yet )?(supported|implemented)|unsupported/i.test(
        `${name} ${message}`,
      )
    ) {
      log(
        `notice: TTL not supported by this DynamoDB endpoint; ${tableName}.${attributeName} will not expire`,
      );
      return 'unsupported';
    }
    log(
      `notice: enabling TTL on ${tableName}.${attributeName} failed (${name}: ${message}); continuing without it`,
    );
    return 'failed';
  }
}

/**
 * Creates a table (or finds it already there) and waits until it is ACTIVE: a write to a
 * CREATING table is refused with ResourceNotFoundException, on DynamoDB as on dynalite, whose
 * CreateTable answers before it marks the table ACTIVE. Returns the table's ARN.
 */
export async function createActiveTable(
  dynamodb: DynamoDBClient,
  input: CreateTableCommandInput,
  timeoutMs = 30_000,
): Promise<string> {
  try {
    await dynamodb.send(new CreateTableCommand(input));
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  return pollUntil(`table ${input.TableName}`, timeoutMs, async () => {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: input.TableName }));
    return Table?.TableStatus === 'ACTIVE' ? (Table.TableArn ?? '') : undefined;
  });
}

async function createTable(
  clients: AwsClients,
  table: ResourcePlan['tables'][number],
  timeoutMs: number,
  log: (line: string) => void,
): Promise<ProvisionedTable> {
  const { def } = table;
  const keys = [
    { AttributeName: def.partitionKey, KeyType: 'HASH' as const },
    ...(def.sortKey ? [{ AttributeName: def.sortKey, KeyType: 'RANGE' as const }] : []),
  ];
  const arn = await createActiveTable(
    clients.dynamodb,
    {
      TableName: table.name,
      BillingMode: 'PAY_PER_REQUEST',
      // windowpane's keys are all strings (sensor ids, window keys, alert ids).
      AttributeDefinitions: keys.map((k) => ({
        AttributeName: k.AttributeName,
        AttributeType: 'S' as const,
      })),
      KeySchema: keys,
    },
    timeoutMs,
  );
  const ttl = def.ttlAttribute
    ? await enableTimeToLive(clients.dynamodb, table.name, def.ttlAttribute, log)
    : ('none' as const);
  return { name: table.name, arn, def, ttl };
}

/** Creates (or finds, by name) a queue; returns its URL and ARN. */
export async function createQueue(clients: AwsClients, name: string): Promise<ProvisionedQueue> {
  const { QueueUrl: url } = await clients.sqs.send(new CreateQueueCommand({ QueueName: name }));
  if (!url) throw new ProvisioningError(`CreateQueue ${name} returned no QueueUrl`);
  const { Attributes } = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (!arn) throw new ProvisioningError(`GetQueueAttributes ${name} returned no QueueArn`);
  return { name, url, arn };
}

/** Creates everything in `plan` and returns the names, ARNs and queue URLs. */
export async function provisionResources(
  clients: AwsClients,
  plan: ResourcePlan,
  options: ProvisionOptions = {},
): Promise<ProvisionedResources> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.activeTimeoutMs ?? 30_000;

  const [stream, resultsStream, tables, topicArn, invalid, late, dlq, alertsTap] = await Promise.all([
    createStream(clients, plan.stream, timeoutMs),
    plan.resultsStream ? createStream(clients, plan.resultsStream, timeoutMs) : undefined,
    Promise.all(plan.tables.map((t) => createTable(clients, t, timeoutMs, log))),
    clients.sns.send(new CreateTopicCommand({ Name: plan.topic.name })).then((r) => r.TopicArn),
    createQueue(clients, plan.queues.invalid.name),
    createQueue(clients, plan.queues.late.name),
    createQueue(clients, plan.queues.dlq.name),
    createQueue(clients, plan.queues.alertsTap.name),
  ]);
  if (!topicArn) throw new ProvisioningError(`CreateTopic ${plan.topic.name} returned no TopicArn`);

  const alertsTapSubscriptionArn = await subscribeAlertsTap(clients, topicArn, alertsTap);
  return {
    stream,
    ...(resultsStream ? { resultsStream } : {}),
    tables,
    topic: { name: plan.topic.name, arn: topicArn },
    queues: { invalid, late, dlq, alertsTap },
    alertsTapSubscriptionArn,
  };
}

/**
 * Subscribes `queue` to the alert topic with envelope delivery (RawMessageDelivery false):
 * the tap sees alerts exactly as an SNS subscriber does, MessageAttributes included. (No
 * queue policy: the emulators, moto and LocalStack do not enforce one; on AWS the CDK
 * stack owns the subscriptions.) Returns the subscription ARN.
 */
export async function subscribeAlertsTap(
  clients: AwsClients,
  topicArn: string,
  queue: ProvisionedQueue,
): Promise<string> {
  const { SubscriptionArn } = await clients.sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: queue.arn,
      Attributes: { RawMessageDelivery: 'false' },
      ReturnSubscriptionArn: true,
    }),
  );
  if (!SubscriptionArn) throw new ProvisioningError(`Subscribe ${queue.name} returned no SubscriptionArn`);
  return SubscriptionArn;
}

/** The provisioned table built from `def` (matched by its id). */
export function findTable(resources: ProvisionedResources, def: TableDefinition): ProvisionedTable {
  const table = resources.tables.find((t) => t.def.id === def.id);
  if (!table) throw new ResourcePlanError(`no table for definition ${def.id} was provisioned`);
  return table;
}

/** The environment the window handler reads (names from `ENV`), pointing at `resources`. */
export function handlerEnv(
  resources: ProvisionedResources,
  config: WindowpaneConfig,
): Record<string, string> {
  // Optional: a deployed stack from before the rules table has none.
  const rules = resources.tables.find((t) => t.def.id === RULES_TABLE.id);
  return {
    [ENV.stateTable]: findTable(resources, STATE_TABLE).name,
    [ENV.resultsTable]: findTable(resources, RESULTS_TABLE).name,
    [ENV.alertLedgerTable]: findTable(resources, ALERT_LEDGER_TABLE).name,
    ...(resources.tables.some((t) => t.def.id === ALARMS_TABLE.id)
      ? { [ENV.alarmsTable]: findTable(resources, ALARMS_TABLE).name }
      : {}),
    [ENV.alertTopicArn]: resources.topic.arn,
    [ENV.invalidQueueUrl]: resources.queues.invalid.url,
    [ENV.lateQueueUrl]: resources.queues.late.url,
    [ENV.readingsStream]: resources.stream.name,
    ...(resources.resultsStream ? { [ENV.resultsStream]: resources.resultsStream.name } : {}),
    ...(rules ? { [ENV.rulesTable]: rules.name } : {}),
    [ENV.config]: JSON.stringify(config),
  };
}
