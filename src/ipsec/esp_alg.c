/*
 * ipsec/esp_alg — the algorithm table of the ESP codec, TS 33.203 Annex I
 * key expansion, and the OpenSSL 3 contexts each SA keeps.
 *
 * Key expansion (TS 33.203 Annex I, CK and IK of 128 bits):
 *   hmac-md5-96, hmac-md5-128, aes-cmac-96:  IK_ESP = IK
 *   hmac-sha-1-96, hmac-sha-1-160:           IK_ESP = IK || 32 zero bits
 *   des-ede3-cbc:                            CK_ESP = CK1 || CK2 || CK1
 *   aes-cbc, aes-ctr, aes-gcm, blowfish:     CK_ESP = CK
 *   des-cbc:                                 CK_ESP = CK1 (the 64 first bits)
 * where CK = CK1 || CK2. The 32-bit salts that RFC 3686 (aes-ctr nonce),
 * RFC 4106 (aes-gcm) and RFC 4543 (aes-gmac) add to the key are taken from
 * the other AKA key: aes-ctr/aes-gcm salt = IK[0..3], aes-gmac (keyed with
 * IK) salt = CK[0..3]. That choice is imsd's (docs/ipsec.md): both ends
 * know CK and IK, and esp_key_expand() is the one place to change it.
 * Checked 2026-12-06 against what the public reference text holds of
 * TS 33.203: §7.1 takes the algorithms from the profile of TS 33.210
 * §5.3.3/§5.3.4, "only algorithms that can be signalled according to
 * Annex H"; Annex I expands CK/IK for aes-cbc, des-ede3-cbc, hmac-md5-96
 * and hmac-sha-1-96 only; the NAT annex (M.6.2) says "a suitable key
 * expansion function". No clause giving the counter modes' 4 salt bytes
 * (RFC 4106 §8.1, RFC 3686 §5.1, RFC 4543 §3.2) was found, so the rule
 * above stays imsd's own until that clause is read.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "ipsec/esp_int.h"

static const char *const aalg_names[ESP_AALG_COUNT] = {
    "null", "hmac-md5-96", "hmac-md5-128", "hmac-sha-1-96", "hmac-sha-1-160",
    "aes-cmac-96", "aes-gmac",
};
static const char *const ealg_names[ESP_EALG_COUNT] = {
    "null", "aes-cbc", "des-cbc", "des-ede3-cbc", "blowfish", "aes-ctr", "aes-gcm",
};

const char *esp_aalg_name(enum esp_aalg a)
{
	return (unsigned)a < ESP_AALG_COUNT ? aalg_names[a] : "?";
}

const char *esp_ealg_name(enum esp_ealg e)
{
	return (unsigned)e < ESP_EALG_COUNT ? ealg_names[e] : "?";
}

static int name_find(const char *const *names, int count, const char *s, size_t n)
{
	for (int i = 0; i < count; i++) {
		if (strlen(names[i]) == n && !strncasecmp(names[i], s, n))
			return i;
	}
	return -1;
}

int esp_aalg_from_str(const char *s, size_t n, enum esp_aalg *a)
{
	int i = s ? name_find(aalg_names, ESP_AALG_COUNT, s, n) : -1;

	if (i < 0)
		return EINVAL;
	*a = (enum esp_aalg)i;
	return 0;
}

int esp_ealg_from_str(const char *s, size_t n, enum esp_ealg *e)
{
	int i = s ? name_find(ealg_names, ESP_EALG_COUNT, s, n) : -1;

	if (i < 0)
		return EINVAL;
	*e = (enum esp_ealg)i;
	return 0;
}

size_t esp_ealg_key_len(enum esp_ealg e)
{
	static const size_t len[ESP_EALG_COUNT] = {0, 16, 8, 24, 16, 16, 16};

	return (unsigned)e < ESP_EALG_COUNT ? len[e] : 0;
}

size_t esp_aalg_key_len(enum esp_aalg a)
{
	static const size_t len[ESP_AALG_COUNT] = {0, 16, 16, 20, 20, 16, 16};

	return (unsigned)a < ESP_AALG_COUNT ? len[a] : 0;
}

size_t esp_icv_len(enum esp_aalg a, enum esp_ealg e)
{
	static const size_t len[ESP_AALG_COUNT] = {0, 12, 16, 12, 20, 12, 16};

	if (e == ESP_EALG_AES_GCM)
		return 16; /* RFC 4106 ICV, the alg adds nothing */
	return (unsigned)a < ESP_AALG_COUNT ? len[a] : 0;
}

bool esp_alg_pair_valid(enum esp_aalg a, enum esp_ealg e)
{
	if ((unsigned)a >= ESP_AALG_COUNT || (unsigned)e >= ESP_EALG_COUNT)
		return false;
	/* RFC 4543 defines GMAC as ENCR_NULL_AUTH_AES_GMAC: no cipher beside it */
	if (a == ESP_AALG_AES_GMAC && e != ESP_EALG_NULL && e != ESP_EALG_AES_GCM)
		return false;
	return true;
}

