/*
 * core/hash — intrusive hash table with incremental growth, SipHash keys.
 *
 * Layout: tab[0] is the current bucket array; while a growth is in
 * progress tab[1] is the previous, half-sized one. Old buckets below
 * `rehash` have been moved to tab[0]; an entry whose old bucket index is at
 * or above `rehash` still lives in tab[1]. Every entry therefore has exactly
 * one place, found from its hash value alone (hash_slot), and lookups visit
 * one bucket. Only hash_insert moves entries, so removal during iteration
 * never shifts anything under the iterator.
 */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/mem.h"

enum {
	HASH_MIN_BUCKETS = 16,
	/* Old bucket indexes visited per insert while growing. The table
	 * doubles when count exceeds the bucket count, so at least
	 * old_size inserts separate two growths; visiting >= 1 index per
	 * insert is enough, 8 finishes well before. */
	HASH_REHASH_STEP = 8,
};

struct hash {
	struct hash_entry **tab[2]; /* owned */
	size_t size[2];		    /* powers of two */
	size_t rehash;		    /* next old bucket to move */
	size_t count;
};

static struct hash_entry **hash_slot(const struct hash *h, uint64_t hv)
{
	if (h->tab[1]) {
		size_t i = hv & (h->size[1] - 1);

		if (i >= h->rehash)
			return &h->tab[1][i];
	}
	return &h->tab[0][hv & (h->size[0] - 1)];
}

static void hash_destroy(void *data)
{
	struct hash *h = data;

	free(h->tab[0]);
	free(h->tab[1]);
}

int hash_alloc(struct hash **hp, size_t hint)
{
	struct hash *h;
	size_t n = HASH_MIN_BUCKETS;

	if (!hp)
		return EINVAL;
	while (n < hint && n <= SIZE_MAX / 4 / sizeof(void *))
		n *= 2;
	h = mem_zalloc(sizeof(*h), hash_destroy);
	if (!h)
		return ENOMEM;
	h->tab[0] = calloc(n, sizeof(*h->tab[0]));
	if (!h->tab[0]) {
		mem_deref(h);
		return ENOMEM;
	}
	h->size[0] = n;
	*hp = h;
	return 0;
}

/* Moves one old bucket's chain into tab[0]. */
static void hash_move_bucket(struct hash *h, size_t i)
{
	struct hash_entry *e = h->tab[1][i];

	h->tab[1][i] = NULL;
	while (e) {
		struct hash_entry *next = e->next;
		struct hash_entry **b = &h->tab[0][e->hv & (h->size[0] - 1)];

		e->next = *b;
		*b = e;
		e = next;
	}
}

static void hash_rehash_steps(struct hash *h, size_t steps)
{
	while (h->tab[1] && steps-- > 0) {
		hash_move_bucket(h, h->rehash);
		/* Advance only after the move: hash_slot must keep sending
		 * this bucket's entries to tab[1] until they are gone. */
		h->rehash++;
		if (h->rehash == h->size[1]) {
			free(h->tab[1]);
			h->tab[1] = NULL;
			h->size[1] = 0;
			h->rehash = 0;
		}
	}
}

static void hash_grow(struct hash *h)
{
	struct hash_entry **nt;
	size_t n;

	if (h->tab[1])
		hash_rehash_steps(h, SIZE_MAX); /* finish the previous one */
	if (h->size[0] > SIZE_MAX / 4 / sizeof(void *))
		return;
	n = h->size[0] * 2;
	nt = calloc(n, sizeof(*nt));
	if (!nt)
		return; /* stay at this size; retried on a later insert */
	h->tab[1] = h->tab[0];
	h->size[1] = h->size[0];
	h->rehash = 0;
	h->tab[0] = nt;
	h->size[0] = n;
}

void hash_insert(struct hash *h, struct hash_entry *e, uint64_t hv)
{
	struct hash_entry **b;

	assert(h && e);
	hash_rehash_steps(h, HASH_REHASH_STEP);
	if (h->count >= h->size[0])
		hash_grow(h);
	e->hv = hv;
	b = hash_slot(h, hv);
	e->next = *b;
	*b = e;
	h->count++;
}

void hash_remove(struct hash *h, struct hash_entry *e)
{
	struct hash_entry **pp;

	assert(h && e);
	for (pp = hash_slot(h, e->hv); *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			e->next = NULL;
			h->count--;
			return;
		}
	}
	assert(!"hash_remove: entry not in table");
}

