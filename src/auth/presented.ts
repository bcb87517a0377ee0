/**
 * The API key a request presents: `Authorization: Bearer <key>` or `x-api-key: <key>` (the
 * first one present) — HTTP headers, or the same two keys of gRPC call metadata. Only
 * extraction: what the key means is src/auth/keyring.ts.
 */
export function presentedKey(authorization: string, xApiKey: string): string | undefined {
  const auth = authorization.trim();
  if (auth !== '') {
    // Another scheme (Basic …) is not a key of ours: treated as no key rather than hashed as one.
    return /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, '').trim() : undefined;
  }
  const k = xApiKey.trim();
  return k === '' ? undefined : k;
}
