/*
 * imsctl milenage / tuak / xor — the authentication functions f1..f5* for
 * given SIM credentials (TS 35.206, TS 35.231, TS 34.108 §8.1.2).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/aka.h"
#include "auth/milenage.h"
#include "auth/tuak.h"
#include "tools/imsctl.h"

/* TUAK lengths are given in bits on the command line. */
static int tuak_len_opt(const struct imsctl_opts *o, const char *name, const unsigned *ok,
			size_t *bytes)
{
	unsigned long bits = *bytes * 8;
	int err = imsctl_uint(o, name, 1, 4096, &bits);

	if (err)
		return err;
	for (const unsigned *p = ok; *p; p++) {
		if (bits == *p) {
			*bytes = bits / 8;
			return 0;
		}
	}
	imsctl_err(o->cmd, "--%s: %lu bits is not allowed here (TS 35.231 §5.1)", name, bits);
	return IMSCTL_EXIT_USAGE;
}

static int tuak_prm_parse(const struct imsctl_opts *o, struct tuak_prm *prm)
{
	static const unsigned mac_ok[] = {64, 128, 256, 0};
	static const unsigned res_ok[] = {32, 64, 128, 256, 0};
	static const unsigned key_ok[] = {128, 256, 0};
	unsigned long it = prm->iterations;
	int err;

	err = imsctl_uint(o, "keccak", 1, TUAK_ITER_MAX, &it);
	if (!err)
		err = tuak_len_opt(o, "mac-len", mac_ok, &prm->mac_len);
	if (!err)
		err = tuak_len_opt(o, "res-len", res_ok, &prm->res_len);
	if (!err)
		err = tuak_len_opt(o, "ck-len", key_ok, &prm->ck_len);
	if (!err)
		err = tuak_len_opt(o, "ik-len", key_ok, &prm->ik_len);
	prm->iterations = (unsigned)it;
	return err;
}

static int op_parse(const struct imsctl_opts *o, struct aka_cred *c, const char *op,
		    const char *opc, size_t len)
{
	uint8_t v[32];
	int which = imsctl_one_of(o, op, opc);
	int err;

	if (which < 0)
		return IMSCTL_EXIT_USAGE;
	err = imsctl_hex(o, which ? opc : op, which ? c->opc : v, len, 0, NULL);
	if (err || which)
		return err;
	err = aka_cred_set_op(c, v, len) ? IMSCTL_EXIT_USAGE : 0;
	if (err)
		imsctl_err(o->cmd, "cannot derive OPc/TOPc from --%s", op);
	OPENSSL_cleanse(v, sizeof(v));
	return err;
}

/* An option the algorithm does not use is a mistake on the command line
 * (a TUAK --top with Milenage), not something to ignore. */
static int foreign_opts(const struct imsctl_opts *o, int algo)
{
	static const char *const milenage[] = {"top",	  "topc",   "keccak", "mac-len",
					       "res-len", "ck-len", "ik-len", NULL};
	static const char *const tuak[] = {"op", "opc", NULL};
	static const char *const xor [] = {
	    "op", "opc", "top", "topc", "keccak", "mac-len", "ck-len", "ik-len", NULL};
	const char *const *no = algo == AKA_ALGO_TUAK  ? tuak
				: algo == AKA_ALGO_XOR ? xor
						       : milenage;

	for (; *no; no++) {
		if (imsctl_opt(o, *no)) {
			imsctl_err(o->cmd, "--%s is not used by %s", *no,
				   algo == AKA_ALGO_TUAK  ? "TUAK"
				   : algo == AKA_ALGO_XOR ? "the XOR algorithm"
							  : "Milenage");
			return IMSCTL_EXIT_USAGE;
		}
	}
	return 0;
}

