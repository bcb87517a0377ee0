/*
 * Where each event of a batch body starts and ends, and whether its bytes can be forwarded
 * to Kafka as the client sent them instead of JSON.stringify of the parsed event
 * (src/codec/decode.ts). Runs after JSON.parse accepted the same bytes: it tokenises, it does
 * not validate.
 *
 * export spans(body: Uint8Array) -> Int32Array [n, start0, end0, flags0, start1, ...] | null
 *   n = the elements of the events array: the top-level array, or the array under the
 *   top-level "events" key. null when that array is not found unambiguously (an escaped
 *   top-level key, "events" twice, not an array).
 *   flags bit 0 (FORWARDABLE): the element is an object whose bytes parse, under any JSON
 *   parser, to what JSON.parse gave and JSON.stringify would have written:
 *     - no whitespace between tokens (JSON.stringify writes none; the size limit stays exact);
 *     - no object with the same key twice, at any depth (JSON.parse keeps the last one, other
 *       parsers the first, or fail); keys are compared as bytes, so a key with an escape makes
 *       the element not forwardable, and so does an object of more than MAX_KEYS keys;
 *     - every number has at most 15 significant digits and a decimal exponent within ±300
 *       (a double holds it exactly; 1e400 would be Infinity, which JSON.stringify writes null);
 *     - nesting at most MAX_DEPTH (deeper events take the old path, where JSON.stringify's
 *       recursion limit rejects the deepest).
 *   Strings are forwarded as sent: escapes and UTF-8 denote the same characters either way.
 *   flags bit 1 (INEXACT_NUMBER): the element holds a number whose value JSON.stringify of the
 *   parsed event would change (number_exact); flags >> 2 is then the offset of the first such
 *   number from the element's start. Such events are refused (src/codec/decode.ts), on every
 *   path, forwardable or not.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "napi_util.h"
#include "codec.h"

#define FORWARDABLE 1
#define INEXACT_NUMBER 2
#define AT_SHIFT 2 /* flags >> AT_SHIFT: offset of the first inexact number from the element's start */
#define AT_MAX ((1u << 29) - 1)
#define MAX_DEPTH CODEC_MAX_DEPTH
#define MAX_KEYS CODEC_MAX_KEYS

static void throw_last(napi_env env, const char *what) {
  napi_util_throw_last(env, "codec", "ERR_CODEC_NAPI", what);
}

static int is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t codec_skip_ws(const body_t *b, size_t i) {
  while (i < b->n && is_ws(b->p[i])) i++;
  return i;
}

/* i at the opening quote; returns the index after the closing quote. */
size_t codec_scan_string(const body_t *b, size_t i, int *escaped) {
  for (i++; i < b->n; i++) {
    i = codec_find_special(b->p, i, b->n, 0);
    if (i >= b->n) break;
    if (b->p[i] == '"') return i + 1;
    *escaped = 1; /* a backslash: skip what it escapes */
    i++;
  }
  return b->n;
}

/*
 * 1 when JSON.stringify(JSON.parse(p[0..len))) writes the same decimal value as p: V8 writes the
 * shortest digits that read back to the same double (the closest of them on a tie), so the
 * value survives exactly when the written significant digits S (no leading or trailing zeros)
 * are that shortest form. 1e400 (Infinity, written null), 1e-400 (0), 12345678901234567890123
 * (1.2345678901234568e+22) and 0.1000000000000000055511151231257827 (0.1) do not survive.
 * Cheap for what JSON.stringify writes itself (≤ 15 digits within ±300: a double holds every
 * such decimal distinctly); strtod/snprintf (both correctly rounded in glibc) only beyond.
 */
