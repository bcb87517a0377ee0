/**
 * Loading the C addons under native/ (built by `npm run build:native` into
 * native/<name>/build/Release/<name>.node): found by walking up from the calling module
 * (src/… or dist/src/…) to the package root. No fallback: a missing addon is a build error.
 * NATIVE_ADDON_DIR names another tree laid out as native/ (<dir>/<name>/build/Release/<name>.node) whose builds are
 * taken first: an instrumented build (AddressSanitizer, native/asan.sh) runs the same tests as the release one.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const loaded = new Map<string, unknown>();

export function loadNativeAddon<T>(name: string, from: string = import.meta.url): T {
  const hit = loaded.get(name);
  if (hit) return hit as T;
  const rel = join('native', name, 'build', 'Release', `${name}.node`);
  const override = process.env.NATIVE_ADDON_DIR;
  if (override) {
    const candidate = join(override, name, 'build', 'Release', `${name}.node`);
    if (existsSync(candidate)) {
      const addon = createRequire(import.meta.url)(candidate) as T;
      loaded.set(name, addon);
      return addon;
    }
  }
  let dir = dirname(fileURLToPath(from));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, rel);
    if (existsSync(candidate)) {
      const addon = createRequire(import.meta.url)(candidate) as T;
      loaded.set(name, addon);
      return addon;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`native addon not found (${rel}); build it with \`npm run build:native\``);
}

/**
 * Where a host-wide shared-memory table lives: /dev/shm/event-collector-<name>.<kind> (the os tmpdir when there is no
 * /dev/shm); name is made safe for a file name.
 */
export function sharedMemoryPath(name: string | number, kind: string): string {
  const safe = String(name).replace(/[^A-Za-z0-9._-]/g, '_');
  const dir = existsSync('/dev/shm') ? '/dev/shm' : process.env.TMPDIR || '/tmp';
  return join(dir, `event-collector-${safe}.${kind}`);
}
