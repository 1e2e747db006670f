/*
 * core/hash — intrusive hash tables and keyed hash functions.
 *
 * For the big indexes of the server: users by IMPI/IMPU/IMSI (a million
 * entries), transactions by branch, dialogs by Call-ID. The object embeds a
 * `struct hash_entry` (next pointer and hash value), so inserting costs no
 * allocation; the table only owns its bucket arrays. It grows by doubling
 * when it holds more entries than buckets, and moves the old buckets to the
 * new array a few at a time on later inserts (incremental rehash), so no
 * single insert stalls the loop thread for a full copy of a million entries.
 * It never shrinks.
 *
 * Keys are hashed with SipHash-1-3 under a random per-process key: the keys
 * (Call-IDs, branches, user names) come from the network, and a keyed hash
 * keeps an attacker from building colliding keys that turn lookups linear.
 *
 * Not thread-safe: one table belongs to one thread (normally the loop
 * thread). The hash functions themselves may be called from any thread.
 */
#ifndef CORE_HASH_H
#define CORE_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embedded in the object; owned by the table while the object is in it. */
struct hash_entry {
	struct hash_entry *next;
	uint64_t hv;
};

/* The object holding entry `e`, whose hash_entry member is `member`. */
#define HASH_OBJ(e, type, member) ((type *)(void *)((char *)(e)-offsetof(type, member)))

struct hash;

/* True when the object of `e` has the key `key` (whatever the caller means
 * by key: a struct pl, a string, an id). */
typedef bool(hash_match_h)(const struct hash_entry *e, const void *key);

/* hint: expected entry count (0 for a small start); sizes the first bucket
 * array so that a table filled to `hint` never rehashes. Free with
 * mem_deref(); the entries still in it are not touched. */
int hash_alloc(struct hash **hp, size_t hint);

/* Adds e with hash value hv. Never fails: if growing the bucket array runs
 * out of memory, the table keeps its size and tries again on a later
 * insert. Duplicate keys are allowed (see hash_lookup_next). */
void hash_insert(struct hash *h, struct hash_entry *e, uint64_t hv);
/* Removes e, which must be in h. O(1) on average (walks one bucket). */
void hash_remove(struct hash *h, struct hash_entry *e);
/* First entry with hash value hv for which match(e, key) is true. */
struct hash_entry *hash_lookup(const struct hash *h, uint64_t hv, hash_match_h *match,
			       const void *key);
/* Next entry after `prev` (returned by a lookup) with the same key. */
struct hash_entry *hash_lookup_next(const struct hash *h, const struct hash_entry *prev,
				    hash_match_h *match, const void *key);
/* hash_lookup that also tells, in *same, how many entries with hash value
 * hv it passed that did not match (on a miss: all of them). A table whose
 * hash covers every field its match compares sees such entries only from
 * 64-bit collisions or from keys that differ in a field left out of the
 * hash: a caller bounds them before inserting one more (sip_tsx). */
struct hash_entry *hash_lookup_same(const struct hash *h, uint64_t hv,
				    hash_match_h *match, const void *key, size_t *same);
size_t hash_count(const struct hash *h);
size_t hash_buckets(const struct hash *h); /* bucket slots, for stats */
/* Entries in the bucket hv falls in: what a lookup of hv walks (tests, and
 * bounds on what a peer's keys can make a lookup cost). */
size_t hash_chain_len(const struct hash *h, uint64_t hv);

/* Iteration in no particular order. Removing the entry just returned (with
 * hash_remove) is allowed; inserting, or removing any other entry, during
 * an iteration is not. Fields are private. */
struct hash_iter {
	struct hash *h;
	unsigned tab;
	size_t bucket;
	struct hash_entry *next;
};

void hash_iter_init(struct hash_iter *it, struct hash *h);
struct hash_entry *hash_iter_next(struct hash_iter *it);

/* ---- hash functions (SipHash-1-3, random key per process) ---- */

uint64_t hash_bytes(const void *p, size_t len);
/* Same as hash_bytes over the ASCII-lowercased bytes: "Alice" and "aLICE"
 * hash alike (for case-insensitive keys such as host names). */
uint64_t hash_bytes_ci(const void *p, size_t len);
uint64_t hash_str(const char *s);
uint64_t hash_str_ci(const char *s);
/* For integer keys (ids, IMSI as a number); SipHash, so unpredictable
 * enough for tags and identifiers that go on the wire. */
uint64_t hash_u64(uint64_t v);
/* For table keys that are pointers or local counters, never chosen by a
 * peer: a keyed bit mixer, about 20 times cheaper than hash_u64. Not a
 * PRF: never for values sent on the wire. */
uint64_t hash_mix(uint64_t v);
/*
 * A key made of several fields hashed as one (SipHash-1-3 compression under
 * the process key, as hash_bytes): init, then words and field data in a
 * fixed order, then end. hash_acc_data hashes ceil(len/8) words, the last
 * one zero-padded; it does not hash len, so the caller puts every field's
 * length in a word before the data (the sequence must decode from its
 * start, or ("ab", "c") and ("a", "bc") would collide). ci lowercases ASCII
 * letters, for fields compared case-insensitively.
 */
struct hash_acc {
	uint64_t v[4]; /* private */
	uint64_t words;
};
void hash_acc_init(struct hash_acc *a);
void hash_acc_word(struct hash_acc *a, uint64_t w);
void hash_acc_data(struct hash_acc *a, const void *p, size_t len, bool ci);
uint64_t hash_acc_end(struct hash_acc *a);

/* Standard SipHash-2-4 with an explicit 16-byte key (test vectors, and
 * callers that need a stable keyed digest). */
uint64_t hash_siphash24(const uint8_t key[16], const void *p, size_t len);

#endif
