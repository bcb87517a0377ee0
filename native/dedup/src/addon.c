/*
 * N-API glue for the dedup table (plain C, Node-API 8: no node-addon-api dependency).
 *
 * exports (ids: string[] | Uint8Array of packed 16-byte keys | ids.join('\n') with count = ids.length;
 * count is read only for the joined form, which returns undefined when it is not n canonical
 * UUIDs so that the caller passes the array instead):
 *   open(path: string, capacity: number) -> { handle, created, recreatedReason, capacity, createdAtMs, fileBytes, dev, ino }
 *   claim(handle, ids, count, nowMs, windowMs, leaseMs) -> Uint8Array(n)  0 dup, 1 new, 2 in flight
 *   commit(handle, ids, count, nowMs, windowMs, mask?: Uint8Array) -> number  (ids whose claim had lapsed)
 *   release(handle, ids, count, nowMs, mask?: Uint8Array) -> number  (live entries removed)
 *   stats(handle, nowMs, maxBuckets) -> object
 *   close(handle) -> undefined
 *   keyOf(id: string) -> Buffer(16)
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "napi_util.h"
#include "table.h"

typedef struct {
  dd_table t;
  int open;
} handle_t;

static void throw_last(napi_env env, const char *what) {
  napi_util_throw_last(env, "dedup", "ERR_DEDUP_NAPI", what);
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}
static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return NULL;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  handle_t *h = (handle_t *)data;
  if (h->open) dd_close(&h->t);
  free(h);
}

static handle_t *get_handle(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_unwrap(env, v, &data) != napi_ok || !data) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "dedup: not a table handle");
    return NULL;
  }
  handle_t *h = (handle_t *)data;
  if (!h->open) {
    napi_throw_error(env, "ERR_DEDUP_CLOSED", "dedup: the table is closed");
    return NULL;
  }
  return h;
}

/* A non-negative integral millisecond count below DD_MAX_TIME. */
static int get_ms(napi_env env, napi_value v, const char *name, uint64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !isfinite(d) || d < 0 || d >= (double)DD_MAX_TIME) {
    char msg[160];
    snprintf(msg, sizeof msg, "dedup: %s must be a finite number of ms in [0, 2^52)", name);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return -1;
  }
  *out = (uint64_t)d;
  return 0;
}

/* ids -> keys. Strings are read into a stack buffer (UUIDs are 36 bytes); longer ones
 * into a heap buffer. A Uint8Array/Buffer is taken as n packed 16-byte keys. */
typedef struct {
  dd_key *keys;
  size_t n;
  dd_key small[64];
} keys_t;

static void keys_free(keys_t *k) {
  if (k->keys && k->keys != k->small) free(k->keys);
  k->keys = NULL;
}

static int alloc_keys(napi_env env, keys_t *out, size_t n) {
  out->n = n;
  out->keys = n <= 64 ? out->small : (dd_key *)malloc(n * sizeof(dd_key));
  if (!out->keys) {
    napi_throw_error(env, "ERR_DEDUP_NOMEM", "dedup: out of memory");
    return -1;
  }
  return 0;
}

/* Fast path for string ids: JS passes ids.join('\n') and ids.length. It applies when the
 * joined text is exactly `expected` canonical UUIDs separated by single newlines. UUID text
 * holds no newline, so the joined string then has exactly expected-1 newlines, all of them
 * separators: the pieces are the ids themselves. Anything else returns 1 (no exception)
 * and the caller passes the array instead. The text is read as UTF-8, so a non-Latin-1
 * character can never pass for a hex digit. */
static int read_joined(napi_env env, napi_value s, double expected_d, keys_t *out) {
  if (!(expected_d >= 1) || expected_d > 16777216 || expected_d != floor(expected_d)) return 1;
  size_t expected = (size_t)expected_d;
  size_t want = expected * 37 - 1;
  /* Room for want bytes, a 4-byte character and the NUL: a longer text then reads as longer than
     want (V8 stops at a whole character, so with less room "…uuidé" would read as "…uuid"). */
  char stackbuf[64 * 37 + 4];
  char *buf = want + 5 <= sizeof stackbuf ? stackbuf : (char *)malloc(want + 5);
  if (!buf) {
    napi_throw_error(env, "ERR_DEDUP_NOMEM", "dedup: out of memory");
    return -1;
  }
  size_t len = 0;
  int rc = 1;
  if (napi_get_value_string_utf8(env, s, buf, want + 5, &len) != napi_ok || len != want) goto done;
  for (size_t i = 36; i < want; i += 37)
    if (buf[i] != '\n') goto done;
  if (alloc_keys(env, out, expected) != 0) {
    rc = -1;
    goto done;
  }
  for (size_t i = 0; i < expected; i++) {
    if (!dd_parse_uuid(buf + i * 37, 36, (uint8_t *)out->keys[i].k)) {
      keys_free(out);
      goto done;
    }
  }
  rc = 0;
done:
  if (buf != stackbuf) free(buf);
  return rc;
}

