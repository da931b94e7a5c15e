/**
 * The one way windowpane reaches AWS. Every client is built here from an optional
 * `ClientOptions`; without options the SDK's own resolution applies (region, credentials
 * and the standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables), so the
 * same code talks to AWS, LocalStack or the embedded emulators chosen by endpoint alone.
 *
 * Every client has connection and request timeouts, so no call waits forever on an
 * endpoint that accepts connections and never answers; a timed-out request is retried by
 * the SDK like any transient error. A call that fails without an answer (timeout, refused,
 * reset, unknown host) says which service, operation and endpoint it was.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GlueClient } from '@aws-sdk/client-glue';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface ClientOptions {
  region?: string;
  /** One endpoint per service; omitted services use the SDK's standard resolution. */
  endpoints?: Partial<Record<'kinesis' | 'dynamodb' | 'sns' | 'sqs' | 'cloudformation' | 'glue', string>>;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** SDK retry attempts per call (the SDK's adaptive backoff applies between them). */
  maxAttempts?: number;
  /** Per-request limits; default HANDLER_TIMEOUTS (the deployed functions'). */
  timeouts?: Partial<ClientTimeouts>;
  /** Client middleware hook (fault injection in the local cloud, metrics in tests). */
  decorate?: <C extends { middlewareStack: unknown }>(client: C, service: string) => C;
}

export interface ClientTimeouts {
  /** To establish the TCP connection. */
  connectionMs: number;
  /** For the whole request, from sending to the last byte of the answer (each SDK attempt). */
  requestMs: number;
}

/**
 * The deployed functions' limits: each request gives up well below the smallest function
 * timeout the stack allows (3 s, infra/settings.ts), leaving the SDK's retries room to
 * run. In-region AWS answers in milliseconds; these only cut off a request that hangs.
 */
export const HANDLER_TIMEOUTS: ClientTimeouts = { connectionMs: 1_000, requestMs: 2_500 };

/**
 * The local commands' limits (embedded emulators, LocalStack): generous, because
 * kinesis-local is CPU-bound and may share the machine, and above SQS's longest long
 * poll (20 s); set-up steps have their own deadlines (local/pipeline).
 */
export const LOCAL_TIMEOUTS: ClientTimeouts = { connectionMs: 5_000, requestMs: 30_000 };

type Service = keyof NonNullable<ClientOptions['endpoints']>;

const SERVICE_NAMES: Record<Service, string> = {
  kinesis: 'Kinesis',
  dynamodb: 'DynamoDB',
  sns: 'SNS',
  sqs: 'SQS',
  cloudformation: 'CloudFormation',
  glue: 'Glue',
};

/** Node's errors for a connection that failed or went silent. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** True for an error that came without any answer from the service. */
export function isTransportError(err: unknown): err is Error {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: string; $metadata?: { httpStatusCode?: number } };
  if (e.$metadata?.httpStatusCode !== undefined) return false;
  return e.name === 'TimeoutError' || (e.code !== undefined && NETWORK_ERROR_CODES.has(e.code));
}

/** The part of a client's middleware stack used here (the SDK's types are per client). */
interface MiddlewareTarget {
  middlewareStack: {
    add(
      middleware: (
        next: (args: unknown) => Promise<unknown>,
        context: { commandName?: string; endpointV2?: { url?: URL } },
      ) => (args: unknown) => Promise<unknown>,
      options: { step: 'initialize'; name: string; priority: 'high' },
    ): void;
  };
}

/**
 * Prefixes a transport error's message with the service, operation and endpoint (the
 * error keeps its class, name and code: retry decisions and tests still see the SDK's).
 */
function nameEndpointOnTransportErrors(client: { middlewareStack: unknown }, service: Service): void {
  (client as MiddlewareTarget).middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        if (isTransportError(err)) {
          const operation = (context.commandName ?? 'request').replace(/Command$/, '');
          const where = context.endpointV2?.url ? ` to ${context.endpointV2.url.origin}` : '';
          const attempts = (err as { $metadata?: { attempts?: number } }).$metadata?.attempts;
          const tries = attempts && attempts > 1 ? ` (${attempts} attempts)` : '';
          err.message = `${SERVICE_NAMES[service]} ${operation}${where} got no answer${tries}: ${err.message}`;
        }
        throw err;
      }
    },
    { step: 'initialize', name: 'windowpaneNameEndpointOnTransportErrors', priority: 'high' },
  );
}

