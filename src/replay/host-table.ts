/**
 * The host-wide order table: one shared file, BUFFER_DIR/.order/heads, that every collector
 * process of the host reads and writes, so that spilling and replay follow ONE order for the
 * whole host instead of one order per process.
 *
 *   heads = SLOTS × f64      slot k = the order key of the oldest batch its spill log still owes
 *                             (or of an append/in-flight first copy it is about to owe); 0 = owes nothing
 *   holds = SLOTS × f64      slot k = the smallest key its log may still add or pin that the replay leader
 *                             cannot read yet: an append in progress, a pinned first copy; 0 = none
 *   durable = SLOTS × f64    slot k = the first seq of its log not yet durable (fsynced and answered); the leader
 *                             reads frames below it only, so a frame whose write failed and was cut back (its seq
 *                             then reused) is never sent; 0 = no limit (a log no live process appends to)
 *   slot-<k> -> <log dir>    symlink: which log directory slot k belongs to (created atomically, never reused)
 *
 * Writers: a slot is written only by the process that holds its log's LOCK (lock.ts), so each
 * slot has one writer at a time. A value is one aligned 8-byte pwrite in one page, which
 * Linux copies with a single 8-byte store on x86-64 and arm64: readers see the old or the
 * new value, never a mix. Readers see the whole table through a shared mapping (one pread where it failed).
 *
 * Order keys come from CLOCK_MONOTONIC (process.hrtime), which is one clock for every process
 * of a host, in microseconds: a batch answered before another was sent always has the smaller
 * key. Keys of the current boot are raised by 2^52 so that logs left by an earlier boot (a
 * restarted host) sort before everything spilled since. Monotonic times of two earlier boots
 * say nothing about each other (each starts near 0), so a stamp also carries its boot's start on
 * the wall clock (/proc/stat btime): an earlier boot's key is that start plus its monotonic time,
 * which orders the boots by when they ran and keeps the order within each (~1.7e15 µs today,
 * below 2^52 for another century).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoCode } from '../spill/index.js';
import { loadNativeAddon } from '../native-addon.js';

interface MemoryAddon {
  mapShared(path: string, bytes: number): ArrayBuffer;
}

export const ORDER_DIR = '.order';
export const SLOTS = 256;
const HEADS_FILE = 'heads';
const HOLDS_FILE = 'holds';
const DURABLE_FILE = 'durable';
const BOOT_OFFSET = 2 ** 52;

let bootId: string | undefined;
function currentBoot(): string {
  if (bootId === undefined) {
    try {
      bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootId = '';
    }
  }
  return bootId;
}

let bootAtUs: number | undefined;
/** When this boot started, on the wall clock, in µs (/proc/stat btime); 0 when unknown. */
function currentBootAt(): number {
  if (bootAtUs === undefined) {
    try {
      const line = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'));
      bootAtUs = line ? Number(line[1]) * 1e6 : 0;
    } catch {
      bootAtUs = 0;
    }
  }
  return bootAtUs;
}

/** The stamp a spilled batch carries: the boot it was written in, CLOCK_MONOTONIC in µs, and when that boot began. */
export interface OrderStamp {
  boot: string;
  mono: number;
  /** the boot's start on the wall clock, µs; absent in stamps written before boots were ordered */
  bootAt?: number;
}

export function stampNow(): OrderStamp {
  const bootAt = currentBootAt();
  return { boot: currentBoot(), mono: Number(process.hrtime.bigint() / 1000n), ...(bootAt > 0 ? { bootAt } : {}) };
}

/**
 * Orders stamps host-wide: the current boot's last; earlier boots by when they ran, each in its own
 * order; stamps without a boot start (older ones) before those, and batches without a stamp first.
 */
export function orderKey(s: OrderStamp | undefined): number {
  if (!s) return 1;
  const mono = Math.max(1, s.mono);
  if (s.boot === currentBoot()) return BOOT_OFFSET + mono;
  return s.bootAt ? Math.min(BOOT_OFFSET - 1, s.bootAt + mono) : mono;
}

/** (key, slot) pairs compare by key, then by slot: a total order over the host's batches. */
export function before(keyA: number, slotA: number, keyB: number, slotB: number): boolean {
  return keyA < keyB || (keyA === keyB && slotA < slotB);
}

function mapTable(file: string): Float64Array | null {
  try {
    return new Float64Array(loadNativeAddon<MemoryAddon>('memory').mapShared(file, SLOTS * 8), 0, SLOTS);
  } catch {
    return null;
  }
}

/** One shared file of SLOTS f64 values: each slot one aligned 8-byte pwrite, the whole file one pread. */
class SlotFile {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(SLOTS * 8);
  private readonly view = new Float64Array(this.buf.buffer, this.buf.byteOffset, SLOTS);
  private readonly one = Buffer.alloc(8);
  /**
   * The same file mapped shared (native/memory): what spilling() scans on every batch, without
   * the pread (a system call per request, ~15 % of the main thread with 1-event requests). A
   * pwrite by any process lands in the same page-cache page, and an aligned 8-byte load sees the
   * old or the new value, as a pread did. null when the mapping failed: pread as before.
   */
  readonly mapped: Float64Array | null;

