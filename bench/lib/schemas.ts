/**
 * Payload schemas on and off in one running cluster, for the A/B of issue #13: the
 * collectors read SCHEMA_DIR from a bench-owned folder; "on" copies the shipped examples
 * (schemas/, one per event type) into it, "off" empties it (no type has a schema: the
 * state SCHEMA_DIR=off gives, through the same code path). The switch is a live reload,
 * so both halves run on the same processes, broker and warm JITs.
 */
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export class BenchSchemas {
  constructor(readonly dir: string, private readonly shipped: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Sets the folder, then waits until every process reports the set in force. */
  async set(on: boolean, url: string, timeoutMs = 60_000): Promise<void> {
    for (const f of readdirSync(this.dir)) rmSync(join(this.dir, f), { recursive: true, force: true });
    if (on) cpSync(this.shipped, this.dir, { recursive: true });
    const want = on ? readdirSync(this.shipped).length : 0;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const doc = (await (await fetch(`${url}/api/v1/schemas`)).json()) as { types: unknown[] };
        if (doc.types.length === want) {
          // The answering process has it; every process polls the folder every SCHEMA_RELOAD_MS (500 ms in the
          // bench), so a few seconds more has them all on it before the clock starts.
          await new Promise((r) => setTimeout(r, 3000));
          return;
        }
      } catch {
        // not answering this instant
      }
      if (Date.now() > deadline) throw new Error(`payload schemas ${on ? 'on' : 'off'} not in force after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
