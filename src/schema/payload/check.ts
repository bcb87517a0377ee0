/**
 * `npm run schemas:check [dir]`: the loader's checks over a schema folder, for the CI of
 * the teams who own the schemas — every version must parse, compile and keep its type's
 * compatibility rule. Exits 1 and prints why when any version would be refused.
 *   node dist/src/schema/payload/check.js [dir]   (default: SCHEMA_DIR, else ./schemas)
 */
import { resolve } from 'node:path';
import { loadFolder } from './folder.js';
import { isCompatibilityMode } from './types.js';

const dir = resolve(process.argv[2] ?? (process.env.SCHEMA_DIR || 'schemas'));
const envMode = process.env.SCHEMA_COMPATIBILITY;
if (envMode !== undefined && envMode !== '' && !isCompatibilityMode(envMode)) {
  process.stderr.write(`SCHEMA_COMPATIBILITY=${envMode} is not a compatibility mode\n`);
  process.exit(2);
}
const mode = envMode && isCompatibilityMode(envMode) ? envMode : 'BACKWARD';
const { types, problems } = loadFolder(dir, mode);
for (const t of types) {
  process.stdout.write(`ok   ${t.eventType}: v${t.versions.map((v) => v.version).join(', v')} (${t.compatibility}, default v${t.defaultVersion})\n`);
}
for (const p of problems) process.stdout.write(`FAIL ${p.message}${p.file ? ` [${p.file}]` : ''}\n`);
process.stdout.write(problems.length ? `${problems.length} problem(s) in ${dir}\n` : `${dir}: all versions compatible\n`);
process.exit(problems.length ? 1 : 0);
