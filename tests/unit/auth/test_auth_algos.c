/*
 * Unit tests: auth/milenage, auth/keccak, auth/tuak, auth/xor_alg, auth/aka,
 * auth/sqn, auth/auth_codec. Published vectors: TS 35.208 (MILENAGE),
 * TS 35.233 (TUAK); XOR and extra MILENAGE/AUTS vectors as noted per test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "auth/aka.h"
#include "auth/auth_codec.h"
#include "auth/keccak.h"
#include "auth/milenage.h"
#include "auth/sqn.h"
#include "auth/tuak.h"
#include "auth/xor_alg.h"

#include "vectors_milenage.h"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

static size_t hx(const char *s, uint8_t *out, size_t size)
{
	size_t n = 0;

	assert_int_equal(auth_hex_decode(s, strlen(s), out, size, &n), 0);
	return n;
}

static void assert_hex(const uint8_t *got, size_t len, const char *want)
{
	char buf[AUTH_HEX_SIZE(64)];

	assert_true(len <= 64);
	auth_hex_encode(got, len, buf);
	assert_string_equal(buf, want);
}

static void test_milenage_ts35208(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEM(milenage_tvs); i++) {
		const struct milenage_tv *t = &milenage_tvs[i];
		uint8_t k[16], rand[16], sqn[6], amf[2], op[16], opc[16];
		uint8_t mac_a[8], mac_s[8], res[8], ck[16], ik[16], ak[6], akstar[6];

		hx(t->k, k, 16);
		hx(t->rand, rand, 16);
		hx(t->sqn, sqn, 6);
		hx(t->amf, amf, 2);
		hx(t->op, op, 16);
		assert_int_equal(milenage_opc_derive(k, op, opc), 0);
		assert_hex(opc, 16, t->opc);
		assert_int_equal(milenage_f1(k, opc, rand, sqn, amf, mac_a, mac_s), 0);
		assert_hex(mac_a, 8, t->f1);
		assert_hex(mac_s, 8, t->f1star);
		assert_int_equal(milenage_f2345(k, opc, rand, res, ck, ik, ak, akstar), 0);
		assert_hex(res, 8, t->f2);
		assert_hex(ck, 16, t->f3);
		assert_hex(ik, 16, t->f4);
		assert_hex(ak, 6, t->f5);
		assert_hex(akstar, 6, t->f5star);
	}
}

/* The thread's AES context keeps the last K: calls alternating between the
 * keys of two test sets (and repeating one) must each give their own set's
 * outputs, never the previous key's. */
static void test_milenage_key_switch(void **state)
{
	static const size_t order[] = {0, 1, 1, 0, 2, 0, 2, 2, 1};

	(void)state;
	for (size_t j = 0; j < N_ELEM(order); j++) {
		const struct milenage_tv *t = &milenage_tvs[order[j]];
		uint8_t k[16], rand[16], sqn[6], amf[2], opc[16], mac_a[8], res[8];

		hx(t->k, k, 16);
		hx(t->rand, rand, 16);
		hx(t->sqn, sqn, 6);
		hx(t->amf, amf, 2);
		hx(t->opc, opc, 16);
		assert_int_equal(
		    milenage_f2345(k, opc, rand, res, NULL, NULL, NULL, NULL), 0);
		assert_hex(res, 8, t->f2);
		assert_int_equal(milenage_f1(k, opc, rand, sqn, amf, mac_a, NULL), 0);
		assert_hex(mac_a, 8, t->f1);
	}
}

/* A second, independent source: a USIM test harness printing MILENAGE
 * outputs for K=000102..0f, OP=00112233..ff, RAND=34.., SQN=1, AMF=8000. */
