/*
 * A batch producer over librdkafka (the copy node-rdkafka builds and ships), for the
 * collector's hot path: one N-API call produces a whole packed batch, and one callback
 * says when every record of it has its delivery report. node-rdkafka costs a JS→C++ call,
 * a persistent handle and four header objects per record on the way in, and a JS object
 * plus a MakeCallback per record on the way back — most of the main thread's time per
 * event. Here the per-record work is C: rd_kafka_producev, and a counter in the report.
 *
 * Delivery reports are served by a thread of ours blocked in rd_kafka_poll() (no timer:
 * it wakes when librdkafka has something), which counts them per batch and hands a
 * settled batch to the JS thread through a thread-safe function.
 *
 * exports (Node-API 8, plain C):
 *   create(global: string[], topic: string[], onEvent) -> handle       conf as [k, v, k, v, ...]
 *   connect(handle, timeoutMs) -> Promise<void>                        metadata round trip
 *   produce(handle, topic, bytes: ArrayBuffer, offsets: Uint32Array, count, keys: (string|null)[],
 *           headerNames: string[], headers: string[][], timestampMs, id) -> null | [index, code, message][]
 *       (the records that could not be enqueued: from the first refusal on, unless that record was only too
 *       large, the rest of the batch is not offered and comes back with its code; every other record gets a report)
 *   outqLen(handle) -> number        records librdkafka still holds (queued or in flight)
 *   ref(handle) / unref(handle)      keep the event loop alive while reports are due
 *   close(handle) -> Promise<void>   stop polling, destroy the client (call after a flush)
 * onEvent(0, id, partitions: number[], failures: null | [index, code, message][])  a batch settled
 * onEvent(1, code, message)                                                         client error (error_cb)
 */
#define _GNU_SOURCE /* pthread_setname_np */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "napi_util.h"
#include "rdkafka.h"

#define MAX_HEADERS 16

enum { EV_BATCH = 0, EV_ERROR = 1 };

typedef struct {
  uint32_t index;
  int32_t code;
} fail_t;

typedef struct batch batch_t;

/* The opaque of one message: its batch and its position in it. */
typedef struct {
  batch_t *b;
  uint32_t index;
} rec_t;

struct batch {
  int kind; /* EV_BATCH */
  /* reports still due, plus one held by produce() until every record is enqueued */
  atomic_int remaining;
  double id;
  /* written by the report thread only; read by the JS thread after `remaining` hit 0 */
  uint32_t nfail, capfail;
  fail_t *fails;
  uint32_t npart, cappart;
  int32_t *parts;
  int32_t inline_parts[8];
  rec_t recs[];
};

typedef struct {
  int kind; /* EV_ERROR */
  int32_t code;
  char *message;
} error_event_t;

typedef struct {
  char *name;
  rd_kafka_topic_t *rkt;
} topic_t;

typedef struct {
  rd_kafka_t *rk;
  napi_threadsafe_function tsfn;
  pthread_t poller;
  int polling;
  atomic_int stopping;
  /* connect jobs still inside rd_kafka_metadata(): close must not destroy rk under them */
  atomic_int connecting;
  int closed;
  topic_t *topics;
  size_t ntopics;
} producer_t;

/* ---------- errors ---------- */

static void throw_last(napi_env env, const char *what) {
  napi_util_throw_last(env, "producer", "ERR_PRODUCER_NAPI", what);
}

/* ---------- report thread side ---------- */

static void batch_free(batch_t *b) {
  if (b->parts != b->inline_parts) free(b->parts);
  free(b->fails);
  free(b);
}

static void settle(producer_t *p, batch_t *b) {
  if (napi_call_threadsafe_function(p->tsfn, b, napi_tsfn_nonblocking) != napi_ok) batch_free(b);
}

static void add_part(batch_t *b, int32_t part) {
  for (uint32_t i = 0; i < b->npart; i++)
    if (b->parts[i] == part) return;
  if (b->npart == b->cappart) {
    uint32_t cap = b->cappart * 2;
    int32_t *next = malloc(cap * sizeof *next);
    if (!next) return; /* the answer lists partitions; a missing one is cosmetic */
    memcpy(next, b->parts, b->npart * sizeof *next);
    if (b->parts != b->inline_parts) free(b->parts);
    b->parts = next;
    b->cappart = cap;
  }
  b->parts[b->npart++] = part;
}

