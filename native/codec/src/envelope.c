/*
 * The event envelope validated while the body is tokenised, so the decoder can skip JSON.parse
 * and TypeBox for events that pass (src/codec/envelope.ts). The rules are not written here:
 * event_check.gen.h is generated at build time from the TypeBox EventSchema
 * (native/codec/gen/event-check.mjs); this file interprets those tables, and implements the
 * string formats by hand, as src/schema/event.ts registers them for TypeBox.
 *
 * export envelope(body: Uint8Array) -> Int32Array | null
 *   null: the body is not strict JSON (json_grammar.c), or its events array or batch_id cannot
 *   be told unambiguously (an escaped or repeated top-level key, events not an array, batch_id
 *   not a plain string): the caller takes the old path, where JSON.parse and the batch checks
 *   name the error exactly as before.
 *   else [n, batchIdState (0 absent, 1 present), batchIdStart, batchIdEnd, sentAtState, sentAtStart,
 *   sentAtEnd (the top-level sent_at string, as batch_id; not a plain string: null), then per element
 *   W words: start, end, flags (spans.c), verdict, presence mask, then start/end of each
 *   captured property: a string's content, a record's or an integer's whole value; 0, 0 when
 *   absent or of another type].
 *   verdict bits 0-1: VALID (1) or INVALID (2) exactly as TypeBox's Check would say of what
 *   JSON.parse makes of the element, or 0 when this file cannot tell (an escaped key, a key
 *   twice, an escaped string under a format or an enum, an integer written with a fraction or
 *   exponent): the caller parses those. bit 2: every captured string property is present, a
 *   string, and has no escape (its bytes are its UTF-8). bit 3: the event has fields the schema
 *   does not name. bits 8-15: 1 + the index of the first captured enum's value (0: none).
 *   bits 16+, per capture: its bytes equal the previous element's (the caller reuses the string
 *   it made: a batch mostly has one tenant).
 * export envelopeLayout() -> { props, captures, words }: the generated names, for the caller.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "napi_util.h"

static void throw_last(napi_env env, const char *what) { napi_util_throw_last(env, "codec", "ERR_CODEC_NAPI", what); }

enum { EVK_STRING = 1, EVK_ENUM, EVK_INTEGER, EVK_NUMBER, EVK_BOOLEAN, EVK_RECORD, EVK_ANY };
enum { EVF_UUID = 1, EVF_DATE_TIME };

typedef struct {
  const char *name;
  uint32_t name_len;
  int kind;
  int32_t min_len, max_len; /* UTF-16 code units, as String.length; -1: no bound */
  int format;
  const char *const *enum_values;
  uint32_t n_enum;
  int has_min;
  double min;
  int has_max;
  double max;
  int has_ex_min;
  double ex_min;
  int has_ex_max;
  double ex_max;
  int32_t min_props, max_props; /* own keys of a record; -1: no bound */
  int capture;                  /* index in the captured spans, or -1 */
} ev_prop_t;

#include "event_check.gen.h"

#define V_VALID 1
#define V_INVALID 2
#define V_CAPTURED 4
#define V_UNKNOWN 8
#define V_ENUM_SHIFT 8  /* bits 8-15: the index of the first captured enum's value, + 1 */
#define V_SAME_SHIFT 16 /* bits 16+: per capture, its bytes equal the previous element's (the caller reuses its string) */
#define WORDS (5 + 2 * EV_NCAPTURES)
#define MAX_RECORD_KEYS 1024 /* a record with more raw keys than its bound and this: undecided */
#define MAX_UNKNOWN_KEYS 256

typedef struct {
  int invalid, unsure;
} verdict_t;

static int digit(uint8_t c) { return c >= '0' && c <= '9'; }
static int d2(const uint8_t *s) { return (s[0] - '0') * 10 + s[1] - '0'; }

