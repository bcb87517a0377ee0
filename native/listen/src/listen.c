/*
 * A listening TCP socket with SO_REUSEPORT, returned as a file descriptor for
 * net.Server.listen({ fd }). Node 20's net module cannot set SO_REUSEPORT (reusePort came in
 * Node 22.12), and @grpc/grpc-js listens through it, so without this the second PM2 process
 * could not serve GRPC_PORT. uWS sets the option itself for the HTTP port; this gives the gRPC
 * port the same kernel load spreading across the group.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "napi_util.h"

static void throw_last(napi_env env, const char *what) {
  napi_util_throw_last(env, "listen", "LISTEN_NAPI", what);
}

/* listenReusePort(host: string, port: number, backlog: number): number (the fd) */
static napi_value listen_reuse_port(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char host[256];
  size_t hostLen = 0;
  int32_t port = 0, backlog = 511;
  CHECK(napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hostLen));
  CHECK(napi_get_value_int32(env, argv[1], &port));
  if (argc > 2) CHECK(napi_get_value_int32(env, argv[2], &backlog));

  char service[16];
  snprintf(service, sizeof service, "%d", port);
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int gai = getaddrinfo(hostLen ? host : NULL, service, &hints, &res);
  if (gai != 0) {
    char msg[320];
    snprintf(msg, sizeof msg, "listen: cannot resolve %s: %s", host, gai_strerror(gai));
    napi_throw_error(env, "LISTEN_RESOLVE", msg);
    return NULL;
  }
  int fd = -1, err = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) { err = errno; continue; }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0 &&
        bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0) {
      err = 0;
      break;
    }
    err = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    char msg[320];
    snprintf(msg, sizeof msg, "listen: cannot listen on %s:%d: %s", host, port, strerror(err));
    napi_throw_error(env, err == EADDRINUSE ? "EADDRINUSE" : "LISTEN_FAILED", msg);
    return NULL;
  }
  napi_value out;
  CHECK(napi_create_int32(env, fd, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "listenReusePort", NAPI_AUTO_LENGTH, listen_reuse_port, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "listenReusePort", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
