/**
 * Logical ids that survive a refactoring of the construct tree.
 *
 * CloudFormation knows a resource by its logical id: a new id is a create plus a delete.
 * For a table or a stream that loses data; for the event source mapping, its position in
 * the stream; for a queue or topic policy, an alarm with a fixed name or an email
 * subscription, the delete runs after the create and removes what was just made (the
 * queue's policy, the alarm) or asks for a new confirmation. CDK derives logical ids from
 * construct paths, so two tools keep them fixed while the code is reorganised:
 *
 * - `stable(construct, id)` pins the id of a resource whose id other tools know
 *   (LOGICAL_IDS: local/cloud names its emulated resources after them);
 * - a `Section` groups constructs without entering their logical ids: the stack allocates
 *   ids from the construct path with sections left out (`logicalIdWithoutSections`), so
 *   moving a construct into a section, or from one section to another, changes no id.
 *   CDK also builds some construct ids from another construct's `Names.nodeUniqueId`
 *   (an SQS subscription is named after its topic, a rule's invoke permission after its
 *   function, an event source mapping after its stream); those embedded ids are taken
 *   without sections too. Two sections holding children of the same id fail synth
 *   ("already contains").
 */
import { createHash } from 'node:crypto';
import { type CfnElement, type CfnResource, Names, type Stack } from 'aws-cdk-lib';
import { Construct, type IConstruct } from 'constructs';

/** Logical ids of the stateful resources (and the event source mapping, see below). */
export const LOGICAL_IDS = {
  stream: 'ReadingsStream',
  resultsStream: 'FinalWindowsStream',
  messagingKey: 'MessagingKey',
  alertTopic: 'AlertTopic',
  alarmTopic: 'AlarmTopic',
  invalidQueue: 'InvalidRecordQueue',
  invalidDeadLetterQueue: 'InvalidRecordDeadLetterQueue',
  lateQueue: 'LateReadingQueue',
  lateDeadLetterQueue: 'LateReadingDeadLetterQueue',
  handlerFailureQueue: 'HandlerFailureQueue',
  alertSubscriptionQueue: 'AlertSubscriptionQueue',
  alertSubscriptionDeadLetterQueue: 'AlertSubscriptionDeadLetterQueue',
  iotErrorQueue: 'IotRuleErrorQueue',
  lakeBucket: 'LakeBucket',
  lakeAccessLogBucket: 'LakeAccessLogBucket',
  lakeDatabase: 'LakeDatabase',
  windowsDeliveryStream: 'WindowsDeliveryStream',
  transitionsDeliveryStream: 'TransitionsDeliveryStream',
} as const;

/** Pins the logical id of `construct`'s CloudFormation resource. */
export function stable<T extends IConstruct>(construct: T, logicalId: string): T {
  (construct.node.defaultChild as CfnResource).overrideLogicalId(logicalId);
  return construct;
}

/** A construct that organises others and is left out of their logical ids (see the header). */
export class Section extends Construct {}

// The two path components CDK's id algorithm treats specially.
const HIDDEN = 'Default';
const HIDDEN_FROM_HUMAN = 'Resource';
const MAX_ID_LENGTH = 255;
const MAX_HUMAN_LENGTH = 240;

/**
 * The logical id CDK gives a resource at the construct path `components` (below the
 * stack). This is CDK's documented addressing scheme (Stack.allocateLogicalId: the path's
 * components joined, plus an 8-character hash of the path), which CDK keeps fixed because
 * every deployed CDK app depends on it; test/infra/logical-ids.test.ts checks this copy
 * against CDK's own allocation.
 */
export function logicalIdOfPath(components: readonly string[]): string {
  const path = components.filter((c) => c !== HIDDEN);
  if (path.length === 0) throw new Error('a logical id needs at least one path component');
  const alphanumeric = (s: string) => s.replace(/[^A-Za-z0-9]/g, '');
  if (path.length === 1 && alphanumeric(path[0]!).length <= MAX_ID_LENGTH) return alphanumeric(path[0]!);
  const hash = createHash('md5').update(path.join('/')).digest('hex').slice(0, 8).toUpperCase();
  // A component ending the previous one repeats it (`Function/Function`): it is shown once.
  const human: string[] = [];
  for (const c of path) if (human.length === 0 || !human[human.length - 1]!.endsWith(c)) human.push(c);
  return (
    human
      .filter((c) => c !== HIDDEN_FROM_HUMAN)
      .map(alphanumeric)
      .join('')
      .slice(0, MAX_HUMAN_LENGTH) + hash
  );
}

const withoutSections = (scopes: readonly IConstruct[]) =>
  scopes.filter((scope) => !(scope instanceof Section)).map((scope) => scope.node.id);

/** `Names.nodeUniqueId(construct)` as it would be if no section were on its path. */
export function nodeUniqueIdWithoutSections(construct: IConstruct): string {
  return logicalIdOfPath(withoutSections(construct.node.scopes.slice(1)));
}

// Unique ids end in CDK's 8-character path hash; components without one embed none.
const EMBEDS_UNIQUE_ID = /[0-9A-F]{8}/;
const embeddedIds = new WeakMap<Stack, { constructs: number; ids: Map<string, string> }>();

/**
 * `Names.nodeUniqueId` -> the same without sections, for every construct inside a section
 * (recomputed when the tree has grown since the last call).
 */
function uniqueIdsInSections(stack: Stack): Map<string, string> {
  const all = stack.node.findAll();
  const cached = embeddedIds.get(stack);
  if (cached?.constructs === all.length) return cached.ids;
  const ids = new Map<string, string>();
  for (const construct of all) {
    if (construct instanceof Section || !construct.node.scopes.some((s) => s instanceof Section)) continue;
    ids.set(Names.nodeUniqueId(construct.node), nodeUniqueIdWithoutSections(construct));
  }
  embeddedIds.set(stack, { constructs: all.length, ids });
  return ids;
}

/** For `Stack.allocateLogicalId`: CDK's scheme applied to the path without sections. */
export function logicalIdWithoutSections(element: CfnElement, stack: Stack): string {
  const scopes = element.node.scopes;
  const components = withoutSections(scopes.slice(scopes.indexOf(stack) + 1)).map((component) => {
    if (!EMBEDS_UNIQUE_ID.test(component)) return component;
    let fixed = component;
    for (const [inSection, outside] of uniqueIdsInSections(stack))
      fixed = fixed.replaceAll(inSection, outside);
    return fixed;
  });
  return logicalIdOfPath(components);
}