/* 0: keys read; -1: exception thrown; 1: a joined string that needs the array path. */
static int read_keys(napi_env env, napi_value ids, napi_value count, keys_t *out) {
  out->keys = NULL;
  out->n = 0;
  bool is_ta = false, is_array = false;
  napi_valuetype vt;
  napi_typeof(env, ids, &vt);
  if (vt == napi_string) {
    double expected = 0;
    if (napi_get_value_double(env, count, &expected) != napi_ok) {
      throw_type(env, "dedup: a joined id string needs its id count");
      return -1;
    }
    return read_joined(env, ids, expected, out);
  }
  napi_is_typedarray(env, ids, &is_ta);
  if (is_ta) {
    napi_typedarray_type type;
    size_t length = 0;
    void *data = NULL;
    if (napi_get_typedarray_info(env, ids, &type, &length, &data, NULL, NULL) != napi_ok) {
      throw_last(env, "napi_get_typedarray_info");
      return -1;
    }
    if (type != napi_uint8_array || length % 16 != 0) {
      throw_type(env, "dedup: binary ids must be a Uint8Array/Buffer of packed 16-byte keys");
      return -1;
    }
    if (alloc_keys(env, out, length / 16) != 0) return -1;
    if (out->n) memcpy(out->keys, data, out->n * 16);
    return 0;
  }
  napi_is_array(env, ids, &is_array);
  if (!is_array) {
    throw_type(env, "dedup: ids must be an array of strings, a Uint8Array of 16-byte keys or a joined string");
    return -1;
  }
  uint32_t n = 0;
  napi_get_array_length(env, ids, &n);
  if (alloc_keys(env, out, n) != 0) return -1;
  char buf[128];
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t len = 0;
    if (napi_get_element(env, ids, i, &v) != napi_ok) {
      throw_last(env, "napi_get_element");
      keys_free(out);
      return -1;
    }
    napi_status st = napi_get_value_string_utf8(env, v, buf, sizeof buf, &len);
    if (st == napi_string_expected) {
      char msg[96];
      snprintf(msg, sizeof msg, "dedup: ids[%u] is not a string", i);
      throw_type(env, msg);
      keys_free(out);
      return -1;
    }
    if (st != napi_ok) {
      throw_last(env, "napi_get_value_string_utf8");
      keys_free(out);
      return -1;
    }
    /* V8 stops at a whole character: only a copy that left room for a 4-byte character and the
       NUL is certainly whole ("é" × 64 is 128 bytes, of which 126 fit a 128-byte buffer). */
    if (len + 4 < sizeof buf) {
      dd_key_of(buf, len, &out->keys[i]);
    } else {
      /* Possibly truncated: ask for the real length and read it whole. */
      size_t full = 0;
      napi_get_value_string_utf8(env, v, NULL, 0, &full);
      char *big = (char *)malloc(full + 1);
      if (!big) {
        napi_throw_error(env, "ERR_DEDUP_NOMEM", "dedup: out of memory");
        keys_free(out);
        return -1;
      }
      napi_get_value_string_utf8(env, v, big, full + 1, &len);
      dd_key_of(big, len, &out->keys[i]);
      free(big);
    }
  }
  return 0;
}

