/* auth/aka — vectors and resync over MILENAGE/TUAK/XOR. See aka.h. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "auth/aka.h"
#include "auth/milenage.h"
#include "auth/sqn.h"
#include "auth/xor_alg.h"

static const char *const aka_algo_names[] = {
	[AKA_ALGO_MILENAGE] = "milenage",
	[AKA_ALGO_TUAK] = "tuak",
	[AKA_ALGO_XOR] = "xor",
};

int aka_algo_from_str(const char *s, enum aka_algo *algo)
{
	for (size_t i = 0; i < sizeof(aka_algo_names) / sizeof(aka_algo_names[0]); i++) {
		if (s && !strcasecmp(s, aka_algo_names[i])) {
			*algo = (enum aka_algo)i;
			return 0;
		}
	}
	return EINVAL;
}

const char *aka_algo_name(enum aka_algo algo)
{
	if ((unsigned)algo > AKA_ALGO_XOR)
		return "?";
	return aka_algo_names[algo];
}

void aka_cred_init(struct aka_cred *c, enum aka_algo algo)
{
	memset(c, 0, sizeof(*c));
	c->algo = algo;
	c->k_len = 16;
	tuak_prm_default(&c->tuak);
	c->xor_res_len = 8;
}

void aka_cred_wipe(struct aka_cred *c)
{
	explicit_bzero(c, sizeof(*c));
}

int aka_cred_check(const struct aka_cred *c)
{
	if (!c)
		return EINVAL;
	switch (c->algo) {
	case AKA_ALGO_MILENAGE:
		return c->k_len == 16 ? 0 : EINVAL;
	case AKA_ALGO_TUAK:
		if (c->k_len != 16 && c->k_len != 32)
			return EINVAL;
		return tuak_prm_check(&c->tuak);
	case AKA_ALGO_XOR:
		if (c->k_len != 16 || c->xor_res_len < XOR_ALG_RES_MIN ||
		    c->xor_res_len > XOR_ALG_RES_MAX)
			return EINVAL;
		return 0;
	}
	return EINVAL;
}

int aka_cred_set_op(struct aka_cred *c, const uint8_t *op, size_t op_len)
{
	int err = aka_cred_check(c);

	if (err || !op)
		return EINVAL;
	if (c->algo == AKA_ALGO_MILENAGE && op_len == 16)
		return milenage_opc_derive(c->k, op, c->opc);
	if (c->algo == AKA_ALGO_TUAK && op_len == TUAK_TOP_LEN)
		return tuak_topc_derive(c->k, c->k_len, op, c->tuak.iterations, c->opc);
	return EINVAL;
}

size_t aka_mac_len(const struct aka_cred *c)
{
	return c->algo == AKA_ALGO_TUAK ? c->tuak.mac_len : 8;
}

size_t aka_res_len(const struct aka_cred *c)
{
	if (c->algo == AKA_ALGO_TUAK)
		return c->tuak.res_len;
	return c->algo == AKA_ALGO_XOR ? c->xor_res_len : 8;
}

size_t aka_ck_len(const struct aka_cred *c)
{
	return c->algo == AKA_ALGO_TUAK ? c->tuak.ck_len : 16;
}

size_t aka_ik_len(const struct aka_cred *c)
{
	return c->algo == AKA_ALGO_TUAK ? c->tuak.ik_len : 16;
}

size_t aka_autn_len(const struct aka_cred *c)
{
	return AKA_SQN_LEN + AKA_AMF_LEN + aka_mac_len(c);
}

size_t aka_auts_len(const struct aka_cred *c)
{
	return AKA_SQN_LEN + aka_mac_len(c);
}

static int aka_f1_any(const struct aka_cred *c, const uint8_t rand[16],
		      const uint8_t sqn[6], const uint8_t amf[2], int star, uint8_t *mac)
{
	int err = aka_cred_check(c);

	if (err)
		return err;
	switch (c->algo) {
	case AKA_ALGO_MILENAGE:
		return star ? milenage_f1(c->k, c->opc, rand, sqn, amf, NULL, mac)
			    : milenage_f1(c->k, c->opc, rand, sqn, amf, mac, NULL);
	case AKA_ALGO_TUAK:
		return tuak_f1(c->k, c->k_len, c->opc, &c->tuak, rand, sqn, amf, star, mac);
	case AKA_ALGO_XOR:
		/* TS 34.108 §8.1.2.2: MAC-S is computed like MAC-A. */
		xor_alg_f1(c->k, rand, sqn, amf, mac);
		return 0;
	}
	return EINVAL;
}