/* ^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$ */
static int fmt_uuid(const uint8_t *s, size_t n) {
  if (n != 36) return 0;
  for (size_t i = 0; i < 36; i++) {
    uint8_t c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return 0;
    } else if (!(digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return 0;
  }
  return 1;
}

/* isDateTime() of src/schema/event.ts: its DATE_TIME expression, then the day must exist. */
static int fmt_date_time(const uint8_t *s, size_t n) {
  static const int days[] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (n < 20) return 0;
  for (int i = 0; i < 4; i++)
    if (!digit(s[i])) return 0;
  if (s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':') return 0;
  if (!(s[10] == 'T' || s[10] == 't' || s[10] == ' ')) return 0;
  if (!digit(s[5]) || !digit(s[6]) || !digit(s[8]) || !digit(s[9]) || !digit(s[11]) || !digit(s[12])) return 0;
  if (!digit(s[14]) || !digit(s[15]) || !digit(s[17]) || !digit(s[18])) return 0;
  int month = d2(s + 5), day = d2(s + 8), hour = d2(s + 11);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23) return 0;
  if (s[14] > '5') return 0;
  if (!(s[17] <= '5' || (s[17] == '6' && s[18] == '0'))) return 0;
  size_t i = 19;
  if (s[i] == '.') {
    size_t d = ++i;
    while (i < n && digit(s[i])) i++;
    if (i == d || i - d > 9) return 0;
  }
  if (i >= n) return 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    if (i + 1 != n) return 0;
  } else if (s[i] == '+' || s[i] == '-') {
    if (i + 6 != n || !digit(s[i + 1]) || !digit(s[i + 2]) || s[i + 3] != ':' || !digit(s[i + 4]) || !digit(s[i + 5])) return 0;
    if (d2(s + i + 1) > 23 || s[i + 4] > '5') return 0;
  } else return 0;
  if (day <= 28) return 1;
  if (month != 2) return day <= days[month];
  if (day > 29) return 0;
  int year = d2(s) * 100 + d2(s + 2);
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

/* String.length of the string whose content (between the quotes, escapes as written) is s[0..n). */
static size_t utf16_length(const uint8_t *s, size_t n) {
  size_t units = 0;
  for (size_t i = 0; i < n;) {
    uint8_t c = s[i];
    if (c == '\\') {
      units++;
      i += s[i + 1] == 'u' ? 6 : 2;
    } else {
      if (c < 0x80 || (c >= 0xC0 && c < 0xF0)) units++;
      else if (c >= 0xF0) units += 2; /* outside the BMP: a surrogate pair */
      i++;
    }
  }
  return units;
}

typedef struct {
  size_t key, key_end; /* the key with its quotes */
  size_t value;
  int esc; /* the key has an escape */
} member_t;

/* i at the '"' of a member of a strict-JSON object: fills m; returns where its value starts. */
static size_t next_key(const body_t *b, size_t i, member_t *m) {
  m->key = i;
  m->esc = 0;
  m->key_end = codec_scan_string(b, i, &m->esc);
  m->value = codec_skip_ws(b, codec_skip_ws(b, m->key_end) + 1);
  return m->value;
}

/* i after a member's value: where the next member's '"' (or the closing '}') is. */
static size_t after_member(const body_t *b, size_t i) {
  i = codec_skip_ws(b, i);
  if (i < b->n && b->p[i] == ',') i = codec_skip_ws(b, i + 1);
  return i;
}

/* The end of the number token at i (strict JSON: its characters are all it has). */
static size_t number_end(const body_t *b, size_t i) {
  while (i < b->n && (digit(b->p[i]) || b->p[i] == '-' || b->p[i] == '+' || b->p[i] == '.' || b->p[i] == 'e' || b->p[i] == 'E')) i++;
  return i;
}

/* Distinct keys among spans[0..n) (escape-free keys: bytes equal iff keys equal). */
static size_t distinct(const uint8_t *p, const span_key_t *keys, size_t n) {
  size_t d = 0;
  for (size_t i = 0; i < n; i++) {
    size_t j = 0;
    for (; j < i; j++)
      if (keys[j].len == keys[i].len && memcmp(p + keys[j].start, p + keys[i].start, keys[i].len) == 0) break;
    if (j == i) d++;
  }
  return d;
}

