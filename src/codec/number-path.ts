/**
 * For the answer to an event refused for an inexact number: where that number is (a JSON
 * pointer) and how it was written. Runs only for refused events, so a plain tokeniser over
 * the event's bytes up to the number is enough.
 */
const decoder = new TextDecoder();

const isNumberByte = (c: number) => (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x45 || c === 0x65;

/** The number's text as written, cut to 64 characters. */
export function numberText(bytes: Uint8Array, at: number): string {
  let end = at;
  while (end < bytes.length && isNumberByte(bytes[end]!)) end++;
  const text = decoder.decode(bytes.subarray(at, Math.min(end, at + 64)));
  return end - at > 64 ? `${text}…` : text;
}

/** The JSON pointer of the value at byte `at` of the element that starts at `start`. */
export function pointerAt(bytes: Uint8Array, start: number, at: number): string {
  const path: (string | number)[] = [];
  const inObject: boolean[] = [];
  let expectKey = false;
  for (let i = start; i < at; ) {
    const c = bytes[i]!;
    if (c === 0x22) {
      let j = i + 1;
      while (j < at && bytes[j] !== 0x22) j += bytes[j] === 0x5c ? 2 : 1;
      if (inObject[inObject.length - 1] && expectKey) {
        path[path.length - 1] = JSON.parse(decoder.decode(bytes.subarray(i, j + 1))) as string;
        expectKey = false;
      }
      i = j + 1;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      inObject.push(c === 0x7b);
      path.push(c === 0x7b ? '' : 0);
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      inObject.pop();
      path.pop();
    } else if (c === 0x2c) {
      if (inObject[inObject.length - 1]) expectKey = true;
      else path[path.length - 1] = (path[path.length - 1] as number) + 1;
    }
    i++;
  }
  return path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}
