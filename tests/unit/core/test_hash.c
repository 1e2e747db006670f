/* Unit tests: core/hash (table and hash functions). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "core/hash.h"
#include "core/mem.h"

struct user {
	struct hash_entry he;
	char name[24];
	unsigned id;
	bool removed;
};

static bool user_match(const struct hash_entry *e, const void *key)
{
	return strcmp(HASH_OBJ(e, struct user, he)->name, key) == 0;
}

static bool user_match_ci(const struct hash_entry *e, const void *key)
{
	return strcasecmp(HASH_OBJ(e, struct user, he)->name, key) == 0;
}

static struct user *user_find(struct hash *h, const char *name)
{
	struct hash_entry *e = hash_lookup(h, hash_str(name), user_match, name);

	return e ? HASH_OBJ(e, struct user, he) : NULL;
}

enum { NUSERS = 1000000 };

static void test_hash_million(void **state)
{
	struct user *u = calloc(NUSERS, sizeof(*u));
	struct hash *h = NULL;
	size_t buckets_before;
	char key[24];

	(void)state;
	assert_non_null(u);
	assert_int_equal(hash_alloc(&h, 0), 0);
	buckets_before = hash_buckets(h);
	for (unsigned i = 0; i < NUSERS; i++) {
		snprintf(u[i].name, sizeof(u[i].name), "user%u@ims.test", i);
		u[i].id = i;
		hash_insert(h, &u[i].he, hash_str(u[i].name));
		/* Spot checks while growth is in progress. */
		if ((i & 0xffff) == 0)
			assert_ptr_equal(user_find(h, u[i / 2].name), &u[i / 2]);
	}
	assert_int_equal(hash_count(h), NUSERS);
	assert_true(hash_buckets(h) > buckets_before);
	for (unsigned i = 0; i < NUSERS; i++)
		assert_ptr_equal(user_find(h, u[i].name), &u[i]);
	assert_null(user_find(h, "nobody@ims.test"));
	/* Remove the odd ones, check both halves. */
	for (unsigned i = 1; i < NUSERS; i += 2)
		hash_remove(h, &u[i].he);
	assert_int_equal(hash_count(h), NUSERS / 2);
	for (unsigned i = 0; i < NUSERS; i++) {
		snprintf(key, sizeof(key), "user%u@ims.test", i);
		if (i & 1)
			assert_null(user_find(h, key));
		else
			assert_ptr_equal(user_find(h, key), &u[i]);
	}
	for (unsigned i = 0; i < NUSERS; i += 2)
		hash_remove(h, &u[i].he);
	assert_int_equal(hash_count(h), 0);
	assert_null(user_find(h, u[0].name));
	mem_deref(h);
	free(u);
}

static void test_hash_growth_hint(void **state)
{
	struct user u[100];
	struct hash *h = NULL;
	size_t b;

	(void)state;
	assert_int_equal(hash_alloc(NULL, 0), EINVAL);
	assert_int_equal(hash_alloc(&h, 100), 0);
	b = hash_buckets(h);
	assert_true(b >= 100);
	for (unsigned i = 0; i < 100; i++) {
		snprintf(u[i].name, sizeof(u[i].name), "b%u", i);
		hash_insert(h, &u[i].he, hash_str(u[i].name));
	}
	assert_int_equal(hash_buckets(h), b); /* sized by hint: no growth */
	for (unsigned i = 0; i < 100; i++)
		assert_ptr_equal(user_find(h, u[i].name), &u[i]);
	mem_deref(h);
}

static void test_hash_iter_remove(void **state)
{
	enum { N = 4200 };
	struct user *u = calloc(N, sizeof(*u));
	struct hash *h = NULL;
	struct hash_iter it;
	struct hash_entry *e;
	unsigned seen = 0, removed = 0;

	(void)state;
	assert_non_null(u);
	assert_int_equal(hash_alloc(&h, 0), 0);
	/* Stop part-way through a growth so the iterator walks both arrays. */
	for (unsigned i = 0; i < N; i++) {
		snprintf(u[i].name, sizeof(u[i].name), "it%u", i);
		u[i].id = i;
		hash_insert(h, &u[i].he, hash_str(u[i].name));
	}
	/* 4096 old + 8192 new buckets: the move is still in progress. */
	assert_int_equal(hash_buckets(h), 4096 + 8192);
	hash_iter_init(&it, h);
	while ((e = hash_iter_next(&it)) != NULL) {
		struct user *x = HASH_OBJ(e, struct user, he);

		assert_false(x->removed); /* each entry once */
		seen++;
		if (x->id % 3 == 0) {
			hash_remove(h, e);
			x->removed = true;
			removed++;
		} else {
			x->removed = true; /* mark as seen */
		}
	}
	assert_int_equal(seen, N);
	assert_int_equal(hash_count(h), N - removed);
	for (unsigned i = 0; i < N; i++) {
		struct user *x = user_find(h, u[i].name);

		assert_true(u[i].removed);
		if (i % 3 == 0)
			assert_null(x);
		else
			assert_ptr_equal(x, &u[i]);
	}
	/* Empty the table through the iterator. */
	hash_iter_init(&it, h);
	while ((e = hash_iter_next(&it)) != NULL)
		hash_remove(h, e);
	assert_int_equal(hash_count(h), 0);
	hash_iter_init(&it, h);
	assert_null(hash_iter_next(&it));
	mem_deref(h);
	free(u);
}

