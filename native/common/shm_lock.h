/*
 * A spinlock in a shared file mapping, for the tables that every collector process of a host maps
 * (native/dedup: one per bucket; native/quota: one for the table). Linux only.
 *
 * What it protects: whatever its caller says — a dedup bucket's slots, the quota table's buckets and
 * counters. Holders keep it for tens to hundreds of nanoseconds and never nest two of them.
 *
 * Why a spinlock in the mapping: the contenders are processes (and the threads in them) that share
 * nothing but the file, so a process-local mutex cannot work, and a robust PTHREAD_PROCESS_SHARED
 * mutex would put glibc's struct layout into the file format. The critical sections are so short that
 * a waiter spinning a few hundred times usually gets the lock without a syscall.
 *
 * The lock word is 0 when free, else the holder's id: pid << 32 | tid (its kernel thread id). A waiter
 * that keeps finding it held asks the kernel whether that thread still exists, tgkill(pid, tid, 0):
 * ESRCH means the holder was killed inside its critical section and never will release it, so the
 * waiter replaces the word by its own id with a CAS (only one waiter wins) and goes on. The data may be
 * half-updated then; each caller documents why that is tolerable for its table.
 *
 * Why the tid: one process runs several threads with handles on the same table (worker_threads each
 * open their own). With only the pid in the word, a sibling thread would find its own pid there and
 * take it for a dead predecessor's recycled pid — stealing a lock whose holder is alive and running,
 * so both would be inside the critical section at once. With pid and tid, finding exactly one's own id
 * still means a dead predecessor whose ids the kernel handed out again: a live thread never waits for
 * a lock it holds itself, because holders do not nest.
 *
 * The id is taken once per handle (shm_lock_self() at open): a Node-API handle is only ever used from
 * the JavaScript thread that opened it.
 */
#ifndef NATIVE_SHM_LOCK_H
#define NATIVE_SHM_LOCK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* How acquiring went, for the callers' counters. */
enum shm_lock_outcome { SHM_LOCK_FREE = 0, SHM_LOCK_WAITED = 1, SHM_LOCK_STOLEN = 2 };

/* Spins between two liveness checks of the holder: a syscall, so not on every spin. */
#define SHM_LOCK_CHECK_EVERY 64u
/* Spins with a CPU pause before a waiter starts yielding the CPU to the (maybe descheduled) holder. */
#define SHM_LOCK_PAUSE_SPINS 256u

/* This thread's lock id: pid << 32 | tid. */
static inline uint64_t shm_lock_self(void) {
  return ((uint64_t)(uint32_t)getpid() << 32) | (uint32_t)syscall(SYS_gettid);
}

/* Whether the thread named by lock word `holder` no longer exists. */
static inline int shm_lock_holder_dead(uint64_t holder) {
  pid_t pid = (pid_t)(holder >> 32), tid = (pid_t)(holder & 0xffffffffu);
  if (pid <= 0 || tid <= 0) return 1;
  return syscall(SYS_tgkill, pid, tid, 0) == -1 && errno == ESRCH;
}

static inline void shm_lock_relax(uint64_t spins) {
  if (spins < SHM_LOCK_PAUSE_SPINS) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
  } else {
    sched_yield();
  }
}

static enum shm_lock_outcome __attribute__((noinline, unused)) shm_lock_acquire_slow(uint64_t *word, uint64_t self) {
  for (uint64_t spins = 1;; spins++) {
    uint64_t cur = __atomic_load_n(word, __ATOMIC_RELAXED);
    if (cur == 0) {
      if (__atomic_compare_exchange_n(word, &cur, self, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return SHM_LOCK_WAITED;
      continue;
    }
    if (cur == self || (spins % SHM_LOCK_CHECK_EVERY == 0 && shm_lock_holder_dead(cur))) {
      if (__atomic_compare_exchange_n(word, &cur, self, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return SHM_LOCK_STOLEN;
      continue;
    }
    shm_lock_relax(spins);
  }
}

/* Take the lock at `word` (in the shared mapping, 8-byte aligned) as `self` (shm_lock_self()). */
static inline enum shm_lock_outcome shm_lock_acquire(uint64_t *word, uint64_t self) {
  uint64_t cur = 0;
  if (__builtin_expect(__atomic_compare_exchange_n(word, &cur, self, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED), 1))
    return SHM_LOCK_FREE;
  return shm_lock_acquire_slow(word, self);
}

static inline void shm_lock_release(uint64_t *word) { __atomic_store_n(word, 0, __ATOMIC_RELEASE); }

#endif