int imsctl_cred_parse(const struct imsctl_opts *o, int algo, struct aka_cred *c,
		      bool want_amf)
{
	unsigned long res_bits = 64;
	int err;

	aka_cred_init(c, (enum aka_algo)algo);
	err = foreign_opts(o, algo);
	if (err)
		return err;
	if (algo == AKA_ALGO_TUAK) {
		err = tuak_prm_parse(o, &c->tuak);
		if (!err)
			err = imsctl_hex(o, "k", c->k, 16, 32, &c->k_len);
		if (!err)
			err = op_parse(o, c, "top", "topc", 32);
	} else {
		err = imsctl_hex(o, "k", c->k, 16, 0, &c->k_len);
		if (!err && algo == AKA_ALGO_MILENAGE)
			err = op_parse(o, c, "op", "opc", 16);
		if (!err && algo == AKA_ALGO_XOR) {
			err = imsctl_uint(o, "res-len", 32, 128, &res_bits);
			if (!err && res_bits % 8) {
				imsctl_err(o->cmd, "--res-len: must be a multiple of 8 bits");
				err = IMSCTL_EXIT_USAGE;
			}
			c->xor_res_len = res_bits / 8;
		}
	}
	if (!err && want_amf)
		err = imsctl_hex(o, "amf", c->amf, 2, 0, NULL);
	return err;
}

/* The outputs all three commands print, in the order of the spec. */
static int print_functions(const struct imsctl_opts *o, const struct aka_cred *c,
			   const char *opc_name)
{
	uint8_t rand[16], sqn[6], mac[AKA_MAC_MAX], res[32], ck[32], ik[32], ak[6], aks[6];
	int err;

	err = imsctl_hex(o, "rand", rand, 16, 0, NULL);
	if (!err)
		err = imsctl_hex(o, "sqn", sqn, 6, 0, NULL);
	if (err)
		return err;
	if (opc_name)
		imsctl_print_hex(opc_name, c->opc, c->algo == AKA_ALGO_TUAK ? 32 : 16);
	if (aka_f1(c, rand, sqn, c->amf, mac))
		goto fail;
	imsctl_print_hex("f1", mac, aka_mac_len(c));
	if (aka_f1star(c, rand, sqn, c->amf, mac))
		goto fail;
	imsctl_print_hex("f1star", mac, aka_mac_len(c));
	if (aka_f2345(c, rand, res, ck, ik, ak) || aka_f5star(c, rand, aks))
		goto fail;
	imsctl_print_hex("f2", res, aka_res_len(c));
	imsctl_print_hex("f3", ck, aka_ck_len(c));
	imsctl_print_hex("f4", ik, aka_ik_len(c));
	imsctl_print_hex("f5", ak, 6);
	imsctl_print_hex("f5star", aks, 6);
	OPENSSL_cleanse(res, sizeof(res));
	OPENSSL_cleanse(ck, sizeof(ck));
	OPENSSL_cleanse(ik, sizeof(ik));
	return IMSCTL_EXIT_OK;
fail:
	imsctl_err(o->cmd, "computation failed");
	return IMSCTL_EXIT_FAIL;
}

static int run_algo(struct imsctl_opts *o, enum aka_algo algo, const char *opc_name)
{
	struct aka_cred c;
	int err = imsctl_cred_parse(o, algo, &c, true);

	if (!err)
		err = print_functions(o, &c, opc_name);
	aka_cred_wipe(&c);
	return err;
}

static int run_milenage(struct imsctl_opts *o)
{
	return run_algo(o, AKA_ALGO_MILENAGE, "opc");
}

static int run_tuak(struct imsctl_opts *o)
{
	return run_algo(o, AKA_ALGO_TUAK, "topc");
}

static int run_xor(struct imsctl_opts *o)
{
	return run_algo(o, AKA_ALGO_XOR, NULL);
}

static const struct imsctl_optdef milenage_opts[] = {
	{"k", true}, {"op", true}, {"opc", true}, {"rand", true}, {"sqn", true}, {"amf", true},
};

