/**
 * One scaling step for a provisioned stream, on one alarm: read the stream and the
 * scaler's history, decide (pure, decide.ts), record the operation, reshard.
 *
 * Order matters. The history is written before UpdateShardCount because Kinesis accepts
 * tags only on an ACTIVE stream, and the update makes it UPDATING. If the update then
 * fails, the history holds an operation that did not happen: that only makes the next
 * decision more careful (a cooldown, one fewer daily operation), never less.
 */
import {
  AddTagsToStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ListTagsForStreamCommand,
  ResourceInUseException,
  type Tag,
  UpdateShardCountCommand,
} from '@aws-sdk/client-kinesis';
import { signalFromAlarm } from './alarm-event.js';
import { decideScaling, type ScalingDecision, type ScalingLimits, type SignalKind } from './decide.js';
import { formatHistory, HISTORY_TAG_KEY, parseHistory } from './history.js';

export interface ScalerLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface ScalerDeps {
  kinesis: KinesisClient;
  streamName: string;
  limits: ScalingLimits;
  signals: Readonly<Record<string, SignalKind>>;
  now?: () => number;
  logger?: ScalerLogger;
}

export type ScalerOutcome =
  | { status: 'ignored'; reason: string }
  | { status: 'unchanged'; alarmName: string; decision: Extract<ScalingDecision, { action: 'none' }> }
  | {
      status: 'busy';
      alarmName: string;
      decision: Extract<ScalingDecision, { action: 'scale' }>;
      detail: string;
    }
  | { status: 'scaling'; alarmName: string; decision: Extract<ScalingDecision, { action: 'scale' }> };

export class StreamNotProvisionedError extends Error {
  constructor(
    readonly streamName: string,
    readonly mode: string,
  ) {
    super(`stream "${streamName}" is ${mode}; the shard scaler only manages PROVISIONED streams`);
    this.name = 'StreamNotProvisionedError';
  }
}

async function readHistoryTag(kinesis: KinesisClient, streamName: string): Promise<string | undefined> {
  let start: string | undefined;
  for (;;) {
    const page = await kinesis.send(
      new ListTagsForStreamCommand({
        StreamName: streamName,
        ...(start ? { ExclusiveStartTagKey: start } : {}),
      }),
    );
    const tags: Tag[] = page.Tags ?? [];
    const found = tags.find((t) => t.Key === HISTORY_TAG_KEY);
    if (found) return found.Value ?? '';
    if (!page.HasMoreTags || tags.length === 0) return undefined;
    start = tags.at(-1)?.Key;
  }
}

export async function handleAlarm(deps: ScalerDeps, event: unknown): Promise<ScalerOutcome> {
  const now = (deps.now ?? Date.now)();
  const read = signalFromAlarm(event, deps.signals);
  if (!read.accepted) return { status: 'ignored', reason: read.reason };

  const summary = await deps.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: deps.streamName }));
  const description = summary.StreamDescriptionSummary;
  const mode = description?.StreamModeDetails?.StreamMode ?? 'PROVISIONED';
  if (mode !== 'PROVISIONED') throw new StreamNotProvisionedError(deps.streamName, mode);

  const history = parseHistory(await readHistoryTag(deps.kinesis, deps.streamName));
  if (history.malformed.length > 0) {
    deps.logger?.warn('ignoring unreadable scaling history entries', { malformed: history.malformed });
  }
  const decision = decideScaling({
    now,
    streamStatus: description?.StreamStatus ?? 'UNKNOWN',
    openShardCount: description?.OpenShardCount ?? 0,
    signal: read.signal,
    history: history.operations,
    limits: deps.limits,
  });
  if (decision.action === 'none') return { status: 'unchanged', alarmName: read.alarmName, decision };

  const op = { at: now, from: decision.from, to: decision.target };
  await deps.kinesis.send(
    new AddTagsToStreamCommand({
      StreamName: deps.streamName,
      Tags: { [HISTORY_TAG_KEY]: formatHistory(history.operations, op) },
    }),
  );
  try {
    await deps.kinesis.send(
      new UpdateShardCountCommand({
        StreamName: deps.streamName,
        TargetShardCount: decision.target,
        ScalingType: 'UNIFORM_SCALING',
      }),
    );
  } catch (err) {
    // Another update started between our read and our call: that one is the reshard.
    if (err instanceof ResourceInUseException) {
      return { status: 'busy', alarmName: read.alarmName, decision, detail: err.message };
    }
    // LimitExceededException (account shard quota, daily limit) and the rest: let the
    // invocation fail so the scaler's error alarm tells an operator.
    throw err;
  }
  deps.logger?.info('resharding', { from: decision.from, target: decision.target, reason: decision.reason });
  return { status: 'scaling', alarmName: read.alarmName, decision };
}