function requestHandler(options: ClientOptions): NodeHttpHandler {
  const t = { ...HANDLER_TIMEOUTS, ...options.timeouts };
  return new NodeHttpHandler({
    connectionTimeout: t.connectionMs,
    requestTimeout: t.requestMs,
    // Without it the request timeout only logs a warning and the request waits on.
    throwOnRequestTimeout: true,
  });
}

export interface AwsClients {
  dynamodb: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  kinesis: KinesisClient;
  sns: SNSClient;
  sqs: SQSClient;
}

function common(options: ClientOptions, service: Service) {
  const endpoint = options.endpoints?.[service];
  return {
    requestHandler: requestHandler(options),
    ...(options.region ? { region: options.region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  };
}

/**
 * How the document client converts numbers. windowpane writes only doubles (metric values
 * in the numeric domain and their aggregates, docs/SEMANTICS.md "Reading"), and a double's
 * shortest decimal form has at most 17 significant digits, which DynamoDB (38 digits)
 * stores exactly. The SDK's default refuses any number beyond 2^53 (a sum of large values,
 * or a reading of 1e16) as "imprecise"; it is not, so it is written as it is. Reading
 * back, `Number` returns the same double, where the default would give a BigInt or throw.
 */
export const DOCUMENT_TRANSLATION = {
  marshallOptions: { removeUndefinedValues: true, allowImpreciseNumbers: true },
  unmarshallOptions: { wrapNumbers: (text: string) => Number(text) },
} as const;

function finish<C extends { middlewareStack: unknown }>(
  client: C,
  service: Service,
  options: ClientOptions,
): C {
  nameEndpointOnTransportErrors(client, service);
  return options.decorate ? options.decorate(client, service) : client;
}

export function createClients(options: ClientOptions = {}): AwsClients {
  const build = <C extends { middlewareStack: unknown }>(client: C, service: Service) =>
    finish(client, service, options);
  // Kinesis gets NodeHttpHandler (HTTP/1.1) like the others, rather than its HTTP/2
  // default for SubscribeToShard, which kinesis-local rejects; windowpane never uses
  // enhanced fan-out.
  const dynamodb = build(new DynamoDBClient(common(options, 'dynamodb')), 'dynamodb');
  const doc = DynamoDBDocumentClient.from(dynamodb, DOCUMENT_TRANSLATION);
  const kinesis = build(new KinesisClient(common(options, 'kinesis')), 'kinesis');
  const sns = build(new SNSClient(common(options, 'sns')), 'sns');
  const sqs = build(new SQSClient(common(options, 'sqs')), 'sqs');
  return { dynamodb, doc, kinesis, sns, sqs };
}

/**
 * CloudFormation, for the commands that find a deployed stack's resources from its outputs
 * (`npm run dashboard -- --stack`). Not among `AwsClients`: the pipeline never needs it.
 */
export function createCloudFormationClient(options: ClientOptions = {}): CloudFormationClient {
  return finish(new CloudFormationClient(common(options, 'cloudformation')), 'cloudformation', options);
}

/**
 * Glue, for the Schema Registry's writer schemas (GlueSchemaSource). Not among
 * `AwsClients`: only a handler whose deployment has a registry builds it.
 */
export function createGlueClient(options: ClientOptions = {}): GlueClient {
  return finish(new GlueClient(common(options, 'glue')), 'glue', options);
}

/** Closes every client's sockets (in-flight requests fail); safe to call twice. */
export function destroyClients(clients: AwsClients): void {
  for (const c of [clients.kinesis, clients.dynamodb, clients.sns, clients.sqs]) c.destroy();
}

/** Options for the embedded emulators: static test credentials, one region, explicit endpoints. */
export function localClientOptions(endpoints: NonNullable<ClientOptions['endpoints']>): ClientOptions {
  return {
    region: 'us-east-1',
    endpoints,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    timeouts: LOCAL_TIMEOUTS,
  };
}
