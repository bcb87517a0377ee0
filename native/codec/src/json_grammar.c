/*
 * json_valid(): whether JSON.parse accepts the bytes (RFC 8259: the grammar ECMAScript's
 * JSON.parse implements; whitespace is space, tab, LF, CR), after an optional UTF-8 BOM, which
 * TextDecoder drops before JSON.parse sees the text. UTF-8 itself is checked before
 * (buffer.isUtf8 in src/codec/envelope.ts), so bytes ≥ 0x80 are taken as they are.
 *
 * When the envelope validator skips JSON.parse this is what still refuses a malformed body:
 * a body it refuses takes the old path, where JSON.parse names the error. Iterative, any depth
 * (as V8's JSON.parse): the open containers are a bit stack that grows on the heap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static int ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int hex(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* i after the opening quote; returns the index after the closing quote, or 0 on an error. */
static size_t string_end(const uint8_t *p, size_t n, size_t i) {
  while (i < n) {
    i = codec_find_special(p, i, n, 1);
    if (i >= n) return 0;
    uint8_t c = p[i];
    if (c == '"') return i + 1;
    if (c < 0x20) return 0;
    if (c == '\\') {
      if (i + 1 >= n) return 0;
      switch (p[i + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
          i += 2;
          break;
        case 'u':
          if (i + 5 >= n || !hex(p[i + 2]) || !hex(p[i + 3]) || !hex(p[i + 4]) || !hex(p[i + 5])) return 0;
          i += 6;
          break;
        default:
          return 0;
      }
      continue;
    }
    i++;
  }
  return 0;
}

static size_t number_end(const uint8_t *p, size_t n, size_t i) {
  if (p[i] == '-') i++;
  if (i >= n) return 0;
  if (p[i] == '0') i++;
  else if (p[i] >= '1' && p[i] <= '9')
    while (i < n && p[i] >= '0' && p[i] <= '9') i++;
  else return 0;
  if (i < n && p[i] == '.') {
    size_t d = ++i;
    while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    if (i == d) return 0;
  }
  if (i < n && (p[i] == 'e' || p[i] == 'E')) {
    i++;
    if (i < n && (p[i] == '+' || p[i] == '-')) i++;
    size_t d = i;
    while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    if (i == d) return 0;
  }
  return i;
}

int json_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) i = 3;
  uint8_t small[256];
  uint8_t *stack = small; /* one byte per open container: '{' or '[' */
  size_t cap = sizeof small, depth = 0;
  int ok = 0;
  /* expecting: 0 a value, 1 after a value (',' or a close or the end), 2 a key or '}' (just opened),
     3 a key (after a comma in an object), 4 ':' after a key, 5 a value or ']' (just opened) */
  int want = 0;
  for (;;) {
    while (i < n && ws(p[i])) i++;
    if (i >= n) {
      ok = want == 1 && depth == 0;
      break;
    }
    uint8_t c = p[i];
    if (want == 1) {
      if (depth == 0) break; /* something after the top-level value */
      uint8_t top = stack[depth - 1];
      if (c == ',') {
        want = top == '{' ? 3 : 0;
        i++;
      } else if ((c == '}' && top == '{') || (c == ']' && top == '[')) {
        depth--;
        i++;
      } else break;
      continue;
    }
    if (want == 2 || want == 3) {
      if (c == '}' && want == 2) {
        depth--;
        want = 1;
        i++;
        continue;
      }
      if (c != '"') break;
      i = string_end(p, n, i + 1);
      if (!i) break;
      want = 4;
      continue;
    }
    if (want == 4) {
      if (c != ':') break;
      i++;
      want = 0;
      continue;
    }
    if (want == 5 && c == ']') {
      depth--;
      want = 1;
      i++;
      continue;
    }
    /* a value */
    if (c == '{' || c == '[') {
      if (depth == cap) {
        uint8_t *next = stack == small ? malloc(cap * 2) : realloc(stack, cap * 2);
        if (!next) break;
        if (stack == small) memcpy(next, small, cap);
        stack = next;
        cap *= 2;
      }
      stack[depth++] = c;
      want = c == '{' ? 2 : 5;
      i++;
      continue;
    }
    if (c == '"') {
      i = string_end(p, n, i + 1);
      if (!i) break;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      i = number_end(p, n, i);
      if (!i) break;
    } else if (c == 't' && n - i >= 4 && memcmp(p + i, "true", 4) == 0) {
      i += 4;
    } else if (c == 'f' && n - i >= 5 && memcmp(p + i, "false", 5) == 0) {
      i += 5;
    } else if (c == 'n' && n - i >= 4 && memcmp(p + i, "null", 4) == 0) {
      i += 4;
    } else break;
    want = 1;
  }
  if (stack != small) free(stack);
  return ok;
}
