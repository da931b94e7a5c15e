/**
 * An SQS queue of the test's own, subscribed to the pipeline's alert topic like any SNS
 * subscriber (envelope delivery, attributes included): what a user's alarm consumer would
 * receive, read without taking anything from the console's tap queue.
 */
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { drainQueue, type SnsEnvelope } from '../../local/cloud/index.js';
import { subscribeAlertsTap } from '../../local/cloud/provision.js';
import type { LocalPipeline } from '../../local/pipeline/index.js';

export interface TopicSubscriber {
  /** Everything delivered so far (it keeps what it read). */
  read(waitMs?: number): Promise<SnsEnvelope[]>;
}

export async function subscribeToAlertTopic(pipeline: LocalPipeline, name: string): Promise<TopicSubscriber> {
  const { clients, resources } = pipeline;
  const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: name }));
  const { Attributes } = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await subscribeAlertsTap(clients, resources.topic.arn, {
    name,
    url: QueueUrl!,
    arn: Attributes!.QueueArn!,
  });
  const seen: SnsEnvelope[] = [];
  return {
    async read(waitMs = 0) {
      for (const m of await drainQueue(clients, QueueUrl!, { waitMs })) seen.push(m.body as SnsEnvelope);
      return seen;
    },
  };
}
