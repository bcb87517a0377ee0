/*
 * Per-tenant token buckets shared by every collector process of a host: a small
 * fixed-size table in a memory-mapped file (tmpfs), like native/dedup. One table-wide
 * lock (native/common/shm_lock.h: a CAS on a word naming the holder's pid and tid) serialises every take: a take touches a handful
 * of slots for tens of nanoseconds per batch, so one lock costs nothing measurable and
 * makes "the batch fits whole or not at all" across tenants trivially atomic.
 *
 * File layout:
 *   [0, 4096)                 header (q_header, rest zero), magic written last
 *   [4096, 4096 + n * 64)     n slots of 64 bytes; slot 0 is the overflow bucket shared by
 *                             tenants that find no slot (the table never grows)
 * Slot: u64 key (0 = free) · f64 event tokens · f64 byte tokens · i64 last refill (µs) ·
 *       i64 full at (µs: when both buckets are full again; 0 = not known) · u64 flags · pad.
 *
 * Slots are reused, never freed: a tenant whose buckets are full again (idle for its burst) is in the state a
 * new tenant starts in, so its slot goes to the next tenant that finds no slot of its own in its probe window —
 * random tenant ids cannot fill the table for good. A tenant with a quota of its own (PINNED) never shares the
 * overflow bucket: when its window holds no free or idle slot it evicts a "*" tenant's live one (that tenant
 * starts again from full buckets, a burst more than its quota once) — tenants of the quota file are few, and
 * the "*" crowd cannot push them into a bucket they share with it.
 *
 * A holder killed while holding the lock is detected by a waiter and the lock is stolen
 * (shm_lock.h says how). A holder killed mid-update leaves at worst a bucket with odd token counts, which
 * the next refill clamps to [.., burst] (and NaN resets to full): quotas stay bounded.
 *
 * exports:
 *   open(path, slots) -> handle
 *   take(handle, keys: BigUint64Array, params: Float64Array, nowUs?: number) -> number
 *        params per key: evRate, evBurst, byteRate, byteBurst, evNeed, byteNeed (rate 0 = unlimited), flags (1 = pinned)
 *        0 = taken (every bucket debited); > 0 = ms until the whole batch would fit (nothing debited);
 *        -1 = it can never fit (a need larger than its burst; nothing debited)
 *   stats(handle) -> { slots, used, lockSteals, reclaimed, evicted, overflowed }
 *   close(handle)
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#define _GNU_SOURCE
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "napi_util.h"
#include "shm_lock.h"

#define Q_MAGIC 0x41544F5143564545ULL /* "EEVCQOTA" read little-endian */
#define Q_VERSION 3u /* a table of another layout version is re-initialised on open */
#define Q_PINNED 1u
#define Q_HEADER_BYTES 4096u
#define Q_SLOT_BYTES 64u
#define Q_MAX_PROBES 64u
#define Q_PARAMS 7 /* per key: evRate, evBurst, byteRate, byteBurst, evNeed, byteNeed, flags */

typedef struct {
  uint64_t magic;
  uint32_t version;
  uint32_t nslots;
  uint64_t lock;
  uint64_t created_us;
  uint64_t lock_steals;
  uint64_t reclaimed;
  uint64_t evicted;
  uint64_t overflowed;
} q_header;

typedef struct {
  uint64_t key;
  double ev_tokens;
  double byte_tokens;
  int64_t last_us;
  int64_t full_us;
  uint64_t flags;
  uint64_t pad[2];
} q_slot;

typedef struct {
  uint8_t *base;
  size_t bytes;
  q_header *h;
  q_slot *slots;
  uint32_t nslots;
  int open;
  uint64_t lock_id; /* shm_lock_self() of the thread that opened it, the only one using it */
} q_table;

static void throw_last(napi_env env, const char *what) {
  napi_util_throw_last(env, "quota", "ERR_QUOTA_NAPI", what);
}

static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void lock_table(q_table *t) {
  if (shm_lock_acquire(&t->h->lock, t->lock_id) == SHM_LOCK_STOLEN) __atomic_add_fetch(&t->h->lock_steals, 1, __ATOMIC_RELAXED);
}