/* A record at i ('{'): an object whose own key count is within bounds; values are anything. Returns its end. */
static size_t check_record(const body_t *b, size_t i, const ev_prop_t *pr, verdict_t *v, span_key_t *keys) {
  size_t raw = 0;
  int esc_any = 0;
  i = codec_skip_ws(b, i + 1);
  member_t m;
  while (i < b->n && b->p[i] == '"') {
    i = after_member(b, codec_skip_value(b, next_key(b, i, &m)));
    esc_any |= m.esc;
    if (raw < MAX_RECORD_KEYS) keys[raw] = (span_key_t){(uint32_t)m.key, (uint32_t)(m.key_end - m.key)};
    raw++;
  }
  size_t end = i + 1; /* after the '}' */
  if (pr->min_props >= 0 && raw < (size_t)pr->min_props) {
    v->invalid = 1; /* distinct ≤ raw */
    return end;
  }
  /* within both bounds by the raw count alone, or the distinct keys decide */
  if (!(pr->max_props >= 0 && raw > (size_t)pr->max_props) && pr->min_props <= 0) return end;
  if (esc_any || raw > MAX_RECORD_KEYS) {
    v->unsure = 1;
    return end;
  }
  size_t d = distinct(b->p, keys, raw);
  if ((pr->max_props >= 0 && d > (size_t)pr->max_props) || (pr->min_props >= 0 && d < (size_t)pr->min_props)) v->invalid = 1;
  return end;
}

/* Number.isInteger(x) and the bounds, for the number token at [i, end). */
static void check_integer(const body_t *b, size_t i, size_t end, const ev_prop_t *pr, verdict_t *v) {
  int neg = b->p[i] == '-';
  size_t s = neg ? i + 1 : i;
  if (end - s > 15) {
    v->unsure = 1; /* ≥ 1e15: the generator only takes bounds below that, but the integer test would need care */
    return;
  }
  double x = 0;
  for (size_t k = s; k < end; k++) {
    if (!digit(b->p[k])) {
      v->unsure = 1; /* 1.0, 1e3: integers to JavaScript, left to it */
      return;
    }
    x = x * 10 + (b->p[k] - '0');
  }
  if (neg) x = -x;
  if ((pr->has_min && x < pr->min) || (pr->has_max && x > pr->max) || (pr->has_ex_min && x <= pr->ex_min) || (pr->has_ex_max && x >= pr->ex_max)) v->invalid = 1;
}

/* One property's value at i; returns its end. cap: where its content goes when captured. */
static size_t check_value(const body_t *b, size_t i, const ev_prop_t *pr, verdict_t *v, span_key_t *keys, int32_t *cap, int *cap_plain, int *enum_at) {
  uint8_t c = b->p[i];
  int number = c == '-' || digit(c);
  switch (pr->kind) {
    case EVK_ANY:
      return codec_skip_value(b, i);
    case EVK_NUMBER:
    case EVK_INTEGER: {
      if (!number) {
        v->invalid = 1;
        return codec_skip_value(b, i);
      }
      size_t end = number_end(b, i);
      if (pr->kind == EVK_INTEGER) check_integer(b, i, end, pr, v);
      if (cap) {
        cap[0] = (int32_t)i;
        cap[1] = (int32_t)end;
      }
      return end;
    }
    case EVK_BOOLEAN:
      if (c != 't' && c != 'f') v->invalid = 1;
      return codec_skip_value(b, i);
    case EVK_RECORD:
      if (c != '{') {
        v->invalid = 1;
        return codec_skip_value(b, i);
      } else {
        size_t end = check_record(b, i, pr, v, keys);
        if (cap) {
          cap[0] = (int32_t)i;
          cap[1] = (int32_t)end;
        }
        return end;
      }
    default:
      break;
  }
  if (c != '"') {
    v->invalid = 1;
    return codec_skip_value(b, i);
  }
  int esc = 0;
  size_t end = codec_scan_string(b, i, &esc);
  const uint8_t *s = b->p + i + 1;
  size_t n = end - i - 2;
  if (cap) {
    cap[0] = (int32_t)(i + 1);
    cap[1] = (int32_t)(end - 1);
    *cap_plain = !esc;
  }
  if (pr->kind == EVK_ENUM) {
    if (esc) v->unsure = 1;
    else {
      uint32_t k = 0;
      while (k < pr->n_enum && !(strlen(pr->enum_values[k]) == n && memcmp(pr->enum_values[k], s, n) == 0)) k++;
      if (k == pr->n_enum) v->invalid = 1;
      else *enum_at = (int)k;
    }
    return end;
  }
  if (pr->min_len >= 0 || pr->max_len >= 0) {
    size_t units = utf16_length(s, n);
    if ((pr->min_len >= 0 && units < (size_t)pr->min_len) || (pr->max_len >= 0 && units > (size_t)pr->max_len)) v->invalid = 1;
  }
  if (pr->format) {
    if (esc) v->unsure = 1;
    else if (!(pr->format == EVF_UUID ? fmt_uuid(s, n) : fmt_date_time(s, n))) v->invalid = 1;
  }
  return end;
}

