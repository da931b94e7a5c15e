/**
 * fauxqs (SNS, SQS, S3) in-process, on a free port.
 *
 * SQS queue URLs. fauxqs names queues `http://sqs.<region>.localhost:<port>/<account>/<name>`
 * and only accepts those exact strings, but `*.localhost` does not resolve here and the
 * SDK, given the endpoint through `AWS_ENDPOINT_URL_SQS`, sends requests to the queue
 * URL's host. So the SQS API is served with the URLs rewritten to the endpoint we know,
 * `<sqs endpoint>/<account>/<name>`, in both directions.
 */
import { ListTopicsCommand } from '@aws-sdk/client-sns';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import { answeringOrStopped, EmulatorStartError, type RunningService } from './startup.js';

const SQS_TARGET_PREFIX = 'AmazonSQS.';
/** SQS operations whose responses carry queue URLs. */
const QUEUE_URL_RESPONSES = new Set(['CreateQueue', 'GetQueueUrl', 'ListQueues']);

/**
 * fauxqs built with `buildApp` (its public API; `startFauxqs` is the same plus helpers we do
 * not use), with two hooks that translate queue URLs between fauxqs's own form and
 * `<endpoint>/<account>/<name>`. The table is learnt from responses, so a URL fauxqs never
 * handed out passes through unchanged and fails as it would on AWS.
 */
export async function startFauxqs(timeoutMs: number, region: string): Promise<RunningService> {
  const app = buildApp({ logger: false, defaultRegion: region });
  const toFauxqs = new Map<string, string>();
  let endpoint = '';

  const outward = (url: string) => {
    const local = `${endpoint}${new URL(url).pathname}`;
    toFauxqs.set(local, url);
    return local;
  };

  app.addHook('preHandler', async (request) => {
    const target = request.headers['x-amz-target'];
    if (typeof target !== 'string' || !target.startsWith(SQS_TARGET_PREFIX)) return;
    const body = request.body as { QueueUrl?: unknown } | null;
    if (body && typeof body.QueueUrl === 'string') {
      body.QueueUrl = toFauxqs.get(body.QueueUrl) ?? body.QueueUrl;
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const target = request.headers['x-amz-target'];
    if (typeof target !== 'string' || !target.startsWith(SQS_TARGET_PREFIX)) return payload;
    if (!QUEUE_URL_RESPONSES.has(target.slice(SQS_TARGET_PREFIX.length))) return payload;
    if (reply.statusCode !== 200 || typeof payload !== 'string') return payload;
    const body = JSON.parse(payload) as { QueueUrl?: string; QueueUrls?: string[] };
    if (body.QueueUrl) body.QueueUrl = outward(body.QueueUrl);
    if (body.QueueUrls) body.QueueUrls = body.QueueUrls.map(outward);
    return JSON.stringify(body);
  });

  let address: string;
  try {
    address = await app.listen({ port: 0, host: '127.0.0.1' });
  } catch (err) {
    throw new EmulatorStartError('fauxqs', `could not listen: ${(err as Error).message}`);
  }
  endpoint = `http://127.0.0.1:${new URL(address).port}`;
  let closed = false;
  const stop = async () => {
    if (closed) return;
    closed = true;
    await app.close();
  };
  return answeringOrStopped(
    { endpoint, stop },
    'fauxqs',
    'ListTopics and ListQueues',
    { sns: endpoint, sqs: endpoint },
    async (clients, abortSignal) => {
      await clients.sns.send(new ListTopicsCommand({}), { abortSignal });
      await clients.sqs.send(new ListQueuesCommand({}), { abortSignal });
    },
    timeoutMs,
  );
}