static int number_exact(const uint8_t *p, size_t len) {
  char sig[18];
  int ns = 0, last_nz = 0, seen = 0;
  long e10 = 0; /* value = 0.S × 10^e10 */
  size_t i = 0;
  if (i < len && p[i] == '-') i++;
  for (; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
    if (!seen && p[i] == '0') continue;
    seen = 1;
    e10++;
    if (ns < 18) sig[ns] = (char)p[i];
    ns++;
    if (p[i] != '0') last_nz = ns;
  }
  if (i < len && p[i] == '.') {
    for (i++; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
      if (!seen && p[i] == '0') {
        e10--;
        continue;
      }
      seen = 1;
      if (ns < 18) sig[ns] = (char)p[i];
      ns++;
      if (p[i] != '0') last_nz = ns;
    }
  }
  int s = last_nz;
  if (s == 0) return 1; /* zero, whatever its exponent */
  if (s > 17) return 0; /* V8 never writes more than 17 significant digits */
  if (i < len && (p[i] == 'e' || p[i] == 'E')) {
    int neg = 0, digits = 0;
    long x = 0;
    i++;
    if (i < len && (p[i] == '+' || p[i] == '-')) neg = p[i++] == '-';
    for (; i < len && p[i] >= '0' && p[i] <= '9'; i++)
      if (digits++ < 6) x = x * 10 + (p[i] - '0');
    if (digits > 6) return 0; /* |exponent| ≥ 10^6 with a nonzero mantissa: Infinity or 0 */
    e10 += neg ? -x : x;
  }
  if (s <= 15 && e10 >= -300 && e10 <= 300) return 1;
  char text[48], out[48];
  snprintf(text, sizeof text, "%.*se%ld", s, sig, e10 - s); /* S as an integer: no locale decimal point */
  double d = strtod(text, NULL);
  if (!isfinite(d) || d == 0) return 0;
  /* The closest s-digit decimal to d must be S... */
  snprintf(out, sizeof out, "%.*e", s - 1, d);
  int k = 0;
  long x2 = 0;
  const char *q = out;
  for (; *q && *q != 'e'; q++)
    if (*q >= '0' && *q <= '9') {
      if (k >= s || *q != sig[k]) return 0;
      k++;
    }
  if (k != s || *q != 'e') return 0;
  x2 = strtol(q + 1, NULL, 10);
  if (x2 + 1 != e10) return 0;
  /* ...and no shorter one may read back to d (if any does, the closest (s-1)-digit one does). */
  if (s >= 2) {
    snprintf(out, sizeof out, "%.*e", s - 2, d);
    if (strtod(out, NULL) == d) return 0;
  }
  return 1;
}

/* i at '-' or a digit; returns the index after the number; *safe cleared when a double cannot hold it exactly. */
static size_t scan_number(const body_t *b, size_t i, int *safe) {
  int sig = 0, seen_nonzero = 0;
  long int_digits = 0, frac_digits = 0, exp = 0;
  if (b->p[i] == '-') i++;
  for (; i < b->n && b->p[i] >= '0' && b->p[i] <= '9'; i++) {
    int_digits++;
    if (b->p[i] != '0') seen_nonzero = 1;
    if (seen_nonzero) sig++;
  }
  if (i < b->n && b->p[i] == '.') {
    for (i++; i < b->n && b->p[i] >= '0' && b->p[i] <= '9'; i++) {
      frac_digits++;
      if (b->p[i] != '0') seen_nonzero = 1;
      if (seen_nonzero) sig++;
    }
  }
  if (i < b->n && (b->p[i] == 'e' || b->p[i] == 'E')) {
    int neg = 0, digits = 0;
    i++;
    if (i < b->n && (b->p[i] == '+' || b->p[i] == '-')) neg = b->p[i++] == '-';
    for (; i < b->n && b->p[i] >= '0' && b->p[i] <= '9'; i++) {
      if (digits++ < 6) exp = exp * 10 + (b->p[i] - '0');
    }
    if (digits > 6) exp = 1000000;
    if (neg) exp = -exp;
  }
  /* Conservative: trailing zeros count as significant, and |exponent| + every digit bounds the
     magnitude from both sides (no overflow to Infinity, no underflow to 0 or a subnormal). */
  if (sig > 15 || (exp < 0 ? -exp : exp) + int_digits + frac_digits > 300) *safe = 0;
  return i;
}

/* Skips any value without checks (a depth counter only: no limit, no stack). */
size_t codec_skip_value(const body_t *b, size_t i) {
  long depth = 0;
  int esc = 0;
  while (i < b->n) {
    uint8_t c = b->p[i];
    if (c == '"') {
      i = codec_scan_string(b, i, &esc);
      if (depth == 0) return i;
      continue;
    }
    if (c == '{' || c == '[') depth++;
    else if (c == '}' || c == ']') {
      depth--;
      if (depth == 0) return i + 1;
      if (depth < 0) return i; /* the end of an enclosing container: cannot happen at a value */
    } else if (depth == 0 && (c == ',' || c == ':' || is_ws(c))) {
      return i; /* the end of a scalar */
    }
    i++;
  }
  return i;
}

/*
 * One element of the events array, from i; returns the index after it. *flags gets
 * FORWARDABLE when the element passes every check above. keys is scratch space for
 * MAX_DEPTH × MAX_KEYS keys. Past MAX_DEPTH only the depth is counted (no stack).
 */
