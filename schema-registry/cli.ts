/**
 * `npm run registry:start`: a local Apicurio Registry on 127.0.0.1:8081 (in memory) for the README's
 * "Schema evolution" walk-through with SCHEMA_REGISTRY_URL; Ctrl-C stops it.
 * `npm run registry:fetch`: only unpack it (what .ci/run does ahead of the tests).
 */
import { ensureApicurio, findJava, startApicurio, APICURIO_VERSION } from './apicurio.js';

if (process.argv[2] === 'fetch') {
  const dir = ensureApicurio();
  const j = findJava();
  process.stdout.write(`Apicurio Registry ${APICURIO_VERSION} in ${dir}; ${j.java !== null ? `java: ${j.java}` : j.why}\n`);
} else {
  const port = Number(process.env.REGISTRY_PORT ?? 8081);
  const r = await startApicurio({ port });
  process.stdout.write(`Apicurio Registry ${r.version} (java ${r.java}): SCHEMA_REGISTRY_URL=${r.url}\n`);
  const stop = () => void r.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
