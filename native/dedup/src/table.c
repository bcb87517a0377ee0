#define _GNU_SOURCE
#include "table.h"
#include "shm_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---------------------------------------------------------------- hashing */

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

static void murmur3_x64_128(const uint8_t *data, size_t len, uint64_t seed, uint64_t out[2]) {
  const size_t nblocks = len / 16;
  uint64_t h1 = seed, h2 = seed;
  const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
  for (size_t i = 0; i < nblocks; i++) {
    uint64_t k1, k2;
    memcpy(&k1, data + i * 16, 8);
    memcpy(&k2, data + i * 16 + 8, 8);
    k1 *= c1; k1 = rotl64(k1, 31); k1 *= c2; h1 ^= k1;
    h1 = rotl64(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729;
    k2 *= c2; k2 = rotl64(k2, 33); k2 *= c1; h2 ^= k2;
    h2 = rotl64(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5;
  }
  const uint8_t *tail = data + nblocks * 16;
  uint64_t k1 = 0, k2 = 0;
  switch (len & 15) {
    case 15: k2 ^= (uint64_t)tail[14] << 48; /* fallthrough */
    case 14: k2 ^= (uint64_t)tail[13] << 40; /* fallthrough */
    case 13: k2 ^= (uint64_t)tail[12] << 32; /* fallthrough */
    case 12: k2 ^= (uint64_t)tail[11] << 24; /* fallthrough */
    case 11: k2 ^= (uint64_t)tail[10] << 16; /* fallthrough */
    case 10: k2 ^= (uint64_t)tail[9] << 8;   /* fallthrough */
    case 9:
      k2 ^= (uint64_t)tail[8];
      k2 *= c2; k2 = rotl64(k2, 33); k2 *= c1; h2 ^= k2;
      /* fallthrough */
    case 8: k1 ^= (uint64_t)tail[7] << 56; /* fallthrough */
    case 7: k1 ^= (uint64_t)tail[6] << 48; /* fallthrough */
    case 6: k1 ^= (uint64_t)tail[5] << 40; /* fallthrough */
    case 5: k1 ^= (uint64_t)tail[4] << 32; /* fallthrough */
    case 4: k1 ^= (uint64_t)tail[3] << 24; /* fallthrough */
    case 3: k1 ^= (uint64_t)tail[2] << 16; /* fallthrough */
    case 2: k1 ^= (uint64_t)tail[1] << 8;  /* fallthrough */
    case 1:
      k1 ^= (uint64_t)tail[0];
      k1 *= c1; k1 = rotl64(k1, 31); k1 *= c2; h1 ^= k1;
      break;
    default: break;
  }
  h1 ^= (uint64_t)len; h2 ^= (uint64_t)len;
  h1 += h2; h2 += h1;
  h1 = fmix64(h1); h2 = fmix64(h2);
  h1 += h2; h2 += h1;
  out[0] = h1;
  out[1] = h2;
}

static const int8_t HEX[256] = {
#define X -1
  X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
  X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, 0,1,2,3,4,5,6,7,8,9,X,X,X,X,X,X,
  X,10,11,12,13,14,15,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
  X,10,11,12,13,14,15,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
  X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
  X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
  X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
  X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
#undef X
};

int dd_parse_uuid(const char *s, size_t len, uint8_t out[16]) {
  if (len != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') return 0;
  static const uint8_t pos[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
  int bad = 0;
  for (int i = 0; i < 16; i++) {
    int hi = HEX[(uint8_t)s[pos[i]]], lo = HEX[(uint8_t)s[pos[i] + 1]];
    bad |= hi | lo; /* -1 sets the sign bit */
    out[i] = (uint8_t)((hi << 4) | (lo & 15));
  }
  return bad >= 0;
}

/* Seed for non-UUID ids: fixed, so every process and every file maps an id alike. */
#define DD_STRING_SEED 0x6576632d64656475ULL

void dd_key_of(const char *s, size_t len, dd_key *out) {
  uint8_t b[16];
  if (dd_parse_uuid(s, len, b)) {
    memcpy(out->k, b, 16);
  } else {
    murmur3_x64_128((const uint8_t *)s, len, DD_STRING_SEED, out->k);
  }
}

static inline uint64_t key_hash(const dd_table *t, const dd_key *k) {
  return fmix64(fmix64(k->k[0] ^ t->seed) + k->k[1]);
}

/* ---------------------------------------------------------------- bucket access */

typedef struct {
  uint64_t lock;
  uint8_t tag[DD_BUCKET_SLOTS];
  uint8_t pad[64 - 8 - DD_BUCKET_SLOTS];
  uint64_t expiry[DD_BUCKET_SLOTS];
  uint64_t key[DD_BUCKET_SLOTS][2];
} dd_bucket;

_Static_assert(sizeof(dd_bucket) == DD_BUCKET_BYTES, "bucket layout");
_Static_assert(sizeof(dd_header) <= DD_HEADER_BYTES, "header layout");

static inline dd_bucket *bucket_at(const dd_table *t, uint64_t h) {
  return (dd_bucket *)(t->buckets + (h & t->nb_mask) * DD_BUCKET_BYTES);
}
static inline uint8_t tag_of(uint64_t h) { return (uint8_t)(h >> 56); }

/* A bucket's lock: native/common/shm_lock.h, the word at the bucket's start. */
static inline void bucket_lock(dd_table *t, dd_bucket *b) {
  enum shm_lock_outcome o = shm_lock_acquire(&b->lock, t->lock_id);
  if (LIKELY(o == SHM_LOCK_FREE)) return;
  t->c.lock_contended++;
  if (o == SHM_LOCK_STOLEN) t->c.lock_steals++;
}

static inline void bucket_unlock(dd_bucket *b) { shm_lock_release(&b->lock); }

static inline uint32_t tag_matches(const dd_bucket *b, uint8_t tag) {
#if defined(__SSE2__)
  __m128i needle = _mm_set1_epi8((char)tag);
  __m128i lo = _mm_loadu_si128((const __m128i *)b->tag);
  __m128i hi = _mm_loadu_si128((const __m128i *)(b->tag + 16));
  uint32_t m0 = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(lo, needle));
  uint32_t m1 = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(hi, needle));
  return m0 | (m1 << 16);
#else
  uint32_t m = 0;
  for (unsigned i = 0; i < DD_BUCKET_SLOTS; i++) m |= (uint32_t)(b->tag[i] == tag) << i;
  return m;
#endif
}

/* Index of the live slot holding `k`, or -1. Caller holds the lock. */
static inline int find_live(const dd_bucket *b, uint8_t tag, const dd_key *k, uint64_t now) {
  uint32_t m = tag_matches(b, tag);
  while (m) {
    int i = __builtin_ctz(m);
    m &= m - 1;
    if ((b->expiry[i] & DD_TIME_MASK) > now && b->key[i][0] == k->k[0] && b->key[i][1] == k->k[1])
      return i;
  }
  return -1;
}

static inline void set_expiry(dd_bucket *b, int i, uint64_t v) {
  __atomic_store_n(&b->expiry[i], v, __ATOMIC_RELAXED); /* stats() reads it without the lock */
}

/* A slot for a new key: the first free (expired) one, else the oldest live one, committed
 * entries before pending ones. Caller holds the lock. */
static int pick_slot(dd_table *t, dd_bucket *b, uint64_t now, uint64_t window_ms) {
  int oldest = -1, oldest_pending = -1;
  uint64_t oe = UINT64_MAX, ope = UINT64_MAX;
  for (unsigned i = 0; i < DD_BUCKET_SLOTS; i++) {
    uint64_t e = b->expiry[i];
    uint64_t ex = e & DD_TIME_MASK;
    if (ex <= now) return (int)i;
    if (e & DD_PENDING) {
      if (ex < ope) { ope = ex; oldest_pending = (int)i; }
    } else if (ex < oe) {
      oe = ex;
      oldest = (int)i;
    }
  }
  t->c.evictions++;
  if (oldest >= 0) {
    uint64_t remaining = oe - now;
    uint64_t age = window_ms > remaining ? window_ms - remaining : 0;
    t->c.last_eviction_age_ms = age;
    if (age < t->c.min_eviction_age_ms) t->c.min_eviction_age_ms = age;
    return oldest;
  }
  t->c.evicted_pending++;
  return oldest_pending;
}

static inline void write_slot(dd_bucket *b, int i, uint8_t tag, const dd_key *k, uint64_t expiry) {
  set_expiry(b, i, 0);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  b->key[i][0] = k->k[0];
  b->key[i][1] = k->k[1];
  b->tag[i] = tag;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  set_expiry(b, i, expiry);
}

/* Pipelining: hash a chunk of keys and prefetch their buckets before touching any. */
#define DD_CHUNK 16

static inline void prefetch_bucket(const dd_bucket *b) {
  const uint8_t *p = (const uint8_t *)b;
  __builtin_prefetch(p, 1, 3);
  __builtin_prefetch(p + 64, 1, 3);
  __builtin_prefetch(p + 128, 1, 3);
  __builtin_prefetch(p + 192, 1, 3);
  __builtin_prefetch(p + 256, 1, 3);
}

void dd_claim_batch(dd_table *t, const dd_key *keys, size_t n, uint64_t now, uint64_t window_ms,
                    uint64_t lease_ms, uint8_t *out) {
  uint64_t hs[DD_CHUNK];
  uint64_t expiry = lease_ms ? ((now + lease_ms) | DD_PENDING) : (now + window_ms);
  for (size_t base = 0; base < n; base += DD_CHUNK) {
    size_t m = n - base < DD_CHUNK ? n - base : DD_CHUNK;
    for (size_t j = 0; j < m; j++) {
      hs[j] = key_hash(t, &keys[base + j]);
      prefetch_bucket(bucket_at(t, hs[j]));
    }
    for (size_t j = 0; j < m; j++) {
      const dd_key *k = &keys[base + j];
      dd_bucket *b = bucket_at(t, hs[j]);
      uint8_t tag = tag_of(hs[j]);
      uint8_t r;
      bucket_lock(t, b);
      int i = find_live(b, tag, k, now);
      if (i >= 0) {
        r = (b->expiry[i] & DD_PENDING) ? DD_IN_FLIGHT : DD_DUPLICATE;
      } else {
        write_slot(b, pick_slot(t, b, now, window_ms), tag, k, expiry);
        r = DD_NEW;
      }
      bucket_unlock(b);
      if (r == DD_IN_FLIGHT) {
        /* An id repeated within this batch is a plain duplicate: its first copy is in this
         * very batch and is acknowledged (or failed) with it. */
        for (size_t q = 0; q < base + j; q++) {
          if (out[q] == DD_NEW && keys[q].k[0] == k->k[0] && keys[q].k[1] == k->k[1]) {
            r = DD_DUPLICATE;
            break;
          }
        }
      }
      out[base + j] = r;
      if (r == DD_NEW) t->c.fresh++;
      else if (r == DD_DUPLICATE) t->c.duplicates++;
      else t->c.in_flight++;
    }
  }
  t->c.claims += n;
}

size_t dd_commit_batch(dd_table *t, const dd_key *keys, size_t n, const uint8_t *mask, uint64_t now,
                       uint64_t window_ms) {
  size_t late = 0;
  uint64_t expiry = now + window_ms;
  uint64_t hs[DD_CHUNK];
  for (size_t base = 0; base < n; base += DD_CHUNK) {
    size_t m = n - base < DD_CHUNK ? n - base : DD_CHUNK;
    for (size_t j = 0; j < m; j++) {
      hs[j] = key_hash(t, &keys[base + j]);
      if (!mask || mask[base + j]) prefetch_bucket(bucket_at(t, hs[j]));
    }
    for (size_t j = 0; j < m; j++) {
      if (mask && !mask[base + j]) continue;
      const dd_key *k = &keys[base + j];
      dd_bucket *b = bucket_at(t, hs[j]);
      uint8_t tag = tag_of(hs[j]);
      bucket_lock(t, b);
      int i = find_live(b, tag, k, now);
      if (i >= 0) {
        if (b->expiry[i] & DD_PENDING) set_expiry(b, i, expiry);
      } else {
        /* The lease ran out (or the entry was evicted) before the commit: the event is
         * written now, so remember it for the window all the same. */
        write_slot(b, pick_slot(t, b, now, window_ms), tag, k, expiry);
        late++;
      }
      bucket_unlock(b);
      t->c.commits++;
    }
  }
  t->c.late_commits += late;
  return late;
}

size_t dd_release_batch(dd_table *t, const dd_key *keys, size_t n, const uint8_t *mask, uint64_t now) {
  size_t released = 0;
  uint64_t hs[DD_CHUNK];
  for (size_t base = 0; base < n; base += DD_CHUNK) {
    size_t m = n - base < DD_CHUNK ? n - base : DD_CHUNK;
    for (size_t j = 0; j < m; j++) {
      hs[j] = key_hash(t, &keys[base + j]);
      if (!mask || mask[base + j]) prefetch_bucket(bucket_at(t, hs[j]));
    }
    for (size_t j = 0; j < m; j++) {
      if (mask && !mask[base + j]) continue;
      dd_bucket *b = bucket_at(t, hs[j]);
      bucket_lock(t, b);
      int i = find_live(b, tag_of(hs[j]), &keys[base + j], now);
      if (i >= 0) {
        set_expiry(b, i, 0);
        released++;
      }
      bucket_unlock(b);
    }
  }
  t->c.releases += released;
  return released;
}

void dd_sample_stats(const dd_table *t, uint64_t now, uint64_t max_buckets, dd_sample *out) {
  uint64_t nb = t->nb_mask + 1;
  uint64_t step = (max_buckets == 0 || max_buckets >= nb) ? 1 : nb / max_buckets;
  memset(out, 0, sizeof *out);
  for (uint64_t bi = 0; bi < nb; bi += step) {
    const dd_bucket *b = (const dd_bucket *)(t->buckets + bi * DD_BUCKET_BYTES);
    for (unsigned i = 0; i < DD_BUCKET_SLOTS; i++) {
      uint64_t e = __atomic_load_n(&b->expiry[i], __ATOMIC_RELAXED);
      if ((e & DD_TIME_MASK) > now) {
        out->live++;
        if (e & DD_PENDING) out->pending++;
      }
    }
    out->sampled_slots += DD_BUCKET_SLOTS;
  }
}

/* ---------------------------------------------------------------- file */

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t random_seed(void) {
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s = fmix64((uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_sec);
  }
  return s;
}

static uint64_t file_bytes_for(uint64_t capacity) {
  return DD_HEADER_BYTES + (capacity / DD_BUCKET_SLOTS) * DD_BUCKET_BYTES;
}

/* Why the mapped file is not usable for `capacity`, or NULL if it is. */
static const char *incompatible(const uint8_t *base, uint64_t size, uint64_t capacity) {
  const dd_header *h = (const dd_header *)base;
  if (size < DD_HEADER_BYTES) return "file shorter than the header";
  if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != DD_MAGIC) return "bad magic (not a dedup table, or its creator died initialising it)";
  if (h->version != DD_VERSION) return "layout version differs";
  if (h->header_bytes != DD_HEADER_BYTES || h->bucket_slots != DD_BUCKET_SLOTS ||
      h->bucket_bytes != DD_BUCKET_BYTES)
    return "layout constants differ";
  if (h->capacity != capacity) return "capacity differs";
  if (h->nbuckets != capacity / DD_BUCKET_SLOTS || h->file_bytes != size || size != file_bytes_for(capacity))
    return "size does not match the header";
  return NULL;
}

/* Size, zero and map a freshly created (or truncated) file, then write its header. */
static int init_file(int fd, uint64_t capacity, uint8_t **base_out, char *err, size_t err_len) {
  uint64_t bytes = file_bytes_for(capacity);
  if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)bytes) != 0) {
    snprintf(err, err_len, "ftruncate(%llu): %s", (unsigned long long)bytes, strerror(errno));
    return -1;
  }
  /* Reserve the pages now: on tmpfs a full /dev/shm then fails here with ENOSPC instead
   * of killing a process with SIGBUS on its first write to an unbacked page. */
  int rc = posix_fallocate(fd, 0, (off_t)bytes);
  if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
    snprintf(err, err_len, "posix_fallocate(%llu): %s", (unsigned long long)bytes, strerror(rc));
    return -1;
  }
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    snprintf(err, err_len, "mmap(%llu): %s", (unsigned long long)bytes, strerror(errno));
    return -1;
  }
  dd_header *h = (dd_header *)p;
  h->version = DD_VERSION;
  h->header_bytes = DD_HEADER_BYTES;
  h->bucket_slots = DD_BUCKET_SLOTS;
  h->bucket_bytes = DD_BUCKET_BYTES;
  h->capacity = capacity;
  h->nbuckets = capacity / DD_BUCKET_SLOTS;
  h->file_bytes = bytes;
  h->created_at_ms = wall_ms();
  h->seed = random_seed();
  h->creator_pid = (uint32_t)getpid();
  __atomic_store_n(&h->magic, DD_MAGIC, __ATOMIC_RELEASE);
  *base_out = (uint8_t *)p;
  return 0;
}