size_t codec_scan_event(const body_t *b, size_t i, int *flags, span_key_t *keys) {
  if (i >= b->n || b->p[i] != '{') {
    *flags = 0;
    return codec_skip_value(b, i);
  }
  int safe = 1;
  size_t first = i;
  long inexact_at = -1;
  long depth = 0;
  uint32_t base[MAX_DEPTH + 1]; /* per open container: index of its first key in keys, or UINT32_MAX for an array */
  uint32_t nkeys = 0;
  while (i < b->n) {
    uint8_t c = b->p[i];
    switch (c) {
      case '{':
      case '[':
        depth++;
        if (depth > MAX_DEPTH) safe = 0; /* the old path decides (JSON.stringify's own limit) */
        else base[depth] = c == '{' ? nkeys : UINT32_MAX;
        i++;
        break;
      case '}':
      case ']':
        if (depth <= MAX_DEPTH && base[depth] != UINT32_MAX) nkeys = base[depth];
        depth--;
        i++;
        if (depth == 0) {
          *flags = (safe ? FORWARDABLE : 0) | (inexact_at >= 0 ? INEXACT_NUMBER | (int)((uint32_t)inexact_at << AT_SHIFT) : 0);
          return i;
        }
        break;
      case '"': {
        int esc = 0;
        size_t start = i;
        i = codec_scan_string(b, i, &esc);
        /* a key is a string in an object followed by ':' (no whitespace in a forwardable event) */
        if (safe && base[depth] != UINT32_MAX && i < b->n && b->p[i] == ':') {
          uint32_t len = (uint32_t)(i - start), first = base[depth];
          if (esc || nkeys - first >= MAX_KEYS) {
            safe = 0;
            break;
          }
          for (uint32_t k = first; k < nkeys; k++)
            if (keys[k].len == len && memcmp(b->p + keys[k].start, b->p + start, len) == 0) safe = 0;
          keys[nkeys].start = (uint32_t)start;
          keys[nkeys].len = len;
          nkeys++;
        }
        break;
      }
      case ',':
      case ':':
        i++;
        break;
      case 't':
      case 'n':
        i += 4;
        break;
      case 'f':
        i += 5;
        break;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          size_t at = i;
          int ns = 1;
          i = scan_number(b, i, &ns);
          if (!ns) {
            safe = 0;
            if (inexact_at < 0 && !number_exact(b->p + at, i - at)) inexact_at = at - first > AT_MAX ? AT_MAX : (long)(at - first);
          }
        } else {
          safe = 0; /* whitespace between tokens */
          i++;
        }
    }
  }
  *flags = 0;
  return i;
}

/* The events array at i ('['): fills out (grown as needed); returns the element count, or -1 (also past max). */
static long scan_events(const body_t *b, size_t i, int32_t **out, size_t *cap, size_t max) {
  span_key_t *keys = malloc(sizeof(span_key_t) * MAX_DEPTH * MAX_KEYS);
  if (!keys) return -1;
  long n = 0;
  i = codec_skip_ws(b, i + 1);
  if (i < b->n && b->p[i] == ']') {
    free(keys);
    return 0;
  }
  while (i < b->n) {
    i = codec_skip_ws(b, i);
    if ((size_t)n >= max) { /* more events than a batch may hold: the caller refuses it, nothing to map */
      free(keys);
      return -1;
    }
    if ((size_t)(1 + 3 * (n + 1)) > *cap) {
      size_t cap2 = *cap * 2 + 64;
      int32_t *next = realloc(*out, cap2 * sizeof(int32_t));
      if (!next) {
        free(keys);
        return -1;
      }
      *out = next;
      *cap = cap2;
    }
    int flags = 0;
    size_t start = i;
    i = codec_scan_event(b, i, &flags, keys);
    (*out)[1 + 3 * n] = (int32_t)start;
    (*out)[2 + 3 * n] = (int32_t)i;
    (*out)[3 + 3 * n] = flags;
    n++;
    i = codec_skip_ws(b, i);
    if (i >= b->n || b->p[i] == ']') break;
    if (b->p[i] != ',') {
      free(keys);
      return -1;
    }
    i++;
  }
  free(keys);
  return n;
}