int aka_f1(const struct aka_cred *c, const uint8_t rand[16], const uint8_t sqn[6],
	   const uint8_t amf[2], uint8_t *mac_a)
{
	return aka_f1_any(c, rand, sqn, amf, 0, mac_a);
}

int aka_f1star(const struct aka_cred *c, const uint8_t rand[16], const uint8_t sqn[6],
	       const uint8_t amf[2], uint8_t *mac_s)
{
	return aka_f1_any(c, rand, sqn, amf, 1, mac_s);
}

int aka_f2345(const struct aka_cred *c, const uint8_t rand[16], uint8_t *res,
	      uint8_t *ck, uint8_t *ik, uint8_t ak[6])
{
	int err = aka_cred_check(c);

	if (err)
		return err;
	switch (c->algo) {
	case AKA_ALGO_MILENAGE:
		return milenage_f2345(c->k, c->opc, rand, res, ck, ik, ak, NULL);
	case AKA_ALGO_TUAK:
		return tuak_f2345(c->k, c->k_len, c->opc, &c->tuak, rand, res, ck, ik, ak);
	case AKA_ALGO_XOR:
		return xor_alg_f2345(c->k, rand, res, c->xor_res_len, ck, ik, ak);
	}
	return EINVAL;
}

int aka_f5star(const struct aka_cred *c, const uint8_t rand[16], uint8_t akstar[6])
{
	int err = aka_cred_check(c);

	if (err)
		return err;
	switch (c->algo) {
	case AKA_ALGO_MILENAGE:
		return milenage_f2345(c->k, c->opc, rand, NULL, NULL, NULL, NULL, akstar);
	case AKA_ALGO_TUAK:
		return tuak_f5star(c->k, c->k_len, c->opc, &c->tuak, rand, akstar);
	case AKA_ALGO_XOR:
		/* TS 34.108 §8.1.2.2: AK for AUTS is f5 itself. */
		return xor_alg_f2345(c->k, rand, NULL, 0, NULL, NULL, akstar);
	}
	return EINVAL;
}

int aka_vector_generate(const struct aka_cred *c, const uint8_t rand[16], uint64_t sqn,
			struct aka_vector *av)
{
	uint8_t sqnb[6], mac[AKA_MAC_MAX];
	size_t ml;
	int err;

	if (!c || !rand || !av || sqn > SQN_MAX)
		return EINVAL;
	memset(av, 0, sizeof(*av));
	sqn_to_bytes(sqn, sqnb);
	err = aka_f2345(c, rand, av->xres, av->ck, av->ik, av->ak);
	if (!err)
		err = aka_f1(c, rand, sqnb, c->amf, mac);
	if (err) {
		aka_vector_wipe(av);
		return err;
	}
	ml = aka_mac_len(c);
	memcpy(av->rand, rand, AKA_RAND_LEN);
	av->xres_len = aka_res_len(c);
	av->ck_len = aka_ck_len(c);
	av->ik_len = aka_ik_len(c);
	av->sqn = sqn;
	for (int i = 0; i < 6; i++)
		av->autn[i] = sqnb[i] ^ av->ak[i];
	memcpy(av->autn + 6, c->amf, 2);
	memcpy(av->autn + 8, mac, ml);
	av->autn_len = 8 + ml;
	explicit_bzero(mac, sizeof(mac));
	return 0;
}

