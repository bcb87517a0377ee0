/**
 * The gRPC ingress (@grpc/grpc-js): EventCollector (Collect, CollectStream), grpc.health.v1
 * (following /readyz) and server reflection (GRPC_REFLECTION) on GRPC_PORT, plaintext or TLS /
 * mutual TLS.
 *
 * Exposure: request messages reach the handlers as bytes and are decoded by the ingest after the
 * call's key passed (ingest.ts); one connection holds at most GRPC_MAX_CONCURRENT_STREAMS calls
 * (HTTP/2 settings: well-behaved clients queue, streams past it are refused); API keys sent in
 * plaintext beyond loopback are warned about at start.
 *
 * Every process of the PM2 group serves the same port, like HTTP: Node 20 cannot set
 * SO_REUSEPORT and grpc-js listens through Node's net module (it does not share a port
 * across processes: a second bind is EADDRINUSE), so the listening socket comes from
 * native/listen with SO_REUSEPORT set and its connections are handed to grpc-js through a
 * connection injector (which also terminates TLS when credentials say so).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { listenReusePort } from '../reuse-port.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { collectorServiceDefinition, SERVICE_NAME, statusDetails } from './contract.js';
import { BatchIngest, type CollectResponse, type IngestDeps, type IngestResult } from './ingest.js';
import { serveStream, streamAnswer } from './stream.js';
import { CODE_NAMES } from './status.js';
import { reflectedDefinitions, reflectionService } from './reflection.js';
import type { CallAccess } from './ingest.js';
import type { Keyring } from '../auth/keyring.js';
import { presentedKey } from '../auth/presented.js';
import { isLoopback } from '../auth/access.js';
import { AUTH_DETAIL } from '../errors.js';

export interface GrpcDeps extends IngestDeps {
  log: Logger;
  telemetry: Telemetry;
  /** 200 when /readyz would answer 200 */
  ready: () => boolean;
  /** AUTH_MODE=api_key: the keys, from call metadata `authorization: Bearer <key>` or `x-api-key`; null: no auth */
  keyring: Keyring | null;
}

export interface GrpcServer {
  port: number;
  /** GOAWAY to every connection, then cancel what is still open after GRPC_DRAIN_GRACE_MS */
  drain(): Promise<void>;
  /** batches answered or in the pipeline on streams and unary calls */
  readonly activeCalls: number;
}

function credentials(config: Readonly<Config>): grpc.ServerCredentials {
  const { GRPC_TLS_CERT: cert, GRPC_TLS_KEY: key, GRPC_TLS_CLIENT_CA: ca } = config;
  if (!cert && !key) {
    if (ca) throw new Error('GRPC_TLS_CLIENT_CA needs GRPC_TLS_CERT and GRPC_TLS_KEY');
    return grpc.ServerCredentials.createInsecure();
  }
  if (!cert || !key) throw new Error('GRPC_TLS_CERT and GRPC_TLS_KEY go together');
  return grpc.ServerCredentials.createSsl(
    ca ? readFileSync(ca) : null,
    [{ cert_chain: readFileSync(cert), private_key: readFileSync(key) }],
    Boolean(ca),
  );
}

/** The client for per-client limits: CLIENT_ID_HEADER's metadata value, else the peer address without its port. */
function clientKeyOf(call: { metadata: grpc.Metadata; getPeer(): string }, config: Readonly<Config>): string {
  if (config.CLIENT_MAX_IN_FLIGHT === 0 && config.CLIENT_RATE_LIMIT === 0) return '';
  const name = config.CLIENT_ID_HEADER.trim().toLowerCase();
  if (name) {
    let v = String(call.metadata.get(name)[0] ?? '');
    if (name === 'x-forwarded-for') v = v.split(',', 1)[0]!;
    v = v.trim();
    if (v) return `h:${v.slice(0, 128)}`;
  }
  return call.getPeer().replace(/:\d+$/, '');
}

/** The call's key, judged by the keyring each time it is asked (a revoked key stops on the next batch). */
function callAccess(call: { metadata: grpc.Metadata }, keyring: Keyring | null, telemetry: Telemetry): CallAccess {
  if (!keyring) return () => ({ ok: true, tenants: undefined });
  const md = (k: string) => String(call.metadata.get(k)[0] ?? '');
  const key = presentedKey(md('authorization'), md('x-api-key'));
  return () => {
    const v = keyring.verify(key);
    if (v.ok) return { ok: true, tenants: v.principal.tenants ?? undefined, keyId: v.principal.keyId };
    telemetry.authRefused(v.reason);
    return { ok: false, detail: AUTH_DETAIL[v.reason] };
  };
}

