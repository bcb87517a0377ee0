/**
 * HTTP_ENGINE=node: Node's http server behind the small part of the uWebSockets.js API the
 * acceptor uses (routes by exact path, onData/onAborted, cork, writeStatus/writeHeader/end), so
 * server.ts, the routes, body.ts and reply.ts serve both engines unchanged.
 *
 * Why it exists: uWebSockets.js closes a connection, in C++ and before any JS runs, when it
 * parses a request while an earlier answer on that connection is pending — so a client that
 * pipelines (RFC 9112 §9.3.2) gets no answer at all, not even to the requests whose batches were
 * written. Node's parser queues pipelined requests and writes their answers in order.
 *
 * One request of a connection at a time: the next pipelined request reaches the handler only
 * once the answer before it is complete. Its answer could not leave earlier anyway, and handing
 * all of them to the pipeline at once would take a connection's worth of admission slots and
 * slab slots (and be refused as overloaded) for no gain. Meanwhile Node's parser buffers their
 * bodies only up to the socket's high-water mark, then stops reading the socket.
 */
import http from 'node:http';
import type net from 'node:net';
import type { HttpRequest, HttpResponse, TemplatedApp } from '@trufflesuite/uws-js-unofficial';
import { listenReusePort } from '../reuse-port.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void;

/** uWS's idle timeout, so that keep-alive connections behave alike on both engines. */
const IDLE_TIMEOUT_MS = 10_000;

class NodeRequest {
  private params: URLSearchParams | null = null;
  constructor(
    private readonly req: http.IncomingMessage,
    private readonly path: string,
    private readonly search: string,
  ) {}

  getHeader(name: string): string {
    const v = this.req.headers[name];
    return v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v;
  }

  getMethod(): string {
    return (this.req.method ?? '').toLowerCase();
  }

  getUrl(): string {
    return this.path;
  }

  getQuery(key?: string): string | undefined {
    if (key === undefined) return this.search;
    this.params ??= new URLSearchParams(this.search);
    return this.params.get(key) ?? undefined;
  }
}

class NodeResponse {
  private abort: (() => void) | undefined;

  constructor(
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
  ) {
    // 'close' comes after a complete answer too: only one that never finished is an abort.
    res.once('close', () => {
      if (!res.writableFinished) this.abort?.();
    });
  }

  onAborted(handler: () => void): this {
    this.abort = handler;
    return this;
  }

  /** Node's chunks are views into larger buffers: each is handed on as its own ArrayBuffer, as uWS does. */
  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): this {
    this.req.on('data', (b: Buffer) => handler(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer, false));
    this.req.once('end', () => handler(new ArrayBuffer(0), true));
    return this;
  }

  cork(cb: () => void): this {
    cb();
    return this;
  }

  writeStatus(status: string): this {
    const space = status.indexOf(' ');
    this.res.statusCode = Number(space < 0 ? status : status.slice(0, space));
    if (space >= 0) this.res.statusMessage = status.slice(space + 1);
    return this;
  }

  writeHeader(key: string, value: string): this {
    this.res.setHeader(key, value);
    return this;
  }

  end(body?: string | Buffer, closeConnection?: boolean): this {
    if (closeConnection) this.res.setHeader('Connection', 'close');
    else if (this.res.getHeader('connection') === 'close' && !this.req.complete) {
      // A lingering close (reply.ts): Node closes the socket as soon as a `Connection: close` answer
      // is written, and the body still arriving would then be answered with a reset that can destroy
      // the answer before the client reads it. The answer waits for the rest of the declared body,
      // which the caller reads and drops.
      this.req.once('end', () => this.res.end(body));
      return this;
    }
    this.res.end(body);
    return this;
  }

  getRemoteAddressAsText(): ArrayBuffer {
    const b = Buffer.from(this.req.socket.remoteAddress ?? '', 'latin1');
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }
}

export interface NodeEngine {
  app: TemplatedApp;
  listen(host: string, port: number): Promise<{ port: number; close(): void }>;
}

export function nodeEngine(): NodeEngine {
  const routes = new Map<string, Handler>();
  let fallback: Handler | undefined;
  const dispatch = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const handler = routes.get(`${(req.method ?? '').toLowerCase()} ${path}`) ?? fallback;
    if (!handler) return void res.writeHead(404).end();
    handler(new NodeResponse(req, res) as unknown as HttpResponse, new NodeRequest(req, path, q < 0 ? '' : url.slice(q + 1)) as unknown as HttpRequest);
  };

  /** Per connection: is a request in the handler, and the pipelined ones waiting behind it. */
  const lines = new WeakMap<net.Socket, { busy: boolean; waiting: (() => void)[] }>();
  const server = http.createServer({ keepAliveTimeout: IDLE_TIMEOUT_MS }, (req, res) => {
    const socket = req.socket;
    let line = lines.get(socket);
    if (!line) {
      line = { busy: false, waiting: [] };
      lines.set(socket, line);
    }
    const l = line;
    const run = () => {
      if (socket.destroyed) {
        l.waiting.length = 0;
        return;
      }
      l.busy = true;
      res.once('close', () => {
        l.busy = false;
        l.waiting.shift()?.();
      });
      dispatch(req, res);
    };
    if (l.busy) l.waiting.push(run);
    else run();
  });

  const route = (method: string) => (path: string, handler: Handler) => {
    if (path === '/*') fallback = handler;
    else routes.set(`${method} ${path}`, handler);
    return app;
  };
  const app = {
    get: route('get'),
    post: route('post'),
    any: (path: string, handler: Handler) => {
      if (path !== '/*') throw new Error(`node engine: any() routes only /*, not ${path}`);
      fallback = handler;
      return app;
    },
  } as unknown as TemplatedApp;

  return {
    app,
    async listen(host, port) {
      const bound = await listenReusePort(server, host, port);
      return { port: bound, close: () => server.close() };
    },
  };
}
