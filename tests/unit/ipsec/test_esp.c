/*
 * Unit tests: ipsec/esp. Published vectors where they exist, through the
 * contexts an SA keeps (RFC 2202 HMAC-MD5/HMAC-SHA-1, RFC 4494 AES-CMAC-96,
 * RFC 3602 AES-CBC, FIPS 81 DES, McGrew-Viega GCM test cases 1 and 2 for
 * AES-GCM/GMAC) and through the codec itself (RFC 3686 test vector #1 as
 * an ESP packet). The ESP layout of every algorithm pair is checked against
 * scapy in tests/integ/test_ipsec_esp.py; here: round trips, the
 * anti-replay window (RFC 4303 §3.4.3), ICV and padding checks, truncation,
 * sequence number exhaustion and TS 33.203 Annex I key expansion.
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
#include "ipsec/esp_int.h"

static const uint8_t ck1[16] = {0xb4, 0x0b, 0xa9, 0xa3, 0xc5, 0x8b, 0x2a, 0x05,
				0xbb, 0xf0, 0xd9, 0x87, 0xb2, 0x1b, 0xf8, 0xcb};
static const uint8_t ik1[16] = {0xf7, 0x69, 0xbc, 0xd7, 0x51, 0x04, 0x46, 0x04,
				0x12, 0x76, 0x72, 0x71, 0x1c, 0x6d, 0x34, 0x41};

static size_t hex(const char *s, uint8_t *out, size_t size)
{
	size_t n = 0;

	assert_int_equal(auth_hex_decode(s, strlen(s), out, size, &n), 0);
	return n;
}

static struct esp_sa *sa_new(enum esp_aalg a, enum esp_ealg e, uint32_t spi)
{
	struct esp_keys k;
	struct esp_sa *sa = NULL;
	struct esp_sa_prm p = {.spi = spi, .aalg = a, .ealg = e, .keys = &k};

	assert_int_equal(esp_key_expand(a, e, ck1, ik1, &k), 0);
	assert_int_equal(esp_sa_alloc(&sa, &p), 0);
	esp_keys_wipe(&k);
	return sa;
}

/* An SA with raw keys (for primitive vectors). */
static struct esp_sa *sa_raw(enum esp_aalg a, enum esp_ealg e, const char *ekey,
			     const char *akey)
{
	struct esp_keys k;
	struct esp_sa *sa = NULL;
	struct esp_sa_prm p = {.spi = 0x1000, .aalg = a, .ealg = e, .keys = &k};

	memset(&k, 0, sizeof(k));
	k.ekey_len = ekey ? hex(ekey, k.ekey, sizeof(k.ekey)) : 0;
	k.akey_len = akey ? hex(akey, k.akey, sizeof(k.akey)) : 0;
	assert_int_equal(esp_sa_alloc(&sa, &p), 0);
	return sa;
}

static void mac_check(enum esp_aalg a, const char *key, const uint8_t *data, size_t len,
		      const char *want)
{
	struct esp_sa *sa = sa_raw(a, ESP_EALG_NULL, NULL, key);
	uint8_t mac[EVP_MAX_MD_SIZE], w[32];
	size_t wl = hex(want, w, sizeof(w));

	assert_int_equal(esp_alg_mac(sa, data, len, mac), 0);
	assert_memory_equal(mac, w, wl);
	/* the keyed context restarts cleanly: same answer twice */
	assert_int_equal(esp_alg_mac(sa, data, len, mac), 0);
	assert_memory_equal(mac, w, wl);
	esp_sa_free(sa);
}