static void add_fail(batch_t *b, uint32_t index, int32_t code) {
  if (b->nfail == b->capfail) {
    uint32_t cap = b->capfail ? b->capfail * 2 : 8;
    fail_t *next = realloc(b->fails, cap * sizeof *next);
    if (!next) abort(); /* a lost failure would turn into a false acknowledgement */
    b->fails = next;
    b->capfail = cap;
  }
  b->fails[b->nfail].index = index;
  b->fails[b->nfail].code = code;
  b->nfail++;
}

static void on_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  producer_t *p = opaque;
  rec_t *r = m->_private;
  if (!r) return;
  batch_t *b = r->b;
  if (m->err) add_fail(b, r->index, m->err);
  else add_part(b, m->partition);
  if (atomic_fetch_sub(&b->remaining, 1) == 1) settle(p, b);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  (void)rk;
  producer_t *p = opaque;
  error_event_t *e = malloc(sizeof *e);
  if (!e) return;
  e->kind = EV_ERROR;
  e->code = err;
  e->message = strdup(reason ? reason : rd_kafka_err2str(err));
  if (napi_call_threadsafe_function(p->tsfn, e, napi_tsfn_nonblocking) != napi_ok) {
    free(e->message);
    free(e);
  }
}

/* node-rdkafka routes librdkafka's log lines to an event nobody listens to: same here. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  (void)rk, (void)level, (void)fac, (void)buf;
}

static void *poll_main(void *arg) {
  producer_t *p = arg;
  pthread_setname_np(pthread_self(), "kafka:reports");
  while (!atomic_load(&p->stopping)) rd_kafka_poll(p->rk, 100);
  return NULL;
}

/* ---------- JS thread side ---------- */

static napi_value failure_tuple(napi_env env, uint32_t index, int32_t code) {
  napi_value t, v;
  if (napi_create_array_with_length(env, 3, &t) != napi_ok) return NULL;
  napi_create_uint32(env, index, &v);
  napi_set_element(env, t, 0, v);
  napi_create_int32(env, code, &v);
  napi_set_element(env, t, 1, v);
  napi_create_string_utf8(env, rd_kafka_err2str(code), NAPI_AUTO_LENGTH, &v);
  napi_set_element(env, t, 2, v);
  return t;
}

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  int kind = *(int *)data;
  if (kind == EV_BATCH) {
    batch_t *b = data;
    if (env) {
      napi_value argv[4], undef, v;
      napi_create_int32(env, EV_BATCH, &argv[0]);
      napi_create_double(env, b->id, &argv[1]);
      /* sorted: the answer lists partitions in order */
      for (uint32_t i = 1; i < b->npart; i++)
        for (uint32_t j = i; j > 0 && b->parts[j - 1] > b->parts[j]; j--) {
          int32_t t = b->parts[j];
          b->parts[j] = b->parts[j - 1];
          b->parts[j - 1] = t;
        }
      napi_create_array_with_length(env, b->npart, &argv[2]);
      for (uint32_t i = 0; i < b->npart; i++) {
        napi_create_int32(env, b->parts[i], &v);
        napi_set_element(env, argv[2], i, v);
      }
      if (b->nfail == 0) {
        napi_get_null(env, &argv[3]);
      } else {
        napi_create_array_with_length(env, b->nfail, &argv[3]);
        for (uint32_t i = 0; i < b->nfail; i++) napi_set_element(env, argv[3], i, failure_tuple(env, b->fails[i].index, b->fails[i].code));
      }
      napi_get_undefined(env, &undef);
      napi_call_function(env, undef, cb, 4, argv, NULL);
    }
    batch_free(b);
  } else {
    error_event_t *e = data;
    if (env) {
      napi_value argv[3], undef;
      napi_create_int32(env, EV_ERROR, &argv[0]);
      napi_create_int32(env, e->code, &argv[1]);
      napi_create_string_utf8(env, e->message ? e->message : "", NAPI_AUTO_LENGTH, &argv[2]);
      napi_get_undefined(env, &undef);
      napi_call_function(env, undef, cb, 3, argv, NULL);
    }
    free(e->message);
    free(e);
  }
}