  constructor(file: string) {
    try {
      // Born at full size so a reader never gets a short read.
      fs.writeFileSync(file, Buffer.alloc(SLOTS * 8), { flag: 'wx' });
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    this.fd = fs.openSync(file, 'r+');
    this.mapped = mapTable(file);
  }

  write(slot: number, v: number): void {
    this.one.writeDoubleLE(v, 0);
    fs.writeSync(this.fd, this.one, 0, 8, slot * 8);
  }

  /** Every slot as of now (a view that the next read overwrites). */
  read(): Float64Array {
    fs.readSync(this.fd, this.buf, 0, this.buf.length, 0);
    return this.view;
  }

  /** Every slot as of now without a system call when mapped (the live mapping: do not keep it). */
  live(): Float64Array {
    return this.mapped ?? this.read();
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

export class HostTable {
  private readonly heads: SlotFile;
  private readonly holds: SlotFile;
  private readonly durable: SlotFile;
  readonly dir: string;

  private constructor(baseDir: string) {
    this.dir = path.join(baseDir, ORDER_DIR);
    fs.mkdirSync(this.dir, { recursive: true });
    this.heads = new SlotFile(path.join(this.dir, HEADS_FILE));
    this.holds = new SlotFile(path.join(this.dir, HOLDS_FILE));
    this.durable = new SlotFile(path.join(this.dir, DURABLE_FILE));
  }

  static open(baseDir: string): HostTable {
    return new HostTable(baseDir);
  }

  /** The slot of a log directory (by its name under BUFFER_DIR), allocated on first use. */
  slotOf(dirName: string): number {
    const known = this.slotDirs();
    for (const [k, name] of known) if (name === dirName) return k;
    for (let k = 0; k < SLOTS; k++) {
      if (known.has(k)) continue;
      try {
        fs.symlinkSync(dirName, path.join(this.dir, `slot-${k}`));
        return k;
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
        // another process took k first: if it was for the same directory, use it
        if (this.linkOf(k) === dirName) return k;
      }
    }
    throw new Error(`${this.dir}: all ${SLOTS} order slots are taken; remove the .order directory while no collector runs`);
  }

  /** slot → log directory name, for every allocated slot. */
  slotDirs(): Map<number, string> {
    const out = new Map<number, string>();
    for (const name of fs.readdirSync(this.dir)) {
      const m = /^slot-(\d+)$/.exec(name);
      if (!m) continue;
      const target = this.linkOf(Number(m[1]));
      if (target !== null) out.set(Number(m[1]), target);
    }
    return out;
  }

  private linkOf(k: number): string | null {
    try {
      return fs.readlinkSync(path.join(this.dir, `slot-${k}`));
    } catch {
      return null;
    }
  }

  write(slot: number, key: number): void {
    this.heads.write(slot, key);
  }

  /** Every slot as of now (a view that the next read overwrites). */
  read(): Float64Array {
    return this.heads.read();
  }

  writeHold(slot: number, key: number): void {
    this.holds.write(slot, key);
  }

  /** Every slot's hold as of now (a view that the next readHolds overwrites). */
  readHolds(): Float64Array {
    return this.holds.read();
  }

  writeDurable(slot: number, seq: number): void {
    this.durable.write(slot, seq);
  }

  /** Every slot's durable limit as of now (a view that the next readDurable overwrites). */
  readDurable(): Float64Array {
    return this.durable.read();
  }

  /** Whether spilling() reads the shared mapping (true) or preads (false: the mapping failed). */
  get isMapped(): boolean {
    return this.heads.mapped !== null;
  }

  /** Whether any log of the host owes Kafka a batch: then every process spills (one order). */
  spilling(): boolean {
    const v = this.heads.live();
    for (let i = 0; i < SLOTS; i++) if (v[i]! > 0) return true;
    return false;
  }

  close(): void {
    this.heads.close();
    this.holds.close();
    this.durable.close();
  }
}

/**
 * The durable limit the host table holds for a log directory (by its name under baseDir): the first seq its last
 * writer had not made durable and answered; 0 when none is recorded (a new log, or one whose slot was swept).
 * Read before the log is recovered, so recovery can tell a torn tail from damage to acknowledged frames.
 */
export function recordedDurableLimit(baseDir: string, dirName: string): number {
  const orderDir = path.join(baseDir, ORDER_DIR);
  if (!fs.existsSync(path.join(orderDir, DURABLE_FILE))) return 0;
  const table = HostTable.open(baseDir);
  try {
    for (const [slot, name] of table.slotDirs()) if (name === dirName) return table.readDurable()[slot] ?? 0;
    return 0;
  } finally {
    table.close();
  }
}
