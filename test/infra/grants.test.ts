/**
 * Least privilege that cannot silently rot: the actions the stack grants the pipeline
 * functions are compared with the AWS SDK commands the pipeline code actually sends.
 * A command added to the code without its grant fails here, before a deployed handler
 * fails with AccessDenied; a grant the code no longer uses fails here too.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/paths.js';
import { PIPELINE_TABLE_ACTIONS, SWEEPER_STATE_ACTIONS } from '../../infra/pipeline.js';

/** SDK command class -> IAM action (lib-dynamodb's document commands map to the item APIs). */
const ACTION_OF: Record<string, string> = {
  GetCommand: 'dynamodb:GetItem',
  BatchGetCommand: 'dynamodb:BatchGetItem',
  PutCommand: 'dynamodb:PutItem',
  UpdateCommand: 'dynamodb:UpdateItem',
  DeleteCommand: 'dynamodb:DeleteItem',
  BatchWriteCommand: 'dynamodb:BatchWriteItem',
  TransactWriteCommand: 'dynamodb:TransactWriteItems',
  TransactGetCommand: 'dynamodb:TransactGetItems',
  QueryCommand: 'dynamodb:Query',
  ScanCommand: 'dynamodb:Scan',
  PublishCommand: 'sns:Publish',
  PublishBatchCommand: 'sns:Publish',
  SendMessageCommand: 'sqs:SendMessage',
  SendMessageBatchCommand: 'sqs:SendMessage',
  PutRecordsCommand: 'kinesis:PutRecords',
  PutRecordCommand: 'kinesis:PutRecord',
};

function actionsSentBy(file: string): { actions: Set<string>; unknown: string[] } {
  const source = readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const actions = new Set<string>();
  const unknown: string[] = [];
  for (const [, command] of source.matchAll(/new (\w+Command)\(/g)) {
    const action = ACTION_OF[command!];
    if (action) actions.add(action);
    else unknown.push(command!);
  }
  return { actions, unknown };
}

describe('pipeline grants follow the pipeline code', () => {
  it('state table: what WindowStateStore sends (Scan only for the sweeper)', () => {
    const { actions, unknown } = actionsSentBy('functions/lib/state-store.ts');
    expect(unknown).toEqual([]);
    expect([...actions].sort()).toEqual([...PIPELINE_TABLE_ACTIONS.state, ...SWEEPER_STATE_ACTIONS].sort());
  });

  it('results, ledger, topic, queues, results stream: what EffectDelivery sends', () => {
    const { actions, unknown } = actionsSentBy('functions/lib/effects.ts');
    expect(unknown).toEqual([]);
    const dynamodb = [...actions].filter((a) => a.startsWith('dynamodb:')).sort();
    expect(dynamodb).toEqual(
      [...new Set([...PIPELINE_TABLE_ACTIONS.results, ...PIPELINE_TABLE_ACTIONS.alertLedger])].sort(),
    );
    expect([...actions].filter((a) => !a.startsWith('dynamodb:')).sort()).toEqual([
      'kinesis:PutRecords',
      'sns:Publish',
      'sqs:SendMessage',
    ]);
  });

  it('the handler and sweeper wiring send nothing of their own', () => {
    for (const file of [
      'functions/window-handler/handler.ts',
      'functions/window-handler/build.ts',
      'functions/window-handler/process-batch.ts',
      'functions/idle-sweeper/handler.ts',
      'functions/idle-sweeper/build.ts',
    ]) {
      const { actions, unknown } = actionsSentBy(file);
      expect({ file, actions: [...actions], unknown }).toEqual({ file, actions: [], unknown: [] });
    }
  });
});
