/**
 * What an MQTT publish becomes on the stream: the mapping of the AWS IoT Core topic rules
 * (infra/iot-ingest.ts), written once here for the local bridge. Pure.
 *
 * Two topics per sensor, as the two rules:
 * - `windowpane/<sensorId>/telemetry`, JSON readings. The rule is
 *   `SELECT *, topic(2) AS sensor_id FROM 'windowpane/+/telemetry'`: the topic's id is
 *   added as `sensor_id`.
 * - `windowpane/<sensorId>/telemetry/bin`, binary payloads (Avro, KPL aggregates), rule
 *   `SELECT * FROM 'windowpane/+/telemetry/bin'`: forwarded unchanged.
 * Other topics are not windowpane's. The partition key is the topic's sensor id (the
 * rules' `${topic(2)}`), so one sensor's readings keep their order.
 *
 * The topic is the identity a device was authorised to publish as (the device policy
 * allows a thing only its own topics), so a payload is never credited to another sensor:
 * - no id in the payload: the topic's is added as `sensor_id`, as the rule adds it;
 * - `sensorId` only: the rule adds `sensor_id` beside it; if the two differ the handler
 *   refuses the record (`conflicting-sensor-id`, both named), as here;
 * - a `sensor_id` of its own (the Kafka tutorials' alias): the rule's `sensor_id` takes
 *   the same key, and AWS documents no outcome for that collision. Here the topic's id is
 *   added under `sensorId` when it differs, so the handler refuses the record; an id that
 *   agrees with the topic is accepted either way. Devices should send `sensorId` or none.
 *
 * Added fields are written in front of the payload's own bytes, which are kept verbatim,
 * so whatever else is wrong with them (a duplicated key, a bare NaN) is still seen by the
 * handler; the rule re-serialises the JSON instead, with the same fields.
 *
 * A payload on the JSON topic that is not a JSON object (not JSON, not UTF-8, binary) is
 * forwarded unchanged here, and the handler puts it in the invalid sink with its reason
 * and bytes. On AWS the rule can only add a field to a JSON payload: such a publish is
 * counted as the rule's ParseError (alarmed, `<stack>-iot-parse-errors`) and not
 * forwarded. Binary payloads belong on `/telemetry/bin`.
 */

/** The topic filters of the two rules (MQTT `+`: one topic level, the sensor id). */
export const TELEMETRY_TOPIC_FILTER = 'windowpane/+/telemetry';
export const BINARY_TELEMETRY_TOPIC_FILTER = 'windowpane/+/telemetry/bin';
/** The field the JSON rule writes the topic's sensor id to. */
export const TOPIC_SENSOR_ID_FIELD = 'sensor_id';

const TELEMETRY_TOPIC = /^windowpane\/([^/]+)\/telemetry(\/bin)?$/;
/** Kinesis partition keys are at most 256 Unicode characters (PutRecords API reference). */
const MAX_PARTITION_KEY_CHARS = 256;

export type TelemetryDisposition =
  /** Forwarded byte for byte (ids agree, not a JSON object, or the binary topic). */
  | 'unchanged'
  /** The topic's id was added (as `sensor_id`) to a payload without one. */
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

/** The sensor id of a telemetry topic (JSON or binary), or undefined for any other topic. */
export function sensorIdOfTopic(topic: string): string | undefined {
  return TELEMETRY_TOPIC.exec(topic)?.[1];
}

/** Whether `topic` is a binary telemetry topic, whose payloads the rule passes unchanged. */
export function isBinaryTelemetryTopic(topic: string): boolean {
  return TELEMETRY_TOPIC.exec(topic)?.[2] !== undefined;
}

/** The stream record for a publish, or undefined when the topic is not a telemetry topic. */
export function telemetryRecord(topic: string, payload: Uint8Array): TelemetryRecord | undefined {
  const topicId = sensorIdOfTopic(topic);
  if (topicId === undefined) return undefined;
  const partitionKey = Array.from(topicId).slice(0, MAX_PARTITION_KEY_CHARS).join('');
  if (isBinaryTelemetryTopic(topic)) return { partitionKey, data: payload, disposition: 'unchanged' };
  const object = jsonObject(payload);
  if (object === undefined) return { partitionKey, data: payload, disposition: 'unchanged' };

  const primary = Object.hasOwn(object, 'sensorId') ? object.sensorId : undefined;
  const alias = Object.hasOwn(object, 'sensor_id') ? object.sensor_id : undefined;
  if (primary === undefined && alias === undefined) {
    return {
      partitionKey,
      data: prepend(payload, TOPIC_SENSOR_ID_FIELD, topicId),
      disposition: 'sensor-id-added',
    };
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
