/**
 * `npm start`'s ways in and out beyond the simulator's JSON: `--format avro` (the
 * simulator writes Glue-framed Avro through the local registry stand-in), `--mqtt` (an
 * MQTT broker whose telemetry publishes go to the stream, as AWS IoT Core's topic rule
 * does) and `--lake DIR` (final windows and alarm transitions as partitioned Parquet, as
 * the Firehose lake).
 */
import type { Transition } from '../../functions/domain/alarms/transition.js';
import type { FinalWindow } from '../../functions/domain/state.js';
import { LakeWriter } from '../lake/lake-writer.js';
import { TRANSITIONS_TABLE, WINDOWS_TABLE } from '../lake/tables.js';
import { MqttBridge } from '../mqtt/mqtt-bridge.js';
import type { LocalPipeline } from '../pipeline/index.js';
import { AvroReadingEncoder } from '../registry/avro-producer.js';
import type { StartOptions } from './args.js';
import type { LiveEvent } from './monitor.js';

export interface StartIngest {
  /** The simulator's record as it goes on the stream. */
  encode(data: Uint8Array): Uint8Array;
  /** Appends the final windows and alarm transitions among `events` to the lake. */
  observe(events: readonly LiveEvent[]): Promise<void>;
  /** Stops taking MQTT publishes and puts the buffered ones on the stream. */
  stopInput(): Promise<void>;
  /** Writes what the lake holds. */
  close(): Promise<void>;
}

export async function startIngest(
  opts: Pick<StartOptions, 'format' | 'mqtt' | 'lakeDir'>,
  pipeline: LocalPipeline,
  out: (line: string) => void,
): Promise<StartIngest> {
  const avro =
    opts.format === 'avro'
      ? new AvroReadingEncoder({ registry: pipeline.schemaRegistry, metrics: pipeline.config.metrics })
      : undefined;
  if (avro) {
    out(
      `format: Avro, Glue Schema Registry framing, schema "${avro.schema.schemaName}" version ${avro.schema.version} (${avro.schema.versionId}) in the local registry`,
    );
  }
  const bridge = opts.mqtt
    ? await MqttBridge.start({
        kinesis: pipeline.clients.kinesis,
        streamName: pipeline.resources.stream.name,
        onError: (err) => out(`notice: MQTT forwarding: ${err.message}`),
      })
    : undefined;
  if (bridge) {
    out(`mqtt: broker at ${bridge.url}; publish JSON readings to windowpane/<sensorId>/telemetry, e.g.`);
    out(
      `  mosquitto_pub -h 127.0.0.1 -p ${bridge.port} -q 1 -t windowpane/my-sensor/telemetry ` +
        `-m '{"timestamp":'$(date +%s%3N)',"temperature":40}'`,
    );
  }
  const lake = opts.lakeDir
    ? {
        windows: new LakeWriter<FinalWindow>({ dir: opts.lakeDir, table: WINDOWS_TABLE }),
        transitions: new LakeWriter<Transition>({ dir: opts.lakeDir, table: TRANSITIONS_TABLE }),
      }
    : undefined;
  if (lake)
    out(
      `lake: final windows and alarm transitions as Parquet under ${opts.lakeDir}/{windows,transitions}/dt=YYYY-MM-DD/`,
    );

  return {
    encode: (data) => (avro ? avro.encodeRecord(data) : data),
    async observe(events) {
      if (!lake) return;
      for (const e of events) {
        if (e.kind === 'window') await lake.windows.append(e.window);
        else if (e.kind === 'alarm') await lake.transitions.append(e.transition);
      }
    },
    async stopInput() {
      await bridge?.close();
    },
    async close() {
      if (!lake) return;
      // Both are closed even if one fails, so neither keeps rows it could have written.
      const closed = await Promise.allSettled([lake.windows.close(), lake.transitions.close()]);
      const { windows, transitions } = { windows: lake.windows.stats, transitions: lake.transitions.stats };
      out(
        `lake: ${windows.rowsWritten + transitions.rowsWritten} rows in ${windows.filesWritten + transitions.filesWritten} file(s) under ${opts.lakeDir} ` +
          `(windows ${windows.rowsWritten}, transitions ${transitions.rowsWritten})`,
      );
      for (const c of closed) if (c.status === 'rejected') throw c.reason;
    },
  };
}