export async function startGrpc(deps: GrpcDeps): Promise<GrpcServer> {
  const { config, log, telemetry } = deps;
  const ingest = new BatchIngest(deps);
  const server = new grpc.Server({
    // Batches over MAX_BODY_BYTES are answered per batch (the stream survives); grpc-js's own
    // cap, which ends the call, is only for messages far beyond that.
    'grpc.max_receive_message_length': config.MAX_BODY_BYTES * 4,
    'grpc.max_concurrent_streams': config.GRPC_MAX_CONCURRENT_STREAMS,
    'grpc.keepalive_time_ms': config.GRPC_KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': config.GRPC_KEEPALIVE_TIMEOUT_MS,
    'grpc.keepalive_permit_without_calls': 1,
  });

  // No decoder: handlers get each request message as the bytes received, decoded once the key is good.
  const base = collectorServiceDefinition();
  const service: Record<string, grpc.MethodDefinition<Buffer, object>> = {};
  for (const [name, m] of Object.entries(base)) service[name] = { ...m, requestDeserialize: (buf: Buffer) => buf };

  let active = 0;
  let activeStreams = 0;
  const answered = (method: string) => (r: IngestResult, ms: number) => {
    telemetry.grpcAnswered(method, CODE_NAMES[r.ok ? grpc.status.OK : r.error.grpc_code] ?? 'UNKNOWN', ms);
  };
  const answeredUnary = answered('Collect');
  const answeredStream = answered('CollectStream');

  server.addService(service as grpc.ServiceDefinition, {
    Collect: (call: grpc.ServerUnaryCall<Buffer, CollectResponse>, callback: grpc.sendUnaryData<CollectResponse>) => {
      const startedAt = performance.now();
      active++;
      void ingest.run(call.request, clientKeyOf(call, config), startedAt, callAccess(call, deps.keyring, telemetry)).then((r) => {
        active--;
        answeredUnary(r, performance.now() - startedAt);
        if (r.ok) return callback(null, r.response);
        const md = new grpc.Metadata();
        const retry = r.error.retry_delay?.seconds;
        md.set('grpc-status-details-bin', statusDetails(r.error.grpc_code, r.error.message, r.error.code, retry));
        md.set('collector-error-code', r.error.code);
        if (r.batchId) md.set('collector-batch-id', r.batchId);
        callback({ code: r.error.grpc_code, details: r.error.message, metadata: md });
      });
    },
    CollectStream: (call: grpc.ServerDuplexStream<Buffer, CollectResponse>) => {
      const access = callAccess(call, deps.keyring, telemetry);
      const first = access();
      if (!first.ok) {
        // A stream without a valid key is refused as a call (UNAUTHENTICATED), before any batch is read.
        const md = new grpc.Metadata();
        md.set('collector-error-code', 'COLLECTOR_ERR_UNAUTHENTICATED');
        call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: first.detail, metadata: md });
        return;
      }
      active++;
      activeStreams++;
      telemetry.grpcStreams(activeStreams);
      void serveStream(call, ingest, {
        maxInFlight: config.GRPC_STREAM_MAX_IN_FLIGHT,
        clientKey: clientKeyOf(call, config),
        access,
        answered: answeredStream,
      }).then(() => {
        active--;
        activeStreams--;
        telemetry.grpcStreams(activeStreams);
      });
    },
  });

  // Health follows readiness: NOT_SERVING while Kafka and the disk both cannot take a batch, or while draining.
  const health = new HealthImplementation({ '': 'NOT_SERVING', [SERVICE_NAME]: 'NOT_SERVING' });
  health.addToServer(server);
  let draining = false;
  const setHealth = () => {
    const s = !draining && deps.ready() ? 'SERVING' : 'NOT_SERVING';
    health.setStatus('', s);
    health.setStatus(SERVICE_NAME, s);
  };
  setHealth();
  const healthTimer = setInterval(setHealth, 1000).unref();

  // Reflection: grpcurl list/describe/call need no local .proto (off with GRPC_REFLECTION=false).
  if (config.GRPC_REFLECTION) reflectionService(reflectedDefinitions()).addToServer(server);

  const injector = server.createConnectionInjector(credentials(config));
  const listener = net.createServer((socket) => {
    socket.setNoDelay(true);
    injector.injectConnection(socket);
  });
  const port = await listenReusePort(listener, config.HOST, config.GRPC_PORT);
  log.info({ port, tls: Boolean(config.GRPC_TLS_CERT), mtls: Boolean(config.GRPC_TLS_CLIENT_CA), reflection: config.GRPC_REFLECTION }, 'grpc listening');
  if (deps.keyring && !config.GRPC_TLS_CERT && !isLoopback(config.HOST)) {
    log.warn(
      { host: config.HOST, grpc_port: port },
      'API keys travel in plaintext: gRPC is served without TLS beyond loopback, so anyone on the path can read the keys in call metadata. Set GRPC_TLS_CERT and GRPC_TLS_KEY, or bind HOST to loopback behind a TLS-terminating proxy',
    );
  }

  return {
    port,
    get activeCalls() {
      return active;
    },
    async drain() {
      draining = true;
      setHealth();
      clearInterval(healthTimer);
      // No new connections here; the others in the group keep the port.
      listener.close();
      injector.drain(config.GRPC_DRAIN_GRACE_MS);
      const deadline = Date.now() + config.GRPC_DRAIN_GRACE_MS + 1000;
      while (active > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      injector.destroy();
      server.forceShutdown();
    },
  };
}

export { streamAnswer };
