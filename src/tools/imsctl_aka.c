/*
 * imsctl aka-response — what a UE computes from a Digest AKA challenge
 * (RFC 3310 §3.3/3.4, RFC 4169): check AUTN, derive RES/CK/IK, optionally
 * decide that SQN is not fresh and answer with AUTS, then compute the Digest
 * response with the AKA password.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/aka.h"
#include "auth/auth_codec.h"
#include "auth/digest.h"
#include "auth/sqn.h"
#include "tools/imsctl.h"

#define SD_MAX 256

struct aka_rsp_ctx {
	struct aka_cred cred;
	struct aka_vector av;
	struct digest_prm dp;
	uint8_t pw[DIGEST_PW_MAX];
	size_t pw_len;
	uint8_t auts[AKA_AUTS_MAX];
	size_t auts_len;
	bool resync;
};

static int parse_algo(const struct imsctl_opts *o, enum aka_algo *algo)
{
	const char *s = imsctl_opt(o, "algo");

	*algo = AKA_ALGO_MILENAGE;
	if (s && aka_algo_from_str(s, algo)) {
		imsctl_err(o->cmd, "--algo: expected milenage, tuak or xor, got \"%s\"", s);
		return IMSCTL_EXIT_USAGE;
	}
	return 0;
}

static int parse_digest(const struct imsctl_opts *o, struct digest_prm *dp)
{
	unsigned long ver = 1;
	const char *s;
	int err;

	memset(dp, 0, sizeof(*dp));
	err = imsctl_uint(o, "aka-version", 1, 2, &ver);
	if (err)
		return err;
	if (imsctl_flag(o, "sha256"))
		dp->algo = ver == 1 ? DIGEST_ALGO_AKAV1_SHA256 : DIGEST_ALGO_AKAV2_SHA256;
	else
		dp->algo = ver == 1 ? DIGEST_ALGO_AKAV1_MD5 : DIGEST_ALGO_AKAV2_MD5;
	if (imsctl_need(o, "username", &s))
		return IMSCTL_EXIT_USAGE;
	dp->username = pl_from_str(s);
	if (imsctl_need(o, "realm", &s))
		return IMSCTL_EXIT_USAGE;
	dp->realm = pl_from_str(s);
	if (imsctl_need(o, "uri", &s))
		return IMSCTL_EXIT_USAGE;
	dp->uri = pl_from_str(s);
	s = imsctl_opt(o, "method");
	dp->method = pl_from_str(s ? s : "REGISTER");
	if (imsctl_need(o, "nonce", &s))
		return IMSCTL_EXIT_USAGE;
	dp->nonce = pl_from_str(s);
	return 0;
}

static bool is_hex8(const char *s)
{
	uint8_t b[4];

	return strlen(s) == 8 && auth_hex_decode(s, 8, b, sizeof(b), NULL) == 0;
}

static int parse_qop(const struct imsctl_opts *o, struct digest_prm *dp)
{
	const char *q = imsctl_opt(o, "qop"), *nc = imsctl_opt(o, "nc");
	const char *cn = imsctl_opt(o, "cnonce"), *body = imsctl_opt(o, "body");

	if (digest_qop_from_pl(pl_from_str(q ? q : ""), &dp->qop)) {
		imsctl_err(o->cmd, "--qop: expected auth or auth-int, got \"%s\"", q);
		return IMSCTL_EXIT_USAGE;
	}
	if (dp->qop == DIGEST_QOP_NONE) {
		if (cn || nc || body) {
			imsctl_err(o->cmd, "--cnonce, --nc and --body need --qop");
			return IMSCTL_EXIT_USAGE;
		}
		return 0;
	}
	if (!cn || !*cn) {
		imsctl_err(o->cmd, "--qop %s needs --cnonce", q);
		return IMSCTL_EXIT_USAGE;
	}
	if (nc && !is_hex8(nc)) {
		imsctl_err(o->cmd, "--nc: expected 8 hex digits, got \"%s\"", nc);
		return IMSCTL_EXIT_USAGE;
	}
	if (body && dp->qop != DIGEST_QOP_AUTH_INT) {
		imsctl_err(o->cmd, "--body is only used with --qop auth-int");
		return IMSCTL_EXIT_USAGE;
	}
	dp->cnonce = pl_from_str(cn);
	dp->nc = pl_from_str(nc ? nc : "00000001");
	dp->body = pl_from_str(body ? body : "");
	return 0;
}

/* Decode the nonce and check AUTN; 0, IMSCTL_EXIT_USAGE or IMSCTL_EXIT_FAIL. */
static int check_challenge(const struct imsctl_opts *o, struct aka_rsp_ctx *x)
{
	uint8_t rand[16], autn[AKA_AUTN_MAX], sd[SD_MAX];
	size_t alen = aka_autn_len(&x->cred), sdl = 0;
	int err;

	err = digest_aka_nonce_decode(x->dp.nonce, alen, rand, autn, sd, sizeof(sd), &sdl);
	if (err) {
		imsctl_err(o->cmd, "--nonce: not base64 of RAND(16) || AUTN(%zu) || server "
			   "data(<=%d) bytes",
			   alen, SD_MAX);
		return IMSCTL_EXIT_USAGE;
	}
	err = aka_autn_check(&x->cred, rand, autn, alen, &x->av);
	if (err) {
		imsctl_err(o->cmd, "AUTN MAC check failed: the challenge was not made with "
			   "these credentials (wrong K/OPc/algorithm, or not a genuine network)");
		return IMSCTL_EXIT_FAIL;
	}
	return 0;
}

