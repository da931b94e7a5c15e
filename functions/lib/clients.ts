/**
 * The one way windowpane reaches AWS. Every client is built here from an optional
 * `ClientOptions`; without options the SDK's own resolution applies (region, credentials
 * and the standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables), so the
 * same code talks to AWS, LocalStack or the embedded emulators chosen by endpoint alone.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface ClientOptions {
  region?: string;
  /** One endpoint per service; omitted services use the SDK's standard resolution. */
  endpoints?: Partial<Record<'kinesis' | 'dynamodb' | 'sns' | 'sqs', string>>;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** SDK retry attempts per call (the SDK's adaptive backoff applies between them). */
  maxAttempts?: number;
  /** Client middleware hook (fault injection in the local cloud, metrics in tests). */
  decorate?: <C extends { middlewareStack: unknown }>(client: C, service: string) => C;
}

export interface AwsClients {
  dynamodb: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  kinesis: KinesisClient;
  sns: SNSClient;
  sqs: SQSClient;
}

function common(options: ClientOptions, service: keyof NonNullable<ClientOptions['endpoints']>) {
  const endpoint = options.endpoints?.[service];
  return {
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

export function createClients(options: ClientOptions = {}): AwsClients {
  const decorate = options.decorate ?? (<C>(c: C) => c);
  const dynamodb = decorate(new DynamoDBClient(common(options, 'dynamodb')), 'dynamodb');
  const doc = DynamoDBDocumentClient.from(dynamodb, DOCUMENT_TRANSLATION);
  // Kinesis defaults to HTTP/2 for SubscribeToShard; plain HTTP/1.1 works everywhere
  // (kinesis-local rejects HTTP/2) and windowpane never uses enhanced fan-out.
  const kinesis = decorate(
    new KinesisClient({ ...common(options, 'kinesis'), requestHandler: new NodeHttpHandler() }),
    'kinesis',
  );
  const sns = decorate(new SNSClient(common(options, 'sns')), 'sns');
  const sqs = decorate(new SQSClient(common(options, 'sqs')), 'sqs');
  return { dynamodb, doc, kinesis, sns, sqs };
}

/** Options for the embedded emulators: static test credentials, one region, explicit endpoints. */
export function localClientOptions(endpoints: NonNullable<ClientOptions['endpoints']>): ClientOptions {
  return {
    region: 'us-east-1',
    endpoints,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
}
