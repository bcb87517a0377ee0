/**
 * Stale-process detection. Every listen sets SO_REUSEPORT, so any process that still
 * listens on our port — a collector left over from an earlier deployment, or another uWS
 * program — silently receives a share of our connections. This finds the processes
 * listening on the port (/proc/net/tcp{,6} → socket inodes → /proc/<pid>/fd) and reports
 * those that are not members of this collector group (no fresh snapshot in RUN_DIR).
 * Linux only; elsewhere it finds nothing.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

const LISTEN = '0A';

function listeningInodes(port: number): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== LISTEN) continue;
      if (f[1]!.split(':')[1] === hexPort) inodes.add(f[9]!);
    }
  }
  return inodes;
}

/** Pids of the processes that hold a listening socket on `port`. */
export function listenersOnPort(port: number): number[] {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(join('/proc', entry, 'fd'));
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(join('/proc', entry, 'fd', fd)));
        if (m && inodes.has(m[1]!)) {
          pids.push(Number(entry));
          break;
        }
      } catch {
        // fd closed meanwhile
      }
    }
  }
  return pids;
}

/** Pids that listen on the port but are neither us nor a group member with a fresh snapshot. */
export function foreignListeners(port: number, members: readonly number[]): { pid: number; cmd: string }[] {
  const known = new Set([process.pid, ...members]);
  return listenersOnPort(port)
    .filter((pid) => !known.has(pid))
    .map((pid) => {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      } catch {
        // exited
      }
      return { pid, cmd };
    });
}

/** Pids of the group members that wrote a snapshot to RUN_DIR/metrics in the last `freshMs`. */
export function groupMembers(runDir: string, freshMs = 10_000): number[] {
  const dir = join(runDir, 'metrics');
  const out: number[] = [];
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return out;
  }
  for (const f of files) {
    try {
      const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { pid?: number; written_at?: number };
      if (r.pid && r.written_at && Date.now() - r.written_at < freshMs) out.push(r.pid);
    } catch {
      // being replaced
    }
  }
  return out;
}

/**
 * Every 5 s (first after 3 s): a process outside this group listening on our port gets some of our connections
 * (SO_REUSEPORT), so it is counted and said loudly, once per change. Returns the stop function.
 */
export function watchForeignListeners(port: number, runDir: string, report: (count: number) => void, log: Logger): () => void {
  let last = '';
  const check = () => {
    const foreign = foreignListeners(port, groupMembers(runDir));
    report(foreign.length);
    const key = foreign.map((f) => f.pid).join(',');
    if (key && key !== last) {
      log.error({ port, foreign }, 'STALE LISTENER: another process listens on this port (SO_REUSEPORT) and is not part of this collector group; the kernel sends it some of our connections — stop it');
    }
    last = key;
  };
  const timer = setInterval(check, 5000).unref();
  const first = setTimeout(check, 3000).unref();
  return () => {
    clearInterval(timer);
    clearTimeout(first);
  };
}
