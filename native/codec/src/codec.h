/* Shared between the files of the codec addon (spans.c: tokenising and forwarding rules;
   json_grammar.c: strict JSON; envelope.c: the generated envelope validator). */
#ifndef CODEC_H
#define CODEC_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  const uint8_t *p;
  size_t n;
} body_t;

typedef struct {
  uint32_t start, len;
} span_key_t;

#include <string.h>

/*
 * The first index ≥ i of '"' or '\\' (and, with control, of a byte < 0x20), or n: eight bytes at
 * a time (a zero byte in w ^ pattern, the classic bit trick; the lowest flagged byte is exact).
 * Strings are most of a body's bytes: this is the scanners' inner loop.
 */
static inline size_t codec_find_special(const uint8_t *p, size_t i, size_t n, int control) {
  const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    uint64_t q = w ^ (ones * '"'), s = w ^ (ones * '\\');
    uint64_t hit = ((q - ones) & ~q) | ((s - ones) & ~s);
    if (control) hit |= (w - ones * 0x20) & ~w;
    hit &= highs;
    if (hit) return i + ((size_t)__builtin_ctzll(hit) >> 3);
  }
  for (; i < n; i++)
    if (p[i] == '"' || p[i] == '\\' || (control && p[i] < 0x20)) return i;
  return n;
}

#define CODEC_MAX_DEPTH 64
#define CODEC_MAX_KEYS 64

/* The Uint8Array argument of an export: 1, or 0 with a TypeError pending. */
int codec_body_arg(napi_env env, napi_callback_info info, const char *fn, body_t *b);
/* As codec_body_arg, and an optional second argument: the most events a batch may hold (*max; UINT32_MAX if absent). */
int codec_body_max_args(napi_env env, napi_callback_info info, const char *fn, body_t *b, size_t *max);
size_t codec_skip_ws(const body_t *b, size_t i);
size_t codec_scan_string(const body_t *b, size_t i, int *escaped);
size_t codec_skip_value(const body_t *b, size_t i);
/* spans.c: one element of the events array (flags: FORWARDABLE, INEXACT_NUMBER and its offset) */
size_t codec_scan_event(const body_t *b, size_t i, int *flags, span_key_t *keys);
/* json_grammar.c */
int json_valid(const uint8_t *p, size_t n);
/* envelope.c */
napi_value codec_js_envelope(napi_env env, napi_callback_info info);
napi_value codec_js_envelope_layout(napi_env env, napi_callback_info info);
#endif