/* RFC 2202 test cases 1 and 3 (key lengths as ESP uses them) */
static void test_hmac_rfc2202(void **state)
{
	uint8_t dd[50];

	(void)state;
	memset(dd, 0xdd, sizeof(dd));
	mac_check(ESP_AALG_HMAC_MD5_128, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
		  (const uint8_t *)"Hi There", 8, "9294727a3638bb1c13f48ef8158bfc9d");
	mac_check(ESP_AALG_HMAC_MD5_96, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", dd, 50,
		  "56be34521d144c88dbb8c733f0e8b3f6");
	mac_check(ESP_AALG_HMAC_SHA1_160, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
		  (const uint8_t *)"Hi There", 8, "b617318655057264e28bc0b6fb378c8ef146be00");
	mac_check(ESP_AALG_HMAC_SHA1_96, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", dd, 50,
		  "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
}

/* RFC 4494 §4 (AES-CMAC-96 = the first 96 bits of RFC 4493's AES-CMAC) */
static void test_cmac_rfc4494(void **state)
{
	uint8_t m[64];
	const char *key = "2b7e151628aed2a6abf7158809cf4f3c";

	(void)state;
	hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
	    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
	    m, sizeof(m));
	mac_check(ESP_AALG_AES_CMAC_96, key, m, 0, "bb1d6929e95937287fa37d12");
	mac_check(ESP_AALG_AES_CMAC_96, key, m, 16, "070a16b46b4d4144f79bdd9d");
	mac_check(ESP_AALG_AES_CMAC_96, key, m, 40, "dfa66747de9ae63030ca3261");
	mac_check(ESP_AALG_AES_CMAC_96, key, m, 64, "51f0bebf7e3b9d92fc497417");
}

static void block_check(enum esp_ealg e, const char *key, const char *iv, const char *pt,
			const char *ct)
{
	struct esp_sa *sa = sa_raw(ESP_AALG_NULL, e, key, NULL);
	uint8_t ivb[16], p[32], c[32], out[32];
	size_t pl = hex(pt, p, sizeof(p));
	int n = 0;

	hex(iv, ivb, sizeof(ivb));
	hex(ct, c, sizeof(c));
	for (int enc = 1; enc >= 0; enc--) {
		EVP_CIPHER_CTX *x = esp_alg_cctx(sa, enc);

		assert_non_null(x);
		assert_int_equal(EVP_CipherInit_ex2(x, NULL, NULL, ivb, enc, NULL), 1);
		assert_int_equal(EVP_CipherUpdate(x, out, &n, enc ? p : c, (int)pl), 1);
		assert_memory_equal(out, enc ? c : p, pl);
	}
	esp_sa_free(sa);
}

static void test_cbc_vectors(void **state)
{
	(void)state;
	/* RFC 3602 §4 case #1 */
	block_check(ESP_EALG_AES_CBC, "06a9214036b8a15b512e03d534120006",
		    "3dafba429d9eb430b422da802c9fac41", "53696e676c6520626c6f636b206d7367",
		    "e353779c1079aeb82708942dbe77181a");
	/* FIPS 81 "Now is the time for all " (ECB = CBC with a zero IV, block 1) */
	block_check(ESP_EALG_DES_CBC, "0123456789abcdef", "0000000000000000",
		    "4e6f772069732074", "3fa40e8a984d4815");
	/* 3DES with K1 = K2 = K3 is single DES: the same vector */
	block_check(ESP_EALG_DES_EDE3_CBC,
		    "0123456789abcdef0123456789abcdef0123456789abcdef", "0000000000000000",
		    "4e6f772069732074", "3fa40e8a984d4815");
}

/* McGrew & Viega, "The GCM mode of operation", test cases 1 and 2 */
static void test_gcm_vectors(void **state)
{
	struct esp_sa *sa = sa_raw(ESP_AALG_NULL, ESP_EALG_AES_GCM,
				   "00000000000000000000000000000000", NULL);
	EVP_CIPHER_CTX *x = esp_alg_cctx(sa, 1);
	uint8_t nonce[12] = {0}, zero[16] = {0}, out[16], tag[16], w[16];
	int n = 0;

	(void)state;
	assert_int_equal(EVP_CipherInit_ex2(x, NULL, NULL, nonce, 1, NULL), 1);
	assert_int_equal(EVP_CipherFinal_ex(x, out, &n), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, tag), 1);
	hex("58e2fccefa7e3061367f1d57a4e7455a", w, 16);
	assert_memory_equal(tag, w, 16);
	assert_int_equal(EVP_CipherInit_ex2(x, NULL, NULL, nonce, 1, NULL), 1);
	assert_int_equal(EVP_CipherUpdate(x, out, &n, zero, 16), 1);
	assert_int_equal(EVP_CipherFinal_ex(x, tag, &n), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, tag), 1);
	hex("0388dace60b6a392f328c2b971b2fe78", w, 16);
	assert_memory_equal(out, w, 16);
	hex("ab6e47d42cec13bdf53a67b21257bddf", w, 16);
	assert_memory_equal(tag, w, 16);
	esp_sa_free(sa);
}