int aka_auts_verify(const struct aka_cred *c, const uint8_t rand[16], const uint8_t *auts,
		    size_t auts_len, uint64_t *sqn_ms)
{
	static const uint8_t amf_resync[2] = {0, 0};
	uint8_t akstar[6], sqnb[6], xmac[AKA_MAC_MAX];
	size_t ml;
	int err;

	if (!c || !rand || !auts || !sqn_ms)
		return EINVAL;
	err = aka_cred_check(c);
	if (err)
		return err;
	ml = aka_mac_len(c);
	if (auts_len != AKA_SQN_LEN + ml)
		return EINVAL;
	err = aka_f5star(c, rand, akstar);
	if (err)
		return err;
	for (int i = 0; i < 6; i++)
		sqnb[i] = auts[i] ^ akstar[i];
	err = aka_f1star(c, rand, sqnb, amf_resync, xmac);
	if (!err && CRYPTO_memcmp(xmac, auts + 6, ml) != 0)
		err = EACCES;
	if (!err)
		*sqn_ms = sqn_from_bytes(sqnb);
	explicit_bzero(akstar, sizeof(akstar));
	explicit_bzero(xmac, sizeof(xmac));
	return err;
}

int aka_autn_check(const struct aka_cred *c, const uint8_t rand[16], const uint8_t *autn,
		   size_t autn_len, struct aka_vector *av)
{
	uint8_t sqnb[6], xmac[AKA_MAC_MAX];
	size_t ml;
	int err;

	if (!c || !rand || !autn || !av)
		return EINVAL;
	err = aka_cred_check(c);
	if (err)
		return err;
	ml = aka_mac_len(c);
	if (autn_len != 8 + ml)
		return EINVAL;
	memset(av, 0, sizeof(*av));
	err = aka_f2345(c, rand, av->xres, av->ck, av->ik, av->ak);
	if (err)
		goto out;
	for (int i = 0; i < 6; i++)
		sqnb[i] = autn[i] ^ av->ak[i];
	/* The AMF in AUTN is the one the network used; the UE checks the MAC
	 * over it, not over its own idea of AMF. */
	err = aka_f1(c, rand, sqnb, autn + 6, xmac);
	if (!err && CRYPTO_memcmp(xmac, autn + 8, ml) != 0)
		err = EACCES;
	if (err)
		goto out;
	memcpy(av->rand, rand, AKA_RAND_LEN);
	memcpy(av->autn, autn, autn_len);
	av->autn_len = autn_len;
	av->xres_len = aka_res_len(c);
	av->ck_len = aka_ck_len(c);
	av->ik_len = aka_ik_len(c);
	av->sqn = sqn_from_bytes(sqnb);
out:
	if (err)
		aka_vector_wipe(av);
	explicit_bzero(xmac, sizeof(xmac));
	return err;
}

int aka_auts_build(const struct aka_cred *c, const uint8_t rand[16], uint64_t sqn_ms,
		   uint8_t *auts, size_t *auts_len)
{
	static const uint8_t amf_resync[2] = {0, 0};
	uint8_t akstar[6], sqnb[6];
	int err;

	if (!c || !rand || !auts || !auts_len || sqn_ms > SQN_MAX)
		return EINVAL;
	sqn_to_bytes(sqn_ms, sqnb);
	err = aka_f5star(c, rand, akstar);
	if (!err)
		err = aka_f1star(c, rand, sqnb, amf_resync, auts + 6);
	if (!err) {
		for (int i = 0; i < 6; i++)
			auts[i] = sqnb[i] ^ akstar[i];
		*auts_len = aka_auts_len(c);
	}
	explicit_bzero(akstar, sizeof(akstar));
	return err;
}

void aka_vector_wipe(struct aka_vector *av)
{
	if (av)
		explicit_bzero(av, sizeof(*av));
}