static void test_hash_case_insensitive(void **state)
{
	struct user a = {.name = "Alice@IMS.Example"};
	struct user b = {.name = "bob@ims.example"};
	struct hash *h = NULL;
	struct hash_entry *e;

	(void)state;
	assert_int_equal(hash_alloc(&h, 0), 0);
	hash_insert(h, &a.he, hash_str_ci(a.name));
	hash_insert(h, &b.he, hash_str_ci(b.name));
	e = hash_lookup(h, hash_str_ci("alice@ims.example"), user_match_ci,
			"alice@ims.example");
	assert_ptr_equal(e, &a.he);
	e = hash_lookup(h, hash_str_ci("BOB@IMS.EXAMPLE"), user_match_ci,
			"BOB@IMS.EXAMPLE");
	assert_ptr_equal(e, &b.he);
	/* Case-sensitive match callback rejects a same-hash other-case key. */
	e = hash_lookup(h, hash_str_ci("BOB@IMS.EXAMPLE"), user_match, "BOB@IMS.EXAMPLE");
	assert_null(e);
	assert_int_equal(hash_bytes_ci("AbC-xyZ_0123456789", 18),
			 hash_bytes("abc-xyz_0123456789", 18));
	assert_int_equal(hash_str_ci("ABC"), hash_str("abc"));
	/* Only ASCII letters fold: '@' (0x40) and '`' (0x60) differ. */
	assert_int_not_equal(hash_str_ci("@"), hash_str_ci("`"));
	assert_int_not_equal(hash_str("ABC"), hash_str("abc"));
	mem_deref(h);
}

static void test_hash_duplicates(void **state)
{
	struct user u[3] = {{.name = "dup"}, {.name = "dup"}, {.name = "dup"}};
	struct hash *h = NULL;
	struct hash_entry *e;
	unsigned n = 0, mask = 0;

	(void)state;
	assert_int_equal(hash_alloc(&h, 0), 0);
	for (unsigned i = 0; i < 3; i++) {
		u[i].id = i;
		hash_insert(h, &u[i].he, hash_str("dup"));
	}
	for (e = hash_lookup(h, hash_str("dup"), user_match, "dup"); e;
	     e = hash_lookup_next(h, e, user_match, "dup")) {
		mask |= 1u << HASH_OBJ(e, struct user, he)->id;
		n++;
	}
	assert_int_equal(n, 3);
	assert_int_equal(mask, 7);
	hash_remove(h, &u[1].he);
	assert_int_equal(hash_count(h), 2);
	mem_deref(h);
}

/* Vectors from the SipHash paper / reference code: key 00..0f, message
 * 00 01 .. (n-1). */
static void test_hash_siphash_vectors(void **state)
{
	static const uint64_t want[] = {
	    0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL,
	    0x85676696d7fb7e2dULL, 0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
	};
	uint8_t key[16], msg[16];

	(void)state;
	for (unsigned i = 0; i < 16; i++)
		key[i] = msg[i] = (uint8_t)i;
	for (unsigned n = 0; n < sizeof(want) / sizeof(want[0]); n++)
		assert_int_equal(hash_siphash24(key, msg, n), want[n]);
	assert_int_equal(hash_siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);
	/* The keyed process hash is deterministic within a run. */
	assert_int_equal(hash_bytes(msg, 15), hash_bytes(msg, 15));
	assert_int_not_equal(hash_bytes(msg, 15), hash_bytes(msg, 14));
	assert_int_equal(hash_bytes(NULL, 0), hash_bytes("", 0));
	assert_int_not_equal(hash_u64(1), hash_u64(2));
}

/* hash_mix: deterministic within the process, and aligned pointers (low
 * bits all zero) still spread over the buckets: 65,536 keys 64 bytes apart
 * into 1,024 buckets land within a loose bound of the uniform 64 each. */