static void test_milenage_extra(void **state)
{
	uint8_t k[16], op[16], opc[16], rand[16], sqn[6] = {0, 0, 0, 0, 0, 1};
	uint8_t amf[2] = {0x80, 0}, mac_a[8], mac_s[8], res[8], ck[16], ik[16], ak[6], aks[6];

	(void)state;
	hx("000102030405060708090a0b0c0d0e0f", k, 16);
	hx("00112233445566778899aabbccddeeff", op, 16);
	memset(rand, 0x34, 16);
	assert_int_equal(milenage_opc_derive(k, op, opc), 0);
	assert_hex(opc, 16, "69d5c2eb2e2e624750541d3bbc692ba5");
	assert_int_equal(milenage_f1(k, opc, rand, sqn, amf, mac_a, mac_s), 0);
	assert_hex(mac_a, 8, "a02a7a551c231b71");
	assert_hex(mac_s, 8, "8ca69991023b0c73");
	assert_int_equal(milenage_f2345(k, opc, rand, res, ck, ik, ak, aks), 0);
	assert_hex(res, 8, "cfb44bd0a69c5ce8");
	assert_hex(ck, 16, "1bcbe84cef792e5701a6fce3d9fc436d");
	assert_hex(ik, 16, "694030c637934d8833b418928d9eea73");
	assert_hex(ak, 6, "5f8f3fbc884b");
	assert_hex(aks, 6, "c268b9669787");
}

/* Keccak-f[1600] checked against OpenSSL's SHA3/SHAKE, which run the same
 * permutation: one padded block, one permutation, read the rate. */
static void sha3_one_block(const uint8_t *msg, size_t len, size_t rate, uint8_t dsep,
			   uint8_t *out, size_t outlen)
{
	uint8_t st[KECCAK_STATE_SIZE] = {0};

	assert_true(len < rate);
	memcpy(st, msg, len);
	st[len] ^= dsep;
	st[rate - 1] ^= 0x80;
	keccak_f1600(st);
	memcpy(out, st, outlen);
}

static void test_keccak_vs_openssl(void **state)
{
	uint8_t msg[100], mine[32], ref[32];
	unsigned rlen = 0;

	(void)state;
	for (size_t len = 0; len < sizeof(msg); len += 7) {
		for (size_t i = 0; i < len; i++)
			msg[i] = (uint8_t)(i * 37 + len);
		sha3_one_block(msg, len, 136, 0x06, mine, 32);
		assert_int_equal(EVP_Digest(msg, len, ref, &rlen, EVP_sha3_256(), NULL), 1);
		assert_memory_equal(mine, ref, 32);
	}
	/* SHA3-256("") published value (FIPS 202 examples). */
	sha3_one_block(msg, 0, 136, 0x06, mine, 32);
	assert_hex(mine, 32, "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
}

static void test_tuak_ts35233(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEM(tuak_tvs); i++) {
		const struct tuak_tv *t = &tuak_tvs[i];
		uint8_t k[32], rand[16], sqn[6], amf[2], top[32], topc[32];
		uint8_t mac[32], res[32], ck[32], ik[32], ak[6], aks[6];
		struct tuak_prm prm;
		size_t klen;

		klen = hx(t->k, k, 32);
		hx(t->rand, rand, 16);
		hx(t->sqn, sqn, 6);
		hx(t->amf, amf, 2);
		hx(t->top, top, 32);
		prm.mac_len = strlen(t->f1) / 2;
		prm.res_len = strlen(t->f2) / 2;
		prm.ck_len = strlen(t->f3) / 2;
		prm.ik_len = strlen(t->f4) / 2;
		prm.iterations = t->iterations;
		assert_int_equal(tuak_prm_check(&prm), 0);
		assert_int_equal(tuak_topc_derive(k, klen, top, t->iterations, topc), 0);
		assert_hex(topc, 32, t->topc);
		assert_int_equal(tuak_f1(k, klen, topc, &prm, rand, sqn, amf, 0, mac), 0);
		assert_hex(mac, prm.mac_len, t->f1);
		assert_int_equal(tuak_f1(k, klen, topc, &prm, rand, sqn, amf, 1, mac), 0);
		assert_hex(mac, prm.mac_len, t->f1star);
		assert_int_equal(tuak_f2345(k, klen, topc, &prm, rand, res, ck, ik, ak), 0);
		assert_hex(res, prm.res_len, t->f2);
		assert_hex(ck, prm.ck_len, t->f3);
		assert_hex(ik, prm.ik_len, t->f4);
		assert_hex(ak, 6, t->f5);
		assert_int_equal(tuak_f5star(k, klen, topc, &prm, rand, aks), 0);
		assert_hex(aks, 6, t->f5star);
	}
}