/* With --sqn-ms, play the USIM's freshness check (TS 33.102 Annex C.2). */
static int check_sqn(const struct imsctl_opts *o, struct aka_rsp_ctx *x)
{
	uint8_t b[6];
	struct sqn_ms ms;
	unsigned long delta = 0;
	int err;

	if (!imsctl_opt(o, "sqn-ms")) {
		if (!imsctl_opt(o, "delta"))
			return 0;
		imsctl_err(o->cmd, "--delta needs --sqn-ms");
		return IMSCTL_EXIT_USAGE;
	}
	err = imsctl_hex(o, "sqn-ms", b, 6, 0, NULL);
	if (!err)
		err = imsctl_uint(o, "delta", 1, (unsigned long)SQN_SEQ_MAX, &delta);
	if (err)
		return err;
	sqn_ms_init(&ms, sqn_from_bytes(b), delta);
	if (sqn_ms_is_fresh(&ms, x->av.sqn))
		return 0;
	x->resync = true;
	if (aka_auts_build(&x->cred, x->av.rand, ms.highest, x->auts, &x->auts_len)) {
		imsctl_err(o->cmd, "AUTS computation failed");
		return IMSCTL_EXIT_FAIL;
	}
	return 0;
}

static int respond(const struct imsctl_opts *o, struct aka_rsp_ctx *x)
{
	char out[DIGEST_HEX_SIZE];
	uint8_t sqnb[6];

	if (!x->resync &&
	    digest_aka_password(x->dp.algo, x->av.xres, x->av.xres_len, x->av.ik, x->av.ik_len,
				x->av.ck, x->av.ck_len, x->pw, &x->pw_len)) {
		imsctl_err(o->cmd, "password derivation failed");
		return IMSCTL_EXIT_FAIL;
	}
	/* RFC 3310 §3.4: a resync answer is computed with an empty password. */
	x->dp.password = (struct pl){(const char *)x->pw, x->resync ? 0 : x->pw_len};
	if (digest_response_calc(&x->dp, out)) {
		imsctl_err(o->cmd, "digest computation failed");
		return IMSCTL_EXIT_FAIL;
	}
	sqn_to_bytes(x->av.sqn, sqnb);
	imsctl_print_hex("sqn", sqnb, 6);
	if (x->resync) {
		imsctl_print_hex("auts", x->auts, x->auts_len);
	} else {
		imsctl_print_hex("res", x->av.xres, x->av.xres_len);
		imsctl_print_hex("ck", x->av.ck, x->av.ck_len);
		imsctl_print_hex("ik", x->av.ik, x->av.ik_len);
	}
	printf("response=%s\n", out);
	return IMSCTL_EXIT_OK;
}

