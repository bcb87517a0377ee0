/*
 * Memory helpers the runtime lacks.
 *
 * mapShared — a file mapped shared (MAP_SHARED) into an ArrayBuffer: loads from it see what any process
 * writes to the file (by pwrite or by its own mapping) at once, through the page cache,
 * without a system call per read. For small host-wide tables read on every request (the
 * spill order table, src/replay/host-table.ts: one pread per batch was ~15 % of the main
 * thread's CPU with 1-event requests). The mapping lives until the ArrayBuffer is collected.
 *
 * trim — glibc's malloc_trim(0): hands the free pages of every malloc arena back to the kernel.
 * librdkafka, uWS and zlib allocate with malloc from several threads; after a burst of large
 * batches their arenas keep the freed pages resident (glibc only returns the top of an arena on
 * its own), which is RSS that never comes back. Returns whether memory was released.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "napi_util.h"

static void throw_last(napi_env env, const char *what) {
  napi_util_throw_last(env, "memory", "MEMORY_NAPI", what);
}

static void unmap(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

static napi_value fail(napi_env env, const char *path, const char *what, int err) {
  char msg[600];
  snprintf(msg, sizeof msg, "memory: %s %s: %s", what, path, strerror(err));
  napi_throw_error(env, "MEMORY_MAP_FAILED", msg);
  return NULL;
}

/* mapShared(path: string, bytes: number): ArrayBuffer — the first `bytes` of an existing file, read-write */
static napi_value map_shared(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  size_t pathLen = 0;
  int64_t bytes = 0;
  CHECK(napi_get_value_string_utf8(env, argv[0], path, sizeof path, &pathLen));
  CHECK(napi_get_value_int64(env, argv[1], &bytes));
  if (bytes <= 0) {
    napi_throw_range_error(env, "MEMORY_MAP_SIZE", "memory: bytes must be > 0");
    return NULL;
  }
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return fail(env, path, "cannot open", errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return fail(env, path, "cannot stat", err);
  }
  // A mapping past the end of the file faults (SIGBUS) on access: never map more than there is.
  if (st.st_size < bytes) {
    close(fd);
    return fail(env, path, "shorter than the mapping of", EINVAL);
  }
  void *p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);
  if (p == MAP_FAILED) return fail(env, path, "cannot map", err);
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, (size_t)bytes, unmap, (void *)(uintptr_t)bytes, &ab) != napi_ok) {
    munmap(p, (size_t)bytes);
    throw_last(env, "napi_create_external_arraybuffer");
    return NULL;
  }
  return ab;
}

/* trim(): boolean — malloc_trim(0); false where there is no glibc */
static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#ifdef __GLIBC__
  released = malloc_trim(0);
#endif
  napi_value out;
  CHECK(napi_get_boolean(env, released != 0, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "mapShared", NAPI_AUTO_LENGTH, map_shared, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "mapShared", fn));
  CHECK(napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "trim", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
