/**
 * The resource plan read from a synthesized template carries what the local cloud must
 * provision to match the deployment: the stream, the tables with their keys and TTL, the
 * topics and their subscriptions, the queues with their dead-letter queues, the mapping
 * settings and the handler's configuration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/domain/config.js';
import { WindowpaneError } from '../../functions/domain/errors.js';
import { ENV, TABLES } from '../../functions/lib/resources.js';
import {
  type ResourcePlan,
  ResourcePlanError,
  rateToMs,
  resourcePlanFromTemplate,
} from '../../infra/resource-plan.js';
import { LOGICAL_IDS } from '../../infra/windowpane-stack.js';
import { ResourcePlanError as LocalResourcePlanError, planFromConfig } from '../../local/cloud/provision.js';
import { planFromTemplatePlan } from '../../local/pipeline/plan.js';
import { type Built, build } from './helpers.js';

describe('resource plan of the default stack (cdk.json)', () => {
  let built: Built;
  let plan: ResourcePlan;

  beforeAll(() => {
    built = build();
    plan = resourcePlanFromTemplate(built.json);
  });
  afterAll(() => built?.cleanup());

  it('stream: on-demand (no shard count), retention, encrypted, named by its logical id', () => {
    expect(plan.stream).toEqual({
      logicalId: LOGICAL_IDS.stream,
      name: LOGICAL_IDS.stream,
      mode: 'ON_DEMAND',
      retentionHours: built.settings.config.stream.retentionHours,
      encrypted: true,
    });
  });

  it('tables: exactly the TableDefinitions, with keys, TTL attribute and roles', () => {
    const roles = {
      WindowState: 'state',
      WindowResults: 'results',
      AlertLedger: 'alertLedger',
      Alarms: 'alarms',
    } as const;
    expect(plan.tables).toHaveLength(TABLES.length);
    for (const def of TABLES) {
      const table = plan.tables.find((t) => t.logicalId === def.id);
      expect(table).toEqual({
        logicalId: def.id,
        name: def.id,
        role: roles[def.id as keyof typeof roles],
        partitionKey: { name: def.partitionKey, type: 'S' },
        ...(def.sortKey ? { sortKey: { name: def.sortKey, type: 'S' } } : {}),
        ...(def.ttlAttribute ? { ttlAttribute: def.ttlAttribute } : {}),
        pointInTimeRecovery: true,
        encrypted: true,
      });
    }
    expect(plan.roles.tables).toEqual({
      state: 'WindowState',
      results: 'WindowResults',
      alertLedger: 'AlertLedger',
      alarms: 'Alarms',
    });
    // The handler's RULES_TABLE_NAME names it: the local cloud creates it as the stack does.
    expect(plan.roles.rulesTable).toBe('Rules');
  });

  it('event source mapping: the configured settings in EventSourceConfig shape', () => {
    expect(plan.eventSourceMapping).toMatchObject({
      functionLogicalId: plan.handler.logicalId,
      streamLogicalId: LOGICAL_IDS.stream,
      settings: built.settings.config.eventSource,
      reportBatchItemFailures: true,
      onFailureQueue: LOGICAL_IDS.handlerFailureQueue,
      enabled: true,
    });
  });

  it('queues: invalid and late with their dead-letter queues, and the failure destination', () => {
    const byId = Object.fromEntries(plan.queues.map((q) => [q.logicalId, q]));
    expect(byId[LOGICAL_IDS.invalidQueue]).toMatchObject({
      role: 'invalid',
      deadLetterQueue: { logicalId: LOGICAL_IDS.invalidDeadLetterQueue, maxReceiveCount: 5 },
      encrypted: true,
    });
    expect(byId[LOGICAL_IDS.lateQueue]).toMatchObject({
      role: 'late',
      deadLetterQueue: { logicalId: LOGICAL_IDS.lateDeadLetterQueue, maxReceiveCount: 5 },
    });
    expect(byId[LOGICAL_IDS.handlerFailureQueue]).toMatchObject({ role: 'handlerFailure' });
    expect(byId[LOGICAL_IDS.handlerFailureQueue]?.deadLetterQueue).toBeUndefined();
    expect(plan.queues.map((q) => q.logicalId).sort()).toEqual(
      [
        LOGICAL_IDS.invalidQueue,
        LOGICAL_IDS.invalidDeadLetterQueue,
        LOGICAL_IDS.lateQueue,
        LOGICAL_IDS.lateDeadLetterQueue,
        LOGICAL_IDS.handlerFailureQueue,
        // AWS-only (the IoT rules' error queue): planned as the template has it, with no
        // role, so the local cloud, which provisions by role, leaves it out.
        LOGICAL_IDS.iotErrorQueue,
      ].sort(),
    );
    expect(byId[LOGICAL_IDS.iotErrorQueue]?.role).toBeUndefined();
    expect(Object.values(plan.roles.queues)).not.toContain(LOGICAL_IDS.iotErrorQueue);
  });

  it('topics: the alert topic (role alerts) and the alarm topic, both encrypted', () => {
    expect(plan.topics.map((t) => [t.logicalId, t.role, t.encrypted]).sort()).toEqual(
      [
        [LOGICAL_IDS.alarmTopic, undefined, true],
        [LOGICAL_IDS.alertTopic, 'alerts', true],
      ].sort(),
    );
    expect(plan.roles.alertTopic).toBe(LOGICAL_IDS.alertTopic);
  });

  it('handler: the parsed configuration and every variable, resources by logical id', () => {
    expect(plan.handler.config).toEqual(built.settings.config);
    expect(plan.handler.environment).toMatchObject({
      [ENV.stateTable]: { resource: 'WindowState' },
      [ENV.resultsTable]: { resource: 'WindowResults' },
      [ENV.alertLedgerTable]: { resource: 'AlertLedger' },
      [ENV.alertTopicArn]: { resource: LOGICAL_IDS.alertTopic },
      [ENV.invalidQueueUrl]: { resource: LOGICAL_IDS.invalidQueue },
      [ENV.lateQueueUrl]: { resource: LOGICAL_IDS.lateQueue },
      POWERTOOLS_SERVICE_NAME: { value: 'windowpane' },
    });
  });

  it('idle sweeper: its function and schedule; no results stream unless deployed', () => {
    expect(plan.idleSweeper).toMatchObject({ scheduleExpression: 'rate(5 minutes)', intervalMs: 300_000 });
    expect(plan.idleSweeper?.logicalId).not.toBe(plan.handler.logicalId);
    expect(plan.resultsStream).toBeUndefined();
  });

  it('is plain data (survives JSON)', () => {
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });
});

describe('resource plan follows the configuration', () => {
  it('provisioned stream with its shard count, custom mapping settings, SQS alert subscription', () => {
    const built = build({
      windowpane: {
        stream: { mode: 'PROVISIONED', shardCount: 6, retentionHours: 72 },
        eventSource: {
          batchSize: 250,
          startingPosition: 'LATEST',
          maxRecordAgeSeconds: -1,
          retryAttempts: -1,
        },
      },
      windowpaneDeploy: {
        alertSubscription: { type: 'sqs', rawMessageDelivery: false },
        resultsStream: true,
        idleSweep: { enabled: false },
      },
    });
    try {
      const plan = resourcePlanFromTemplate(built.json);
      expect(plan.stream).toMatchObject({ mode: 'PROVISIONED', shardCount: 6, retentionHours: 72 });
      expect(plan.eventSourceMapping.settings).toEqual(built.settings.config.eventSource);
      expect(plan.eventSourceMapping.settings).toMatchObject({
        batchSize: 250,
        startingPosition: 'LATEST',
        maxRecordAgeSeconds: -1,
        retryAttempts: -1,
      });
      expect(plan.resultsStream).toEqual({
        logicalId: LOGICAL_IDS.resultsStream,
        name: LOGICAL_IDS.resultsStream,
        mode: 'ON_DEMAND',
        retentionHours: 24,
        encrypted: true,
      });
      expect(plan.idleSweeper).toBeUndefined();
      const alerts = plan.topics.find((t) => t.role === 'alerts');
      expect(alerts?.subscriptions).toEqual([
        {
          protocol: 'sqs',
          endpoint: { queue: LOGICAL_IDS.alertSubscriptionQueue },
          rawMessageDelivery: false,
        },
      ]);
    } finally {
      built.cleanup();
    }
  });
});

describe('resource plan with the AWS-only ways in and out (IoT, schema registry, lake)', () => {
  it('plans the same pipeline; the lake turns the results stream on; its Firehose subscription is not a queue', () => {
    const built = build({ windowpaneDeploy: { avro: { enabled: true }, lake: { enabled: true } } });
    try {
      const plan = resourcePlanFromTemplate(built.json);
      expect(plan.resultsStream?.logicalId).toBe(LOGICAL_IDS.resultsStream);
      expect(plan.roles.queues).toEqual({
        invalid: LOGICAL_IDS.invalidQueue,
        late: LOGICAL_IDS.lateQueue,
        handlerFailure: LOGICAL_IDS.handlerFailureQueue,
      });
      expect(plan.handler.environment[ENV.schemaRegistryName]).toEqual({ value: 'Windowpane' });
      const alerts = plan.topics.find((t) => t.role === 'alerts');
      expect(alerts?.subscriptions).toEqual([
        {
          protocol: 'firehose',
          endpoint: { resource: LOGICAL_IDS.transitionsDeliveryStream },
          rawMessageDelivery: true,
        },
      ]);
      // The local plan from it: the pipeline's stream, tables, topic and queues only.
      const local = planFromTemplatePlan(plan, built.settings.config, 'lk');
      expect(local.queues).toMatchObject({
        invalid: { name: `lk-${LOGICAL_IDS.invalidQueue}` },
        dlq: { name: `lk-${LOGICAL_IDS.handlerFailureQueue}` },
      });
      expect(local.resultsStream?.name).toBe(`lk-${LOGICAL_IDS.resultsStream}`);
    } finally {
      built.cleanup();
    }
  });
});

describe('resource plan: malformed templates', () => {
  let json: Built['json'];
  beforeAll(() => {
    const built = build();
    json = built.json;
    built.cleanup();
  });
  const without = (predicate: (type: string) => boolean) => ({
    ...json,
    Resources: Object.fromEntries(Object.entries(json.Resources).filter(([, r]) => !predicate(r.Type))),
  });

  it.each([
    ['not a template', () => 42, /no Resources/],
    [
      'no functions',
      () => without((t) => t === 'AWS::Lambda::Function'),
      /expected a function with WINDOWPANE_CONFIG/,
    ],
    [
      'no mapping',
      () => without((t) => t === 'AWS::Lambda::EventSourceMapping'),
      /expected one event source mapping/,
    ],
    [
      'no tables',
      () => without((t) => t === 'AWS::DynamoDB::Table'),
      /state table WindowState is not a DynamoDB table/,
    ],
    ['no stream', () => without((t) => t === 'AWS::Kinesis::Stream'), /is not a Kinesis stream/],
  ])('%s -> ResourcePlanError', (_name, template, message) => {
    expect(() => resourcePlanFromTemplate(template())).toThrow(ResourcePlanError);
    expect(() => resourcePlanFromTemplate(template())).toThrow(message);
  });
});

describe('ResourcePlanError', () => {
  it('is one class, a WindowpaneError, whether the plan comes from a template or from the configuration', () => {
    expect(LocalResourcePlanError).toBe(ResourcePlanError);
    const fromTemplate = (() => {
      try {
        resourcePlanFromTemplate({});
      } catch (err) {
        return err;
      }
    })();
    const fromConfig = (() => {
      try {
        planFromConfig(parseConfig({}), { prefix: 'has space' });
      } catch (err) {
        return err;
      }
    })();
    for (const err of [fromTemplate, fromConfig]) {
      expect(err).toBeInstanceOf(ResourcePlanError);
      expect(err).toBeInstanceOf(WindowpaneError);
      expect((err as Error).name).toBe('ResourcePlanError');
    }
  });
});

describe('rateToMs', () => {
  it.each([
    ['rate(1 minute)', 60_000],
    ['rate(5 minutes)', 300_000],
    ['rate(2 hours)', 7_200_000],
    ['rate(1 day)', 86_400_000],
    ['cron(0 12 * * ? *)', undefined],
  ])('%s -> %s', (expression, ms) => {
    expect(rateToMs(expression)).toBe(ms);
  });
});