static int run_aka_response(struct imsctl_opts *o)
{
	struct aka_rsp_ctx *x = OPENSSL_zalloc(sizeof(*x));
	enum aka_algo algo;
	int err;

	if (!x) {
		imsctl_err(o->cmd, "out of memory");
		return IMSCTL_EXIT_FAIL;
	}
	err = parse_algo(o, &algo);
	if (!err)
		err = imsctl_cred_parse(o, algo, &x->cred, false);
	if (!err)
		err = parse_digest(o, &x->dp);
	if (!err)
		err = parse_qop(o, &x->dp);
	if (!err)
		err = check_challenge(o, x);
	if (!err)
		err = check_sqn(o, x);
	if (!err)
		err = respond(o, x);
	OPENSSL_clear_free(x, sizeof(*x));
	return err;
}

static const struct imsctl_optdef aka_opts[] = {
	{"algo", true},	    {"k", true},	{"op", true},	   {"opc", true},
	{"top", true},	    {"topc", true},	{"keccak", true},  {"mac-len", true},
	{"res-len", true},  {"ck-len", true},	{"ik-len", true},  {"nonce", true},
	{"sqn-ms", true},   {"delta", true},	{"username", true}, {"realm", true},
	{"uri", true},	    {"method", true},	{"qop", true},	   {"cnonce", true},
	{"nc", true},	    {"body", true},	{"aka-version", true}, {"sha256", false},
};

const struct imsctl_cmd imsctl_cmd_aka_response = {
	.name = "aka-response",
	.summary = "the UE's answer to a Digest AKA challenge (RFC 3310/4169)",
	.help =
		"usage: imsctl aka-response --nonce B64 [--algo milenage|tuak|xor] --k K\n"
		"         (--op OP | --opc OPC | --top TOP | --topc TOPC) [TUAK/XOR lengths]\n"
		"         --username IMPI --realm REALM --uri URI [--method REGISTER]\n"
		"         [--qop auth|auth-int --cnonce C [--nc 00000001] [--body TEXT]]\n"
		"         [--aka-version 1|2] [--sha256] [--sqn-ms SQN [--delta N]]\n\n"
		"Decodes the nonce (base64 of RAND || AUTN || server data), checks the MAC in\n"
		"AUTN with the SIM credentials and prints sqn, res, ck, ik and the Digest\n"
		"response. The algorithm is AKAv1-MD5, AKAv2-MD5 (--aka-version 2), or their\n"
		"SHA-256 forms with --sha256. A wrong MAC is an error (exit 1).\n"
		"--sqn-ms is the highest SQN the SIM has accepted: if the challenge's SQN is\n"
		"not fresh (not above it, or more than --delta SEQ steps ahead, default 2^28)\n"
		"the UE asks for a resync: sqn and auts are printed and the response uses an\n"
		"empty password (RFC 3310 §3.4). TUAK takes --keccak/--mac-len/--res-len/\n"
		"--ck-len/--ik-len as in `imsctl tuak`; XOR takes --res-len (bits, default 64).\n\n"
		"example:\n"
		"  imsctl aka-response --k 465b5ce8b199b49faa5f0a2ee238a6bc \\\n"
		"    --opc cd63cb71954a9f4e48a5994e37a02baf \\\n"
		"    --nonce I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M= \\\n"
		"    --username user@ims.example --realm ims.example --uri sip:ims.example \\\n"
		"    --qop auth --cnonce 0a4f113b --nc 00000001\n",
	.defs = aka_opts,
	.ndefs = sizeof(aka_opts) / sizeof(aka_opts[0]),
	.run = run_aka_response,
};