static void destroy_client(producer_t *p) {
  if (p->polling) {
    atomic_store(&p->stopping, 1);
    pthread_join(p->poller, NULL);
    p->polling = 0;
  }
  for (size_t i = 0; i < p->ntopics; i++) {
    rd_kafka_topic_destroy(p->topics[i].rkt);
    free(p->topics[i].name);
  }
  free(p->topics);
  p->topics = NULL;
  p->ntopics = 0;
  if (p->rk) rd_kafka_destroy(p->rk);
  p->rk = NULL;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  producer_t *p = data;
  /* Normally closed already; a handle dropped without close() must not leave threads behind. */
  if (!p->closed) {
    destroy_client(p);
    napi_release_threadsafe_function(p->tsfn, napi_tsfn_abort);
  }
  free(p);
}

static producer_t *get_producer(napi_env env, napi_value v);

/* The call's arguments (at least `want`), the first one being an open producer handle. */
static producer_t *args_of(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t n = want;
  if (napi_get_cb_info(env, info, &n, argv, NULL, NULL) != napi_ok) {
    throw_last(env, "napi_get_cb_info");
    return NULL;
  }
  if (n < want) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "producer: missing arguments");
    return NULL;
  }
  return get_producer(env, argv[0]);
}

static producer_t *get_producer(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "producer: not a producer handle");
    return NULL;
  }
  producer_t *p = data;
  if (p->closed) {
    napi_throw_error(env, "ERR_PRODUCER_CLOSED", "producer: closed");
    return NULL;
  }
  return p;
}

/*
 * A JS string as UTF-8: into buf when it fits, else into a malloc'd block (*heap).
 * V8 stops at a whole character when the next one does not fit, so a copy that left one byte
 * spare may still be short (a 2-byte "é" after 511 bytes of a 512-byte buffer): only a copy that
 * left room for the longest UTF-8 character (4 bytes) and the NUL is certainly whole.
 */
static int utf8_of(napi_env env, napi_value v, char *buf, size_t cap, char **out, size_t *len, char **heap) {
  size_t n = 0;
  *heap = NULL;
  if (napi_get_value_string_utf8(env, v, buf, cap, &n) != napi_ok) return -1;
  if (n + 4 < cap) {
    *out = buf;
    *len = n;
    return 0;
  }
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) return -1;
  *heap = malloc(n + 1);
  if (!*heap) return -1;
  napi_get_value_string_utf8(env, v, *heap, n + 1, &n);
  *out = *heap;
  *len = n;
  return 0;
}

static int set_pairs(napi_env env, napi_value arr, rd_kafka_conf_t *conf, rd_kafka_topic_conf_t *tconf, char *errstr, size_t errlen) {
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok) {
    snprintf(errstr, errlen, "configuration must be an array of strings");
    return -1;
  }
  for (uint32_t i = 0; i + 1 < n; i += 2) {
    napi_value k, v;
    char keybuf[256], valbuf[1024], *key, *val, *keyheap, *valheap;
    size_t kl, vl;
    napi_get_element(env, arr, i, &k);
    napi_get_element(env, arr, i + 1, &v);
    /* Whole strings, whatever their length (a PEM certificate or a JAAS line is longer than any fixed buffer). */
    if (utf8_of(env, k, keybuf, sizeof keybuf, &key, &kl, &keyheap)) {
      snprintf(errstr, errlen, "configuration keys and values must be strings");
      return -1;
    }
    if (utf8_of(env, v, valbuf, sizeof valbuf, &val, &vl, &valheap)) {
      free(keyheap);
      snprintf(errstr, errlen, "configuration keys and values must be strings");
      return -1;
    }
    /* librdkafka takes C strings: a NUL inside would cut the value silently. */
    rd_kafka_conf_res_t r = RD_KAFKA_CONF_INVALID;
    if (strlen(key) != kl || strlen(val) != vl) snprintf(errstr, errlen, "configuration %s: a NUL character inside", key);
    else r = conf ? rd_kafka_conf_set(conf, key, val, errstr, errlen) : rd_kafka_topic_conf_set(tconf, key, val, errstr, errlen);
    free(keyheap);
    free(valheap);
    if (r != RD_KAFKA_CONF_OK) return -1;
  }
  return 0;
}