/* Optional mask argument: undefined/null -> NULL; else a Uint8Array of length >= n. */
static int read_mask(napi_env env, napi_value v, size_t n, const uint8_t **mask) {
  *mask = NULL;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined || t == napi_null) return 0;
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (!is_ta || napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array || length < n) {
    throw_type(env, "dedup: mask must be a Uint8Array with one byte per id");
    return -1;
  }
  *mask = (const uint8_t *)data;
  return 0;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "dedup: open(path, capacity)");
  char path[4096];
  size_t plen = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok)
    return throw_type(env, "dedup: path must be a string");
  /* plen + 4 < size: a path cut at a whole character would otherwise pass for the whole path */
  if (plen == 0 || plen + 4 >= sizeof path) return throw_range(env, "dedup: path is empty or too long");
  double cap;
  if (napi_get_value_double(env, argv[1], &cap) != napi_ok || !isfinite(cap) || cap < 0 || cap != floor(cap))
    return throw_type(env, "dedup: capacity must be an integer");

  handle_t *h = (handle_t *)calloc(1, sizeof *h);
  if (!h) {
    napi_throw_error(env, "ERR_DEDUP_NOMEM", "dedup: out of memory");
    return NULL;
  }
  int created = 0;
  char reason[256], err[1024];
  if (dd_open(path, (uint64_t)cap, &h->t, &created, reason, sizeof reason, err, sizeof err) != 0) {
    free(h);
    napi_throw_error(env, "ERR_DEDUP_OPEN", err);
    return NULL;
  }
  h->open = 1;

  napi_value handle, result, v;
  CHECK(napi_create_object(env, &handle));
  if (napi_wrap(env, handle, h, finalize_handle, NULL, NULL) != napi_ok) {
    dd_close(&h->t);
    free(h);
    throw_last(env, "napi_wrap");
    return NULL;
  }
  CHECK(napi_create_object(env, &result));
  CHECK(napi_set_named_property(env, result, "handle", handle));
  CHECK(napi_get_boolean(env, created, &v));
  CHECK(napi_set_named_property(env, result, "created", v));
  if (reason[0]) {
    CHECK(napi_create_string_utf8(env, reason, NAPI_AUTO_LENGTH, &v));
  } else {
    CHECK(napi_get_null(env, &v));
  }
  CHECK(napi_set_named_property(env, result, "recreatedReason", v));
  CHECK(napi_create_double(env, (double)h->t.capacity, &v));
  CHECK(napi_set_named_property(env, result, "capacity", v));
  CHECK(napi_create_double(env, (double)h->t.created_at_ms, &v));
  CHECK(napi_set_named_property(env, result, "createdAtMs", v));
  CHECK(napi_create_double(env, (double)h->t.map_bytes, &v));
  CHECK(napi_set_named_property(env, result, "fileBytes", v));
  CHECK(napi_create_bigint_uint64(env, h->t.dev, &v));
  CHECK(napi_set_named_property(env, result, "dev", v));
  CHECK(napi_create_bigint_uint64(env, h->t.ino, &v));
  CHECK(napi_set_named_property(env, result, "ino", v));
  return result;
}

static napi_value js_claim(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return throw_type(env, "dedup: claim(handle, ids, count, nowMs, windowMs, leaseMs)");
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  uint64_t now, window, lease;
  if (get_ms(env, argv[3], "nowMs", &now) || get_ms(env, argv[4], "windowMs", &window) ||
      get_ms(env, argv[5], "leaseMs", &lease))
    return NULL;
  if (window == 0) return throw_range(env, "dedup: windowMs must be > 0");
  keys_t k;
  int rk = read_keys(env, argv[1], argv[2], &k);
  if (rk != 0) return NULL; /* 1: undefined, the caller retries with the array */
  napi_value ab, out;
  void *data = NULL;
  if (napi_create_arraybuffer(env, k.n, &data, &ab) != napi_ok ||
      napi_create_typedarray(env, napi_uint8_array, k.n, ab, 0, &out) != napi_ok) {
    keys_free(&k);
    throw_last(env, "napi_create_typedarray");
    return NULL;
  }
  dd_claim_batch(&h->t, k.keys, k.n, now, window, lease, (uint8_t *)data);
  keys_free(&k);
  return out;
}

static napi_value js_commit(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throw_type(env, "dedup: commit(handle, ids, count, nowMs, windowMs, mask?)");
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  uint64_t now, window;
  if (get_ms(env, argv[3], "nowMs", &now) || get_ms(env, argv[4], "windowMs", &window)) return NULL;
  if (window == 0) return throw_range(env, "dedup: windowMs must be > 0");
  keys_t k;
  if (read_keys(env, argv[1], argv[2], &k) != 0) return NULL;
  const uint8_t *mask = NULL;
  if (argc >= 6 && read_mask(env, argv[5], k.n, &mask) != 0) {
    keys_free(&k);
    return NULL;
  }
  size_t late = dd_commit_batch(&h->t, k.keys, k.n, mask, now, window);
  keys_free(&k);
  napi_value r;
  CHECK(napi_create_double(env, (double)late, &r));
  return r;
}

static napi_value js_release(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_type(env, "dedup: release(handle, ids, count, nowMs, mask?)");
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  uint64_t now;
  if (get_ms(env, argv[3], "nowMs", &now)) return NULL;
  keys_t k;
  if (read_keys(env, argv[1], argv[2], &k) != 0) return NULL;
  const uint8_t *mask = NULL;
  if (argc >= 5 && read_mask(env, argv[4], k.n, &mask) != 0) {
    keys_free(&k);
    return NULL;
  }
  size_t n = dd_release_batch(&h->t, k.keys, k.n, mask, now);
  keys_free(&k);
  napi_value r;
  CHECK(napi_create_double(env, (double)n, &r));
  return r;
}