static void test_tuak_bad_prm(void **state)
{
	uint8_t k[32] = {0}, topc[32] = {0}, rand[16] = {0}, out[32];
	struct tuak_prm prm;

	(void)state;
	tuak_prm_default(&prm);
	assert_int_equal(tuak_f2345(k, 20, topc, &prm, rand, out, NULL, NULL, NULL), EINVAL);
	prm.res_len = 5;
	assert_int_equal(tuak_f2345(k, 16, topc, &prm, rand, out, NULL, NULL, NULL), EINVAL);
	tuak_prm_default(&prm);
	prm.iterations = 0;
	assert_int_equal(tuak_topc_derive(k, 16, topc, 0, out), EINVAL);
	assert_int_equal(tuak_f5star(k, 16, topc, &prm, rand, out), EINVAL);
}

/* TS 34.108 §8.1.2 with the default test K (§8.2); the expected outputs are
 * those printed by an independent XOR implementation for the same inputs
 * (and follow by hand from XDOUT = 34353637303132333c3d3e3f38393a3b). */
static void test_xor_alg(void **state)
{
	uint8_t k[16], rand[16], sqn[6] = {0, 0, 0, 0, 0, 1}, amf[2] = {0x80, 0};
	uint8_t mac[8], res[16], ck[16], ik[16], ak[6];

	(void)state;
	hx("000102030405060708090a0b0c0d0e0f", k, 16);
	memset(rand, 0x34, 16);
	xor_alg_f1(k, rand, sqn, amf, mac);
	assert_hex(mac, 8, "343536373030b233");
	assert_int_equal(xor_alg_f2345(k, rand, res, 8, ck, ik, ak), 0);
	assert_hex(res, 8, "3435363730313233");
	assert_hex(ck, 16, "353637303132333c3d3e3f38393a3b34");
	assert_hex(ik, 16, "3637303132333c3d3e3f38393a3b3435");
	assert_hex(ak, 6, "37303132333c");
	assert_int_equal(xor_alg_f2345(k, rand, res, 16, NULL, NULL, NULL), 0);
	assert_hex(res, 16, "34353637303132333c3d3e3f38393a3b");
	assert_int_equal(xor_alg_f2345(k, rand, res, 3, NULL, NULL, NULL), EINVAL);
	assert_int_equal(xor_alg_f2345(k, rand, res, 17, NULL, NULL, NULL), EINVAL);
}

static void cred_milenage_set1(struct aka_cred *c)
{
	const struct milenage_tv *t = &milenage_tvs[0];

	aka_cred_init(c, AKA_ALGO_MILENAGE);
	hx(t->k, c->k, 16);
	hx(t->opc, c->opc, 16);
	hx(t->amf, c->amf, 2);
}

/* AUTN = (SQN xor AK) || AMF || MAC-A built from set 1's f1/f5. */
static void test_aka_vector_milenage(void **state)
{
	struct aka_cred c;
	struct aka_vector av, ue;
	uint8_t rand[16], op[16], opc2[16];

	(void)state;
	cred_milenage_set1(&c);
	hx(milenage_tvs[0].rand, rand, 16);
	assert_int_equal(aka_vector_generate(&c, rand, 0xff9bb4d0b607ULL, &av), 0);
	assert_int_equal(av.autn_len, 16);
	/* ff9bb4d0b607 xor aa689c648370 = 55f328b43577 */
	assert_hex(av.autn, 16, "55f328b43577b9b94a9ffac354dfafb3");
	assert_hex(av.xres, av.xres_len, milenage_tvs[0].f2);
	assert_hex(av.ck, av.ck_len, milenage_tvs[0].f3);
	assert_hex(av.ik, av.ik_len, milenage_tvs[0].f4);
	assert_hex(av.ak, 6, milenage_tvs[0].f5);
	/* The UE side recovers SQN and the same keys. */
	assert_int_equal(aka_autn_check(&c, rand, av.autn, av.autn_len, &ue), 0);
	assert_true(ue.sqn == 0xff9bb4d0b607ULL);
	assert_memory_equal(ue.xres, av.xres, 8);
	/* A flipped MAC bit, or the wrong key, fails with EACCES. */
	av.autn[15] ^= 1;
	assert_int_equal(aka_autn_check(&c, rand, av.autn, av.autn_len, &ue), EACCES);
	av.autn[15] ^= 1;
	c.k[0] ^= 0x80;
	assert_int_equal(aka_autn_check(&c, rand, av.autn, av.autn_len, &ue), EACCES);
	assert_int_equal(aka_autn_check(&c, rand, av.autn, 15, &ue), EINVAL);
	/* OPc derivation through the credential API. */
	cred_milenage_set1(&c);
	hx(milenage_tvs[0].op, op, 16);
	memcpy(opc2, c.opc, 16);
	memset(c.opc, 0, 16);
	assert_int_equal(aka_cred_set_op(&c, op, 16), 0);
	assert_memory_equal(c.opc, opc2, 16);
	assert_int_equal(aka_cred_set_op(&c, op, 32), EINVAL);
	aka_cred_wipe(&c);
}