static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "producer: create(global, topic, onEvent)");
    return NULL;
  }
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_topic_conf_t *tconf = rd_kafka_topic_conf_new();
  if (set_pairs(env, argv[0], conf, NULL, errstr, sizeof errstr) || set_pairs(env, argv[1], NULL, tconf, errstr, sizeof errstr)) {
    rd_kafka_conf_destroy(conf);
    rd_kafka_topic_conf_destroy(tconf);
    napi_throw_error(env, "ERR_PRODUCER_CONFIG", errstr);
    return NULL;
  }
  rd_kafka_conf_set_default_topic_conf(conf, tconf);
  producer_t *p = calloc(1, sizeof *p);
  if (!p) {
    rd_kafka_conf_destroy(conf);
    napi_throw_error(env, "ERR_PRODUCER_OOM", "producer: out of memory");
    return NULL;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_report);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_log_cb(conf, on_log);
  rd_kafka_conf_set_opaque(conf, p);

  napi_value name;
  napi_create_string_utf8(env, "kafka-producer", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, p, call_js, &p->tsfn) != napi_ok) {
    rd_kafka_conf_destroy(conf);
    free(p);
    throw_last(env, "napi_create_threadsafe_function");
    return NULL;
  }
  napi_unref_threadsafe_function(env, p->tsfn);
  p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!p->rk) {
    rd_kafka_conf_destroy(conf);
    napi_release_threadsafe_function(p->tsfn, napi_tsfn_abort);
    free(p);
    napi_throw_error(env, "ERR_PRODUCER_CREATE", errstr);
    return NULL;
  }
  if (pthread_create(&p->poller, NULL, poll_main, p) != 0) {
    rd_kafka_destroy(p->rk);
    napi_release_threadsafe_function(p->tsfn, napi_tsfn_abort);
    free(p);
    napi_throw_error(env, "ERR_PRODUCER_THREAD", "producer: cannot start the report thread");
    return NULL;
  }
  p->polling = 1;
  napi_value ext;
  CHECK(napi_create_external(env, p, finalize_handle, NULL, &ext));
  return ext;
}

/* ---------- connect / close: blocking librdkafka calls off the JS thread ---------- */

typedef struct {
  producer_t *p;
  int timeout_ms;
  rd_kafka_resp_err_t err;
  napi_deferred deferred;
  napi_async_work work;
  int close;
} job_t;

static void job_execute(napi_env env, void *data) {
  (void)env;
  job_t *j = data;
  if (j->close) {
    /* librdkafka requires every call on an instance to have returned before rd_kafka_destroy(). A close
     * queued while a connect's metadata request is still waiting (a broker that does not answer: up to
     * its timeout) would otherwise destroy the client under it, and a threadpool thread stuck there
     * keeps the process from exiting (libuv joins its threads at exit). */
    while (atomic_load(&j->p->connecting) > 0) {
      struct timespec ms10 = {0, 10 * 1000 * 1000};
      nanosleep(&ms10, NULL);
    }
    destroy_client(j->p);
    j->err = RD_KAFKA_RESP_ERR_NO_ERROR;
    return;
  }
  const struct rd_kafka_metadata *md = NULL;
  /* node-rdkafka's connect() does the same: a metadata round trip proves a broker answers. */
  j->err = rd_kafka_metadata(j->p->rk, 0, NULL, &md, j->timeout_ms);
  if (md) rd_kafka_metadata_destroy(md);
  atomic_fetch_sub(&j->p->connecting, 1);
}

