/**
 * Waits on a condition, never on the clock: a loaded 2-core box runs timers and other processes late, so a
 * fixed sleep that is "long enough" here is too short in CI. The deadline only bounds a test that would hang.
 */
export async function waitFor<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > end) return v; // the caller asserts on what it saw last
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