static void unlock_table(q_table *t) { shm_lock_release(&t->h->lock); }

static q_slot *claim(q_slot *s, uint64_t key, const double *p, int64_t now) {
  s->ev_tokens = p[1];
  s->byte_tokens = p[3];
  s->last_us = now;
  s->full_us = now;
  s->flags = (uint64_t)p[6] & Q_PINNED;
  s->key = key;
  return s;
}

/*
 * The slot of `key`: its own; else a free one, an idle one (buckets full again) or, for a pinned tenant, a
 * "*" tenant's — claimed with full buckets; else slot 0, the overflow bucket. Keys are replaced, never cleared,
 * so every key's probe chain stays unbroken, and a key is claimed only after its whole window lacked it.
 */
static q_slot *slot_of(q_table *t, uint64_t key, const double *p, int64_t now) {
  uint32_t mask = t->nslots - 1;
  uint32_t start = (uint32_t)(key ^ (key >> 32)) & mask;
  q_slot *idle = NULL, *evictable = NULL;
  for (uint32_t i = 0; i < Q_MAX_PROBES && i < t->nslots; i++) {
    uint32_t idx = (start + i) & mask;
    if (idx == 0) continue;
    q_slot *s = &t->slots[idx];
    if (s->key == key) return s;
    if (s->key == 0) return claim(s, key, p, now);
    if (!idle && s->full_us != 0 && s->full_us <= now) idle = s;
    if (!evictable && !(s->flags & Q_PINNED)) evictable = s;
  }
  if (idle) {
    t->h->reclaimed++;
    return claim(idle, key, p, now);
  }
  if (((uint64_t)p[6] & Q_PINNED) && evictable) {
    t->h->evicted++;
    return claim(evictable, key, p, now);
  }
  t->h->overflowed++;
  q_slot *o = &t->slots[0];
  if (o->key == 0) {
    o->ev_tokens = p[1];
    o->byte_tokens = p[3];
    o->last_us = now;
    o->key = 1;
  }
  return o;
}

static double refill(double tokens, double rate, double burst, double elapsed_s) {
  if (!isfinite(tokens)) return burst;
  double v = tokens + rate * elapsed_s;
  return v > burst ? burst : v;
}

/* See the header comment. Runs under the table lock. */
static double take_locked(q_table *t, const uint64_t *keys, const double *params, size_t n, int64_t now) {
  q_slot *stack[32];
  q_slot **got = n <= 32 ? stack : malloc(n * sizeof(q_slot *));
  if (!got) return -2;
  double wait_ms = 0;
  int never = 0;
  size_t debited = 0;
  for (size_t i = 0; i < n; i++) {
    const double *p = params + i * Q_PARAMS;
    q_slot *s = slot_of(t, keys[i], p, now);
    got[i] = s;
    int64_t dt = now - s->last_us;
    double elapsed = dt > 0 ? (double)dt / 1e6 : 0;
    if (dt > 0) s->last_us = now;
    if (p[0] > 0) s->ev_tokens = refill(s->ev_tokens, p[0], p[1], elapsed);
    if (p[2] > 0) s->byte_tokens = refill(s->byte_tokens, p[2], p[3], elapsed);
    double ev_short = p[0] > 0 ? p[4] - s->ev_tokens : 0;
    double byte_short = p[2] > 0 ? p[5] - s->byte_tokens : 0;
    if ((p[0] > 0 && p[4] > p[1]) || (p[2] > 0 && p[5] > p[3])) never = 1;
    if (ev_short > 0 || byte_short > 0) {
      double w = 0;
      if (ev_short > 0) w = ev_short / p[0] * 1000.0;
      if (byte_short > 0 && byte_short / p[2] * 1000.0 > w) w = byte_short / p[2] * 1000.0;
      if (w > wait_ms) wait_ms = w;
      continue;
    }
    if (wait_ms == 0 && !never) {
      if (p[0] > 0) s->ev_tokens -= p[4];
      if (p[2] > 0) s->byte_tokens -= p[5];
      debited = i + 1;
    }
  }
  double result = never ? -1 : wait_ms;
  if (never || wait_ms > 0) {
    /* Refused: give back what this take debited (exact under the lock). */
    for (size_t i = debited; i-- > 0;) {
      const double *p = params + i * Q_PARAMS;
      if (p[0] > 0) got[i]->ev_tokens += p[4];
      if (p[2] > 0) got[i]->byte_tokens += p[5];
    }
  }
  /* When each bucket touched is full again: from then on its slot is as good as free. */
  for (size_t i = 0; i < n; i++) {
    const double *p = params + i * Q_PARAMS;
    q_slot *s = got[i];
    if (s == &t->slots[0]) continue;
    double secs = 0;
    if (p[0] > 0 && p[1] - s->ev_tokens > 0) secs = (p[1] - s->ev_tokens) / p[0];
    if (p[2] > 0 && p[3] - s->byte_tokens > 0 && (p[3] - s->byte_tokens) / p[2] > secs) secs = (p[3] - s->byte_tokens) / p[2];
    if (!isfinite(secs) || secs > 1e9) secs = 1e9;
    s->full_us = now + (int64_t)(secs * 1e6) + 1;
  }
  if (got != stack) free(got);
  return result;
}

