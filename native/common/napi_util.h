/*
 * Shared by the addons under native/ (plain C, Node-API): a failed Node-API call becomes a
 * JS exception that names the call. Each addon defines
 *   static void throw_last(napi_env env, const char *what)
 * as a call of napi_util_throw_last() with its own prefix and error code; CHECK() uses it.
 */
#ifndef NATIVE_NAPI_UTIL_H
#define NATIVE_NAPI_UTIL_H

#include <node_api.h>
#include <stdio.h>

/* Throws "<prefix>: <what> failed: <Node-API's message>" with `code`, unless an exception is pending. */
static inline void napi_util_throw_last(napi_env env, const char *prefix, const char *code, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s failed: %s", prefix, what,
           info && info->error_message ? info->error_message : "unknown N-API error");
  napi_throw_error(env, code, msg);
}

/* In a function returning napi_value: a failed call throws (throw_last) and returns NULL. */
#define CHECK(call)                 \
  do {                              \
    if ((call) != napi_ok) {        \
      throw_last(env, #call);       \
      return NULL;                  \
    }                               \
  } while (0)

#endif
