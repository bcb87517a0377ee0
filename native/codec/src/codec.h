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

#define CODEC_MAX_DEPTH 64
#define CODEC_MAX_KEYS 64

/* The Uint8Array argument of an export: 1, or 0 with a TypeError pending. */
int codec_body_arg(napi_env env, napi_callback_info info, const char *fn, body_t *b);
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
