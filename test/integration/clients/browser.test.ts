/**
 * The browser client (clients/js, the minified bundle dist/collector.browser.min.js) in a real headless Chromium, from a page on
 * another origin than the collector: 500 events tracked, the collector's network blocked by the
 * test, 500 more, the page reloaded (the queue is in IndexedDB), the network back → all 1,000
 * in Kafka exactly once, in order per learner; a page closed right after track() still
 * delivers (fetch keepalive on pagehide); a page of an origin not in CORS_ALLOWED_ORIGINS is
 * refused by the browser's own CORS check. Skipped (with a message) only when /usr/bin/chromium is absent.
 */
import t from 'tap';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { startCollector, waitHealthy, type RunningCollector } from '../../helpers/collector.js';
import { readUntilIds } from '../../helpers/consumer.js';
import { deliveryReport } from '../../clients/delivery.js';
import { CLIENT_DIST } from '../../clients/package.js';

const CHROMIUM = '/usr/bin/chromium';

/** The app's page: loads the client from its own origin, as a site would. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>app</title>
<script type="module">
  import { createCollector } from '/client/collector.browser.min.js';
  window.createCollector = createCollector;
  document.title = 'ready';
</script>`;

function serve(): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    if (url.pathname.startsWith('/client/')) {
      const file = normalize(join(CLIENT_DIST, url.pathname.slice('/client/'.length)));
      if (file.startsWith(CLIENT_DIST) && existsSync(file)) {
        const type = extname(file) === '.js' ? 'text/javascript' : 'application/json';
        return void res.writeHead(200, { 'content-type': type }).end(readFileSync(file));
      }
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

if (!existsSync(CHROMIUM)) {
  t.plan(0, `${CHROMIUM} is absent: install it (apt-get install -y chromium) to run the browser client test`);
} else {
  const { chromium } = await import('playwright-core');
  const { bootstrap } = sharedBroker();
  const suffix = randomUUID().slice(0, 8);
  const TOPIC = `events-browser-${suffix}`;
  const DLQ = `events-dlq-browser-${suffix}`;
  let c: RunningCollector | undefined;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  const servers: Server[] = [];
  t.teardown(async () => {
    await browser?.close();
    await c?.stop();
    for (const s of servers) s.close();
  });

  // Two origins of the app: localhost:<allowed> is listed, localhost:<other> is not; the collector is 127.0.0.1.
  const [allowedSite, otherSite] = [await serve(), await serve()];
  servers.push(allowedSite, otherSite);
  const allowed = `http://localhost:${(allowedSite.address() as AddressInfo).port}`;
  const other = `http://localhost:${(otherSite.address() as AddressInfo).port}`;
  await createTopics([{ name: TOPIC, partitions: 3 }, { name: DLQ, partitions: 1 }]);
  c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, CORS_ALLOWED_ORIGINS: allowed });
  await waitHealthy(c.url);
  const collectorUrl = c.url;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const b = browser;

  const options = (queue: string, flushIntervalMs: number) => JSON.stringify({
    endpoint: collectorUrl, tenantId: 'tenant-web', sourceService: 'browser-test', queue, flushIntervalMs, maxBatchEvents: 100,
    retry: { baseMs: 100, maxMs: 1000 },
  });
  /** Page-side code is strings: this project compiles without the DOM lib. */
  const track = (from: number, n: number) => `(() => {
    const ids = [];
    for (let i = ${from}; i < ${from + n}; i++) {
      ids.push(window.c.track({ learner_id: 'learner-' + (i % 10), event_type: 'progress', event_data: { lesson: 'fractions', percent: i % 101 }, metadata: { seq: i } }).event_id);
    }
    return ids;
  })()`;

  async function openApp(context: Awaited<ReturnType<typeof b.newContext>>, origin: string, queue: string, flushIntervalMs = 200) {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`${origin}/`);
    await page.waitForFunction("document.title === 'ready'");
    await page.evaluate(`window.c = window.createCollector(${options(queue, flushIntervalMs)})`);
    return { page, problems };
  }

  t.test('offline, reload, online: 1,000 events in Kafka exactly once, in order per learner', async (t) => {
    const context = await b.newContext();
    const { page, problems } = await openApp(context, allowed, 'offline-reload');
    const ids = (await page.evaluate(track(0, 500))) as string[];
    // Cut off mid-flush: some delivered, a batch maybe in flight, the rest queued.
    await page.waitForFunction('window.c.stats().delivered >= 200');
    // The collector is unreachable from here on: requests to it fail as with no network.
    await page.route(`${collectorUrl}/**`, (r) => r.abort('internetdisconnected'));
    ids.push(...((await page.evaluate(track(500, 500))) as string[]));
    await page.evaluate('window.c.persisted()');
    const queuedBefore = (await page.evaluate('window.c.stats().queued')) as number;
    t.ok(queuedBefore >= 500 && queuedBefore < 1000, `${queuedBefore} events queued while offline`);

    await page.reload();
    await page.waitForFunction("document.title === 'ready'");
    await page.evaluate(`window.c = window.createCollector(${options('offline-reload', 200)})`);
    await page.evaluate('window.c.persisted()');
    const queuedAfter = (await page.evaluate('window.c.stats().queued')) as number;
    t.equal(queuedAfter, queuedBefore, `the reloaded page found the ${queuedAfter} events in IndexedDB`);

    await page.unroute(`${collectorUrl}/**`);
    await page.evaluate("window.dispatchEvent(new Event('online'))");
    await page.evaluate('window.c.flush(60000)');
    t.equal(await page.evaluate('window.c.stats().queued'), 0, 'the queue drained');
    const report = deliveryReport(await readUntilIds(bootstrap, TOPIC, ids, 90_000), ids);
    t.same(report.missing, [], '0 of 1,000 lost');
    t.same(report.duplicates, [], '0 written twice');
    t.same(report.orderViolations, [], 'in track order per learner');
    t.same(problems, [], 'no page errors');
    await context.close();
  });

  t.test('a page closed right after track() still delivers (keepalive on pagehide)', async (t) => {
    const context = await b.newContext();
    // No timer flush for a minute: only the page-close flush can send it.
    const { page } = await openApp(context, allowed, 'close-right-after', 60_000);
    await page.evaluate('window.c.persisted()');
    const [id] = (await page.evaluate(track(0, 1))) as string[];
    await page.close({ runBeforeUnload: true });
    const report = deliveryReport(await readUntilIds(bootstrap, TOPIC, [id!], 30_000), [id!]);
    t.same(report.missing, [], 'the event is in Kafka');
    await context.close();
  });

  t.test("an origin not in CORS_ALLOWED_ORIGINS is refused by the browser's CORS check", async (t) => {
    const context = await b.newContext();
    const { page } = await openApp(context, other, 'foreign', 60_000);
    const console: string[] = [];
    page.on('console', (m) => console.push(m.text()));
    const outcome = (await page.evaluate(`fetch(${JSON.stringify(`${collectorUrl}/api/v1/collect`)}, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]',
    }).then((r) => 'answered ' + r.status, (e) => 'refused: ' + e.message)`)) as string;
    t.match(outcome, /^refused: Failed to fetch/, 'fetch rejects: the preflight was not allowed');
    t.ok(console.some((m) => /CORS policy/.test(m)), 'Chromium names CORS as the reason');
    await context.close();
  });
}