/*
 * RFC 3686 §6 test vector #1 as an ESP packet: key ae6852f8..., nonce
 * 00000030, IV 0; "Single block m" + pad length 0 + next header 'g' is the
 * vector's plaintext but for byte 14 (0x00 instead of 's').
 */
static void test_ctr_rfc3686_packet(void **state)
{
	struct esp_keys k;
	struct esp_sa *sa = NULL;
	struct esp_sa_prm p = {.spi = 0x4321, .aalg = ESP_AALG_NULL,
			       .ealg = ESP_EALG_AES_CTR, .keys = &k};
	uint8_t iv[8] = {0}, out[128], back[128], want[16], nh = 0;
	size_t olen = 0, blen = 0;

	(void)state;
	memset(&k, 0, sizeof(k));
	k.ekey_len = hex("ae6852f8121067cc4bf7a5765577f39e", k.ekey, 16);
	hex("00000030", k.esalt, 4);
	assert_int_equal(esp_sa_alloc(&sa, &p), 0);
	esp_sa_set_iv(sa, iv, 8);
	assert_int_equal(esp_encap(sa, 'g', (const uint8_t *)"Single block m", 14, out,
				   sizeof(out), &olen),
			 0);
	assert_int_equal(olen, 8 + 8 + 16);
	hex("e4095d4fb7a7b3792d6175a3261311b8", want, 16);
	want[14] ^= 's';
	assert_memory_equal(out + 16, want, 16);
	assert_memory_equal(out + 8, iv, 8);
	esp_sa_free(sa);
	assert_int_equal(esp_sa_alloc(&sa, &p), 0);
	assert_int_equal(esp_decap(sa, out, olen, back, sizeof(back), &blen, &nh), 0);
	assert_int_equal(blen, 14);
	assert_int_equal(nh, 'g');
	assert_memory_equal(back, "Single block m", 14);
	esp_sa_free(sa);
}

/*
 * CBC IVs (RFC 3602 §3: random and unpredictable): never the sequence
 * number or any counter, distinct across the packets of one SA, and
 * different between two SAs with the same keys and SPI (each draws its own
 * IV key), for the 16-byte and the 8-byte block ciphers.
 */
static void test_cbc_iv_unpredictable(void **state)
{
	static const enum esp_ealg ciphers[] = {ESP_EALG_AES_CBC, ESP_EALG_DES_EDE3_CBC};

	(void)state;
	for (size_t c = 0; c < sizeof(ciphers) / sizeof(ciphers[0]); c++) {
		struct esp_sa *a = sa_new(ESP_AALG_HMAC_SHA1_96, ciphers[c], 0x5000);
		struct esp_sa *b = sa_new(ESP_AALG_HMAC_SHA1_96, ciphers[c], 0x5000);
		uint8_t ivs[64][16], out[256], ivb[16], zero[16] = {0};
		size_t ivl = ciphers[c] == ESP_EALG_AES_CBC ? 16 : 8, olen = 0;

		for (size_t i = 0; i < 64; i++) {
			assert_int_equal(esp_encap(a, 17, (const uint8_t *)"x", 1, out,
						   sizeof(out), &olen),
					 0);
			memcpy(ivs[i], out + 8, ivl);
			/* not the sequence number in either half, not zero */
			assert_memory_not_equal(ivs[i], zero, ivl);
			assert_false(out[8 + ivl - 1] == (uint8_t)(i + 1) &&
				     !memcmp(out + 8, zero, ivl - 1));
			for (size_t j = 0; j < i; j++)
				assert_memory_not_equal(ivs[i], ivs[j], ivl);
		}
		assert_int_equal(esp_encap(b, 17, (const uint8_t *)"x", 1, out, sizeof(out),
					   &olen),
				 0);
		memcpy(ivb, out + 8, ivl);
		assert_memory_not_equal(ivb, ivs[0], ivl);
		esp_sa_free(a);
		esp_sa_free(b);
	}
}