static struct hash_entry *hash_chain_find(struct hash_entry *e, uint64_t hv,
					  hash_match_h *match, const void *key)
{
	for (; e; e = e->next) {
		if (e->hv == hv && match(e, key))
			return e;
	}
	return NULL;
}

struct hash_entry *hash_lookup(const struct hash *h, uint64_t hv, hash_match_h *match,
			       const void *key)
{
	if (!h || !match)
		return NULL;
	return hash_chain_find(*hash_slot(h, hv), hv, match, key);
}

struct hash_entry *hash_lookup_next(const struct hash *h, const struct hash_entry *prev,
				    hash_match_h *match, const void *key)
{
	if (!h || !prev || !match)
		return NULL;
	return hash_chain_find(prev->next, prev->hv, match, key);
}

struct hash_entry *hash_lookup_same(const struct hash *h, uint64_t hv,
				    hash_match_h *match, const void *key, size_t *same)
{
	struct hash_entry *e;
	size_t n = 0;

	if (!h || !match) {
		*same = 0;
		return NULL;
	}
	for (e = *hash_slot(h, hv); e; e = e->next) {
		if (e->hv != hv)
			continue;
		if (match(e, key))
			break;
		n++;
	}
	*same = n;
	return e;
}

size_t hash_chain_len(const struct hash *h, uint64_t hv)
{
	size_t n = 0;

	if (!h)
		return 0;
	for (const struct hash_entry *e = *hash_slot(h, hv); e; e = e->next)
		n++;
	return n;
}

size_t hash_count(const struct hash *h)
{
	return h ? h->count : 0;
}

size_t hash_buckets(const struct hash *h)
{
	return h ? h->size[0] + h->size[1] : 0;
}

void hash_iter_init(struct hash_iter *it, struct hash *h)
{
	memset(it, 0, sizeof(*it));
	it->h = h;
}

struct hash_entry *hash_iter_next(struct hash_iter *it)
{
	struct hash_entry *e = it->next;
	struct hash *h = it->h;

	while (!e && h && it->tab < 2) {
		if (!h->tab[it->tab] || it->bucket >= h->size[it->tab]) {
			it->tab++;
			it->bucket = 0;
			continue;
		}
		e = h->tab[it->tab][it->bucket++];
	}
	/* Saved now, so the caller may remove e before the next call. */
	it->next = e ? e->next : NULL;
	return e;
}

/* ---- SipHash (Aumasson & Bernstein, "SipHash: a fast short-input PRF") */

