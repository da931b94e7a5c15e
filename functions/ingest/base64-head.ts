/**
 * The first bytes of a base64 record without decoding all of it: enough for the input
 * formats' matchers (record-formats.ts), which look at 4 bytes at most, so a record that
 * is JSON can be told before its bytes are decoded.
 */

const BASE64_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64_DIGITS.length; i++) BASE64_VALUE[BASE64_DIGITS.charCodeAt(i)] = i;
const head = new Uint8Array(6);

/**
 * The first 6 bytes of base64 text that begins with 8 plain base64 digits (every record
 * of 6 bytes or more, as producers write them), enough for `formatOf`; otherwise undefined
 * and the caller decodes the whole text. Shared: valid until the next call.
 */
export function base64Head(text: string): Uint8Array | undefined {
  if (text.length < 8) return undefined;
  let bits = 0;
  for (let i = 0; i < 8; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? BASE64_VALUE[c]! : -1;
    if (v < 0) return undefined;
    bits = i === 4 ? v : bits * 64 + v;
    if (i === 3 || i === 7) {
      const at = i === 3 ? 0 : 3;
      head[at] = bits >> 16;
      head[at + 1] = (bits >> 8) & 0xff;
      head[at + 2] = bits & 0xff;
    }
  }
  return head;
}