static void fill_table(dd_table *t, uint8_t *base) {
  const dd_header *h = (const dd_header *)base;
  memset(t, 0, sizeof *t);
  t->base = base;
  t->map_bytes = h->file_bytes;
  t->buckets = base + DD_HEADER_BYTES;
  t->nb_mask = h->nbuckets - 1;
  t->capacity = h->capacity;
  t->seed = h->seed;
  t->created_at_ms = h->created_at_ms;
  t->lock_id = shm_lock_self();
  t->c.min_eviction_age_ms = UINT64_MAX;
}

int dd_open(const char *path, uint64_t capacity, dd_table *t, int *created, char *reason,
            size_t reason_len, char *err, size_t err_len) {
  *created = 0;
  if (reason_len) reason[0] = 0;
  if (capacity < DD_MIN_CAPACITY || capacity > DD_MAX_CAPACITY || (capacity & (capacity - 1)) != 0) {
    snprintf(err, err_len, "capacity must be a power of two in [%llu, %llu], got %llu",
             (unsigned long long)DD_MIN_CAPACITY, (unsigned long long)DD_MAX_CAPACITY,
             (unsigned long long)capacity);
    return -1;
  }
  for (int attempt = 0; attempt < 100; attempt++) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      snprintf(err, err_len, "open(%s): %s", path, strerror(errno));
      return -1;
    }
    /* Initialisation and replacement happen under an exclusive flock of the file; the
     * kernel drops it if its holder dies, so a crash mid-initialisation blocks nobody. */
    while (flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        snprintf(err, err_len, "flock(%s): %s", path, strerror(errno));
        close(fd);
        return -1;
      }
    }
    struct stat fst, pst;
    if (fstat(fd, &fst) != 0) {
      snprintf(err, err_len, "fstat(%s): %s", path, strerror(errno));
      close(fd);
      return -1;
    }
    if (stat(path, &pst) != 0 || pst.st_ino != fst.st_ino || pst.st_dev != fst.st_dev) {
      close(fd); /* replaced (or removed) while we waited for the lock: start over */
      continue;
    }
    uint8_t *base = NULL;
    uint64_t size = (uint64_t)fst.st_size;
    if (size == 0) {
      if (init_file(fd, capacity, &base, err, err_len) != 0) {
        close(fd);
        unlink(path);
        return -1;
      }
      *created = 1;
    } else {
      void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) {
        snprintf(err, err_len, "mmap(%s, %llu): %s", path, (unsigned long long)size, strerror(errno));
        close(fd);
        return -1;
      }
      const char *why = incompatible((const uint8_t *)p, size, capacity);
      if (!why) {
        base = (uint8_t *)p;
      } else {
        munmap(p, size);
        /* Build the replacement aside and rename it over the path while still holding
         * the old file's lock. Processes still attached to the old file keep their
         * mapping (never truncated under them: no SIGBUS), they just stop sharing with
         * newcomers until they reopen. */
        snprintf(reason, reason_len, "%s", why);
        char tmp[4096];
        int n = snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
        if (n < 0 || (size_t)n >= sizeof tmp) {
          snprintf(err, err_len, "path too long: %s", path);
          close(fd);
          return -1;
        }
        int nfd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (nfd < 0) {
          snprintf(err, err_len, "open(%s): %s", tmp, strerror(errno));
          close(fd);
          return -1;
        }
        if (init_file(nfd, capacity, &base, err, err_len) != 0) {
          close(nfd);
          unlink(tmp);
          close(fd);
          return -1;
        }
        if (rename(tmp, path) != 0) {
          snprintf(err, err_len, "rename(%s, %s): %s", tmp, path, strerror(errno));
          munmap(base, file_bytes_for(capacity));
          close(nfd);
          unlink(tmp);
          close(fd);
          return -1;
        }
        if (fstat(nfd, &fst) != 0) memset(&fst, 0, sizeof fst);
        close(nfd);
        *created = 1;
      }
    }
    /* Unlock explicitly: the mapping holds a reference to this open file description,
     * so close() alone would keep the flock until munmap. */
    flock(fd, LOCK_UN);
    close(fd);
    fill_table(t, base);
    t->dev = (uint64_t)fst.st_dev; /* fst: the file now mapped (the replacement, if one was made) */
    t->ino = (uint64_t)fst.st_ino;
    return 0;
  }
  snprintf(err, err_len, "open(%s): the file kept being replaced while opening it", path);
  return -1;
}

void dd_close(dd_table *t) {
  if (t->base) munmap(t->base, t->map_bytes);
  t->base = NULL;
  t->buckets = NULL;
}
