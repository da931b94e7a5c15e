/**
 * The "resource plan": what the synthesized CloudFormation template provisions, as plain
 * data the local cloud can create on the emulators, so that the deployed and the local
 * pipelines come from one source of truth (the CDK app and its context).
 *
 * Pure: template JSON in, plan out, no CDK import. The window handler is found by its
 * `WINDOWPANE_CONFIG` variable; which table, topic and queue plays which part follows from
 * the handler's environment (ENV in functions/lib/resources.ts), and the mapping settings
 * come from its event source mapping, in the shape of `EventSourceConfig`.
 *
 * Local names: a resource with an explicit physical name keeps it; otherwise its logical
 * id is its name (the stack fixes the logical ids of every stateful resource).
 */
import {
  type EventSourceConfig,
  EventSourceSchema,
  parseConfigJson,
  type WindowpaneConfig,
} from '../functions/domain/config.js';
import { WindowpaneError } from '../functions/domain/errors.js';
import { ENV } from '../functions/lib/resources.js';

export type TableRole = 'state' | 'results' | 'alertLedger' | 'alarms';
/** The tables every template has; the alarms projection is optional (older templates lack it). */
export type RequiredTableRole = Exclude<TableRole, 'alarms'>;
export type TableRoles = Record<RequiredTableRole, string> & { alarms?: string };
export type QueueRole = 'invalid' | 'late' | 'handlerFailure';

export interface KeyAttribute {
  name: string;
  /** DynamoDB attribute type: S, N or B. */
  type: string;
}

export interface PlannedStream {
  logicalId: string;
  name: string;
  mode: 'ON_DEMAND' | 'PROVISIONED';
  /** Set for PROVISIONED streams only (an on-demand stream has no fixed count). */
  shardCount?: number;
  retentionHours: number;
  encrypted: boolean;
}

export interface PlannedTable {
  logicalId: string;
  name: string;
  role?: TableRole;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  ttlAttribute?: string;
  pointInTimeRecovery: boolean;
  encrypted: boolean;
}

export interface PlannedSubscription {
  protocol: string;
  /**
   * A literal endpoint (an email address, a URL), the logical id of a queue in the plan,
   * or of another resource (a Firehose delivery stream: AWS only, nothing local stands in).
   */
  endpoint: { value: string } | { queue: string } | { resource: string };
  rawMessageDelivery: boolean;
}

export interface PlannedTopic {
  logicalId: string;
  name: string;
  /** `alerts` for the topic the handler publishes to. */
  role?: 'alerts';
  encrypted: boolean;
  subscriptions: PlannedSubscription[];
}

export interface PlannedQueue {
  logicalId: string;
  name: string;
  role?: QueueRole;
  deadLetterQueue?: { logicalId: string; maxReceiveCount: number };
  retentionSeconds?: number;
  encrypted: boolean;
}

export interface PlannedEventSourceMapping {
  logicalId: string;
  functionLogicalId: string;
  streamLogicalId: string;
  /** Same shape and meaning as `WindowpaneConfig['eventSource']`. */
  settings: EventSourceConfig;
  reportBatchItemFailures: boolean;
  /** Logical id of the on-failure destination queue. */
  onFailureQueue?: string;
  enabled: boolean;
}

/** A handler environment variable: a literal, or a reference to a resource of the plan. */
export type PlannedVariable = { value: string } | { resource: string };

export interface PlannedIdleSweeper {
  logicalId: string;
  /** The EventBridge schedule, e.g. `rate(5 minutes)`. */
  scheduleExpression: string;
  /** The schedule as an interval, when it is a `rate(...)`. */
  intervalMs?: number;
}

export interface ResourcePlan {
  stream: PlannedStream;
  /** The output stream of final windows, when the handler has one (`RESULTS_STREAM_NAME`). */
  resultsStream?: PlannedStream;
  /** The scheduled function flushing idle sensors' windows, when deployed. */
  idleSweeper?: PlannedIdleSweeper;
  tables: PlannedTable[];
  topics: PlannedTopic[];
  queues: PlannedQueue[];
  eventSourceMapping: PlannedEventSourceMapping;
  handler: {
    logicalId: string;
    environment: Record<string, PlannedVariable>;
    /** The parsed `WINDOWPANE_CONFIG` the deployed handler runs with. */
    config: WindowpaneConfig;
  };
  /** Logical ids per role, for direct lookups. */
  roles: {
    tables: TableRoles;
    /** The rules table (`RULES_TABLE_NAME`), when the handler has one. */
    rulesTable?: string;
    alertTopic: string;
    queues: Record<QueueRole, string>;
  };
}