/* The element at [i, end) of a body json_valid() accepted; out: W words from verdict on. */
static void check_event(const body_t *b, size_t i, int32_t *out, const int32_t *prev, span_key_t *keys) {
  int32_t *caps = out + 2;
  memset(out, 0, sizeof(int32_t) * (WORDS - 3)); /* out is an element's words from its verdict on (w + 3) */
  if (b->p[i] != '{') {
    out[0] = V_INVALID;
    return;
  }
  verdict_t v = {0, 0};
  uint32_t present = 0;
  int unknown = 0, enum_seen = 0, enum_word = 0;
  uint32_t cap_plain_mask = 0; /* captures that are strings without escapes, by property bit */
  span_key_t unknown_keys[MAX_UNKNOWN_KEYS];
  size_t n_unknown = 0;
  i = codec_skip_ws(b, i + 1);
  member_t m;
  while (i < b->n && b->p[i] == '"') {
    size_t vs = next_key(b, i, &m), ve = 0;
    size_t ks = m.key, klen = m.key_end - m.key - 2;
    if (m.esc) v.unsure = 1; /* "\u0065vent_id" is event_id: which property, and is it a repeat? */
    else {
      int k = 0;
      for (; k < EV_NPROPS; k++)
        if (EV_PROPS[k].name_len == klen && memcmp(EV_PROPS[k].name, b->p + ks + 1, klen) == 0) break;
      if (k < EV_NPROPS) {
        if (present & (1u << k)) v.unsure = 1; /* JSON.parse keeps the last: left to it */
        present |= 1u << k;
        int cap_plain = 0, enum_at = -1;
        const ev_prop_t *pr = &EV_PROPS[k];
        ve = check_value(b, vs, pr, &v, keys, pr->capture >= 0 ? caps + 2 * pr->capture : NULL, &cap_plain, &enum_at);
        if (pr->capture >= 0 && pr->kind == EVK_ENUM && enum_at >= 0 && !enum_seen) {
          enum_seen = 1;
          enum_word = (enum_at + 1) << V_ENUM_SHIFT;
        }
        if (cap_plain) cap_plain_mask |= 1u << k;
        else cap_plain_mask &= ~(1u << k);
      } else {
        unknown = 1;
        if (!EV_ADDITIONAL_PROPERTIES) v.invalid = 1;
        if (n_unknown < MAX_UNKNOWN_KEYS) unknown_keys[n_unknown] = (span_key_t){(uint32_t)ks, (uint32_t)(klen + 2)};
        else v.unsure = 1;
        n_unknown++;
      }
    }
    i = after_member(b, ve ? ve : codec_skip_value(b, vs));
  }
  if ((present & EV_REQUIRED_MASK) != EV_REQUIRED_MASK) v.invalid = 1;
  if (!v.unsure && (EV_MAX_PROPERTIES >= 0 || EV_MIN_PROPERTIES >= 0)) {
    size_t count = (size_t)__builtin_popcount(present) + (n_unknown ? distinct(b->p, unknown_keys, n_unknown) : 0);
    if ((EV_MAX_PROPERTIES >= 0 && count > (size_t)EV_MAX_PROPERTIES) || (EV_MIN_PROPERTIES >= 0 && count < (size_t)EV_MIN_PROPERTIES)) v.invalid = 1;
  }
  int captured = 1;
  for (int k = 0; k < EV_NPROPS; k++)
    if (EV_PROPS[k].capture >= 0 && (EV_PROPS[k].kind == EVK_STRING || EV_PROPS[k].kind == EVK_ENUM) && !(cap_plain_mask & (1u << k))) captured = 0;
  int same = 0;
  if (prev)
    for (int c = 0; c < EV_NCAPTURES; c++) {
      const int32_t *a = caps + 2 * c, *p = prev + 2 * c;
      if (a[1] > a[0] && a[1] - a[0] == p[1] - p[0] && memcmp(b->p + a[0], b->p + p[0], (size_t)(a[1] - a[0])) == 0) same |= 1 << c;
    }
  out[0] = (v.unsure ? 0 : v.invalid ? V_INVALID : V_VALID) | (captured ? V_CAPTURED : 0) | (unknown ? V_UNKNOWN : 0) | enum_word | (same << V_SAME_SHIFT);
  out[1] = (int32_t)present;
}