static void job_complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  if (j->close) napi_release_threadsafe_function(j->p->tsfn, napi_tsfn_release);
  if (status == napi_ok && j->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_resolve_deferred(env, j->deferred, undef);
  } else {
    napi_value msg, code, err;
    napi_create_string_utf8(env, status == napi_ok ? rd_kafka_err2str(j->err) : "async work failed", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_create_int32(env, j->err, &code);
    napi_set_named_property(env, err, "code", code);
    napi_reject_deferred(env, j->deferred, err);
  }
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value start_job(napi_env env, producer_t *p, int close, int timeout_ms) {
  job_t *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, "ERR_PRODUCER_OOM", "producer: out of memory");
    return NULL;
  }
  j->p = p;
  j->close = close;
  j->timeout_ms = timeout_ms;
  napi_value promise, name;
  CHECK(napi_create_promise(env, &j->deferred, &promise));
  napi_create_string_utf8(env, close ? "kafka-producer-close" : "kafka-producer-connect", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_async_work(env, NULL, name, job_execute, job_complete, j, &j->work));
  if (!close) atomic_fetch_add(&p->connecting, 1);
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    if (!close) atomic_fetch_sub(&p->connecting, 1);
    throw_last(env, "napi_queue_async_work");
    return NULL;
  }
  if (close) p->closed = 1;
  return promise;
}

static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t timeout = 10000;
  producer_t *p = args_of(env, info, 2, argv);
  if (!p) return NULL;
  napi_get_value_int32(env, argv[1], &timeout);
  return start_job(env, p, 0, timeout);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  producer_t *p = args_of(env, info, 1, argv);
  return p ? start_job(env, p, 1, 0) : NULL;
}

static napi_value js_outq_len(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  producer_t *p = args_of(env, info, 1, argv);
  if (!p) return NULL;
  CHECK(napi_create_int32(env, rd_kafka_outq_len(p->rk), &out));
  return out;
}

/* The value librdkafka holds for a global property: what the configuration really became. */
static napi_value js_config_value(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  producer_t *p = args_of(env, info, 2, argv);
  if (!p) return NULL;
  char namebuf[256], *name, *nameheap;
  size_t namelen, size = 0;
  if (utf8_of(env, argv[1], namebuf, sizeof namebuf, &name, &namelen, &nameheap)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "producer: property name must be a string");
    return NULL;
  }
  const rd_kafka_conf_t *conf = rd_kafka_conf(p->rk);
  char *val = NULL;
  if (rd_kafka_conf_get(conf, name, NULL, &size) == RD_KAFKA_CONF_OK && (val = malloc(size + 1)) != NULL &&
      rd_kafka_conf_get(conf, name, val, &size) == RD_KAFKA_CONF_OK) {
    napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &out);
  } else {
    napi_get_null(env, &out);
  }
  free(val);
  free(nameheap);
  return out;
}

/*
 * New SASL PLAIN/SCRAM credentials, used from the next authentication on: a Secret file rotated
 * under a running process takes effect without a restart (librdkafka re-authenticates when it
 * reconnects). Throws with librdkafka's reason when it refuses them.
 */
static napi_value js_sasl_credentials(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  producer_t *p = args_of(env, info, 3, argv);
  if (!p) return NULL;
  char ubuf[256], pbuf[256], *user, *pass, *uheap, *pheap;
  size_t ulen, plen;
  if (utf8_of(env, argv[1], ubuf, sizeof ubuf, &user, &ulen, &uheap)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "producer: username must be a string");
    return NULL;
  }
  if (utf8_of(env, argv[2], pbuf, sizeof pbuf, &pass, &plen, &pheap)) {
    free(uheap);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "producer: password must be a string");
    return NULL;
  }
  rd_kafka_error_t *err = rd_kafka_sasl_set_credentials(p->rk, user, pass);
  free(uheap);
  if (pheap) {
    memset(pheap, 0, plen);
    free(pheap);
  }
  memset(pbuf, 0, sizeof pbuf);
  if (err) {
    napi_throw_error(env, "ERR_KAFKA_SASL", rd_kafka_error_string(err));
    rd_kafka_error_destroy(err);
    return NULL;
  }
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

static napi_value js_ref(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool on = true;
  producer_t *p = args_of(env, info, 2, argv);
  if (!p) return NULL;
  napi_get_value_bool(env, argv[1], &on);
  if (on) napi_ref_threadsafe_function(env, p->tsfn);
  else napi_unref_threadsafe_function(env, p->tsfn);
  return NULL;
}