static void test_key_expansion(void **state)
{
	struct esp_keys k;

	(void)state;
	assert_int_equal(esp_key_expand(ESP_AALG_HMAC_SHA1_96, ESP_EALG_DES_EDE3_CBC, ck1,
					ik1, &k),
			 0);
	assert_int_equal(k.akey_len, 20);
	assert_memory_equal(k.akey, ik1, 16);
	assert_memory_equal(k.akey + 16, "\0\0\0\0", 4);
	assert_int_equal(k.ekey_len, 24);
	assert_memory_equal(k.ekey, ck1, 16);
	assert_memory_equal(k.ekey + 16, ck1, 8);
	assert_int_equal(esp_key_expand(ESP_AALG_HMAC_MD5_96, ESP_EALG_AES_GCM, ck1, ik1, &k),
			 0);
	assert_int_equal(k.akey_len, 16);
	assert_memory_equal(k.ekey, ck1, 16);
	assert_memory_equal(k.esalt, ik1, 4);
	assert_int_equal(esp_key_expand(ESP_AALG_AES_GMAC, ESP_EALG_NULL, ck1, ik1, &k), 0);
	assert_memory_equal(k.akey, ik1, 16);
	assert_memory_equal(k.asalt, ck1, 4);
	assert_int_equal(k.ekey_len, 0);
	assert_int_equal(esp_key_expand(ESP_AALG_HMAC_MD5_96, ESP_EALG_DES_CBC, ck1, ik1, &k),
			 0);
	assert_int_equal(k.ekey_len, 8);
	/* GMAC is integrity only (RFC 4543): no CBC or CTR beside it */
	assert_int_equal(esp_key_expand(ESP_AALG_AES_GMAC, ESP_EALG_AES_CBC, ck1, ik1, &k),
			 EINVAL);
	assert_false(esp_alg_pair_valid(ESP_AALG_AES_GMAC, ESP_EALG_AES_CTR));
	assert_true(esp_alg_pair_valid(ESP_AALG_AES_GMAC, ESP_EALG_AES_GCM));
	esp_keys_wipe(&k);
}

static void test_names(void **state)
{
	enum esp_aalg a;
	enum esp_ealg e;

	(void)state;
	for (int i = 0; i < ESP_AALG_COUNT; i++) {
		const char *n = esp_aalg_name((enum esp_aalg)i);

		assert_int_equal(esp_aalg_from_str(n, strlen(n), &a), 0);
		assert_int_equal(a, i);
	}
	for (int i = 0; i < ESP_EALG_COUNT; i++) {
		const char *n = esp_ealg_name((enum esp_ealg)i);

		assert_int_equal(esp_ealg_from_str(n, strlen(n), &e), 0);
		assert_int_equal(e, i);
	}
	assert_int_equal(esp_aalg_from_str("HMAC-SHA-1-96", 13, &a), 0);
	assert_int_equal(a, ESP_AALG_HMAC_SHA1_96);
	assert_int_equal(esp_aalg_from_str("hmac-sha-1-9", 12, &a), EINVAL);
	assert_int_equal(esp_ealg_from_str("aes-cbcx", 8, &e), EINVAL);
	assert_string_equal(esp_aalg_name(ESP_AALG_COUNT), "?");
}