/* Words before the first element: n, then state/start/end of batch_id and of sent_at. */
#define HEAD 7

/* The elements found so far: HEAD words, then WORDS per element. */
typedef struct {
  int32_t *out;
  size_t cap, n;
  span_key_t *keys; /* scratch: the forwarding keys of spans.c, then the record keys here */
  int failed;        /* out of memory */
  size_t max;        /* the batch's event limit: elements past it are counted, not kept */
} events_t;

/* The events array at i ('['): each element's words; returns the index after the ']'. */
static size_t scan_array(const body_t *b, size_t i, events_t *ev) {
  ev->n = 0; /* a second "events" is refused by the caller; this is the only scan that counts */
  i = codec_skip_ws(b, i + 1);
  while (i < b->n && b->p[i] != ']') {
    if (ev->n >= ev->max) {
      /* The batch is refused for its size; its count is all the answer needs, so nothing is allocated for it. */
      ev->n++;
      i = after_member(b, codec_skip_value(b, i));
      continue;
    }
    if (ev->n == ev->cap) {
      int32_t *next = realloc(ev->out, sizeof(int32_t) * (HEAD + WORDS * ev->cap * 2));
      if (!next) {
        ev->failed = 1;
        return b->n;
      }
      ev->out = next;
      ev->cap *= 2;
    }
    int32_t *w = ev->out + HEAD + WORDS * ev->n;
    int flags = 0;
    size_t start = i;
    size_t end = codec_scan_event(b, i, &flags, ev->keys);
    w[0] = (int32_t)start;
    w[1] = (int32_t)end;
    w[2] = flags;
    check_event(b, start, w + 3, ev->n ? w + 5 - WORDS : NULL, ev->keys + CODEC_MAX_DEPTH * CODEC_MAX_KEYS);
    ev->n++;
    i = after_member(b, end);
  }
  return i + 1;
}

/* A top-level string member: its content's start and end into at[1..2]; 0, or -1 when twice, not a string or escaped. */
static int plain_string(const body_t *b, size_t vs, size_t *ve, int32_t *at) {
  int esc = 0;
  if (at[0] || b->p[vs] != '"') return -1;
  *ve = codec_scan_string(b, vs, &esc);
  if (esc) return -1;
  at[0] = 1;
  at[1] = (int32_t)(vs + 1);
  at[2] = (int32_t)(*ve - 1);
  return 0;
}

/*
 * The events (scanned into ev), batch_id and sent_at of a strict-JSON body, in one walk: 0, or
 * -1 when JSON.parse's view cannot be told from the bytes alone (the old path decides).
 */
