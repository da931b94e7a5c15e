/**
 * The replay's input (docs/SEMANTICS.md "Replay contract"): its lines as Kinesis records, and the
 * output directory checked before anything is sent.
 *
 * Lines. A line ends at "\n" (a "\r" right before it belongs to the terminator), so a
 * final newline does not make an extra record, while an empty line in the middle is an
 * (invalid, reason `empty`) record of zero bytes. The bytes of a line are sent as they are.
 *
 * Partition keys. Per-sensor order is what the semantics depend on (watermarks, lateness,
 * delta rules), and Kinesis keeps order per shard, so each line is keyed by its sensor id
 * (`sensorId`, else `sensor_id`) when it parses, and by one fixed key otherwise. Records
 * that do not parse can never be readings, so where they go does not change any output.
 */
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readFile, stat } from 'node:fs/promises';
import { WindowpaneError } from '../functions/domain/errors.js';

/** The input cannot be read, or holds a line too large for a Kinesis record. */
export class ReplayInputError extends WindowpaneError {}

/** The output directory cannot be created or written. */
export class OutputDirError extends WindowpaneError {}

/** Partition key of lines that are not JSON objects with a usable sensor id. */
export const UNPARSED_PARTITION_KEY = 'windowpane-unparsed-lines';

/** Kinesis holds at most 1 MiB a record (PutRecords API reference), data and key together. */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** Kinesis partition keys are 1 to 256 characters. */
const MAX_PARTITION_KEY_LENGTH = 256;

/** Splits input bytes into records, as described in the module header. */
export function splitLines(data: Uint8Array): Buffer[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const lines: Buffer[] = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    const end = nl > start && buf[nl - 1] === 0x0d ? nl - 1 : nl;
    lines.push(buf.subarray(start, end));
    start = nl + 1;
  }
  if (start < buf.length) lines.push(buf.subarray(start));
  return lines;
}

// Non-fatal and BOM-stripping, like the handler's decoder: a line the handler can read as a
// reading is always keyed by its sensor id.
const utf8 = new TextDecoder('utf-8');

export function partitionKeyOf(line: Uint8Array): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(line));
  } catch {
    return UNPARSED_PARTITION_KEY;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return UNPARSED_PARTITION_KEY;
  const obj = parsed as Record<string, unknown>;
  const id = typeof obj.sensorId === 'string' ? obj.sensorId : obj.sensor_id;
  // A sensor whose id cannot be a key still gets one fixed key for all its lines: order kept.
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_PARTITION_KEY_LENGTH) {
    return UNPARSED_PARTITION_KEY;
  }
  return id;
}

export interface ReplayRecord {
  /** 1-based line number in the input. */
  line: number;
  partitionKey: string;
  data: Uint8Array;
}

/** Records for `lines`; a line too large for one Kinesis record fails the whole replay up front. */
export function toRecords(lines: readonly Uint8Array[]): ReplayRecord[] {
  return lines.map((data, i) => {
    const partitionKey = partitionKeyOf(data);
    const bytes = data.byteLength + Buffer.byteLength(partitionKey);
    if (bytes > MAX_RECORD_BYTES) {
      throw new ReplayInputError(
        `line ${i + 1} is ${data.byteLength} bytes; a Kinesis record holds at most 1 MiB (data and partition key)`,
      );
    }
    return { line: i + 1, partitionKey, data };
  });
}

/** Reads the whole input: a file path, or `-` for standard input. */
export async function readInput(
  input: string,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<{ lines: Buffer[]; source: string; bytes: number }> {
  let data: Buffer;
  if (input === '-') {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    } catch (err) {
      throw new ReplayInputError(`cannot read standard input: ${(err as Error).message}`);
    }
    data = Buffer.concat(chunks);
  } else {
    try {
      const info = await stat(input);
      if (info.isDirectory()) throw new ReplayInputError(`input ${input} is a directory, not a file`);
      data = await readFile(input);
    } catch (err) {
      if (err instanceof ReplayInputError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
      throw new ReplayInputError(`cannot read input ${input}: ${why}`);
    }
  }
  return {
    lines: splitLines(data),
    source: input === '-' ? 'standard input' : input,
    bytes: data.byteLength,
  };
}

/** Creates DIR if needed and checks that files can be written in it. */
export async function prepareOutputDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const info = await stat(dir);
    if (!info.isDirectory()) throw new OutputDirError(`output ${dir} exists and is not a directory`);
    await access(dir, fsConstants.W_OK);
  } catch (err) {
    if (err instanceof OutputDirError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EACCES' || code === 'EROFS'
        ? 'not writable'
        : code === 'EEXIST' || code === 'ENOTDIR'
          ? 'a path component is a file'
          : (err as Error).message;
    throw new OutputDirError(`cannot write to output directory ${dir}: ${why}`);
  }
}
