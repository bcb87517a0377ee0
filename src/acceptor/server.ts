/**
 * The HTTP edge (uWebSockets.js, or Node's http server with HTTP_ENGINE=node: node-engine.ts): the write
 * routes' shared context (route-context.ts), the routes (collect-route.ts, test-events-route.ts, ops-routes.ts,
 * fallback-route.ts), and the listening socket. Everything after the body is in lives in src/pipeline/collector.ts.
 */
import uWS from '@trufflesuite/uws-js-unofficial';
import type { TemplatedApp, us_listen_socket } from '@trufflesuite/uws-js-unofficial';
import type { Config } from '../config/schema.js';
import type { Collector } from '../pipeline/collector.js';
import type { Slab } from '../ring/slab.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import type { Keyring } from '../auth/keyring.js';
import type { Admission } from './admission.js';
import { COLLECT_PATH, registerCollectRoute } from './collect-route.js';
import { registerPreflight } from './cors.js';
import { registerFallbackRoute } from './fallback-route.js';
import { nodeEngine } from './node-engine.js';
import { registerOpsRoutes, type OpsDeps } from './ops-routes.js';
import { routeContext } from './route-context.js';
import { registerTestEventsRoute, TEST_EVENTS_PATH } from './test-events-route.js';

export interface ServerDeps {
  config: Readonly<Config>;
  slab: Slab;
  collector: Collector;
  telemetry: Telemetry;
  /** true while new batches would go to a producer queue too full to take them (refused: 503) */
  producerBacklogged: () => boolean;
  /** true while draining: answers close their connection so clients reconnect to a live process */
  draining: () => boolean;
  ops: OpsDeps;
  /** AUTH_MODE=api_key: the keys every write must present; null: no authentication */
  keyring: Keyring | null;
}

export interface Server {
  port: number;
  admission: Admission;
  close(): void;
}

/** Refuse to run on uWS's silent node:http fallback: it is slower and half of its API throws. */
export function assertNativeUws(): void {
  if ((uWS as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT?: number }).LIBUS_LISTEN_EXCLUSIVE_PORT === undefined) {
    throw new Error('uWebSockets.js native binary did not load (JS fallback in use); this platform is unsupported');
  }
}

export function startServer(deps: ServerDeps): Promise<Server> {
  const { config } = deps;
  const node = config.HTTP_ENGINE === 'node' ? nodeEngine() : null;
  const app: TemplatedApp = node ? node.app : uWS.App();
  const ctx = routeContext(deps);

  registerCollectRoute(app, ctx);
  registerTestEventsRoute(app, ctx);
  if (ctx.cors) registerPreflight(app, COLLECT_PATH, ctx.cors, config);
  const opsPaths = registerOpsRoutes(app, deps.ops);
  registerFallbackRoute(app, {
    [COLLECT_PATH]: 'POST',
    [TEST_EVENTS_PATH]: 'POST',
    ...Object.fromEntries(opsPaths.map((path) => [path, 'GET'])),
  });

  const { admission } = ctx;
  if (node) return node.listen(config.HOST, config.PORT).then((l) => ({ ...l, admission }));
  return new Promise((resolve, reject) => {
    app.listen(config.HOST, config.PORT, (socket: us_listen_socket | false) => {
      if (!socket) return reject(new Error(`cannot listen on ${config.HOST}:${config.PORT}`));
      resolve({
        port: uWS.us_socket_local_port(socket),
        admission,
        close: () => uWS.us_listen_socket_close(socket),
      });
    });
  });
}
