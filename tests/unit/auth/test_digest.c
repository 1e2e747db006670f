/*
 * Unit tests: auth/digest. RFC 2617 §3.5 (Mufasa) is the published vector.
 * RFC 3310 and RFC 4169 give no computed responses, so the AKA vectors below
 * were derived independently with Python's hashlib/hmac (nothing from this
 * code base), from TS 35.208 set 1 (RES/CK/IK and AUTN for SQN ff9bb4d0b607):
 *
 *   res=bytes.fromhex("a54211d5e3ba50bf"); ck=...b40ba9a3...; ik=...f769bcd7...
 *   pw2 = base64(hmac.new(res+ik+ck, b"http-digest-akav2-password", md5|sha256))
 *   ha1 = H(user:realm:pw); ha2 = H(method:uri[:H(body)])
 *   response = H(ha1:nonce:nc:cnonce:qop:ha2)    (or H(ha1:nonce:ha2))
 * with user "user@ims.example", realm "ims.example", REGISTER sip:ims.example,
 * nc 00000001, cnonce 0a4f113b.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/auth_codec.h"
#include "auth/digest.h"

#define AKA_NONCE "I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M="

static const uint8_t res1[8] = {0xa5, 0x42, 0x11, 0xd5, 0xe3, 0xba, 0x50, 0xbf};
static uint8_t ck1[16], ik1[16];

static int setup(void **state)
{
	size_t n;

	(void)state;
	auth_hex_decode("b40ba9a3c58b2a05bbf0d987b21bf8cb", 32, ck1, 16, &n);
	auth_hex_decode("f769bcd751044604127672711c6d3441", 32, ik1, 16, &n);
	return 0;
}

static struct pl pls(const char *s)
{
	return pl_from_str(s);
}

/* RFC 2617 §3.5's example request */
static struct digest_prm mufasa(void)
{
	return (struct digest_prm){
	    .algo = DIGEST_ALGO_MD5,
	    .qop = DIGEST_QOP_AUTH,
	    .username = PL("Mufasa"),
	    .realm = PL("testrealm@host.com"),
	    .password = PL("Circle Of Life"),
	    .method = PL("GET"),
	    .uri = PL("/dir/index.html"),
	    .nonce = PL("dcd98b7102dd2f0e8b11d0f600bfb0c093"),
	    .cnonce = PL("0a4f113b"),
	    .nc = PL("00000001"),
	};
}

static void test_rfc2617_mufasa(void **state)
{
	struct digest_prm p = mufasa();
	char out[DIGEST_HEX_SIZE];

	(void)state;
	assert_int_equal(digest_response_calc(&p, out), 0);
	assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
	assert_true(digest_response_verify(&p, PL("6629fae49393a05397450978507c4ef1")));
	assert_true(digest_response_verify(&p, PL("6629FAE49393A05397450978507C4EF1")));
	assert_false(digest_response_verify(&p, PL("6629fae49393a05397450978507c4ef0")));
	assert_false(digest_response_verify(&p, PL("6629fae49393a05397450978507c4ef")));
	assert_false(digest_response_verify(&p, PL("")));
	/* MD5-sess (derived with hashlib, see header) */
	p.algo = DIGEST_ALGO_MD5_SESS;
	assert_int_equal(digest_response_calc(&p, out), 0);
	assert_string_equal(out, "8e3825c57e897f5a0dec6c2d4e5059d0");
	/* qop needs cnonce and nc */
	p.algo = DIGEST_ALGO_MD5;
	p.cnonce = (struct pl)PL_INIT;
	assert_int_equal(digest_response_calc(&p, out), EINVAL);
}

/* H(A2) is kept per thread for the last (method, uri): a change of either,
 * of one byte at the same length, or of the hash gives the right answer. */
