/**
 * What of a setting or an error may be shown. A URL's user-info (`scheme://user:password@host`)
 * is a credential wherever it appears — a setting's value, an error that quotes one (URL
 * parsers, JSON.parse and HTTP clients all echo their input) — so every text the collector
 * writes about a URL-valued setting goes through maskUrlCredentials; the setting itself keeps
 * it (the registry client turns it into basic auth).
 */

// `scheme://user-info@`: up to the last `@` of the authority (a password may hold a raw `@`);
// quotes and backslashes end it so a URL quoted inside JSON text does not swallow its neighbours.
const WITH_SCHEME = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'\\<>]*@/gi;
// `user:password@host` with no scheme (`registry:8081`-style values given a user-info).
const WITHOUT_SCHEME = /(^|[\s"'=(,])[^\s"'=(,/:@]+:[^\s"'/@]*@(?=[^\s"'/@])/g;

/** `text` with the user-info of every URL in it replaced by `***`. */
export function maskUrlCredentials(text: string): string {
  return text.replace(WITH_SCHEME, '$1***@').replace(WITHOUT_SCHEME, '$1***@');
}

/** An error with the URL credentials in its message and stack masked (pino's `err`, exit messages). */
export function maskedError<E extends { message?: unknown; stack?: unknown }>(err: E): E {
  const out = { ...err };
  if (typeof out.message === 'string') out.message = maskUrlCredentials(out.message);
  if (typeof out.stack === 'string') out.stack = maskUrlCredentials(out.stack);
  return out;
}