/**
 * A plan that cannot be made: a template without the shapes the pipeline needs here, or
 * (local/cloud/provision.ts) resource names the emulators would refuse. One class for both,
 * so a caller catches one error whichever way the plan was made.
 */
export class ResourcePlanError extends WindowpaneError {}

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

const TABLE_ENV: Record<RequiredTableRole, string> = {
  state: ENV.stateTable,
  results: ENV.resultsTable,
  alertLedger: ENV.alertLedgerTable,
};
const QUEUE_ENV: Record<Exclude<QueueRole, 'handlerFailure'>, string> = {
  invalid: ENV.invalidQueueUrl,
  late: ENV.lateQueueUrl,
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The logical id a `Ref` or `Fn::GetAtt` points at, if `value` is one. */
export function referencedLogicalId(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  if (typeof value.Ref === 'string') return value.Ref;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  if (typeof getAtt === 'string') return getAtt.split('.')[0];
  return undefined;
}

function literal(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  return undefined;
}

function bool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}

const RATE_UNITS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** `rate(5 minutes)` -> 300000; anything else (cron) -> undefined. */
export function rateToMs(expression: string): number | undefined {
  const m = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression.trim());
  if (!m) return undefined;
  return Number(m[1]) * RATE_UNITS[m[2]!]!;
}

