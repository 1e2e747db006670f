/*
 * Fuzz target: everything in auth/ that reads outside input.
 * The first byte picks the decoder, the rest is the input:
 *   0  Digest AKA nonce (base64 RAND||AUTN||server data), AUTN 16/24/40
 *   1  base64        2  hex
 *   3  auts parameter: base64 AUTS, then HSS-side MAC-S check and SQN_MS
 *   4  AUTN check of a nonce with fixed credentials (UE side)
 *   5  Digest response compare (response text from the input)
 * Every decoded result is re-encoded and compared where that must hold.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/aka.h"
#include "auth/auth_codec.h"
#include "auth/digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void cred(struct aka_cred *c)
{
	static const uint8_t k[16] = {0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f,
				      0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc};
	static const uint8_t opc[16] = {0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e,
					0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf};

	aka_cred_init(c, AKA_ALGO_MILENAGE);
	memcpy(c->k, k, 16);
	memcpy(c->opc, opc, 16);
}

static void fuzz_nonce(const char *s, size_t n, uint8_t sel)
{
	static const size_t alens[] = {16, 24, 40};
	uint8_t rand[16], autn[40], sd[64];
	size_t sdl = 0, alen = alens[sel % 3];
	char re[DIGEST_NONCE_MAX + 8];

	if (digest_aka_nonce_decode((struct pl){s, n}, alen, rand, autn, sd, sizeof(sd),
				    &sdl))
		return;
	if (digest_aka_nonce_encode(rand, autn, alen, sd, sdl, re, sizeof(re)) ||
	    strlen(re) != n || memcmp(re, s, n))
		abort(); /* strict base64 has one spelling */
}

static void fuzz_codecs(const char *s, size_t n, int hex)
{
	uint8_t out[512];
	char re[2 * 512 + 1]; /* hex: two digits a byte; base64 needs fewer */
	size_t len = 0;

	if (hex) {
		if (auth_hex_decode(s, n, out, sizeof(out), &len))
			return;
		auth_hex_encode(out, len, re);
		if (strncasecmp(re, s, n) || strlen(re) != n)
			abort();
		return;
	}
	if (auth_b64_decode(s, n, out, sizeof(out), &len))
		return;
	if (auth_b64_encode(out, len, re) != n || memcmp(re, s, n))
		abort();
}

static void fuzz_auts(const char *s, size_t n)
{
	struct aka_cred c;
	uint8_t auts[64], rand[16] = {0};
	size_t len = 0;
	uint64_t sqn = 0;

	if (auth_b64_decode(s, n, auts, sizeof(auts), &len))
		return;
	cred(&c);
	if (aka_auts_verify(&c, rand, auts, len, &sqn) == 0 && len != 14)
		abort();
	aka_cred_wipe(&c);
}

static void fuzz_autn(const char *s, size_t n)
{
	struct aka_cred c;
	struct aka_vector av;
	uint8_t rand[16], autn[16];

	if (digest_aka_nonce_decode((struct pl){s, n}, 16, rand, autn, NULL, 0, NULL))
		return;
	cred(&c);
	(void)aka_autn_check(&c, rand, autn, 16, &av);
	aka_cred_wipe(&c);
}

static void fuzz_response(const char *s, size_t n)
{
	struct digest_prm p = {
		.algo = DIGEST_ALGO_AKAV2_SHA256, .qop = DIGEST_QOP_AUTH_INT,
		.username = PL("u"), .realm = PL("r"), .password = PL("pw"),
		.method = PL("REGISTER"), .uri = PL("sip:r"), .nonce = PL("n"),
		.cnonce = PL("c"), .nc = PL("00000001"), .body = {s, n},
	};

	(void)digest_response_verify(&p, (struct pl){s, n});
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s;
	size_t n;

	if (size < 1)
		return 0;
	s = (const char *)data + 1;
	n = size - 1;
	switch (data[0] % 6) {
	case 0:
		fuzz_nonce(s, n, data[0] / 6);
		break;
	case 1:
		fuzz_codecs(s, n, 0);
		break;
	case 2:
		fuzz_codecs(s, n, 1);
		break;
	case 3:
		fuzz_auts(s, n);
		break;
	case 4:
		fuzz_autn(s, n);
		break;
	default:
		fuzz_response(s, n);
		break;
	}
	return 0;
}