static void test_ha2_memo(void **state)
{
	struct digest_prm p = mufasa();
	char out[DIGEST_HEX_SIZE], other[DIGEST_HEX_SIZE];
	char uri[] = "/dir/index.html";

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(digest_response_calc(&p, out), 0);
		assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
	}
	p.uri = pl_from_str(uri);
	uri[1] = 'D'; /* same length, same address, one byte changed */
	assert_int_equal(digest_response_calc(&p, other), 0);
	assert_string_not_equal(other, out);
	uri[1] = 'd';
	assert_int_equal(digest_response_calc(&p, other), 0);
	assert_string_equal(other, out);
	p.method = PL("PUT");
	assert_int_equal(digest_response_calc(&p, other), 0);
	assert_string_not_equal(other, out);
	p.method = PL("GET");
	p.algo = DIGEST_ALGO_AKAV1_SHA256; /* the same math over SHA-256 */
	assert_int_equal(digest_response_calc(&p, other), 0);
	assert_int_equal(strlen(other), 64);
	p.algo = DIGEST_ALGO_MD5;
	assert_int_equal(digest_response_calc(&p, other), 0);
	assert_string_equal(other, out);
}

static void aka_prm(struct digest_prm *p, enum digest_algo algo, const uint8_t *pw,
		    size_t pwlen)
{
	memset(p, 0, sizeof(*p));
	p->algo = algo;
	p->qop = DIGEST_QOP_AUTH;
	p->username = PL("user@ims.example");
	p->realm = PL("ims.example");
	p->password = (struct pl){(const char *)pw, pwlen};
	p->method = PL("REGISTER");
	p->uri = PL("sip:ims.example");
	p->nonce = PL(AKA_NONCE);
	p->cnonce = PL("0a4f113b");
	p->nc = PL("00000001");
}

static void check_aka(enum digest_algo algo, enum digest_qop qop, const char *want_pw,
		      const char *want)
{
	uint8_t pw[DIGEST_PW_MAX];
	size_t pwlen = 0;
	struct digest_prm p;
	char out[DIGEST_HEX_SIZE];

	assert_int_equal(digest_aka_password(algo, res1, 8, ik1, 16, ck1, 16, pw, &pwlen), 0);
	if (want_pw) {
		assert_int_equal(pwlen, strlen(want_pw));
		assert_memory_equal(pw, want_pw, pwlen);
	} else {
		assert_int_equal(pwlen, 8);
		assert_memory_equal(pw, res1, 8);
	}
	aka_prm(&p, algo, pw, pwlen);
	p.qop = qop;
	if (qop == DIGEST_QOP_AUTH_INT)
		p.body = PL("v=0\r\n");
	assert_int_equal(digest_response_calc(&p, out), 0);
	assert_string_equal(out, want);
	assert_true(digest_response_verify(&p, pls(want)));
}

static void test_aka_digests(void **state)
{
	(void)state;
	check_aka(DIGEST_ALGO_AKAV1_MD5, DIGEST_QOP_AUTH, NULL,
		  "32b891a7ba608d082f8981da1440ca6e");
	check_aka(DIGEST_ALGO_AKAV1_MD5, DIGEST_QOP_NONE, NULL,
		  "1f582d9ddfbad38f627f128a9f8a1e0f");
	check_aka(DIGEST_ALGO_AKAV1_MD5, DIGEST_QOP_AUTH_INT, NULL,
		  "e153b809b500ec5d7caacd21d58ffb5c");
	check_aka(DIGEST_ALGO_AKAV2_MD5, DIGEST_QOP_AUTH, "shzt3q8CWaZnCAWqs3WmEQ==",
		  "0efaaa9041e40c64ff70dbed1cdb73fb");
	check_aka(DIGEST_ALGO_AKAV1_SHA256, DIGEST_QOP_AUTH, NULL,
		  "22817eca5cdebf4c92c7fe66e20d005536c3ddc5e9704d481544b30261d9626e");
	check_aka(DIGEST_ALGO_AKAV2_SHA256, DIGEST_QOP_AUTH,
		  "wpC+5dv/7kC35JEI2hluv8XcBd+vf8XcfedJBan1buk=",
		  "2958816a7278ef1a74a9c6ae89f1d8b1a48168cea27572e479b22747331cc43d");
}

/* RFC 3310 §3.4: on a synchronisation failure the response uses an empty
 * password. */
static void test_aka_resync_empty_password(void **state)
{
	struct digest_prm p;
	char out[DIGEST_HEX_SIZE];

	(void)state;
	aka_prm(&p, DIGEST_ALGO_AKAV1_MD5, NULL, 0);
	assert_int_equal(digest_response_calc(&p, out), 0);
	assert_string_equal(out, "1bb81131077536c55f98e6fd6b5cc7ad");
}