/* --- key expansion --- */

int esp_key_expand(enum esp_aalg a, enum esp_ealg e, const uint8_t ck[16],
		   const uint8_t ik[16], struct esp_keys *out)
{
	if (!ck || !ik || !out || !esp_alg_pair_valid(a, e))
		return EINVAL;
	memset(out, 0, sizeof(*out));
	switch (a) {
	case ESP_AALG_HMAC_SHA1_96:
	case ESP_AALG_HMAC_SHA1_160:
		memcpy(out->akey, ik, 16); /* then 32 zero bits (Annex I) */
		out->akey_len = 20;
		break;
	case ESP_AALG_NULL:
		break;
	default:
		memcpy(out->akey, ik, 16);
		out->akey_len = 16;
		break;
	}
	if (a == ESP_AALG_AES_GMAC)
		memcpy(out->asalt, ck, ESP_SALT_LEN);
	switch (e) {
	case ESP_EALG_NULL:
		break;
	case ESP_EALG_DES_CBC:
		memcpy(out->ekey, ck, 8);
		out->ekey_len = 8;
		break;
	case ESP_EALG_DES_EDE3_CBC:
		memcpy(out->ekey, ck, 16);
		memcpy(out->ekey + 16, ck, 8);
		out->ekey_len = 24;
		break;
	default:
		memcpy(out->ekey, ck, 16);
		out->ekey_len = 16;
		break;
	}
	if (e == ESP_EALG_AES_CTR || e == ESP_EALG_AES_GCM)
		memcpy(out->esalt, ik, ESP_SALT_LEN);
	return 0;
}

void esp_keys_wipe(struct esp_keys *k)
{
	if (k)
		OPENSSL_cleanse(k, sizeof(*k));
}

/* --- OpenSSL providers --- */

static pthread_once_t legacy_once = PTHREAD_ONCE_INIT;
static bool legacy_ok;
/* Kept for the life of the process (OpenSSL's exit handler unloads them) */
static OSSL_PROVIDER *prov_default, *prov_legacy;

static void legacy_load(void)
{
	/* Loading one provider stops the implicit load of "default": load both */
	prov_default = OSSL_PROVIDER_load(NULL, "default");
	prov_legacy = OSSL_PROVIDER_load(NULL, "legacy");
	legacy_ok = prov_default && prov_legacy;
}

static const char *cipher_name(enum esp_ealg e, int *legacy)
{
	*legacy = 0;
	switch (e) {
	case ESP_EALG_AES_CBC:
		return "AES-128-CBC";
	case ESP_EALG_DES_CBC:
		*legacy = 1;
		return "DES-CBC";
	case ESP_EALG_DES_EDE3_CBC:
		return "DES-EDE3-CBC";
	case ESP_EALG_BLOWFISH:
		*legacy = 1;
		return "BF-CBC";
	case ESP_EALG_AES_CTR:
		return "AES-128-CTR";
	case ESP_EALG_AES_GCM:
		return "AES-128-GCM";
	default:
		return NULL;
	}
}

static EVP_CIPHER *cipher_fetch(enum esp_ealg e, enum esp_aalg a)
{
	int legacy;
	const char *name = cipher_name(e, &legacy);

	if (!name && a == ESP_AALG_AES_GMAC)
		name = "AES-128-GCM";
	if (!name)
		return NULL;
	if (legacy) {
		pthread_once(&legacy_once, legacy_load);
		if (!legacy_ok)
			return NULL;
	}
	return EVP_CIPHER_fetch(NULL, name, legacy ? "provider=legacy" : NULL);
}

bool esp_alg_pair_available(enum esp_aalg a, enum esp_ealg e)
{
	struct esp_keys k = {.ekey_len = 0};
	struct esp_sa *sa = NULL;
	static const uint8_t zero[16];
	struct esp_sa_prm p = {.spi = 1, .aalg = a, .ealg = e, .keys = &k};
	bool ok;

	if (esp_key_expand(a, e, zero, zero, &k))
		return false;
	ok = esp_sa_alloc(&sa, &p) == 0;
	esp_sa_free(sa);
	return ok;
}

/* --- per-SA contexts --- */

