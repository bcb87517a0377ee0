/**
 * The pages in a real headless Chromium. The live dashboard loads with no external requests
 * and no console errors, and its numbers move when load is posted; Swagger UI (/docs) and
 * ReDoc (/redoc) render the OpenAPI document offline. Leaves screenshots in test/artifacts/
 * (dashboard.png, docs.png, redoc.png). Skipped (with a message) only when /usr/bin/chromium is absent.
 */
import t from 'tap';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { freePort, startCollector, waitHealthy, type RunningCollector } from '../../helpers/collector.js';
import { batchOf, collect, grpcClient } from '../../helpers/grpc.js';
import { syntheticBatch } from '../../../src/pipeline/synthetic.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../../test/artifacts/', import.meta.url));

if (!existsSync(CHROMIUM)) {
  t.plan(0, `${CHROMIUM} is absent: install it (apt-get install -y chromium) to run the dashboard browser test`);
} else {
  const { chromium } = await import('playwright-core');
  const suffix = randomUUID().slice(0, 8);
  let c: RunningCollector | undefined;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;

  t.teardown(async () => {
    await browser?.close();
    await c?.stop();
  });

  t.test('the dashboard shows live numbers', async (t) => {
    const topic = `events-dashboard-${suffix}`;
    const dlq = `events-dlq-dashboard-${suffix}`;
    await createTopics([{ name: topic, partitions: 3 }, { name: dlq, partitions: 1 }]);
    // The shipped payload schemas: the page shows the versions in force and in use.
    const schemaDir = fileURLToPath(new URL('../../../../schemas', import.meta.url));
    const grpcPort = await freePort();
    c = await startCollector({
      KAFKA_BOOTSTRAP_SERVERS: sharedBroker().bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: dlq, SCHEMA_DIR: schemaDir, GRPC_PORT: String(grpcPort),
    });
    await waitHealthy(c.url);
    const origin = new URL(c.url).origin;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const problems: string[] = [];
    const foreign: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) foreign.push(r.url());
    });

    const res = await page.goto(`${c.url}/dashboard`);
    t.equal(res?.status(), 200);
    t.equal(await page.title(), 'Event Collector — dashboard');
    // Page-side predicates are strings: this project compiles without the DOM lib.
    const polls = () => page.getAttribute('body', 'data-polls').then(Number);
    await page.waitForFunction('Number(document.body.dataset.polls || 0) >= 1', undefined, { timeout: 10_000 });
    const num = async (id: string) => Number(((await page.textContent(`#${id}`)) ?? '').replace(/[^\d.]/g, ''));
    const before = await num('processed');
    t.equal(before, 0, 'nothing processed yet');
    t.equal(await page.textContent('#kafka'), '1/1 up');
    t.equal(await page.locator('#processes tr').count(), 1, 'one process row');

    // Load through the real path.
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${c.url}/api/v1/test/events?count=100`, { method: 'POST' });
      t.equal(r.status, 200);
    }
    await page.waitForFunction(
      "Number((document.getElementById('processed').textContent || '').replace(/[^0-9]/g, '')) >= 500",
      undefined,
      { timeout: 10_000 },
    );
    t.ok((await num('processed')) >= 500, 'processed moved to 500');
    t.equal(await num('accepted'), 500);
    t.equal(await num('kafka-writes'), 500);
    t.equal(await num('rejected'), 0);
    t.ok((await num('eps')) > 0, `events/s moved: ${await page.textContent('#eps')}`);
    // The collect route feeds the latency window: p99 moves too.
    const r = await fetch(`${c.url}/api/v1/collect`, { method: 'POST', body: JSON.stringify(syntheticBatch(50)), headers: { 'content-type': 'application/json' } });
    t.equal(r.status, 200);
    await page.waitForFunction("parseFloat(document.getElementById('p99').textContent) > 0", undefined, { timeout: 10_000 });
    t.ok((await num('p99')) > 0, `p99 moved: ${await page.textContent('#p99')}`);
    const seen = await polls();
    await page.waitForFunction(`Number(document.body.dataset.polls || 0) > ${seen}`, undefined, { timeout: 5000 });
    t.pass('it keeps polling every second');
    t.match(await page.textContent('#status'), /healthy|degraded/);
    t.match(await page.textContent('#processes tr td:nth-child(3)'), 'connected');
    // Versions in use (polled every 5 s): 550 synthetic events, 110 of each type, all v1.
    await page.waitForFunction("(document.getElementById('schemas').textContent || '').split('v1 110 / 0').length === 6", undefined, { timeout: 30_000 });
    t.equal(await page.locator('#schemas tr').count(), 5, 'one row per event type');
    t.match(await page.textContent('#schemas tr:first-child'), /assessment\s*v1\s*v1\s*BACKWARD/);
    t.match(await page.textContent('#schema-status'), /payload schemas from folder .*schemas · ok · 0: gen 1/);

    // Split by door (after the versions check: these 3 events are counted there too): the HTTP batch above in its row, a gRPC batch in its own.
    const grpc = grpcClient(grpcPort);
    const g = await collect(grpc, batchOf(3));
    grpc.close();
    t.equal(g.err, null, 'the gRPC batch is answered');
    await page.waitForFunction("(document.querySelector('#ingress-grpc td:nth-child(2)') || {}).textContent === '1'", undefined, { timeout: 10_000 });
    const ingressRow = async (door: string) => (await page.locator(`#ingress-${door} td`).allTextContents()).map((x) => x.trim());
    const grpcRow = await ingressRow('grpc');
    t.same(grpcRow.slice(0, 2), ['gRPC', '1'], `gRPC row: ${grpcRow.join(' | ')}`);
    t.equal(grpcRow[3], '0', 'no failed gRPC batch');
    t.ok(Number(grpcRow[5]) > 0, `gRPC p99 shown: ${grpcRow[5]}`);
    const httpRow = await ingressRow('http');
    t.equal(httpRow[0], 'HTTP');
    t.ok(Number(httpRow[1]) >= 1, `HTTP batches: ${httpRow[1]}`);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
    t.ok(existsSync(`${ARTIFACTS}dashboard.png`), 'screenshot saved to test/artifacts/dashboard.png');

    t.same(problems, [], 'no console errors, page errors or failed requests');
    t.same(foreign, [], 'no request leaves the collector');
  });

  t.test('Swagger UI renders the OpenAPI document offline', async (t) => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    const origin = new URL(c!.url).origin;
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) problems.push(`foreign request: ${r.url()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    t.equal((await page.goto(`${c!.url}/docs`))?.status(), 200);
    await page.waitForSelector('.swagger-ui .info .title', { timeout: 15_000 });
    t.match(await page.textContent('.swagger-ui .info .title'), /Event Collector/);
    await page.waitForSelector('.opblock', { timeout: 15_000 });
    const ops = await page.locator('.opblock').count();
    t.ok(ops >= 9, `${ops} operations listed`);
    t.equal(await page.locator('.swagger-ui .errors-wrapper').count(), 0, 'Swagger UI reports no errors in the document');
    await page.screenshot({ path: `${ARTIFACTS}docs.png` });
    t.same(problems, []);
    await page.close();
  });

  t.test('ReDoc renders the OpenAPI document offline', async (t) => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const origin = new URL(c!.url).origin;
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('request', (r) => requests.push(r.url()));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    t.equal((await page.goto(`${c!.url}/redoc`))?.status(), 200);
    // ReDoc's own markers: the info section's title and the collect operation's section.
    await page.waitForSelector('.api-info h1', { timeout: 20_000 });
    t.match(await page.textContent('.api-info h1'), /^Event Collector \(\d+\.\d+\.\d+\)$/);
    const collect = page.locator('[data-section-id="operation/collectEvents"]');
    await collect.locator('h2').waitFor({ state: 'visible', timeout: 20_000 });
    t.match(await collect.locator('h2').textContent(), /Collect a batch of events/);
    t.ok(await page.getByText('/api/v1/collect', { exact: true }).first().isVisible(), 'POST /api/v1/collect is shown');
    const ops = Number(
      await page.evaluate(
        "[...document.querySelectorAll('h2')].filter((h) => /(^|\\/)(operation|paths)\\//.test(h.closest('[data-section-id]')?.dataset.sectionId || '')).length",
      ),
    );
    t.ok(ops >= 9, `${ops} operations rendered`);
    t.notMatch(await page.textContent('body'), /Something went wrong/, 'ReDoc reports no error');
    await page.screenshot({ path: `${ARTIFACTS}redoc.png` });
    t.ok(existsSync(`${ARTIFACTS}redoc.png`), 'screenshot saved to test/artifacts/redoc.png');

    // Local: the collector itself, inline data, and the blob: URL ReDoc starts its search worker from.
    const local = (u: string) => u.startsWith(`${origin}/`) || u.startsWith('data:') || u.startsWith(`blob:${origin}/`);
    t.ok(requests.includes(`${origin}/openapi.yaml`), 'ReDoc loaded /openapi.yaml');
    t.ok(requests.includes(`${origin}/redoc/redoc.standalone.js`), 'ReDoc came from the collector');
    t.same(requests.filter((u) => !local(u)), [], `no request leaves ${origin} (${requests.length} requests)`);
    t.same(problems, [], 'no console errors, page errors or failed requests');
    await page.close();
  });
}
