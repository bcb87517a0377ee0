/** Request header checks that decide an answer before the body is read. */

export type BodyEncoding = 'identity' | 'gzip' | 'zstd';

/** null = unsupported (415). */
export function encodingOf(header: string): BodyEncoding | null {
  const v = header.trim().toLowerCase();
  if (v === '' || v === 'identity') return 'identity';
  if (v === 'gzip' || v === 'x-gzip') return 'gzip';
  if (v === 'zstd') return 'zstd';
  return null;
}

/**
 * A reason to refuse the Content-Type, or null when it is JSON. `plainText`: text/plain is
 * JSON too: what navigator.sendBeacon sends (a string body) without a CORS preflight.
 */
export function contentTypeProblem(header: string, plainText = false): string | null {
  if (header === '') return 'missing Content-Type; send application/json';
  const mime = header.split(';', 1)[0]!.trim().toLowerCase();
  if (mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'))) return null;
  if (plainText && mime === 'text/plain') return null;
  return `got '${mime}'; send application/json`;
}