static int mac_setup(struct esp_sa *sa)
{
	OSSL_PARAM prm[2];
	EVP_MAC *mac;
	const char *md = NULL;
	int is_cmac = sa->aalg == ESP_AALG_AES_CMAC_96;

	switch (sa->aalg) {
	case ESP_AALG_HMAC_MD5_96:
	case ESP_AALG_HMAC_MD5_128:
		md = "MD5";
		break;
	case ESP_AALG_HMAC_SHA1_96:
	case ESP_AALG_HMAC_SHA1_160:
		md = "SHA1";
		break;
	case ESP_AALG_AES_CMAC_96:
		break;
	default:
		return 0; /* null, or GMAC through the GCM cipher */
	}
	mac = EVP_MAC_fetch(NULL, is_cmac ? "CMAC" : "HMAC", NULL);
	if (!mac)
		return ENOTSUP;
	sa->mac = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (!sa->mac)
		return ENOMEM;
	prm[0] = is_cmac ? OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER,
							     (char *)"AES-128-CBC", 0)
			 : OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
							     (char *)md, 0);
	prm[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(sa->mac, sa->keys.akey, sa->keys.akey_len, prm))
		return ENOTSUP;
	return 0;
}

static void lengths_set(struct esp_sa *sa)
{
	sa->icv_len = esp_icv_len(sa->aalg, sa->ealg);
	sa->block = 4; /* RFC 4303 §2.4: trailer ends on a 4-byte boundary */
	switch (sa->ealg) {
	case ESP_EALG_AES_CBC:
		sa->mode = ESP_MODE_CBC;
		sa->iv_len = sa->block = 16;
		break;
	case ESP_EALG_DES_CBC:
	case ESP_EALG_DES_EDE3_CBC:
	case ESP_EALG_BLOWFISH:
		sa->mode = ESP_MODE_CBC;
		sa->iv_len = sa->block = 8;
		break;
	case ESP_EALG_AES_CTR:
		sa->mode = ESP_MODE_CTR;
		sa->iv_len = 8;
		break;
	case ESP_EALG_AES_GCM:
		sa->mode = ESP_MODE_GCM;
		sa->iv_len = 8;
		break;
	default:
		sa->mode = sa->aalg == ESP_AALG_AES_GMAC ? ESP_MODE_GMAC : ESP_MODE_PLAIN;
		sa->iv_len = sa->mode == ESP_MODE_GMAC ? 8 : 0;
		break;
	}
}

int esp_alg_setup(struct esp_sa *sa)
{
	if (!esp_alg_pair_valid(sa->aalg, sa->ealg) ||
	    sa->keys.ekey_len != esp_ealg_key_len(sa->ealg) ||
	    (sa->ealg != ESP_EALG_AES_GCM &&
	     sa->keys.akey_len != esp_aalg_key_len(sa->aalg)))
		return EINVAL;
	lengths_set(sa);
	if (sa->mode != ESP_MODE_PLAIN) {
		sa->cipher = cipher_fetch(sa->ealg, sa->aalg);
		if (!sa->cipher)
			return ENOTSUP;
		/* Key both directions now: a missing algorithm shows at SA setup */
		if (!esp_alg_cctx(sa, 1) || !esp_alg_cctx(sa, 0))
			return ENOTSUP;
	}
	if (sa->mode == ESP_MODE_GCM)
		return 0;
	return mac_setup(sa);
}

EVP_CIPHER_CTX *esp_alg_cctx(struct esp_sa *sa, int enc)
{
	EVP_CIPHER_CTX **cp = enc ? &sa->ectx : &sa->dctx;
	const uint8_t *key = sa->mode == ESP_MODE_GMAC ? sa->keys.akey : sa->keys.ekey;
	size_t klen = sa->mode == ESP_MODE_GMAC ? sa->keys.akey_len : sa->keys.ekey_len;
	EVP_CIPHER_CTX *c = *cp;

	if (c)
		return c;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return NULL;
	if (!EVP_CipherInit_ex2(c, sa->cipher, NULL, NULL, enc, NULL) ||
	    (size_t)EVP_CIPHER_CTX_get_key_length(c) != klen ||
	    !EVP_CipherInit_ex2(c, NULL, key, NULL, enc, NULL)) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	EVP_CIPHER_CTX_set_padding(c, 0);
	*cp = c;
	return c;
}

int esp_alg_mac(struct esp_sa *sa, const uint8_t *data, size_t len, uint8_t *out)
{
	size_t n = 0;

	/* NULL key: OpenSSL 3 restarts HMAC/CMAC with the key already set */
	if (!EVP_MAC_init(sa->mac, NULL, 0, NULL) || !EVP_MAC_update(sa->mac, data, len) ||
	    !EVP_MAC_final(sa->mac, out, &n, EVP_MAX_MD_SIZE) || n < sa->icv_len)
		return EIO;
	return 0;
}

void esp_alg_release(struct esp_sa *sa)
{
	EVP_CIPHER_CTX_free(sa->ectx);
	EVP_CIPHER_CTX_free(sa->dctx);
	EVP_MAC_CTX_free(sa->mac);
	EVP_CIPHER_free(sa->cipher);
	sa->ectx = sa->dctx = NULL;
	sa->mac = NULL;
	sa->cipher = NULL;
}
