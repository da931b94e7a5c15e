/**
 * The local stand-in for AWS IoT Core and its topic rule: an MQTT broker (aedes) on
 * 127.0.0.1 whose publishes on `windowpane/<sensorId>/telemetry` are put on the stream,
 * mapped as telemetry-mapping.ts says, batched by the KinesisForwarder. Any MQTT 3.1.1
 * client can publish to it: mqtt.js, `mosquitto_pub` (Debian's mosquitto-clients).
 *
 * A publish is acknowledged (QoS 1 PUBACK) once its record is buffered, as IoT Core
 * acknowledges before its rule runs; while the forwarder's buffer is full the broker holds
 * the publish, so a client that outruns the stream is slowed, not dropped. Messages are
 * also delivered to subscribers, as on any broker (a dashboard may listen).
 *
 * `close()` stops accepting connections, disconnects the clients, waits for publishes in
 * hand, and puts every buffered record on the stream before it resolves.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { Aedes } from 'aedes';
import { type ForwardError, type ForwarderStats, KinesisForwarder } from './kinesis-forwarder.js';
import { type TelemetryDisposition, telemetryRecord } from './telemetry-mapping.js';

export interface MqttBridgeOptions {
  kinesis: Pick<KinesisClient, 'send'>;
  streamName: string;
  /** 0 (the default) picks a free port. The broker binds 127.0.0.1 only. */
  port?: number;
  lingerMs?: number;
  maxBuffered?: number;
  onError?: (error: ForwardError) => void;
}

export interface MqttBridgeStats extends ForwarderStats {
  /** Publishes on topics other than the telemetry topics (not forwarded). */
  ignored: number;
  byDisposition: Record<TelemetryDisposition, number>;
}

export class MqttBridge {
  private readonly sockets = new Set<Socket>();
  private inHand = 0;
  private handsEmpty: (() => void) | undefined;
  private ignored = 0;
  private readonly byDisposition: Record<TelemetryDisposition, number> = {
    unchanged: 0,
    'sensor-id-added': 0,
    'sensor-id-conflict': 0,
  };
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly broker: Aedes,
    private readonly server: Server,
    private readonly forwarder: KinesisForwarder,
    readonly port: number,
  ) {}

  /** Starts the broker and resolves once it listens. */
  static async start(options: MqttBridgeOptions): Promise<MqttBridge> {
    const forwarder = new KinesisForwarder({
      kinesis: options.kinesis,
      streamName: options.streamName,
      ...(options.lingerMs === undefined ? {} : { lingerMs: options.lingerMs }),
      ...(options.maxBuffered === undefined ? {} : { maxBuffered: options.maxBuffered }),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    });
    let bridge: MqttBridge | undefined;
    const broker = await Aedes.createBroker({
      // `published` (not the `publish` event) holds the publish until the callback: the
      // backpressure hook.
      published: (packet, client, done) => {
        if (client === null || bridge === undefined) return done(null);
        bridge.forward(packet.topic, packet.payload).then(
          () => done(null),
          (err: unknown) => done(err as Error),
        );
      },
    });
    const server = createServer((socket) => {
      bridge?.sockets.add(socket);
      socket.once('close', () => bridge?.sockets.delete(socket));
      broker.handle(socket);
    });
    server.listen(options.port ?? 0, '127.0.0.1');
    await once(server, 'listening');
    bridge = new MqttBridge(broker, server, forwarder, (server.address() as { port: number }).port);
    return bridge;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get stats(): MqttBridgeStats {
    return { ...this.forwarder.stats, ignored: this.ignored, byDisposition: { ...this.byDisposition } };
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async forward(topic: string, payload: Buffer | string): Promise<void> {
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const record = telemetryRecord(topic, bytes);
    if (record === undefined) {
      this.ignored++;
      return;
    }
    this.inHand++;
    try {
      this.byDisposition[record.disposition]++;
      await this.forwarder.enqueue({ partitionKey: record.partitionKey, data: record.data });
    } finally {
      if (--this.inHand === 0) this.handsEmpty?.();
    }
  }

  private async shutdown(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await new Promise<void>((resolve) => this.broker.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await serverClosed;
    if (this.inHand > 0) await new Promise<void>((resolve) => (this.handsEmpty = resolve));
    await this.forwarder.close();
  }
}