export function resourcePlanFromTemplate(template: unknown): ResourcePlan {
  if (!isRecord(template) || !isRecord(template.Resources)) {
    throw new ResourcePlanError('not a CloudFormation template: no Resources');
  }
  const resources = Object.entries(template.Resources as Record<string, CfnResource>);
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
  const props = (r: CfnResource) => r.Properties ?? {};

  // --- Handler: the function with WINDOWPANE_CONFIG that the event source mapping feeds ---
  const pipelineIds = ofType('AWS::Lambda::Function')
    .filter(([, r]) => {
      const vars = (props(r).Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
      return vars !== undefined && ENV.config in vars;
    })
    .map(([id]) => id);
  if (pipelineIds.length === 0) {
    throw new ResourcePlanError(`expected a function with ${ENV.config} in its environment, found none`);
  }
  const mappings = ofType('AWS::Lambda::EventSourceMapping').filter(([, r]) =>
    pipelineIds.includes(referencedLogicalId(props(r).FunctionName) ?? ''),
  );
  if (mappings.length !== 1) {
    throw new ResourcePlanError(
      `expected one event source mapping feeding a function with ${ENV.config}, found ${mappings.length}`,
    );
  }
  const [mappingId, mappingResource] = mappings[0]!;
  const handlerId = referencedLogicalId(props(mappingResource).FunctionName)!;
  const handlerResource = Object.fromEntries(resources)[handlerId]!;
  const variables = (props(handlerResource).Environment as { Variables: Record<string, unknown> }).Variables;
  const environment: Record<string, PlannedVariable> = {};
  for (const [name, value] of Object.entries(variables)) {
    const ref = referencedLogicalId(value);
    const text = literal(value);
    if (ref !== undefined) environment[name] = { resource: ref };
    else if (text !== undefined) environment[name] = { value: text };
    else throw new ResourcePlanError(`handler variable ${name} is neither a literal nor a reference`);
  }
  const configText = literal(variables[ENV.config]);
  if (configText === undefined) throw new ResourcePlanError(`${ENV.config} is not a literal JSON string`);
  const config = parseConfigJson(configText);

  const envRef = (name: string): string => {
    const v = environment[name];
    if (v === undefined || !('resource' in v)) {
      throw new ResourcePlanError(`handler variable ${name} does not reference a resource`);
    }
    return v.resource;
  };
  const tableRoles = Object.fromEntries(
    (Object.entries(TABLE_ENV) as [RequiredTableRole, string][]).map(([role, name]) => [role, envRef(name)]),
  ) as TableRoles;
  if (environment[ENV.alarmsTable] !== undefined) tableRoles.alarms = envRef(ENV.alarmsTable);
  const alertTopicId = envRef(ENV.alertTopicArn);
  const rulesTableId = environment[ENV.rulesTable] ? envRef(ENV.rulesTable) : undefined;

  // --- Event source mapping of the handler ------------------------------------------------
  const m = props(mappingResource);
  const streamId = referencedLogicalId(m.EventSourceArn);
  if (streamId === undefined)
    throw new ResourcePlanError(`event source mapping ${mappingId} has no stream reference`);
  const parsedSettings = EventSourceSchema.safeParse({
    batchSize: num(m.BatchSize) ?? 100,
    maxBatchingWindowSeconds: num(m.MaximumBatchingWindowInSeconds) ?? 0,
    parallelizationFactor: num(m.ParallelizationFactor) ?? 1,
    startingPosition: m.StartingPosition,
    tumblingWindowSeconds: num(m.TumblingWindowInSeconds) ?? 0,
    bisectBatchOnFunctionError: bool(m.BisectBatchOnFunctionError) ?? false,
    retryAttempts: num(m.MaximumRetryAttempts) ?? -1,
    maxRecordAgeSeconds: num(m.MaximumRecordAgeInSeconds) ?? -1,
  });
  if (!parsedSettings.success) {
    const issues = parsedSettings.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ResourcePlanError(`event source mapping ${mappingId}: ${issues.join('; ')}`);
  }
  const onFailureQueue = referencedLogicalId(
    (m.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)?.OnFailure?.Destination,
  );
  const eventSourceMapping: PlannedEventSourceMapping = {
    logicalId: mappingId,
    functionLogicalId: handlerId,
    streamLogicalId: streamId,
    settings: parsedSettings.data,
    reportBatchItemFailures:
      Array.isArray(m.FunctionResponseTypes) && m.FunctionResponseTypes.includes('ReportBatchItemFailures'),
    ...(onFailureQueue ? { onFailureQueue } : {}),
    enabled: bool(m.Enabled) ?? true,
  };

  // --- Streams ----------------------------------------------------------------------------
  const byId = Object.fromEntries(resources);
  const plannedStream = (id: string, what: string): PlannedStream => {
    const resource = byId[id];
    if (resource?.Type !== 'AWS::Kinesis::Stream') {
      throw new ResourcePlanError(`${what} ${id} is not a Kinesis stream in this template`);
    }
    const p = props(resource);
    const mode = ((p.StreamModeDetails as { StreamMode?: string } | undefined)?.StreamMode ??
      'PROVISIONED') as 'ON_DEMAND' | 'PROVISIONED';
    return {
      logicalId: id,
      name: literal(p.Name) ?? id,
      mode,
      ...(mode === 'PROVISIONED' ? { shardCount: num(p.ShardCount) ?? 1 } : {}),
      retentionHours: num(p.RetentionPeriodHours) ?? 24,
      encrypted: isRecord(p.StreamEncryption) && p.StreamEncryption.EncryptionType === 'KMS',
    };
  };
  const stream = plannedStream(streamId, 'event source');
  const resultsStreamVar = environment[ENV.resultsStream];
  const resultsStream =
    resultsStreamVar && 'resource' in resultsStreamVar
      ? plannedStream(resultsStreamVar.resource, 'results stream')
      : undefined;

  // --- Idle sweeper: another pipeline function, on an EventBridge schedule ------------------
  let idleSweeper: PlannedIdleSweeper | undefined;
  for (const [, rule] of ofType('AWS::Events::Rule')) {
    const r = props(rule);
    const schedule = literal(r.ScheduleExpression);
    if (!schedule) continue;
    const targets = (r.Targets as { Arn?: unknown }[] | undefined) ?? [];
    const target = targets
      .map((t) => referencedLogicalId(t.Arn))
      .find((id) => id !== undefined && id !== handlerId && pipelineIds.includes(id));
    if (!target) continue;
    const intervalMs = rateToMs(schedule);
    idleSweeper = { logicalId: target, scheduleExpression: schedule, ...(intervalMs ? { intervalMs } : {}) };
  }

  // --- Tables -----------------------------------------------------------------------------
  const roleOfTable = new Map(Object.entries(tableRoles).map(([role, id]) => [id, role as TableRole]));
  const tables: PlannedTable[] = ofType('AWS::DynamoDB::Table').map(([id, r]) => {
    const t = props(r);
    const types = new Map(
      ((t.AttributeDefinitions as { AttributeName: string; AttributeType: string }[] | undefined) ?? []).map(
        (a) => [a.AttributeName, a.AttributeType],
      ),
    );
    const keys = (t.KeySchema as { AttributeName: string; KeyType: string }[] | undefined) ?? [];
    const key = (kind: string): KeyAttribute | undefined => {
      const k = keys.find((x) => x.KeyType === kind);
      return k ? { name: k.AttributeName, type: types.get(k.AttributeName) ?? 'S' } : undefined;
    };
    const partitionKey = key('HASH');
    if (!partitionKey) throw new ResourcePlanError(`table ${id} has no partition key`);
    const sortKey = key('RANGE');
    const ttl = t.TimeToLiveSpecification as { AttributeName?: string; Enabled?: unknown } | undefined;
    const role = roleOfTable.get(id);
    return {
      logicalId: id,
      name: literal(t.TableName) ?? id,
      ...(role ? { role } : {}),
      partitionKey,
      ...(sortKey ? { sortKey } : {}),
      ...(ttl?.AttributeName && bool(ttl.Enabled) ? { ttlAttribute: ttl.AttributeName } : {}),
      pointInTimeRecovery:
        bool(
          (t.PointInTimeRecoverySpecification as { PointInTimeRecoveryEnabled?: unknown } | undefined)
            ?.PointInTimeRecoveryEnabled,
        ) ?? false,
      encrypted: bool((t.SSESpecification as { SSEEnabled?: unknown } | undefined)?.SSEEnabled) ?? false,
    };
  });
  for (const [role, id] of Object.entries({
    ...tableRoles,
    ...(rulesTableId ? { rules: rulesTableId } : {}),
  })) {
    if (!tables.some((t) => t.logicalId === id)) {
      throw new ResourcePlanError(`the ${role} table ${id} is not a DynamoDB table in this template`);
    }
  }

  // --- Queues -----------------------------------------------------------------------------
  if (!onFailureQueue)
    throw new ResourcePlanError(`event source mapping ${mappingId} has no on-failure destination`);
  const queueRoles: Record<QueueRole, string> = {
    invalid: envRef(QUEUE_ENV.invalid),
    late: envRef(QUEUE_ENV.late),
    handlerFailure: onFailureQueue,
  };
  const roleOfQueue = new Map(Object.entries(queueRoles).map(([role, id]) => [id, role as QueueRole]));
  const queues: PlannedQueue[] = ofType('AWS::SQS::Queue').map(([id, r]) => {
    const q = props(r);
    const redrive = q.RedrivePolicy as
      | { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown }
      | undefined;
    const dlq = referencedLogicalId(redrive?.deadLetterTargetArn);
    const retention = num(q.MessageRetentionPeriod);
    const role = roleOfQueue.get(id);
    return {
      logicalId: id,
      name: literal(q.QueueName) ?? id,
      ...(role ? { role } : {}),
      ...(dlq
        ? { deadLetterQueue: { logicalId: dlq, maxReceiveCount: num(redrive?.maxReceiveCount) ?? 1 } }
        : {}),
      ...(retention !== undefined ? { retentionSeconds: retention } : {}),
      encrypted: q.KmsMasterKeyId !== undefined || bool(q.SqsManagedSseEnabled) !== false,
    };
  });
  for (const [role, id] of Object.entries(queueRoles)) {
    if (!queues.some((q) => q.logicalId === id)) {
      throw new ResourcePlanError(`the ${role} queue ${id} is not an SQS queue in this template`);
    }
  }

  // --- Topics and their subscriptions -----------------------------------------------------
  const subscriptions = ofType('AWS::SNS::Subscription');
  const topics: PlannedTopic[] = ofType('AWS::SNS::Topic').map(([id, r]) => {
    const t = props(r);
    return {
      logicalId: id,
      name: literal(t.TopicName) ?? id,
      ...(id === alertTopicId ? { role: 'alerts' as const } : {}),
      encrypted: t.KmsMasterKeyId !== undefined,
      subscriptions: subscriptions
        .filter(([, sub]) => referencedLogicalId(props(sub).TopicArn) === id)
        .map(([, sub]) => {
          const p = props(sub);
          const target = referencedLogicalId(p.Endpoint);
          const endpoint =
            target === undefined
              ? { value: literal(p.Endpoint) ?? '' }
              : byId[target]?.Type === 'AWS::SQS::Queue'
                ? { queue: target }
                : { resource: target };
          return {
            protocol: literal(p.Protocol) ?? 'unknown',
            endpoint,
            rawMessageDelivery: bool(p.RawMessageDelivery) ?? false,
          };
        }),
    };
  });
  if (!topics.some((t) => t.logicalId === alertTopicId)) {
    throw new ResourcePlanError(`the alert topic ${alertTopicId} is not an SNS topic in this template`);
  }

  return {
    stream,
    ...(resultsStream ? { resultsStream } : {}),
    ...(idleSweeper ? { idleSweeper } : {}),
    tables,
    topics,
    queues,
    eventSourceMapping,
    handler: { logicalId: handlerId, environment, config },
    roles: {
      tables: tableRoles,
      ...(rulesTableId ? { rulesTable: rulesTableId } : {}),
      alertTopic: alertTopicId,
      queues: queueRoles,
    },
  };
}