static int find_envelope(const body_t *b, events_t *ev, int32_t *bid) {
  size_t i = 0;
  if (b->n >= 3 && b->p[0] == 0xEF && b->p[1] == 0xBB && b->p[2] == 0xBF) i = 3;
  i = codec_skip_ws(b, i);
  memset(bid, 0, sizeof(int32_t) * (HEAD - 1));
  if (b->p[i] == '[') {
    scan_array(b, i, ev);
    return ev->failed ? -1 : 0;
  }
  if (b->p[i] != '{') return -1;
  int events = 0;
  i = codec_skip_ws(b, i + 1);
  member_t m;
  while (i < b->n && b->p[i] == '"') {
    size_t vs = next_key(b, i, &m), ve;
    if (m.esc) return -1;
    size_t klen = m.key_end - m.key;
    const uint8_t *key = b->p + m.key;
    if (klen == 8 && memcmp(key, "\"events\"", 8) == 0) {
      if (events++ || b->p[vs] != '[') return -1;
      ve = scan_array(b, vs, ev);
      if (ev->failed) return -1;
    } else if (klen == 10 && memcmp(key, "\"batch_id\"", 10) == 0) {
      if (plain_string(b, vs, &ve, bid) < 0) return -1;
    } else if (klen == 9 && memcmp(key, "\"sent_at\"", 9) == 0) {
      if (plain_string(b, vs, &ve, bid + 3) < 0) return -1;
    } else ve = codec_skip_value(b, vs);
    i = after_member(b, ve);
  }
  return events ? 0 : -1;
}

napi_value codec_js_envelope(napi_env env, napi_callback_info info) {
  napi_value nul;
  body_t b;
  size_t max;
  if (!codec_body_max_args(env, info, "envelope", &b, &max)) return NULL;
  CHECK(napi_get_null(env, &nul));
  if (b.n > INT32_MAX || b.n == 0) return nul;
  if (!json_valid(b.p, b.n)) return nul;
  events_t ev = {malloc(sizeof(int32_t) * (HEAD + WORDS * 64)), 64, 0, malloc(sizeof(span_key_t) * (CODEC_MAX_DEPTH * CODEC_MAX_KEYS + MAX_RECORD_KEYS)), 0, max};
  int32_t bid[HEAD - 1];
  if (!ev.out || !ev.keys || find_envelope(&b, &ev, bid) < 0) {
    free(ev.out);
    free(ev.keys);
    return nul;
  }
  free(ev.keys);
  int32_t *out = ev.out;
  out[0] = (int32_t)ev.n;
  memcpy(out + 1, bid, sizeof bid);
  size_t words = HEAD + WORDS * (ev.n < ev.max ? ev.n : ev.max);
  napi_value ab, arr;
  void *dst;
  if (napi_create_arraybuffer(env, words * sizeof(int32_t), &dst, &ab) != napi_ok) {
    free(out);
    throw_last(env, "napi_create_arraybuffer");
    return NULL;
  }
  memcpy(dst, out, words * sizeof(int32_t));
  free(out);
  CHECK(napi_create_typedarray(env, napi_int32_array, words, ab, 0, &arr));
  return arr;
}

static napi_value names(napi_env env, const char *const *list, size_t n) {
  napi_value arr, s;
  if (napi_create_array_with_length(env, n, &arr) != napi_ok) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (napi_create_string_utf8(env, list[i], NAPI_AUTO_LENGTH, &s) != napi_ok || napi_set_element(env, arr, (uint32_t)i, s) != napi_ok) return NULL;
  }
  return arr;
}

napi_value codec_js_envelope_layout(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value o, props, caps, words;
  CHECK(napi_create_object(env, &o));
  props = names(env, EV_PROP_NAMES, EV_NPROPS);
  caps = names(env, EV_CAPTURE_NAMES, EV_NCAPTURES);
  if (!props || !caps) {
    throw_last(env, "names");
    return NULL;
  }
  napi_value head;
  CHECK(napi_create_uint32(env, WORDS, &words));
  CHECK(napi_create_uint32(env, HEAD, &head));
  CHECK(napi_set_named_property(env, o, "head", head));
  CHECK(napi_set_named_property(env, o, "props", props));
  CHECK(napi_set_named_property(env, o, "captures", caps));
  CHECK(napi_set_named_property(env, o, "words", words));
  return o;
}