static int set_num(napi_env env, napi_value obj, const char *name, double d) {
  napi_value v;
  if (napi_create_double(env, d, &v) != napi_ok) return -1;
  return napi_set_named_property(env, obj, name, v) == napi_ok ? 0 : -1;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "dedup: stats(handle, nowMs, maxBuckets)");
  handle_t *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  uint64_t now, maxb;
  if (get_ms(env, argv[1], "nowMs", &now) || get_ms(env, argv[2], "maxBuckets", &maxb)) return NULL;
  dd_sample s;
  dd_sample_stats(&h->t, now, maxb, &s);
  double scale = s.sampled_slots ? (double)h->t.capacity / (double)s.sampled_slots : 0;
  const dd_counters *c = &h->t.c;
  napi_value o;
  CHECK(napi_create_object(env, &o));
  int bad = 0;
  bad |= set_num(env, o, "capacity", (double)h->t.capacity);
  bad |= set_num(env, o, "fileBytes", (double)h->t.map_bytes);
  bad |= set_num(env, o, "sampledSlots", (double)s.sampled_slots);
  bad |= set_num(env, o, "liveEstimate", floor((double)s.live * scale + 0.5));
  bad |= set_num(env, o, "pendingEstimate", floor((double)s.pending * scale + 0.5));
  bad |= set_num(env, o, "loadFactor", s.sampled_slots ? (double)s.live / (double)s.sampled_slots : 0);
  bad |= set_num(env, o, "claims", (double)c->claims);
  bad |= set_num(env, o, "fresh", (double)c->fresh);
  bad |= set_num(env, o, "duplicates", (double)c->duplicates);
  bad |= set_num(env, o, "inFlight", (double)c->in_flight);
  bad |= set_num(env, o, "commits", (double)c->commits);
  bad |= set_num(env, o, "lateCommits", (double)c->late_commits);
  bad |= set_num(env, o, "releases", (double)c->releases);
  bad |= set_num(env, o, "evictions", (double)c->evictions);
  bad |= set_num(env, o, "evictedPending", (double)c->evicted_pending);
  bad |= set_num(env, o, "lastEvictionAgeMs", c->evictions ? (double)c->last_eviction_age_ms : -1);
  bad |= set_num(env, o, "minEvictionAgeMs",
                 c->min_eviction_age_ms == UINT64_MAX ? -1 : (double)c->min_eviction_age_ms);
  bad |= set_num(env, o, "lockContended", (double)c->lock_contended);
  bad |= set_num(env, o, "lockSteals", (double)c->lock_steals);
  bad |= set_num(env, o, "createdAtMs", (double)h->t.created_at_ms);
  if (bad) {
    throw_last(env, "stats");
    return NULL;
  }
  return o;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "dedup: close(handle)");
  void *data = NULL;
  if (napi_unwrap(env, argv[0], &data) != napi_ok || !data) return throw_type(env, "dedup: not a table handle");
  handle_t *h = (handle_t *)data;
  if (h->open) {
    dd_close(&h->t);
    h->open = 0;
  }
  return NULL;
}

static napi_value js_key_of(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "dedup: keyOf(id)");
  keys_t k;
  napi_value arr;
  CHECK(napi_create_array_with_length(env, 1, &arr));
  CHECK(napi_set_element(env, arr, 0, argv[0]));
  if (read_keys(env, arr, NULL, &k) != 0) return NULL;
  napi_value buf;
  void *data = NULL;
  if (napi_create_buffer_copy(env, 16, k.keys[0].k, &data, &buf) != napi_ok) {
    keys_free(&k);
    throw_last(env, "napi_create_buffer_copy");
    return NULL;
  }
  keys_free(&k);
  return buf;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"claim", NULL, js_claim, NULL, NULL, NULL, napi_enumerable, NULL},
      {"commit", NULL, js_commit, NULL, NULL, NULL, napi_enumerable, NULL},
      {"release", NULL, js_release, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"keyOf", NULL, js_key_of, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) {
    throw_last(env, "napi_define_properties");
    return NULL;
  }
  napi_value v;
  napi_create_uint32(env, DD_VERSION, &v);
  napi_set_named_property(env, exports, "layoutVersion", v);
  napi_create_uint32(env, DD_BUCKET_SLOTS, &v);
  napi_set_named_property(env, exports, "bucketSlots", v);
  napi_create_uint32(env, DD_BUCKET_BYTES, &v);
  napi_set_named_property(env, exports, "bucketBytes", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
