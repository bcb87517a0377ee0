// autocannon ships no types and @types/autocannon is not a dependency: just the part the bench uses.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  export interface Request {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** called before every request on a connection; the returned request is serialised at once */
    setupRequest?: (req: Request, context: Record<string, unknown>) => Request;
    /** called with every answer on the connection (body as text) */
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>) => void;
  }

  export interface Options {
    url: string;
    connections?: number;
    pipelining?: number;
    duration?: number;
    overallRate?: number;
    timeout?: number;
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    requests?: Request[];
  }

  export interface Histogram {
    average: number; mean: number; stddev: number; min: number; max: number; total: number;
    p50: number; p90: number; p99: number; p99_9: number;
  }

  export interface Result {
    duration: number;
    latency: Histogram;
    requests: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
    '4xx': number;
    '5xx': number;
    statusCodeStats: Record<string, { count: number }>;
  }

  export interface Instance extends EventEmitter {
    stop(): void;
    on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): this;
    on(event: 'reqError', fn: (err: Error) => void): this;
    on(event: 'done', fn: (r: Result) => void): this;
  }

  function autocannon(opts: Options, cb: (err: Error | null, result: Result) => void): Instance;
  export default autocannon;
}