static void test_aka_nonce(void **state)
{
	uint8_t rand[16], autn[16], sd[8];
	char out[128];
	size_t sdl = 99;

	(void)state;
	assert_int_equal(digest_aka_nonce_decode(PL(AKA_NONCE), 16, rand, autn, sd, sizeof(sd),
						 &sdl),
			 0);
	assert_int_equal(sdl, 0);
	assert_int_equal(rand[0], 0x23);
	assert_int_equal(autn[15], 0xb3);
	assert_int_equal(digest_aka_nonce_encode(rand, autn, 16, NULL, 0, out, sizeof(out)), 0);
	assert_string_equal(out, AKA_NONCE);
	/* with server data "srv1" */
	assert_int_equal(digest_aka_nonce_decode(PL("I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7NzcnYx"),
						 16, rand, autn, sd, sizeof(sd), &sdl),
			 0);
	assert_int_equal(sdl, 4);
	assert_memory_equal(sd, "srv1", 4);
	assert_int_equal(digest_aka_nonce_encode(rand, autn, 16, (const uint8_t *)"srv1", 4, out,
						 sizeof(out)),
			 0);
	assert_string_equal(out, "I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7NzcnYx");
	/* server data that does not fit, and no room at all */
	assert_int_equal(digest_aka_nonce_decode(PL("I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7NzcnYx"),
						 16, rand, autn, sd, 2, &sdl),
			 EOVERFLOW);
	/* too short, not base64, oversized */
	assert_int_equal(digest_aka_nonce_decode(PL("Zm9vYmFy"), 16, rand, autn, NULL, 0, NULL),
			 EBADMSG);
	assert_int_equal(digest_aka_nonce_decode(PL("I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M"),
						 16, rand, autn, NULL, 0, NULL),
			 EBADMSG);
	{
		char big[DIGEST_NONCE_MAX + 4];

		memset(big, 'A', sizeof(big));
		assert_int_equal(digest_aka_nonce_decode((struct pl){big, sizeof(big)}, 16, rand,
							 autn, NULL, 0, NULL),
				 EBADMSG);
	}
	assert_int_equal(digest_aka_nonce_encode(rand, autn, 16, NULL, 0, out, 10), ENOSPC);
}

static void test_names(void **state)
{
	enum digest_algo a;
	enum digest_qop q;

	(void)state;
	assert_int_equal(digest_algo_from_pl(PL("akav1-md5"), &a), 0);
	assert_int_equal(a, DIGEST_ALGO_AKAV1_MD5);
	assert_int_equal(digest_algo_from_pl(PL("AKAv2-SHA-256"), &a), 0);
	assert_int_equal(a, DIGEST_ALGO_AKAV2_SHA256);
	assert_int_equal(digest_algo_from_pl(PL("SHA-1"), &a), EBADMSG);
	assert_string_equal(digest_algo_name(DIGEST_ALGO_AKAV2_MD5), "AKAv2-MD5");
	assert_true(digest_algo_is_aka(DIGEST_ALGO_AKAV2_SHA256));
	assert_false(digest_algo_is_aka(DIGEST_ALGO_MD5));
	assert_int_equal(digest_qop_from_pl(PL("auth-int"), &q), 0);
	assert_int_equal(q, DIGEST_QOP_AUTH_INT);
	assert_int_equal(digest_qop_from_pl((struct pl)PL_INIT, &q), 0);
	assert_int_equal(q, DIGEST_QOP_NONE);
	assert_int_equal(digest_qop_from_pl(PL("auth-conf"), &q), EBADMSG);
	{
		uint8_t pw[DIGEST_PW_MAX];
		size_t n;

		assert_int_equal(digest_aka_password(DIGEST_ALGO_MD5, res1, 8, ik1, 16, ck1, 16,
						     pw, &n),
				 EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2617_mufasa),
		cmocka_unit_test(test_ha2_memo),
		cmocka_unit_test(test_aka_digests),
		cmocka_unit_test(test_aka_resync_empty_password),
		cmocka_unit_test(test_aka_nonce),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("auth_digest", tests, setup, NULL);
}