/* AUTS vectors from hostap's MILENAGE test (set 19 credentials): a USIM
 * answer for SQN_MS = 1, and one captured from a real test USIM. */
static void test_aka_auts_published(void **state)
{
	const struct milenage_tv *t = &milenage_tvs[18];
	struct aka_cred c;
	uint8_t rand[16], auts[14];
	uint64_t sqn_ms = 0;

	(void)state;
	aka_cred_init(&c, AKA_ALGO_MILENAGE);
	hx(t->k, c.k, 16);
	hx(t->opc, c.opc, 16);
	hx(t->rand, rand, 16);
	hx("4f2039392ddd4bb4316ed4a14688", auts, 14);
	assert_int_equal(aka_auts_verify(&c, rand, auts, 14, &sqn_ms), 0);
	assert_true(sqn_ms == 1);
	memset(rand, 0xaa, 16);
	hx("43681ad3daf006bcde405a207267", auts, 14);
	assert_int_equal(aka_auts_verify(&c, rand, auts, 14, &sqn_ms), 0);
	auts[13] ^= 0x01;
	assert_int_equal(aka_auts_verify(&c, rand, auts, 14, &sqn_ms), EACCES);
	assert_int_equal(aka_auts_verify(&c, rand, auts, 13, &sqn_ms), EINVAL);
}

/* Round trip: the UE builds AUTS from a chosen SQN_MS, the HSS recovers it. */
static void auts_roundtrip(struct aka_cred *c)
{
	static const uint64_t sqns[] = {0, 1, 0x20, 0xff9bb4d0b607ULL, SQN_MAX, 0x123456789abcULL};
	uint8_t rand[16], auts[AKA_AUTS_MAX];
	size_t len = 0;
	uint64_t got;

	for (size_t i = 0; i < N_ELEM(sqns); i++) {
		memset(rand, (int)(0x11 * (i + 1)), 16);
		rand[0] = (uint8_t)i;
		assert_int_equal(aka_auts_build(c, rand, sqns[i], auts, &len), 0);
		assert_int_equal(len, aka_auts_len(c));
		got = ~0ULL;
		assert_int_equal(aka_auts_verify(c, rand, auts, len, &got), 0);
		assert_true(got == sqns[i]);
		/* MAC-S must not verify under another RAND (byte 5 so that it
		 * also reaches the XOR algorithm's MAC and AK) */
		rand[5] ^= 0x40;
		assert_int_equal(aka_auts_verify(c, rand, auts, len, &got), EACCES);
	}
}

static void test_aka_auts_roundtrip(void **state)
{
	struct aka_cred c;

	(void)state;
	cred_milenage_set1(&c);
	auts_roundtrip(&c);
	/* TUAK, 256-bit K and MAC (AUTS is 6 + 32 bytes) */
	aka_cred_init(&c, AKA_ALGO_TUAK);
	c.k_len = hx(tuak_tvs[2].k, c.k, 32);
	hx(tuak_tvs[2].topc, c.opc, 32);
	c.tuak.mac_len = 32;
	auts_roundtrip(&c);
	assert_int_equal(aka_auts_len(&c), 38);
	/* XOR */
	aka_cred_init(&c, AKA_ALGO_XOR);
	hx("000102030405060708090a0b0c0d0e0f", c.k, 16);
	auts_roundtrip(&c);
	aka_cred_wipe(&c);
}

