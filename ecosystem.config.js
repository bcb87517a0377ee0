// PM2 process file: N collector processes in fork mode sharing one port through
// SO_REUSEPORT (PM2's cluster mode never sees uWS's listen, so it cannot be used).
// Each process owns its Kafka producer, its shared-memory slab, its decode workers and
// its spill directory BUFFER_DIR/<NODE_APP_INSTANCE>.
//
// The package is ESM; PM2 require()s this file and Node 20's require(esm) hands it the
// module namespace, so the named export `apps` is what PM2 reads.
const instances = Number(process.env.COLLECTOR_INSTANCES || 2);

export const apps = [
  {
    // HOST_NAMESPACE: several collector hosts on one machine under one PM2 daemon keep apart.
    name: process.env.HOST_NAMESPACE ? `event-collector-${process.env.HOST_NAMESPACE}` : 'event-collector',
    script: 'dist/src/main.js',
    exec_mode: 'fork',
    instances,
    // main.ts calls process.send('ready') once it listens.
    wait_ready: true,
    listen_timeout: 30_000,
    // SIGINT → drain in-flight batches and flush the producer; must exceed that drain.
    kill_timeout: 25_000,
    max_memory_restart: '400M',
    merge_logs: true,
    // V8 flags for every collector; COLLECTOR_NODE_ARGS replaces them. A semi-space of 8 MB
    // (Node 20: 16) keeps the young generation from holding on to pages after 1000-event and
    // gzip bodies: RSS after those scenarios 237–244 MB vs 293–298 MB, GC time +14 % (bench A/B,
    // load average 14–26; docs/memory.md).
    node_args: process.env.COLLECTOR_NODE_ARGS ?? '--max-semi-space-size=8',
    env: { NODE_ENV: 'production' },
  },
];