static int q_open(const char *path, uint32_t nslots, q_table *t, char *err, size_t err_len) {
  size_t bytes = Q_HEADER_BYTES + (size_t)nslots * Q_SLOT_BYTES;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return snprintf(err, err_len, "open %s: %s", path, strerror(errno)), -1;
  if (flock(fd, LOCK_EX) != 0) {
    snprintf(err, err_len, "flock %s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    snprintf(err, err_len, "fstat %s: %s", path, strerror(errno));
    goto fail;
  }
  int init = 0;
  if (st.st_size == 0) {
    if (ftruncate(fd, (off_t)bytes) != 0) {
      snprintf(err, err_len, "ftruncate %s: %s", path, strerror(errno));
      goto fail;
    }
    init = 1;
  } else if ((size_t)st.st_size != bytes) {
    snprintf(err, err_len, "%s is %lld bytes, not the %zu of a %u-slot quota table: remove it (no collector running)",
             path, (long long)st.st_size, bytes, nslots);
    goto fail;
  }
  uint8_t *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    snprintf(err, err_len, "mmap %s: %s", path, strerror(errno));
    goto fail;
  }
  q_header *h = (q_header *)base;
  if (!init && (h->magic != Q_MAGIC || h->version != Q_VERSION || h->nslots != nslots)) init = 1; /* a creator died mid-init */
  if (init) {
    memset(base, 0, bytes);
    h->version = Q_VERSION;
    h->nslots = nslots;
    h->created_us = (uint64_t)mono_us();
    __atomic_store_n(&h->magic, Q_MAGIC, __ATOMIC_RELEASE);
  }
  flock(fd, LOCK_UN);
  close(fd);
  t->base = base;
  t->bytes = bytes;
  t->h = h;
  t->slots = (q_slot *)(base + Q_HEADER_BYTES);
  t->nslots = nslots;
  t->lock_id = shm_lock_self();
  t->open = 1;
  return 0;
fail:
  flock(fd, LOCK_UN);
  close(fd);
  return -1;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  q_table *t = data;
  if (t->open) munmap(t->base, t->bytes);
  free(t);
}

