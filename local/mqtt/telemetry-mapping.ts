/**
 * What an MQTT publish becomes on the stream: the same mapping as the IoT topic rule on
 * `windowpane/+/telemetry`, written once here. Pure.
 *
 * - Only `windowpane/<sensorId>/telemetry` is forwarded (the rule's topic filter); other
 *   topics are not windowpane's.
 * - The partition key is the topic's sensor id, so one sensor's readings keep their order.
 * - Every payload is forwarded, whatever it is: a payload that is not a reading (not
 *   JSON, not UTF-8, Avro with an unknown schema) reaches the handler, which puts it in the
 *   invalid sink with its reason and its bytes, as the IoT rule forwards everything.
 * - A JSON object whose sensor id is missing gets the topic's. The topic is the identity a
 *   device was authorised to publish as (the device policy allows a thing only its own
 *   topic), so a payload that names another sensor is not believed: the topic's id is
 *   added under the other id field, and the handler finds the two ids disagree
 *   (`conflicting-sensor-id`, both named in the detail). A gateway publishing for several
 *   sensors publishes on each sensor's topic.
 *
 * Added fields are written in front of the payload's own bytes, which are kept verbatim,
 * so whatever else is wrong with them (a duplicated key, a bare NaN) is still seen by the
 * handler. Binary payloads (Avro, KPL) are forwarded unchanged.
 */

const TELEMETRY_TOPIC = /^windowpane\/([^/]+)\/telemetry$/;
/** Kinesis partition keys are at most 256 Unicode characters (PutRecords API reference). */
const MAX_PARTITION_KEY_CHARS = 256;

export type TelemetryDisposition =
  /** Forwarded byte for byte (ids agree, or not a JSON object). */
  | 'unchanged'
  /** The topic's id was added to a payload without one. */
  | 'sensor-id-added'
  /** The payload names another sensor; the topic's id was added beside it, so the handler refuses it. */
  | 'sensor-id-conflict';

export interface TelemetryRecord {
  partitionKey: string;
  data: Uint8Array;
  disposition: TelemetryDisposition;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** The sensor id of a telemetry topic, or undefined for any other topic. */
export function sensorIdOfTopic(topic: string): string | undefined {
  return TELEMETRY_TOPIC.exec(topic)?.[1];
}

/** The stream record for a publish, or undefined when the topic is not a telemetry topic. */
export function telemetryRecord(topic: string, payload: Uint8Array): TelemetryRecord | undefined {
  const topicId = sensorIdOfTopic(topic);
  if (topicId === undefined) return undefined;
  const partitionKey = Array.from(topicId).slice(0, MAX_PARTITION_KEY_CHARS).join('');
  const object = jsonObject(payload);
  if (object === undefined) return { partitionKey, data: payload, disposition: 'unchanged' };

  const primary = Object.hasOwn(object, 'sensorId') ? object.sensorId : undefined;
  const alias = Object.hasOwn(object, 'sensor_id') ? object.sensor_id : undefined;
  if (primary === undefined && alias === undefined) {
    return { partitionKey, data: prepend(payload, 'sensorId', topicId), disposition: 'sensor-id-added' };
  }
  const named = [primary, alias].filter((v) => v !== undefined);
  if (named.every((v) => v === topicId)) return { partitionKey, data: payload, disposition: 'unchanged' };
  // Two ids that already differ from each other are refused by the handler as they are.
  if (primary !== undefined && alias !== undefined && primary !== alias) {
    return { partitionKey, data: payload, disposition: 'sensor-id-conflict' };
  }
  // The field the payload does not use; when it uses both, `sensorId` a second time
  // (the handler then refuses the record as a duplicate key).
  const field = primary === undefined ? 'sensorId' : alias === undefined ? 'sensor_id' : 'sensorId';
  return { partitionKey, data: prepend(payload, field, topicId), disposition: 'sensor-id-conflict' };
}

function jsonObject(payload: Uint8Array): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(utf8.decode(payload));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** `{"field":"value",` + the rest of the payload after its opening brace. */
function prepend(payload: Uint8Array, field: string, value: string): Uint8Array {
  const open = payload.indexOf(0x7b /* { */);
  let next = open + 1;
  while (next < payload.length && isJsonSpace(payload[next]!)) next++;
  const empty = payload[next] === 0x7d; /* } */
  const head = encoder.encode(`${JSON.stringify(field)}:${JSON.stringify(value)}${empty ? '' : ','}`);
  const out = new Uint8Array(payload.length + head.length);
  out.set(payload.subarray(0, open + 1), 0);
  out.set(head, open + 1);
  out.set(payload.subarray(open + 1), open + 1 + head.length);
  return out;
}

function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}