/* The index of the events array ('['), or -1 when it cannot be told unambiguously. */
static long find_events(const body_t *b) {
  size_t i = 0;
  if (b->n >= 3 && b->p[0] == 0xEF && b->p[1] == 0xBB && b->p[2] == 0xBF) i = 3; /* TextDecoder drops a BOM */
  i = codec_skip_ws(b, i);
  if (i >= b->n) return -1;
  if (b->p[i] == '[') return (long)i;
  if (b->p[i] != '{') return -1;
  long found = -1;
  int seen = 0;
  i = codec_skip_ws(b, i + 1);
  while (i < b->n && b->p[i] == '"') {
    int esc = 0;
    size_t start = i;
    i = codec_scan_string(b, i, &esc);
    if (esc) return -1; /* "\u0065vents" is events too */
    int is_events = i - start == 8 && memcmp(b->p + start, "\"events\"", 8) == 0;
    i = codec_skip_ws(b, i);
    if (i >= b->n || b->p[i] != ':') return -1;
    i = codec_skip_ws(b, i + 1);
    if (is_events) {
      if (seen++) return -1; /* JSON.parse keeps the last */
      found = i < b->n && b->p[i] == '[' ? (long)i : -1;
    }
    i = codec_skip_ws(b, codec_skip_value(b, i));
    if (i < b->n && b->p[i] == ',') i = codec_skip_ws(b, i + 1);
  }
  return found;
}

/* The Uint8Array argument of an export: 1, or 0 with a TypeError pending. */
int codec_body_arg(napi_env env, napi_callback_info info, const char *fn, body_t *b) {
  return codec_body_max_args(env, info, fn, b, NULL);
}

int codec_body_max_args(napi_env env, napi_callback_info info, const char *fn, body_t *b, size_t *max) {
  size_t argc = 2;
  napi_value argv[2];
  napi_typedarray_type t;
  size_t len;
  void *data;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_typedarray_info(env, argv[0], &t, &len, &data, NULL, NULL) != napi_ok || t != napi_uint8_array) {
    char msg[96];
    snprintf(msg, sizeof msg, "codec: %s() takes a Uint8Array", fn);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return 0;
  }
  b->p = data;
  b->n = len;
  if (max) {
    /* The batch's event limit: the scanners keep nothing past it (a few KB of gzip can hold millions of elements). */
    uint32_t m = UINT32_MAX;
    napi_valuetype vt = napi_undefined;
    if (argc >= 2) napi_typeof(env, argv[1], &vt);
    if (vt == napi_number && napi_get_value_uint32(env, argv[1], &m) != napi_ok) m = UINT32_MAX;
    *max = m;
  }
  return 1;
}

static napi_value js_spans(napi_env env, napi_callback_info info) {
  napi_value nul;
  body_t b;
  size_t max;
  if (!codec_body_max_args(env, info, "spans", &b, &max)) return NULL;
  CHECK(napi_get_null(env, &nul));
  if (b.n > INT32_MAX) return nul;
  long at = find_events(&b);
  if (at < 0) return nul;
  size_t cap = 0;
  int32_t *out = NULL;
  long n = scan_events(&b, (size_t)at, &out, &cap, max);
  if (n < 0) {
    free(out);
    return nul;
  }
  napi_value ab, arr;
  void *dst;
  size_t words = 1 + 3 * (size_t)n;
  if (napi_create_arraybuffer(env, words * sizeof(int32_t), &dst, &ab) != napi_ok) {
    free(out);
    throw_last(env, "napi_create_arraybuffer");
    return NULL;
  }
  ((int32_t *)dst)[0] = (int32_t)n;
  if (n > 0) memcpy((int32_t *)dst + 1, out + 1, 3 * (size_t)n * sizeof(int32_t));
  free(out);
  CHECK(napi_create_typedarray(env, napi_int32_array, words, ab, 0, &arr));
  return arr;
}

/* firstInexact(body) -> the offset of the first number anywhere in the body whose value
   JSON.stringify would change, or -1. For bodies spans() cannot map (it returned null). */
static napi_value js_first_inexact(napi_env env, napi_callback_info info) {
  napi_value out;
  body_t b;
  if (!codec_body_arg(env, info, "firstInexact", &b)) return NULL;
  double found = -1;
  int esc = 0;
  for (size_t i = 0; i < b.n;) {
    uint8_t c = b.p[i];
    if (c == '"') {
      i = codec_scan_string(&b, i, &esc);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t at = i;
      int ns = 1;
      i = scan_number(&b, i, &ns);
      if (!ns && !number_exact(b.p + at, i - at)) {
        found = (double)at;
        break;
      }
    } else {
      i++;
    }
  }
  CHECK(napi_create_double(env, found, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"spans", NULL, js_spans, NULL, NULL, NULL, napi_default, NULL},
    {"firstInexact", NULL, js_first_inexact, NULL, NULL, NULL, napi_default, NULL},
    {"envelope", NULL, codec_js_envelope, NULL, NULL, NULL, napi_default, NULL},
    {"envelopeLayout", NULL, codec_js_envelope_layout, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
