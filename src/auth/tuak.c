/*
 * auth/tuak — TUAK (TS 35.231 §6).
 *
 * Every function fills the 1600-bit Keccak input IN as
 *   IN[0..255]     TOP (for TOPc) or TOPc
 *   IN[256..263]   INSTANCE (function and lengths, see tuak_instance())
 *   IN[264..319]   ALGONAME "TUAK1.0"
 *   IN[320..447]   RAND            (zero for TOPc)
 *   IN[448..511]   AMF || SQN      (f1/f1* only, else zero)
 *   IN[512..767]   K (a 128-bit K is followed by 128 zero bits)
 *   IN[768..1087]  padding 1 0...0 1 (bits 768-772 set, 1087 set)
 *   IN[1088..1599] zero
 * The spec numbers each field's bits from its most significant end while
 * Keccak packs IN least-significant-bit first into bytes; the two cancel to
 * a byte reversal of every multi-byte field, which is what push()/pull() do.
 * Outputs come from OUT the same way: MAC/RES at bit 0, CK at 256, IK at 512,
 * AK at 768.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/keccak.h"
#include "auth/tuak.h"

static const uint8_t tuak_algoname[7] = {'T', 'U', 'A', 'K', '1', '.', '0'};

enum tuak_fn { TUAK_FN_TOPC, TUAK_FN_F1, TUAK_FN_F1STAR, TUAK_FN_F2345, TUAK_FN_F5STAR };

void tuak_prm_default(struct tuak_prm *prm)
{
	prm->mac_len = 8;
	prm->res_len = 4;
	prm->ck_len = 16;
	prm->ik_len = 16;
	prm->iterations = 1;
}

int tuak_prm_check(const struct tuak_prm *prm)
{
	if (!prm)
		return EINVAL;
	if (prm->mac_len != 8 && prm->mac_len != 16 && prm->mac_len != 32)
		return EINVAL;
	if (prm->res_len != 4 && prm->res_len != 8 && prm->res_len != 16 &&
	    prm->res_len != 32)
		return EINVAL;
	if ((prm->ck_len != 16 && prm->ck_len != 32) ||
	    (prm->ik_len != 16 && prm->ik_len != 32))
		return EINVAL;
	if (prm->iterations < 1 || prm->iterations > TUAK_ITER_MAX)
		return EINVAL;
	return 0;
}

static void push(uint8_t *st, size_t off, const uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		st[off + n - 1 - i] = v[i];
}

static void pull(const uint8_t *st, size_t off, uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = st[off + n - 1 - i];
}

/* Length code of INSTANCE bits 2..4 (MSB-first numbering): 32/64/128/256
 * bits -> 000/001/010/100, i.e. byte values 0x00/0x08/0x10/0x20. */
static uint8_t tuak_len_code(size_t bytes)
{
	switch (bytes) {
	case 8:
		return 0x08;
	case 16:
		return 0x10;
	case 32:
		return 0x20;
	default:
		return 0x00;
	}
}

/* INSTANCE (TS 35.231 §6.1-6.5): bits 0-1 pick the function (00 TOPc/f1,
 * 10 f1*, 01 f2-f5, 11 f5*), 2-4 the MAC or RES length, 5 CK=256, 6 IK=256,
 * 7 K=256. Bit 0 is the byte's most significant bit. */
static uint8_t tuak_instance(enum tuak_fn fn, const struct tuak_prm *prm, size_t k_len)
{
	uint8_t v = k_len == 32 ? 0x01 : 0x00;

	switch (fn) {
	case TUAK_FN_TOPC:
		break;
	case TUAK_FN_F1:
		v |= tuak_len_code(prm->mac_len);
		break;
	case TUAK_FN_F1STAR:
		v |= 0x80 | tuak_len_code(prm->mac_len);
		break;
	case TUAK_FN_F2345:
		v |= 0x40 | tuak_len_code(prm->res_len);
		v |= prm->ck_len == 32 ? 0x04 : 0;
		v |= prm->ik_len == 32 ? 0x02 : 0;
		break;
	case TUAK_FN_F5STAR:
		v |= 0xc0;
		break;
	}
	return v;
}

struct tuak_in {
	const uint8_t *top; /* TOP or TOPc, 32 bytes */
	const uint8_t *rand;
	const uint8_t *sqn;
	const uint8_t *amf;
	const uint8_t *k;
	size_t k_len;
	uint8_t instance;
	unsigned iterations;
};

