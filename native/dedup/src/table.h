/*
 * Cross-process event_id dedup table in a shared-memory file.
 *
 * File layout (all little/native endian, one host only):
 *
 *   [0, 4096)            header (dd_header, rest zero)
 *   [4096, 4096 + nb*832) nb buckets of DD_BUCKET_SLOTS slots, nb a power of two
 *
 * Bucket (832 bytes = 13 cache lines):
 *   +0    u64 lock         0 = free, else (pid << 32 | tid) of the holder
 *   +8    u8  tag[32]      8 bits of the key's hash per slot (filter before the key compare)
 *   +40   pad to 64
 *   +64   u64 expiry[32]   ms since the Unix epoch; a slot is live iff (expiry & DD_TIME_MASK) > now.
 *                          bit 63 (DD_PENDING) = claimed but not yet committed (lease mode)
 *   +320  u64 key[32][2]   the 128-bit key
 *
 * Every read or write of a bucket happens under its lock (a CAS on the lock word), so
 * two processes claiming the same key are serialised on that key's bucket: exactly one
 * of them inserts it. The lock (native/common/shm_lock.h) names its holder's pid and tid;
 * a waiter that finds the holder dead steals it. Writes are ordered expiry=0, key, tag,
 * expiry so a holder killed mid-write leaves no live slot with a half-written key.
 */
#ifndef EVC_DEDUP_TABLE_H
#define EVC_DEDUP_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define DD_MAGIC 0x5055444443564545ULL /* "EEVCDDUP" read little-endian */
#define DD_VERSION 1u
#define DD_HEADER_BYTES 4096u
#define DD_BUCKET_SLOTS 32u
#define DD_BUCKET_BYTES 832u
#define DD_MIN_CAPACITY 32ULL
#define DD_MAX_CAPACITY (1ULL << 32)
#define DD_PENDING (1ULL << 63)
#define DD_TIME_MASK (~DD_PENDING)
#define DD_MAX_TIME (1ULL << 52) /* ms; year ~144,000; rejects garbage */

enum dd_claim { DD_DUPLICATE = 0, DD_NEW = 1, DD_IN_FLIGHT = 2 };
enum dd_commit { DD_COMMIT_ALREADY = 0, DD_COMMIT_OK = 1, DD_COMMIT_LATE = 2 };

typedef struct {
  uint64_t magic;          /* written last, after the rest of the file is initialised */
  uint32_t version;
  uint32_t header_bytes;
  uint32_t bucket_slots;
  uint32_t bucket_bytes;
  uint64_t capacity;       /* slots */
  uint64_t nbuckets;
  uint64_t file_bytes;
  uint64_t created_at_ms;
  uint64_t seed;           /* random per file: bucket placement is not predictable */
  uint32_t creator_pid;
  uint32_t reserved0;
} dd_header;

typedef struct {
  uint64_t claims, fresh, duplicates, in_flight;
  uint64_t commits, late_commits, releases;
  uint64_t evictions, evicted_pending;
  uint64_t last_eviction_age_ms; /* window - remaining life of the last committed entry evicted */
  uint64_t min_eviction_age_ms;  /* smallest such age seen (UINT64_MAX: none) */
  uint64_t lock_contended, lock_steals;
} dd_counters;

typedef struct {
  uint8_t *base;
  size_t map_bytes;
  uint8_t *buckets;
  uint64_t nb_mask;
  uint64_t capacity;
  uint64_t seed;
  uint64_t created_at_ms;
  uint64_t lock_id;
  uint64_t dev, ino; /* of the file mapped: a later stat() of the path that differs means it was replaced */
  dd_counters c; /* this process's handle only */
} dd_table;

typedef struct {
  uint64_t k[2];
} dd_key;

/* Open or create the table at `path`. On success returns 0 and fills *t; `*created`
 * tells whether this call initialised a new file and `reason` (when recreating an
 * existing file) why the old one was replaced. On failure returns -1 and writes a
 * message to `err`. */
int dd_open(const char *path, uint64_t capacity, dd_table *t, int *created, char *reason,
            size_t reason_len, char *err, size_t err_len);
void dd_close(dd_table *t);

/* Keys: a canonical UUID text (8-4-4-4-12 hex, any case) maps to its 128 bits; any
 * other byte string to MurmurHash3_x64_128 of its bytes. */
void dd_key_of(const char *s, size_t len, dd_key *out);
int dd_parse_uuid(const char *s, size_t len, uint8_t out[16]);

/* Batch operations. `mask` (may be NULL) selects which keys take part (mask[i] != 0). */
void dd_claim_batch(dd_table *t, const dd_key *keys, size_t n, uint64_t now, uint64_t window_ms,
                    uint64_t lease_ms, uint8_t *out);
size_t dd_commit_batch(dd_table *t, const dd_key *keys, size_t n, const uint8_t *mask, uint64_t now,
                       uint64_t window_ms);
size_t dd_release_batch(dd_table *t, const dd_key *keys, size_t n, const uint8_t *mask, uint64_t now);

typedef struct {
  uint64_t sampled_slots, live, pending;
} dd_sample;
void dd_sample_stats(const dd_table *t, uint64_t now, uint64_t max_buckets, dd_sample *out);

#endif