static rd_kafka_topic_t *topic_of(napi_env env, producer_t *p, napi_value v) {
  char buf[512], *name, *heap;
  size_t len;
  if (utf8_of(env, v, buf, sizeof buf, &name, &len, &heap)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "producer: topic must be a string");
    return NULL;
  }
  for (size_t i = 0; i < p->ntopics; i++)
    if (strcmp(p->topics[i].name, name) == 0) {
      free(heap);
      return p->topics[i].rkt;
    }
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, name, NULL);
  topic_t *next = rkt ? realloc(p->topics, (p->ntopics + 1) * sizeof *next) : NULL;
  if (!next) {
    if (rkt) rd_kafka_topic_destroy(rkt);
    free(heap);
    napi_throw_error(env, "ERR_PRODUCER_TOPIC", rd_kafka_err2str(rd_kafka_last_error()));
    return NULL;
  }
  p->topics = next;
  p->topics[p->ntopics].name = strdup(name);
  p->topics[p->ntopics].rkt = rkt;
  p->ntopics++;
  free(heap);
  return rkt;
}

static napi_value js_produce(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  producer_t *p = args_of(env, info, 10, argv);
  if (!p) return NULL;
  rd_kafka_topic_t *rkt = topic_of(env, p, argv[1]);
  if (!rkt) return NULL;

  void *bytes = NULL;
  size_t nbytes = 0;
  bool is_ab = false;
  napi_is_arraybuffer(env, argv[2], &is_ab);
  if (is_ab) {
    CHECK(napi_get_arraybuffer_info(env, argv[2], &bytes, &nbytes));
  } else {
    napi_typedarray_type t;
    size_t n;
    napi_value ab;
    size_t off;
    if (napi_get_typedarray_info(env, argv[2], &t, &n, &bytes, &ab, &off) != napi_ok || t != napi_uint8_array) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "producer: values must be an ArrayBuffer or Uint8Array");
      return NULL;
    }
    nbytes = n;
  }
  napi_typedarray_type ot;
  size_t noff;
  void *odata;
  napi_value oab;
  size_t ooff;
  if (napi_get_typedarray_info(env, argv[3], &ot, &noff, &odata, &oab, &ooff) != napi_ok || ot != napi_uint32_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "producer: offsets must be a Uint32Array");
    return NULL;
  }
  const uint32_t *offsets = odata;
  uint32_t count = 0;
  CHECK(napi_get_value_uint32(env, argv[4], &count));
  if (count == 0 || noff < (size_t)count + 1 || offsets[count] > nbytes) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "producer: offsets do not fit the values");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++)
    if (offsets[i] > offsets[i + 1]) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "producer: offsets must not decrease");
      return NULL;
    }

  /* header names, once per batch */
  uint32_t nh = 0;
  CHECK(napi_get_array_length(env, argv[6], &nh));
  if (nh > MAX_HEADERS) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "producer: too many headers");
    return NULL;
  }
  char names[MAX_HEADERS][64];
  for (uint32_t h = 0; h < nh; h++) {
    napi_value v;
    size_t n;
    CHECK(napi_get_element(env, argv[6], h, &v));
    if (napi_get_value_string_utf8(env, v, names[h], sizeof names[h], &n) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "producer: header names must be strings");
      return NULL;
    }
    if (n + 4 >= sizeof names[h]) { /* possibly cut at a whole character: refuse, never shorten */
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "producer: header name too long");
      return NULL;
    }
  }
  double tsd = 0, id = 0;
  CHECK(napi_get_value_double(env, argv[8], &tsd));
  CHECK(napi_get_value_double(env, argv[9], &id));
  int64_t ts = (int64_t)tsd;

  batch_t *b = calloc(1, sizeof *b + (size_t)count * sizeof(rec_t));
  if (!b) {
    napi_throw_error(env, "ERR_PRODUCER_OOM", "producer: out of memory");
    return NULL;
  }
  b->kind = EV_BATCH;
  b->id = id;
  b->parts = b->inline_parts;
  b->cappart = sizeof b->inline_parts / sizeof b->inline_parts[0];
  atomic_store(&b->remaining, (int)count + 1);

  napi_value sync = NULL; /* [index, code, message][] of records librdkafka refused to enqueue */
  uint32_t nsync = 0;
  napi_status bad = napi_ok;
  char keybuf[1024], valbuf[MAX_HEADERS][512];
  for (uint32_t i = 0; i < count && bad == napi_ok; i++) {
    napi_value k, row;
    napi_valuetype kt;
    char *key = NULL, *keyheap = NULL;
    size_t keylen = 0;
    if ((bad = napi_get_element(env, argv[5], i, &k)) != napi_ok) break;
    napi_typeof(env, k, &kt);
    if (kt == napi_string) {
      if (utf8_of(env, k, keybuf, sizeof keybuf, &key, &keylen, &keyheap)) { bad = napi_string_expected; break; }
    } else if (kt != napi_null && kt != napi_undefined) {
      bad = napi_string_expected;
      break;
    }
    rd_kafka_headers_t *hs = NULL;
    if (nh > 0) {
      if ((bad = napi_get_element(env, argv[7], i, &row)) != napi_ok) { free(keyheap); break; }
      hs = rd_kafka_headers_new(nh);
      for (uint32_t h = 0; h < nh; h++) {
        napi_value v;
        char *val, *heap;
        size_t vl;
        if ((bad = napi_get_element(env, row, h, &v)) != napi_ok) break;
        /* A row shorter than the names leaves the rest out: optional headers (schema_version, schema_id). */
        napi_valuetype vt;
        napi_typeof(env, v, &vt);
        if (vt == napi_undefined) break;
        if (utf8_of(env, v, valbuf[h], sizeof valbuf[h], &val, &vl, &heap)) {
          if (bad == napi_ok) bad = napi_string_expected;
          break;
        }
        rd_kafka_header_add(hs, names[h], -1, val, (ssize_t)vl);
        free(heap);
      }
      if (bad != napi_ok) {
        rd_kafka_headers_destroy(hs);
        free(keyheap);
        break;
      }
    }
    b->recs[i].b = b;
    b->recs[i].index = i;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE((char *)bytes + offsets[i], offsets[i + 1] - offsets[i]), RD_KAFKA_V_KEY(key, keylen),
        RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_HEADERS(hs), RD_KAFKA_V_OPAQUE(&b->recs[i]), RD_KAFKA_V_END);
    free(keyheap);
    if (err) {
      if (hs) rd_kafka_headers_destroy(hs); /* ours again when producev fails */
      if (!sync) napi_create_array(env, &sync);
      napi_set_element(env, sync, nsync++, failure_tuple(env, i, err));
      /* A refused record goes to the spill log and reaches Kafka later: a record after it that librdkafka
       * would still take (its queue drained meanwhile, or the record is smaller) would overtake it. So the
       * rest of the batch is not offered, and comes back with the same code, after it in record order.
       * Only a record too large for Kafka is refused for itself: it becomes a dead letter, never a main-
       * topic record, so its neighbours go on. */
      if (err != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        for (uint32_t j = i + 1; j < count; j++) napi_set_element(env, sync, nsync++, failure_tuple(env, j, err));
        break;
      }
    }
  }
  if (bad != napi_ok) {
    /* A malformed record: those before it are enqueued; the rest are reported as not enqueued. */
    for (uint32_t i = 0; i < count; i++)
      if (!b->recs[i].b) {
        if (!sync) napi_create_array(env, &sync);
        napi_set_element(env, sync, nsync++, failure_tuple(env, i, RD_KAFKA_RESP_ERR__INVALID_ARG));
      }
  }
  /* Drop produce()'s hold and the reports that will never come; whoever reaches 0 settles. */
  int drop = 1 + (int)nsync;
  if (atomic_fetch_sub(&b->remaining, drop) == drop) settle(p, b);
  if (sync) return sync;
  napi_value nul;
  napi_get_null(env, &nul);
  return nul;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"create", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
    {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
    {"produce", NULL, js_produce, NULL, NULL, NULL, napi_default, NULL},
    {"outqLen", NULL, js_outq_len, NULL, NULL, NULL, napi_default, NULL},
    {"configValue", NULL, js_config_value, NULL, NULL, NULL, napi_default, NULL},
    {"ref", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL},
    {"saslCredentials", NULL, js_sasl_credentials, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value version;
  napi_create_string_utf8(env, rd_kafka_version_str(), NAPI_AUTO_LENGTH, &version);
  napi_set_named_property(env, exports, "librdkafkaVersion", version);
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