/* Every valid pair: encap then decap on the peer SA, several sizes. */
static void test_roundtrip_all_pairs(void **state)
{
	uint8_t pl[300], pkt[300 + ESP_OVERHEAD_MAX], back[300 + ESP_OVERHEAD_MAX], nh;
	size_t plen, blen;

	(void)state;
	for (size_t i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(i * 7);
	for (int a = 0; a < ESP_AALG_COUNT; a++) {
		for (int e = 0; e < ESP_EALG_COUNT; e++) {
			struct esp_sa *out, *in;

			if (!esp_alg_pair_valid((enum esp_aalg)a, (enum esp_ealg)e))
				continue;
			out = sa_new((enum esp_aalg)a, (enum esp_ealg)e, 0x10000 + a);
			in = sa_new((enum esp_aalg)a, (enum esp_ealg)e, 0x10000 + a);
			for (size_t len = 0; len <= sizeof(pl); len += len < 40 ? 1 : 37) {
				assert_int_equal(esp_encap(out, 17, pl, len, pkt, sizeof(pkt),
							   &plen),
						 0);
				assert_int_equal(esp_decap(in, pkt, plen, back, sizeof(back),
							   &blen, &nh),
						 0);
				assert_int_equal(blen, len);
				assert_int_equal(nh, 17);
				if (len)
					assert_memory_equal(back, pl, len);
			}
			assert_int_equal(esp_sa_seq(out), esp_sa_seq(in));
			assert_int_equal(esp_sa_stats(in)->packets, esp_sa_stats(out)->packets);
			esp_sa_free(out);
			esp_sa_free(in);
		}
	}
}

static int send_seq(struct esp_sa *out, struct esp_sa *in, uint32_t seq)
{
	uint8_t pkt[128], back[128], nh;
	size_t plen, blen;

	esp_sa_set_seq(out, seq - 1);
	assert_int_equal(esp_encap(out, 6, (const uint8_t *)"abc", 3, pkt, sizeof(pkt), &plen),
			 0);
	return esp_decap(in, pkt, plen, back, sizeof(back), &blen, &nh);
}

static void test_replay_window(void **state)
{
	struct esp_sa *out = sa_new(ESP_AALG_HMAC_SHA1_96, ESP_EALG_AES_CBC, 0x2000);
	struct esp_sa *in = sa_new(ESP_AALG_HMAC_SHA1_96, ESP_EALG_AES_CBC, 0x2000);

	(void)state;
	assert_int_equal(send_seq(out, in, 1), 0);
	assert_int_equal(send_seq(out, in, 3), 0);
	assert_int_equal(send_seq(out, in, 2), 0); /* out of order, in the window */
	assert_int_equal(send_seq(out, in, 2), EALREADY);
	assert_int_equal(send_seq(out, in, 100), 0);
	assert_int_equal(send_seq(out, in, 36), EALREADY); /* 64 behind: left of it */
	assert_int_equal(send_seq(out, in, 37), 0);	 /* 63 behind: last slot */
	assert_int_equal(send_seq(out, in, 37), EALREADY);
	assert_int_equal(send_seq(out, in, 100), EALREADY);
	assert_int_equal(send_seq(out, in, 1000), 0); /* jump clears the window */
	assert_int_equal(send_seq(out, in, 999), 0);
	assert_int_equal(esp_sa_seq(in), 1000);
	assert_int_equal(esp_sa_stats(in)->replay, 4);
	assert_int_equal(esp_sa_stats(in)->packets, 7);
	/* sequence number 0 is never sent (RFC 4303 §3.3.3) */
	assert_int_equal(send_seq(out, in, UINT32_MAX), 0);
	esp_sa_free(in);
	in = sa_new(ESP_AALG_HMAC_SHA1_96, ESP_EALG_AES_CBC, 0x2000);
	esp_sa_set_seq(out, UINT32_MAX);
	{
		uint8_t pkt[128];
		size_t plen;

		assert_int_equal(esp_encap(out, 6, (const uint8_t *)"x", 1, pkt, sizeof(pkt),
					   &plen),
				 EOVERFLOW);
	}
	esp_sa_free(out);
	esp_sa_free(in);
}

/* Any flipped bit fails (integrity pairs) and leaves the window as it was. */
static void test_tamper_and_truncate(void **state)
{
	uint8_t pkt[200], bad[200], back[200], nh;
	size_t plen, blen;

	(void)state;
	for (int a = 1; a < ESP_AALG_COUNT; a++) {
		for (int e = 0; e < ESP_EALG_COUNT; e++) {
			struct esp_sa *out, *in;

			if (!esp_alg_pair_valid((enum esp_aalg)a, (enum esp_ealg)e))
				continue;
			out = sa_new((enum esp_aalg)a, (enum esp_ealg)e, 0x3000);
			in = sa_new((enum esp_aalg)a, (enum esp_ealg)e, 0x3000);
			assert_int_equal(esp_encap(out, 17, (const uint8_t *)"INVITE sip:x", 12,
						   pkt, sizeof(pkt), &plen),
					 0);
			for (size_t i = 0; i < plen * 8; i += 5) {
				memcpy(bad, pkt, plen);
				bad[i / 8] ^= (uint8_t)(1u << (i % 8));
				assert_int_not_equal(
				    esp_decap(in, bad, plen, back, sizeof(back), &blen, &nh), 0);
			}
			for (size_t l = 0; l < plen; l++)
				assert_int_not_equal(
				    esp_decap(in, pkt, l, back, sizeof(back), &blen, &nh), 0);
			assert_int_equal(esp_sa_stats(in)->packets, 0);
			assert_true(esp_sa_stats(in)->auth_fail > 0);
			assert_int_equal(esp_decap(in, pkt, plen, back, sizeof(back), &blen, &nh),
					 0);
			assert_int_equal(blen, 12);
			esp_sa_free(out);
			esp_sa_free(in);
		}
	}
}

/* null/null has no ICV: padding is the only check left (RFC 4303 §2.4) */
static void test_padding_and_limits(void **state)
{
	struct esp_sa *in = sa_new(ESP_AALG_NULL, ESP_EALG_NULL, 0x4000);
	/* SPI 0x4000, seq 2, payload "ab", pad 1 2 3 4, pad length 4, NH 17 */
	uint8_t p[16] = {0, 0, 0x40, 0, 0, 0, 0, 2, 'a', 'b', 1, 2, 3, 4, 4, 17};
	uint8_t back[64], nh;
	size_t blen;
	uint32_t spi, seq;

	(void)state;
	assert_int_equal(esp_decap(in, p, 15, back, sizeof(back), &blen, &nh), EBADMSG);
	assert_int_equal(esp_decap(in, p, 16, back, 2, &blen, &nh), ENOSPC);
	assert_int_equal(esp_decap(in, p, 16, back, sizeof(back), &blen, &nh), 0);
	assert_int_equal(blen, 2);
	assert_int_equal(nh, 17);
	p[7] = 3;
	p[12] = 9; /* padding must read 1, 2, 3... */
	assert_int_equal(esp_decap(in, p, 16, back, sizeof(back), &blen, &nh), EBADMSG);
	p[12] = 3;
	p[14] = 40; /* pad length past the payload */
	assert_int_equal(esp_decap(in, p, 16, back, sizeof(back), &blen, &nh), EBADMSG);
	p[14] = 4;
	p[15] = 59; /* dummy packet: accepted, nothing to deliver */
	assert_int_equal(esp_decap(in, p, 16, back, sizeof(back), &blen, &nh), 0);
	assert_int_equal(blen, 0);
	assert_int_equal(nh, 59);
	p[7] = 4;
	p[1] = 1; /* another SPI */
	assert_int_equal(esp_decap(in, p, 16, back, sizeof(back), &blen, &nh), EBADMSG);
	assert_int_equal(esp_sa_stats(in)->malformed, 4);
	assert_int_equal(esp_hdr_parse(p, 7, &spi, &seq), EBADMSG);
	assert_int_equal(esp_hdr_parse(p, 8, &spi, &seq), 0);
	assert_int_equal(spi, 0x014000);
	assert_int_equal(seq, 4);
	p[1] = p[2] = 0; /* SPI 1..255 are reserved (RFC 4303 §2.1) */
	assert_int_equal(esp_hdr_parse(p, 8, &spi, &seq), EBADMSG);
	esp_sa_free(in);
}

static void test_bad_params(void **state)
{
	struct esp_keys k;
	struct esp_sa *sa = NULL;
	struct esp_sa_prm p = {.spi = 0x5000, .aalg = ESP_AALG_HMAC_MD5_96,
			       .ealg = ESP_EALG_AES_CBC, .keys = &k};
	uint8_t out[8];
	size_t n;

	(void)state;
	assert_int_equal(esp_key_expand(p.aalg, p.ealg, ck1, ik1, &k), 0);
	k.ekey_len = 15;
	assert_int_equal(esp_sa_alloc(&sa, &p), EINVAL);
	assert_null(sa);
	k.ekey_len = 16;
	p.aalg = ESP_AALG_COUNT;
	assert_int_equal(esp_sa_alloc(&sa, &p), EINVAL);
	p.aalg = ESP_AALG_HMAC_MD5_96;
	assert_int_equal(esp_sa_alloc(&sa, &p), 0);
	assert_int_equal(esp_encap(sa, 17, (const uint8_t *)"x", 1, out, sizeof(out), &n),
			 ENOSPC);
	assert_true(esp_alg_pair_available(ESP_AALG_HMAC_SHA1_96, ESP_EALG_BLOWFISH));
	esp_sa_free(sa);
	esp_keys_wipe(&k);
}

/* An SA of one direction (an SA set's in_* or out_*): an outbound one
 * encapsulates what an inbound one decapsulates, for every pair; each
 * refuses the other direction's work. */
static void test_directional_sas(void **state)
{
	static const uint8_t msg[] = "MESSAGE sip:a SIP/2.0\r\n\r\n";
	uint8_t pkt[sizeof(msg) + ESP_OVERHEAD_MAX], back[sizeof(pkt)], nh = 0;
	size_t plen = 0, blen = 0;

	(void)state;
	for (int a = 0; a < ESP_AALG_COUNT; a++) {
		for (int e = 0; e < ESP_EALG_COUNT; e++) {
			struct esp_keys k;
			struct esp_sa *out = NULL, *in = NULL;
			struct esp_sa_prm p = {.spi = 0x2000, .aalg = (enum esp_aalg)a,
					       .ealg = (enum esp_ealg)e, .keys = &k};

			if (!esp_alg_pair_available((enum esp_aalg)a, (enum esp_ealg)e))
				continue;
			assert_int_equal(esp_key_expand(p.aalg, p.ealg, ck1, ik1, &k), 0);
			p.dir = ESP_DIR_OUT;
			assert_int_equal(esp_sa_alloc(&out, &p), 0);
			p.dir = ESP_DIR_IN;
			assert_int_equal(esp_sa_alloc(&in, &p), 0);
			esp_keys_wipe(&k);
			assert_int_equal(esp_encap(out, 17, msg, sizeof(msg), pkt, sizeof(pkt),
						   &plen),
					 0);
			assert_int_equal(esp_decap(out, pkt, plen, back, sizeof(back), &blen, &nh),
					 EINVAL);
			assert_int_equal(esp_encap(in, 17, msg, sizeof(msg), back, sizeof(back),
						   &blen),
					 EINVAL);
			assert_int_equal(esp_decap(in, pkt, plen, back, sizeof(back), &blen, &nh), 0);
			assert_int_equal(nh, 17);
			assert_int_equal(blen, sizeof(msg));
			assert_memory_equal(back, msg, sizeof(msg));
			esp_sa_free(out);
			esp_sa_free(in);
		}
	}
}

/* The pooled CSPRNG: small draws come from the pool (no two alike, the
 * pool refilled when it runs out), large ones straight from RAND_bytes. */
static void test_rand_pool(void **state)
{
	uint8_t a[16], b[16], big[1024], zero[sizeof(big)] = {0};

	(void)state;
	assert_int_equal(esp_rand_bytes(a, sizeof(a)), 0);
	for (int i = 0; i < 200; i++) { /* several refills of the 512-byte pool */
		assert_int_equal(esp_rand_bytes(b, sizeof(b)), 0);
		assert_memory_not_equal(a, b, sizeof(a));
		memcpy(a, b, sizeof(a));
	}
	assert_int_equal(esp_rand_bytes(big, sizeof(big)), 0);
	assert_memory_not_equal(big, zero, sizeof(big));
	assert_int_equal(esp_rand_bytes(a, 0), 0);
	assert_int_equal(esp_rand_bytes(NULL, 4), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hmac_rfc2202),
	    cmocka_unit_test(test_cmac_rfc4494),
	    cmocka_unit_test(test_cbc_vectors),
	    cmocka_unit_test(test_gcm_vectors),
	    cmocka_unit_test(test_ctr_rfc3686_packet),
	    cmocka_unit_test(test_key_expansion),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_roundtrip_all_pairs),
	    cmocka_unit_test(test_replay_window),
	    cmocka_unit_test(test_cbc_iv_unpredictable),
	    cmocka_unit_test(test_tamper_and_truncate),
	    cmocka_unit_test(test_padding_and_limits),
	    cmocka_unit_test(test_bad_params),
	    cmocka_unit_test(test_directional_sas),
	    cmocka_unit_test(test_rand_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