/* TUAK vector through the aka API, checked against TS 35.233 set 4. */
static void test_aka_vector_tuak(void **state)
{
	const struct tuak_tv *t = &tuak_tvs[3];
	struct aka_cred c;
	struct aka_vector av, ue;
	uint8_t rand[16], top[32], sqn[6];

	(void)state;
	aka_cred_init(&c, AKA_ALGO_TUAK);
	c.k_len = hx(t->k, c.k, 32);
	hx(t->top, top, 32);
	hx(t->amf, c.amf, 2);
	hx(t->rand, rand, 16);
	hx(t->sqn, sqn, 6);
	c.tuak.mac_len = 16;
	c.tuak.res_len = 16;
	assert_int_equal(aka_cred_set_op(&c, top, 32), 0);
	assert_hex(c.opc, 32, t->topc);
	assert_int_equal(aka_vector_generate(&c, rand, sqn_from_bytes(sqn), &av), 0);
	assert_int_equal(av.autn_len, 24);
	assert_hex(av.autn + 8, 16, t->f1);
	assert_hex(av.xres, av.xres_len, t->f2);
	assert_int_equal(aka_autn_check(&c, rand, av.autn, av.autn_len, &ue), 0);
	assert_true(ue.sqn == sqn_from_bytes(sqn));
	aka_cred_wipe(&c);
}

static void test_aka_cred_check(void **state)
{
	struct aka_cred c;
	enum aka_algo a;

	(void)state;
	aka_cred_init(&c, AKA_ALGO_MILENAGE);
	c.k_len = 32;
	assert_int_equal(aka_cred_check(&c), EINVAL);
	aka_cred_init(&c, AKA_ALGO_XOR);
	c.xor_res_len = 2;
	assert_int_equal(aka_cred_check(&c), EINVAL);
	assert_int_equal(aka_algo_from_str("TUAK", &a), 0);
	assert_int_equal(a, AKA_ALGO_TUAK);
	assert_int_equal(aka_algo_from_str("comp128", &a), EINVAL);
}

static void test_sqn(void **state)
{
	struct sqn_ms ms;
	uint64_t next;
	uint8_t b[6];

	(void)state;
	assert_true(sqn_make(5, 3) == (5 << 5 | 3));
	assert_true(sqn_seq(0x1234567) == (0x1234567 >> 5));
	assert_int_equal(sqn_ind(0x1234567), 0x07);
	sqn_to_bytes(0xff9bb4d0b607ULL, b);
	assert_hex(b, 6, "ff9bb4d0b607");
	assert_true(sqn_from_bytes(b) == 0xff9bb4d0b607ULL);
	/* HSS: SEQ + 1, caller's IND; resync = restart from SQN_MS. */
	assert_int_equal(sqn_he_next(sqn_make(41, 7), 2, &next), 0);
	assert_true(next == sqn_make(42, 2));
	assert_int_equal(sqn_he_next(sqn_make(SQN_SEQ_MAX, 0), 0, &next), ERANGE);
	assert_int_equal(sqn_he_next(0, 32, &next), EINVAL);
	/* USIM freshness (Annex C.2.2). */
	sqn_ms_init(&ms, sqn_make(100, 4), 0);
	assert_false(sqn_ms_is_fresh(&ms, sqn_make(100, 4))); /* replay */
	assert_false(sqn_ms_is_fresh(&ms, sqn_make(99, 1)));  /* older */
	assert_true(sqn_ms_is_fresh(&ms, sqn_make(101, 1)));
	sqn_ms_accept(&ms, sqn_make(105, 1));
	assert_true(ms.highest == sqn_make(105, 1));
	/* IND slots are independent: 103 is still fresh on IND 2, not on 1. */
	assert_true(sqn_ms_is_fresh(&ms, sqn_make(103, 2)));
	assert_false(sqn_ms_is_fresh(&ms, sqn_make(103, 1)));
	sqn_ms_accept(&ms, sqn_make(103, 2));
	assert_true(ms.highest == sqn_make(105, 1));
	/* Beyond the DELTA window: refused, forcing a resync. */
	assert_true(sqn_ms_is_fresh(&ms, sqn_make(105 + SQN_DELTA_DEFAULT, 3)));
	assert_false(sqn_ms_is_fresh(&ms, sqn_make(106 + SQN_DELTA_DEFAULT, 3)));
	sqn_ms_init(&ms, 0, 10);
	assert_false(sqn_ms_is_fresh(&ms, sqn_make(11, 0)));
	assert_true(sqn_ms_is_fresh(&ms, sqn_make(10, 0)));
}

/* The full resync story of the field note: HSS ahead/behind, UE rejects,
 * sends AUTS, HSS recovers SQN_MS and the next vector is accepted. */