const struct imsctl_cmd imsctl_cmd_milenage = {
	.name = "milenage",
	.summary = "MILENAGE OPc, f1, f1*, f2-f5, f5* (TS 35.206)",
	.help = "usage: imsctl milenage --k K (--op OP | --opc OPC) --rand RAND --sqn SQN "
		"--amf AMF\n\n"
		"Prints opc, f1 (MAC-A), f1star (MAC-S), f2 (RES), f3 (CK), f4 (IK), f5 (AK)\n"
		"and f5star (AK for resync). K, OP, OPc and RAND are 32 hex digits, SQN 12,\n"
		"AMF 4.\n\n"
		"example (TS 35.208 test set 1):\n"
		"  imsctl milenage --k 465b5ce8b199b49faa5f0a2ee238a6bc \\\n"
		"    --op cdc202d5123e20f62b6d676ac72cb318 \\\n"
		"    --rand 23553cbe9637a89d218ae64dae47bf35 --sqn ff9bb4d0b607 --amf b9b9\n",
	.defs = milenage_opts,
	.ndefs = sizeof(milenage_opts) / sizeof(milenage_opts[0]),
	.run = run_milenage,
};

static const struct imsctl_optdef tuak_opts[] = {
	{"k", true},	   {"top", true},     {"topc", true},    {"rand", true},
	{"sqn", true},	   {"amf", true},     {"keccak", true},  {"mac-len", true},
	{"res-len", true}, {"ck-len", true},  {"ik-len", true},
};

const struct imsctl_cmd imsctl_cmd_tuak = {
	.name = "tuak",
	.summary = "TUAK TOPc, f1, f1*, f2-f5, f5* (TS 35.231)",
	.help = "usage: imsctl tuak --k K (--top TOP | --topc TOPC) --rand RAND --sqn SQN "
		"--amf AMF\n"
		"                   [--keccak N] [--mac-len BITS] [--res-len BITS]\n"
		"                   [--ck-len BITS] [--ik-len BITS]\n\n"
		"K is 32 or 64 hex digits (128 or 256 bits), TOP/TOPc 64. Defaults: 1 Keccak\n"
		"iteration, MAC 64, RES 32, CK 128, IK 128 bits. MAC may be 64/128/256, RES\n"
		"32/64/128/256, CK and IK 128/256. Prints topc, f1, f1star, f2, f3, f4, f5,\n"
		"f5star.\n\n"
		"example (TS 35.233 test set 1):\n"
		"  imsctl tuak --k abababababababababababababababab \\\n"
		"    --top 5555555555555555555555555555555555555555555555555555555555555555 \\\n"
		"    --rand 42424242424242424242424242424242 --sqn 111111111111 --amf ffff\n",
	.defs = tuak_opts,
	.ndefs = sizeof(tuak_opts) / sizeof(tuak_opts[0]),
	.run = run_tuak,
};

static const struct imsctl_optdef xor_opts[] = {
	{"k", true}, {"rand", true}, {"sqn", true}, {"amf", true}, {"res-len", true},
};

const struct imsctl_cmd imsctl_cmd_xor = {
	.name = "xor",
	.summary = "3GPP test algorithm (XOR) of test SIMs (TS 34.108 8.1.2)",
	.help = "usage: imsctl xor --k K --rand RAND --sqn SQN --amf AMF [--res-len BITS]\n\n"
		"The test algorithm of TS 34.108 §8.1.2: XDOUT = K xor RAND, RES = first\n"
		"res-len bits of XDOUT (32..128, multiple of 8, default 64), CK/IK = XDOUT\n"
		"rotated by 1/2 bytes, AK = XDOUT bits 24..71, MAC = XDOUT[0..63] xor\n"
		"(SQN || AMF). f1star and f5star equal f1 and f5 for the same inputs.\n"
		"Prints f1, f1star, f2, f3, f4, f5, f5star.\n\n"
		"example (the TS 34.108 §8.2 test K):\n"
		"  imsctl xor --k 000102030405060708090a0b0c0d0e0f \\\n"
		"    --rand 34343434343434343434343434343434 --sqn 000000000001 --amf 8000\n",
	.defs = xor_opts,
	.ndefs = sizeof(xor_opts) / sizeof(xor_opts[0]),
	.run = run_xor,
};