static void tuak_run(const struct tuak_in *in, uint8_t st[KECCAK_STATE_SIZE])
{
	memset(st, 0, KECCAK_STATE_SIZE);
	push(st, 0, in->top, 32);
	st[32] = in->instance;
	push(st, 33, tuak_algoname, sizeof(tuak_algoname));
	if (in->rand)
		push(st, 40, in->rand, 16);
	if (in->amf)
		push(st, 56, in->amf, 2);
	if (in->sqn)
		push(st, 58, in->sqn, 6);
	/* A 128-bit K takes IN[512..639]; IN[640..767] (bytes 80..95) stay 0. */
	push(st, 64, in->k, in->k_len);
	st[96] = 0x1f;
	st[135] = 0x80;
	for (unsigned i = 0; i < in->iterations; i++)
		keccak_f1600(st);
}

static int tuak_key_ok(const uint8_t *k, size_t k_len)
{
	return k && (k_len == 16 || k_len == 32);
}

int tuak_topc_derive(const uint8_t *k, size_t k_len, const uint8_t top[32],
		     unsigned iterations, uint8_t topc[32])
{
	uint8_t st[KECCAK_STATE_SIZE];
	struct tuak_in in = {.top = top, .k = k, .k_len = k_len, .iterations = iterations};

	if (!tuak_key_ok(k, k_len) || iterations < 1 || iterations > TUAK_ITER_MAX)
		return EINVAL;
	in.instance = tuak_instance(TUAK_FN_TOPC, NULL, k_len);
	tuak_run(&in, st);
	pull(st, 0, topc, 32);
	OPENSSL_cleanse(st, sizeof(st));
	return 0;
}

int tuak_f1(const uint8_t *k, size_t k_len, const uint8_t topc[32],
	    const struct tuak_prm *prm, const uint8_t rand[16], const uint8_t sqn[6],
	    const uint8_t amf[2], int star, uint8_t *mac)
{
	uint8_t st[KECCAK_STATE_SIZE];
	struct tuak_in in = {.top = topc, .rand = rand, .sqn = sqn, .amf = amf,
			     .k = k, .k_len = k_len};

	if (!tuak_key_ok(k, k_len) || tuak_prm_check(prm))
		return EINVAL;
	in.iterations = prm->iterations;
	in.instance = tuak_instance(star ? TUAK_FN_F1STAR : TUAK_FN_F1, prm, k_len);
	tuak_run(&in, st);
	pull(st, 0, mac, prm->mac_len);
	OPENSSL_cleanse(st, sizeof(st));
	return 0;
}

int tuak_f2345(const uint8_t *k, size_t k_len, const uint8_t topc[32],
	       const struct tuak_prm *prm, const uint8_t rand[16], uint8_t *res,
	       uint8_t *ck, uint8_t *ik, uint8_t ak[6])
{
	uint8_t st[KECCAK_STATE_SIZE];
	struct tuak_in in = {.top = topc, .rand = rand, .k = k, .k_len = k_len};

	if (!tuak_key_ok(k, k_len) || tuak_prm_check(prm))
		return EINVAL;
	in.iterations = prm->iterations;
	in.instance = tuak_instance(TUAK_FN_F2345, prm, k_len);
	tuak_run(&in, st);
	if (res)
		pull(st, 0, res, prm->res_len);
	if (ck)
		pull(st, 32, ck, prm->ck_len);
	if (ik)
		pull(st, 64, ik, prm->ik_len);
	if (ak)
		pull(st, 96, ak, 6);
	OPENSSL_cleanse(st, sizeof(st));
	return 0;
}

int tuak_f5star(const uint8_t *k, size_t k_len, const uint8_t topc[32],
		const struct tuak_prm *prm, const uint8_t rand[16], uint8_t akstar[6])
{
	uint8_t st[KECCAK_STATE_SIZE];
	struct tuak_in in = {.top = topc, .rand = rand, .k = k, .k_len = k_len};

	if (!tuak_key_ok(k, k_len) || tuak_prm_check(prm))
		return EINVAL;
	in.iterations = prm->iterations;
	in.instance = tuak_instance(TUAK_FN_F5STAR, prm, k_len);
	tuak_run(&in, st);
	pull(st, 96, akstar, 6);
	OPENSSL_cleanse(st, sizeof(st));
	return 0;
}