static void test_hash_mix_spread(void **state)
{
	static unsigned bucket[1024];
	unsigned max = 0;

	(void)state;
	assert_int_equal(hash_mix(12345), hash_mix(12345));
	assert_true(hash_mix(1) != hash_mix(2));
	for (uint64_t i = 0; i < 65536; i++)
		bucket[hash_mix(0x7f0000000000ULL + i * 64) & 1023]++;
	for (size_t b = 0; b < 1024; b++)
		max = bucket[b] > max ? bucket[b] : max;
	assert_true(max < 128);
}

static uint64_t acc2(const char *a, const char *b, bool ci)
{
	struct hash_acc acc;

	hash_acc_init(&acc);
	hash_acc_word(&acc, strlen(a) | (uint64_t)strlen(b) << 32);
	hash_acc_data(&acc, a, strlen(a), ci);
	hash_acc_data(&acc, b, strlen(b), ci);
	return hash_acc_end(&acc);
}

/* hash_acc: deterministic, every field counts, the field boundary counts
 * (lengths first), ci folds case only where asked. */
static void test_hash_acc(void **state)
{
	(void)state;
	assert_int_equal(acc2("z9hG4bKx", "host.a", true),
			 acc2("z9hG4bKx", "host.a", true));
	assert_int_equal(acc2("z9hG4bKx", "HOST.A", true),
			 acc2("Z9HG4BKX", "host.a", true));
	assert_int_not_equal(acc2("z9hG4bKx", "HOST.A", false),
			     acc2("z9hG4bKx", "host.a", false));
	assert_int_not_equal(acc2("z9hG4bKx", "host.a", true),
			     acc2("z9hG4bKx", "host.b", true));
	assert_int_not_equal(acc2("ab", "c", false), acc2("a", "bc", false));
	/* a field of exactly 8 bytes and one longer */
	assert_int_not_equal(acc2("12345678", "", false), acc2("123456789", "", false));
	assert_int_not_equal(acc2("", "", false), acc2("x", "", false));
}

/* hash_bytes_ci lowers ASCII letters only, every byte value at every
 * position of a word and of a tail: equal to hash_bytes of the string
 * lowered byte by byte. */
static void test_hash_ci_bytes(void **state)
{
	uint8_t a[11], b[11];

	(void)state;
	for (unsigned v = 0; v < 256; v++) {
		for (unsigned pos = 0; pos < sizeof(a); pos++) {
			for (unsigned i = 0; i < sizeof(a); i++)
				a[i] = (uint8_t)("xYz@[`{AZaz"[i]);
			a[pos] = (uint8_t)v;
			for (unsigned i = 0; i < sizeof(a); i++)
				b[i] = a[i] >= 'A' && a[i] <= 'Z' ? (uint8_t)(a[i] + 32) : a[i];
			assert_int_equal(hash_bytes_ci(a, sizeof(a)), hash_bytes(b, sizeof(b)));
		}
	}
}

/* hash_lookup_same counts the non-matching entries of the same hash value
 * it walks; hash_chain_len counts the bucket. */
static void test_hash_lookup_same(void **state)
{
	struct user u[5] = {{.name = "k1"},
			    {.name = "k2"},
			    {.name = "k3"},
			    {.name = "k4"},
			    {.name = "other"}};
	struct hash *h = NULL;
	size_t same = 99;
	uint64_t hv = hash_str("k");

	(void)state;
	assert_int_equal(hash_alloc(&h, 0), 0);
	for (unsigned i = 0; i < 4; i++)
		hash_insert(h, &u[i].he, hv); /* four keys sharing one value */
	hash_insert(h, &u[4].he, hash_str("other"));
	assert_null(hash_lookup_same(h, hv, user_match, "k9", &same));
	assert_int_equal(same, 4);
	assert_non_null(hash_lookup_same(h, hv, user_match, "k1", &same));
	assert_true(same <= 3);
	assert_non_null(
	    hash_lookup_same(h, hash_str("other"), user_match, "other", &same));
	assert_int_equal(same, 0);
	assert_true(hash_chain_len(h, hv) >= 4);
	assert_int_equal(hash_chain_len(NULL, hv), 0);
	mem_deref(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hash_million),
	    cmocka_unit_test(test_hash_growth_hint),
	    cmocka_unit_test(test_hash_iter_remove),
	    cmocka_unit_test(test_hash_case_insensitive),
	    cmocka_unit_test(test_hash_duplicates),
	    cmocka_unit_test(test_hash_siphash_vectors),
	    cmocka_unit_test(test_hash_mix_spread),
	    cmocka_unit_test(test_hash_acc),
	    cmocka_unit_test(test_hash_ci_bytes),
	    cmocka_unit_test(test_hash_lookup_same),
	};

	return cmocka_run_group_tests_name("hash", tests, NULL, NULL);
}
