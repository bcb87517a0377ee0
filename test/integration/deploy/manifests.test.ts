/**
 * The Dockerfile and the Kubernetes manifests cannot run here (no Docker engine, no
 * cluster): this keeps them true to the code — they parse, every variable they set
 * exists in the config schema with a valid value, and the ports and probe paths answer
 * on a real collector.
 */
import t from 'tap';
import { readFileSync, mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import yaml from 'js-yaml';
import { ConfigSchema } from '../../../src/config/schema.js';
import { loadConfig } from '../../../src/config/load.js';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { loadFolder } from '../../../src/schema/payload/folder.js';
import { parseKeysFile } from '../../../src/auth/keys-file.js';
import { quotasOfFileText } from '../../../src/quota/policy.js';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { startCollector } from '../../helpers/collector.js';

const root = (p: string) => fileURLToPath(new URL(`../../../../${p}`, import.meta.url));
// biome-ignore lint/suspicious/noExplicitAny: the tests walk a manifest's spec by path, as kubectl would
type Doc = { kind: string; data?: Record<string, string>; stringData?: Record<string, string>; spec?: any };
const docs = yaml.loadAll(readFileSync(root('deploy/k8s/collector.yaml'), 'utf8')) as Doc[];
const dockerfile = readFileSync(root('Dockerfile'), 'utf8');
const byKind = (k: string) => docs.find((d) => d.kind === k)!;
const byName = (k: string, name: string) => docs.find((d) => d.kind === k && (d as { metadata?: { name?: string } }).metadata?.name === name)!;
// PM2 require()s it the same way (Node 20's require of an ES module).
const { apps } = createRequire(import.meta.url)(root('ecosystem.config.js')) as { apps: { kill_timeout: number }[] };
// Read by ecosystem.config.js, not by the collector itself.
const LAUNCHER_VARS = new Set(['COLLECTOR_INSTANCES']);

t.test('the manifests parse and hold the pieces production needs', async (t) => {
  t.same(docs.map((d) => d.kind).sort(), ['ConfigMap', 'ConfigMap', 'PodDisruptionBudget', 'Secret', 'Secret', 'Secret', 'Service', 'StatefulSet']);
  const sts = byKind('StatefulSet').spec;
  t.ok(sts.volumeClaimTemplates?.length, 'a PersistentVolumeClaim for the spill log');
  const container = sts.template.spec.containers[0];
  t.ok(container.lifecycle?.preStop, 'preStop for draining');
  t.ok(container.resources?.limits?.memory && container.resources?.requests?.cpu, 'requests and limits');
  const killTimeoutS = apps[0]!.kill_timeout / 1000;
  t.ok(sts.template.spec.terminationGracePeriodSeconds > killTimeoutS, 'the grace period outlasts PM2\'s kill_timeout');
  t.equal(container.volumeMounts[0].mountPath, byKind('ConfigMap').data!.BUFFER_DIR, 'the volume is where BUFFER_DIR points');
});

t.test('every variable they set exists in the config schema and is valid', async (t) => {
  const container = byKind('StatefulSet').spec.template.spec.containers[0];
  const env: Record<string, string> = { ...byKind('ConfigMap').data };
  for (const from of container.envFrom ?? []) if (from.secretRef) Object.assign(env, byName('Secret', from.secretRef.name).stringData);
  for (const e of container.env ?? []) env[e.name] = e.value;
  // Its keys file names tenants, and they label /metrics.
  t.ok(env.METRICS_TOKEN, 'a metrics token guards /metrics');
  for (const name of Object.keys(env)) {
    t.ok(name in ConfigSchema.properties || LAUNCHER_VARS.has(name), `${name} is a known variable`);
  }
  t.doesNotThrow(() => loadConfig(env), 'the values pass the schema');
  for (const m of dockerfile.matchAll(/ENV (.+)/g)) {
    for (const pair of m[1]!.split(/\s+/)) {
      const name = pair.split('=')[0]!;
      if (name !== 'NODE_ENV') t.ok(name in ConfigSchema.properties, `Dockerfile ENV ${name} is a known variable`);
    }
  }
});

t.test('the API keys file comes from a Secret, mounted where API_KEYS_FILE points, and loads', async (t) => {
  const config = byKind('ConfigMap').data!;
  t.equal(config.AUTH_MODE, 'api_key', 'authentication on in production');
  const file = config.API_KEYS_FILE!;
  const secret = byName('Secret', 'event-collector-api-keys');
  const name = basename(file);
  t.ok(secret.stringData?.[name], `the Secret holds ${name}`);
  const parsed = parseKeysFile(secret.stringData![name]!, name);
  t.same(parsed.keys, [], 'no key ships in the manifest');
  t.ok(quotasOfFileText(secret.stringData![name]!, name).get('*'), 'a default per-tenant quota');
  const pod = byKind('StatefulSet').spec.template.spec;
  const volume = pod.volumes.find((v: { secret?: { secretName: string } }) => v.secret?.secretName === 'event-collector-api-keys');
  t.ok(volume, 'a volume of the Secret');
  const mount = pod.containers[0].volumeMounts.find((m: { name: string }) => m.name === volume.name);
  t.equal(mount.mountPath, dirname(file), 'mounted in the directory of API_KEYS_FILE');
  t.equal(mount.readOnly, true);
  t.notOk(mount.subPath, 'no subPath: a subPath mount never sees Secret updates, so revocations would never arrive');
});

t.test('the payload schemas come from a ConfigMap, laid out as SCHEMA_DIR expects, mounted there, equal to schemas/', async (t) => {
  const cm = byName('ConfigMap', 'event-collector-schemas');
  const sts = byKind('StatefulSet').spec.template.spec;
  const volume = sts.volumes.find((v: { configMap?: { name: string } }) => v.configMap?.name === 'event-collector-schemas');
  t.ok(volume, 'a volume of the ConfigMap');
  const mount = sts.containers[0].volumeMounts.find((m: { name: string }) => m.name === volume.name);
  t.equal(mount.mountPath, byKind('ConfigMap').data!.SCHEMA_DIR, 'mounted where SCHEMA_DIR points');
  t.notOk(mount.subPath, 'not a subPath mount (those never see an update)');
  // Lay it out as the kubelet does: the files under ..<timestamp>/, ..data → it, one symlink per top-level entry.
  const dir = mkdtempSync(join(os.tmpdir(), 'schemas-cm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stamp = join(dir, '..2026_11_29_06_00_00.1');
  for (const item of volume.configMap.items as { key: string; path: string }[]) {
    mkdirSync(join(stamp, dirname(item.path)), { recursive: true });
    writeFileSync(join(stamp, item.path), cm.data![item.key]!);
    t.same(JSON.parse(cm.data![item.key]!), JSON.parse(readFileSync(root(`schemas/${item.path}`), 'utf8')), `${item.path} equals the shipped schema`);
  }
  symlinkSync(basename(stamp), join(dir, '..data'));
  for (const top of new Set((volume.configMap.items as { path: string }[]).map((i) => i.path.split('/')[0]!))) symlinkSync(join('..data', top), join(dir, top));
  t.same(Object.keys(cm.data!).length, volume.configMap.items.length, 'every key is laid out');
  const { types, problems } = loadFolder(dir, 'BACKWARD');
  t.same(problems, [], 'the kubelet\'s ..data entries are not taken for types');
  t.same(types.map((x) => x.eventType).sort(), ['assessment', 'error', 'interaction', 'progress', 'system']);
});

t.test('ports and probe paths answer on a real collector', async (t) => {
  const sts = byKind('StatefulSet').spec;
  const container = sts.template.spec.containers[0];
  const port = container.ports[0].containerPort as number;
  t.equal(port, Number(container.env.find((e: { name: string }) => e.name === 'PORT').value));
  t.match(dockerfile, new RegExp(`EXPOSE ${port}`));
  t.equal(byKind('Service').spec.ports[0].targetPort, port);

  const { bootstrap } = sharedBroker();
  const topic = `events-manifests-${randomUUID().slice(0, 8)}`;
  await createTopics([{ name: topic, partitions: 1 }, { name: `${topic}-dlq`, partitions: 1 }]);
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq` });
  t.teardown(() => c.stop());
  const paths = [container.readinessProbe.httpGet.path, container.livenessProbe.httpGet.path];
  const health = /HEALTHCHECK .* (http:\/\/127\.0\.0\.1:\d+(\/\S+))/.exec(dockerfile);
  t.ok(health, 'the Dockerfile has a HEALTHCHECK');
  paths.push(health![2]!);
  for (const path of paths) {
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await fetch(`${c.url}${path}`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    t.equal(status, 200, `${path} answers 200`);
  }
});