static q_table *get_table(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_unwrap(env, v, &data) != napi_ok || !data) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "quota: not a table handle");
    return NULL;
  }
  q_table *t = data;
  if (!t->open) {
    napi_throw_error(env, "ERR_QUOTA_CLOSED", "quota: the table is closed");
    return NULL;
  }
  return t;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  size_t len = 0;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "quota: open(path, slots)");
    return NULL;
  }
  uint32_t nslots = 0;
  if (napi_get_value_uint32(env, argv[1], &nslots) != napi_ok || nslots < 2 || (nslots & (nslots - 1)) != 0 || nslots > (1u << 20)) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "quota: slots must be a power of two in [2, 2^20]");
    return NULL;
  }
  q_table *t = calloc(1, sizeof *t);
  if (!t) return napi_throw_error(env, "ERR_QUOTA_OPEN", "quota: out of memory"), NULL;
  char err[4800];
  if (q_open(path, nslots, t, err, sizeof err) != 0) {
    free(t);
    char msg[4900];
    snprintf(msg, sizeof msg, "quota: %s", err);
    napi_throw_error(env, "ERR_QUOTA_OPEN", msg);
    return NULL;
  }
  napi_value obj;
  CHECK(napi_create_object(env, &obj));
  if (napi_wrap(env, obj, t, finalize, NULL, NULL) != napi_ok) {
    munmap(t->base, t->bytes);
    free(t);
    throw_last(env, "napi_wrap");
    return NULL;
  }
  return obj;
}

static napi_value js_take(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "quota: take(handle, keys, params, nowUs?)"), NULL;
  q_table *t = get_table(env, argv[0]);
  if (!t) return NULL;
  napi_typedarray_type kt, pt;
  size_t kn, pn;
  void *kd, *pd;
  if (napi_get_typedarray_info(env, argv[1], &kt, &kn, &kd, NULL, NULL) != napi_ok || kt != napi_biguint64_array ||
      napi_get_typedarray_info(env, argv[2], &pt, &pn, &pd, NULL, NULL) != napi_ok || pt != napi_float64_array || pn != kn * Q_PARAMS) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "quota: keys must be a BigUint64Array and params a Float64Array of 7 per key");
    return NULL;
  }
  int64_t now = mono_us();
  napi_valuetype vt = napi_undefined;
  if (argc >= 4) CHECK(napi_typeof(env, argv[3], &vt));
  if (vt == napi_number) {
    double d;
    CHECK(napi_get_value_double(env, argv[3], &d));
    now = (int64_t)d;
  }
  const uint64_t *keys = kd;
  for (size_t i = 0; i < kn; i++) {
    if (keys[i] == 0 || keys[i] == 1) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "quota: keys 0 and 1 are reserved");
      return NULL;
    }
  }
  lock_table(t);
  double r = take_locked(t, keys, pd, kn, now);
  unlock_table(t);
  if (r == -2) return napi_throw_error(env, "ERR_QUOTA_NOMEM", "quota: out of memory"), NULL;
  napi_value out;
  CHECK(napi_create_double(env, r, &out));
  return out;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  q_table *t = argc ? get_table(env, argv[0]) : NULL;
  if (!t) return NULL;
  uint32_t used = 0;
  for (uint32_t i = 0; i < t->nslots; i++) used += __atomic_load_n(&t->slots[i].key, __ATOMIC_RELAXED) != 0;
  napi_value obj, v;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_uint32(env, t->nslots, &v));
  CHECK(napi_set_named_property(env, obj, "slots", v));
  CHECK(napi_create_uint32(env, used, &v));
  CHECK(napi_set_named_property(env, obj, "used", v));
  CHECK(napi_create_double(env, (double)__atomic_load_n(&t->h->lock_steals, __ATOMIC_RELAXED), &v));
  CHECK(napi_set_named_property(env, obj, "lockSteals", v));
  CHECK(napi_create_double(env, (double)__atomic_load_n(&t->h->reclaimed, __ATOMIC_RELAXED), &v));
  CHECK(napi_set_named_property(env, obj, "reclaimed", v));
  CHECK(napi_create_double(env, (double)__atomic_load_n(&t->h->evicted, __ATOMIC_RELAXED), &v));
  CHECK(napi_set_named_property(env, obj, "evicted", v));
  CHECK(napi_create_double(env, (double)__atomic_load_n(&t->h->overflowed, __ATOMIC_RELAXED), &v));
  CHECK(napi_set_named_property(env, obj, "overflowed", v));
  return obj;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  q_table *t = argc ? get_table(env, argv[0]) : NULL;
  if (!t) return NULL;
  munmap(t->base, t->bytes);
  t->open = 0;
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"take", NULL, js_take, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