static inline uint64_t rotl64(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

struct sip {
	uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = rotl64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl64(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl64(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl64(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl64(s->v2, 32);
}

static inline void sip_compress(struct sip *s, uint64_t m, unsigned c)
{
	s->v3 ^= m;
	for (unsigned i = 0; i < c; i++)
		sip_round(s);
	s->v0 ^= m;
}

/* ASCII A-Z of the eight bytes of m lowered at once (SWAR): per byte,
 * bit 7 of h + 0x3f says h >= 'A', of h + 0x25 says h > 'Z' (h, the low
 * seven bits, so that no sum carries into the next byte); a byte with bit
 * 7 set is not ASCII and stays. */
static inline uint64_t ascii_lower8(uint64_t m)
{
	const uint64_t hi = 0x8080808080808080ULL;
	uint64_t h = m & ~hi;
	uint64_t upper = ((h + 0x3f3f3f3f3f3f3f3fULL) ^ (h + 0x2525252525252525ULL)) & ~m & hi;

	return m | upper >> 2;
}

/* Little-endian load of n (<= 8) bytes, lowercased when ci. */
static inline uint64_t sip_load(const uint8_t *p, size_t n, bool ci)
{
	uint64_t m = 0;

	if (n == 8) {
		memcpy(&m, p, 8);
		m = le64toh(m);
	} else {
		for (size_t i = 0; i < n; i++)
			m |= (uint64_t)p[i] << (8 * i);
	}
	return ci ? ascii_lower8(m) : m;
}

static uint64_t siphash(const uint64_t k[2], unsigned c, unsigned d, const void *data,
			size_t len, bool ci)
{
	/* "" for NULL: even NULL + 0 is undefined behaviour. */
	const uint8_t *p = data ? data : (const void *)"";
	struct sip s = {
	    .v0 = k[0] ^ 0x736f6d6570736575ULL,
	    .v1 = k[1] ^ 0x646f72616e646f6dULL,
	    .v2 = k[0] ^ 0x6c7967656e657261ULL,
	    .v3 = k[1] ^ 0x7465646279746573ULL,
	};
	size_t full = len & ~(size_t)7;
	uint64_t b;

	for (size_t i = 0; i < full; i += 8)
		sip_compress(&s, sip_load(p + i, 8, ci), c);
	b = sip_load(p + full, len - full, ci) | ((uint64_t)len << 56);
	sip_compress(&s, b, c);
	s.v2 ^= 0xff;
	for (unsigned i = 0; i < d; i++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

static uint64_t hash_key[2];
static pthread_once_t hash_key_once = PTHREAD_ONCE_INIT;

static void hash_key_init(void)
{
	uint8_t k[16];
	struct timespec ts;

	if (getrandom(k, sizeof(k), GRND_NONBLOCK) == (ssize_t)sizeof(k)) {
		memcpy(hash_key, k, sizeof(k));
		return;
	}
	/* No entropy yet (very early boot): still unpredictable enough to
	 * differ per run, which is all the table needs to stay balanced
	 * against keys chosen in advance. */
	clock_gettime(CLOCK_REALTIME, &ts);
	hash_key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec;
	hash_key[1] =
	    (uint64_t)getpid() * 0xc2b2ae3d27d4eb4fULL ^ (uint64_t)(uintptr_t)&ts;
}

static const uint64_t *hash_key_get(void)
{
	pthread_once(&hash_key_once, hash_key_init);
	return hash_key;
}

uint64_t hash_bytes(const void *p, size_t len)
{
	return siphash(hash_key_get(), 1, 3, p, len, false);
}

uint64_t hash_bytes_ci(const void *p, size_t len)
{
	return siphash(hash_key_get(), 1, 3, p, len, true);
}

uint64_t hash_str(const char *s)
{
	return hash_bytes(s, strlen(s));
}

uint64_t hash_str_ci(const char *s)
{
	return hash_bytes_ci(s, strlen(s));
}

uint64_t hash_u64(uint64_t v)
{
	uint64_t le = htole64(v);

	return hash_bytes(&le, sizeof(le));
}

uint64_t hash_mix(uint64_t v)
{
	const uint64_t *k = hash_key_get();

	/* MurmurHash3's 64-bit finaliser over v ^ key: every input bit
	 * reaches every output bit, in a handful of instructions. */
	v ^= k[0];
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	v *= 0xc4ceb9fe1a85ec53ULL;
	v ^= v >> 33;
	return v ^ k[1];
}

void hash_acc_init(struct hash_acc *a)
{
	const uint64_t *k = hash_key_get();

	a->v[0] = k[0] ^ 0x736f6d6570736575ULL;
	a->v[1] = k[1] ^ 0x646f72616e646f6dULL;
	a->v[2] = k[0] ^ 0x6c7967656e657261ULL;
	a->v[3] = k[1] ^ 0x7465646279746573ULL;
	a->words = 0;
}

static inline void acc_compress(struct hash_acc *a, uint64_t m)
{
	struct sip s = {a->v[0], a->v[1], a->v[2], a->v[3]};

	sip_compress(&s, m, 1);
	a->v[0] = s.v0;
	a->v[1] = s.v1;
	a->v[2] = s.v2;
	a->v[3] = s.v3;
	a->words++;
}

void hash_acc_word(struct hash_acc *a, uint64_t w)
{
	acc_compress(a, w);
}

void hash_acc_data(struct hash_acc *a, const void *p, size_t len, bool ci)
{
	const uint8_t *b = p;
	size_t full = len & ~(size_t)7;

	if (!len)
		return;
	for (size_t i = 0; i < full; i += 8)
		acc_compress(a, sip_load(b + i, 8, ci));
	if (len > full)
		acc_compress(a, sip_load(b + full, len - full, ci));
}

uint64_t hash_acc_end(struct hash_acc *a)
{
	struct sip s = {a->v[0], a->v[1], a->v[2], a->v[3]};

	/* the word count closes the input, as SipHash's length byte does */
	sip_compress(&s, a->words, 1);
	s.v2 ^= 0xff;
	for (unsigned i = 0; i < 3; i++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t hash_siphash24(const uint8_t key[16], const void *p, size_t len)
{
	uint64_t k[2];

	memcpy(k, key, 16);
	k[0] = le64toh(k[0]);
	k[1] = le64toh(k[1]);
	return siphash(k, 2, 4, p, len, false);
}