static void test_sqn_resync_flow(void **state)
{
	struct aka_cred c;
	struct aka_vector av, ue;
	struct sqn_ms ms;
	uint8_t rand[16], auts[AKA_AUTS_MAX];
	uint64_t sqn_he = sqn_make(10, 0), sqn_ms_got = 0, next;
	size_t len;

	(void)state;
	cred_milenage_set1(&c);
	sqn_ms_init(&ms, sqn_make(500, 3), 0); /* the USIM has seen more */
	memset(rand, 0x5a, 16);
	assert_int_equal(sqn_he_next(sqn_he, 0, &next), 0);
	assert_int_equal(aka_vector_generate(&c, rand, next, &av), 0);
	assert_int_equal(aka_autn_check(&c, rand, av.autn, av.autn_len, &ue), 0);
	assert_false(sqn_ms_is_fresh(&ms, ue.sqn));
	assert_int_equal(aka_auts_build(&c, rand, ms.highest, auts, &len), 0);
	assert_int_equal(aka_auts_verify(&c, rand, auts, len, &sqn_ms_got), 0);
	assert_true(sqn_ms_got == sqn_make(500, 3));
	sqn_he = sqn_ms_got;
	assert_int_equal(sqn_he_next(sqn_he, 0, &next), 0);
	assert_true(sqn_seq(next) == 501);
	memset(rand, 0x77, 16);
	assert_int_equal(aka_vector_generate(&c, rand, next, &av), 0);
	assert_int_equal(aka_autn_check(&c, rand, av.autn, av.autn_len, &ue), 0);
	assert_true(sqn_ms_is_fresh(&ms, ue.sqn));
	aka_cred_wipe(&c);
}

static void test_codec(void **state)
{
	uint8_t b[32];
	char s[AUTH_B64_SIZE(32)];
	size_t n = 0;

	(void)state;
	assert_int_equal(auth_hex_decode("0aFf", 4, b, sizeof(b), &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(b[0], 0x0a);
	assert_int_equal(b[1], 0xff);
	assert_int_equal(auth_hex_decode("abc", 3, b, sizeof(b), &n), EBADMSG);
	assert_int_equal(auth_hex_decode("zz", 2, b, sizeof(b), &n), EBADMSG);
	assert_int_equal(auth_hex_decode("0011", 4, b, 1, &n), EOVERFLOW);
	assert_int_equal(auth_hex_decode_exact("0011", 4, b, 3), EBADMSG);
	/* RFC 4648 §10 test vectors */
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					  "Zm9vYmFy"};
	for (size_t i = 0; i < N_ELEM(plain); i++) {
		auth_b64_encode((const uint8_t *)plain[i], strlen(plain[i]), s);
		assert_string_equal(s, enc[i]);
		assert_int_equal(auth_b64_decode(enc[i], strlen(enc[i]), b, sizeof(b), &n), 0);
		assert_int_equal(n, strlen(plain[i]));
		assert_memory_equal(b, plain[i], n);
	}
	assert_int_equal(auth_b64_decode("Zg=", 3, b, sizeof(b), &n), EBADMSG);
	assert_int_equal(auth_b64_decode("Zh==", 4, b, sizeof(b), &n), EBADMSG); /* pad bits */
	assert_int_equal(auth_b64_decode("Z===", 4, b, sizeof(b), &n), EBADMSG);
	assert_int_equal(auth_b64_decode("Zg==Zg==", 8, b, sizeof(b), &n), EBADMSG);
	assert_int_equal(auth_b64_decode("Zm9v", 4, b, 2, &n), EOVERFLOW);
	assert_int_equal(auth_b64_decode("Zm 9", 4, b, sizeof(b), &n), EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_milenage_ts35208),
		cmocka_unit_test(test_milenage_key_switch),
		cmocka_unit_test(test_milenage_extra),
		cmocka_unit_test(test_keccak_vs_openssl),
		cmocka_unit_test(test_tuak_ts35233),
		cmocka_unit_test(test_tuak_bad_prm),
		cmocka_unit_test(test_xor_alg),
		cmocka_unit_test(test_aka_vector_milenage),
		cmocka_unit_test(test_aka_auts_published),
		cmocka_unit_test(test_aka_auts_roundtrip),
		cmocka_unit_test(test_aka_vector_tuak),
		cmocka_unit_test(test_aka_cred_check),
		cmocka_unit_test(test_sqn),
		cmocka_unit_test(test_sqn_resync_flow),
		cmocka_unit_test(test_codec),
	};

	return cmocka_run_group_tests_name("auth_algos", tests, NULL, NULL);
}
