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
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

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

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
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

/*
 * Fetched algorithms, one per name for the life of the process: an
 * EVP_*_fetch walks the provider store under a lock (a few microseconds),
 * which the SA set of every registration paid four times over. The fetched
 * objects are immutable and reference-counted; each SA takes its own
 * reference (up_ref) so esp_alg_release() stays symmetric. Freed at exit
 * (atexit, registered after OpenSSL's own, so it runs first).
 */
enum { FETCH_AES_CBC, FETCH_DES_CBC, FETCH_3DES, FETCH_BF, FETCH_AES_CTR, FETCH_AES_GCM,
       FETCH_AES_ECB, FETCH_CIPHERS };
static pthread_mutex_t fetch_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_CIPHER *fetched_cipher[FETCH_CIPHERS];
static EVP_MAC *fetched_hmac, *fetched_cmac;
/* HMAC contexts with their digest set and no key, one per digest (MD5,
 * SHA1): an SA's is a copy (EVP_MAC_CTX_dup) keyed with EVP_MAC_init,
 * which skips the digest fetch that setting the parameter does each time
 * (a third of an SA's making). Not for CMAC: OpenSSL copies a CMAC
 * context only once it is keyed. */
static EVP_MAC_CTX *hmac_tpl[2];
static bool fetch_atexit;

static void fetch_cache_free(void)
{
	for (int i = 0; i < FETCH_CIPHERS; i++) {
		EVP_CIPHER_free(fetched_cipher[i]);
		fetched_cipher[i] = NULL;
	}
	EVP_MAC_free(fetched_hmac);
	EVP_MAC_free(fetched_cmac);
	fetched_hmac = fetched_cmac = NULL;
	for (int i = 0; i < 2; i++) {
		EVP_MAC_CTX_free(hmac_tpl[i]);
		hmac_tpl[i] = NULL;
	}
}

static void fetch_atexit_once(void)
{
	if (!fetch_atexit)
		fetch_atexit = atexit(fetch_cache_free) == 0;
}

static int cipher_slot(enum esp_ealg e, const char **name, int *legacy)
{
	static const struct {
		const char *name;
		int legacy;
	} tab[FETCH_CIPHERS] = {
	    [FETCH_AES_CBC] = {"AES-128-CBC", 0}, [FETCH_DES_CBC] = {"DES-CBC", 1},
	    [FETCH_3DES] = {"DES-EDE3-CBC", 0},   [FETCH_BF] = {"BF-CBC", 1},
	    [FETCH_AES_CTR] = {"AES-128-CTR", 0}, [FETCH_AES_GCM] = {"AES-128-GCM", 0},
	    [FETCH_AES_ECB] = {"AES-128-ECB", 0},
	};
	int i;

	switch (e) {
	case ESP_EALG_AES_CBC: i = FETCH_AES_CBC; break;
	case ESP_EALG_DES_CBC: i = FETCH_DES_CBC; break;
	case ESP_EALG_DES_EDE3_CBC: i = FETCH_3DES; break;
	case ESP_EALG_BLOWFISH: i = FETCH_BF; break;
	case ESP_EALG_AES_CTR: i = FETCH_AES_CTR; break;
	case ESP_EALG_AES_GCM: i = FETCH_AES_GCM; break;
	case ESP_EALG_COUNT: i = FETCH_AES_ECB; break; /* the CBC IV generator */
	default: return -1;
	}
	*name = tab[i].name;
	*legacy = tab[i].legacy;
	return i;
}

/* A new reference to the cipher of slot i (fetched on first use), or NULL. */
static EVP_CIPHER *cipher_get(int i, const char *name, int legacy)
{
	EVP_CIPHER *c;

	if (legacy) {
		pthread_once(&legacy_once, legacy_load);
		if (!legacy_ok)
			return NULL;
	}
	pthread_mutex_lock(&fetch_lock);
	if (!fetched_cipher[i]) {
		fetched_cipher[i] = EVP_CIPHER_fetch(NULL, name, legacy ? "provider=legacy" : NULL);
		fetch_atexit_once();
	}
	c = fetched_cipher[i];
	if (c && !EVP_CIPHER_up_ref(c))
		c = NULL;
	pthread_mutex_unlock(&fetch_lock);
	return c;
}

static EVP_CIPHER *cipher_fetch(enum esp_ealg e, enum esp_aalg a)
{
	int legacy = 0;
	const char *name = NULL;
	int i = cipher_slot(e, &name, &legacy);

	if (i < 0 && a == ESP_AALG_AES_GMAC)
		i = cipher_slot(ESP_EALG_AES_GCM, &name, &legacy);
	return i < 0 ? NULL : cipher_get(i, name, legacy);
}

/* A new reference to HMAC or CMAC (fetched on first use), or NULL. */
static EVP_MAC *mac_fetch(int is_cmac)
{
	EVP_MAC **slot = is_cmac ? &fetched_cmac : &fetched_hmac;
	EVP_MAC *m;

	pthread_mutex_lock(&fetch_lock);
	if (!*slot) {
		*slot = EVP_MAC_fetch(NULL, is_cmac ? "CMAC" : "HMAC", NULL);
		fetch_atexit_once();
	}
	m = *slot;
	if (m && !EVP_MAC_up_ref(m))
		m = NULL;
	pthread_mutex_unlock(&fetch_lock);
	return m;
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

/* A new unkeyed HMAC context for digest md (a copy of its template,
 * made on first use), or NULL. */
static EVP_MAC_CTX *hmac_ctx_new(const char *md)
{
	int i = !strcmp(md, "SHA1");
	EVP_MAC_CTX *c = NULL;
	OSSL_PARAM prm[2];
	EVP_MAC *mac;

	if (!hmac_tpl[i]) {
		mac = mac_fetch(0);
		c = mac ? EVP_MAC_CTX_new(mac) : NULL;
		EVP_MAC_free(mac);
		prm[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md, 0);
		prm[1] = OSSL_PARAM_construct_end();
		if (!c || !EVP_MAC_CTX_set_params(c, prm)) {
			EVP_MAC_CTX_free(c);
			return NULL;
		}
		pthread_mutex_lock(&fetch_lock);
		if (!hmac_tpl[i]) { /* else another thread made it meanwhile */
			hmac_tpl[i] = c;
			c = NULL;
			fetch_atexit_once();
		}
		pthread_mutex_unlock(&fetch_lock);
		EVP_MAC_CTX_free(c);
	}
	pthread_mutex_lock(&fetch_lock);
	c = EVP_MAC_CTX_dup(hmac_tpl[i]);
	pthread_mutex_unlock(&fetch_lock);
	return c;
}

static int mac_setup(struct esp_sa *sa)
{
	OSSL_PARAM prm[2];
	EVP_MAC *mac;
	const char *md = NULL;

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
	if (md) {
		sa->mac = hmac_ctx_new(md);
		if (!sa->mac)
			return ENOTSUP;
		return EVP_MAC_init(sa->mac, sa->keys.akey, sa->keys.akey_len, NULL) ? 0 : ENOTSUP;
	}
	mac = mac_fetch(1);
	if (!mac)
		return ENOTSUP;
	sa->mac = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (!sa->mac)
		return ENOMEM;
	prm[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)"AES-128-CBC", 0);
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

/*
 * CBC IVs (RFC 3602 §3: "The IV MUST be chosen at random, and MUST be
 * unpredictable"): the SA's outbound sequence number encrypted with
 * AES-128 under a key of its own drawn from the CSPRNG when the SA is made,
 * i.e. the first method of NIST SP 800-38A Appendix C (the forward cipher
 * applied to a nonce) with a key independent of the traffic key. Sequence
 * numbers never repeat within an SA (esp_encap refuses to wrap), so the
 * IVs are the outputs of a pseudorandom permutation on distinct inputs:
 * unpredictable without that key, which never leaves the SA. A bare counter
 * would not do (predictable IVs open CBC to chosen-plaintext attacks). This
 * replaces a RAND_bytes per packet (about 1 us of the 1.7 us encap).
 */
static int iv_gen_setup(struct esp_sa *sa)
{
	uint8_t key[16];
	int legacy = 0;
	const char *name = NULL;
	int i = cipher_slot(ESP_EALG_COUNT, &name, &legacy);
	EVP_CIPHER *ecb = cipher_get(i, name, legacy);
	int ok = ecb && esp_rand_bytes(key, sizeof(key)) == 0;

	sa->ivctx = ok ? EVP_CIPHER_CTX_new() : NULL;
	ok = sa->ivctx && EVP_EncryptInit_ex2(sa->ivctx, ecb, key, NULL, NULL) &&
	     EVP_CIPHER_CTX_set_padding(sa->ivctx, 0);
	OPENSSL_cleanse(key, sizeof(key));
	EVP_CIPHER_free(ecb);
	return ok ? 0 : ENOTSUP;
}

#define RAND_POOL 512

int esp_rand_bytes(uint8_t *out, size_t n)
{
	static _Thread_local uint8_t pool[RAND_POOL];
	static _Thread_local size_t left;
	uint8_t *p;

	if (!out)
		return EINVAL;
	if (n > RAND_POOL / 4)
		return RAND_bytes(out, (int)n) == 1 ? 0 : EIO;
	if (left < n) {
		if (RAND_bytes(pool, RAND_POOL) != 1) {
			left = 0;
			return EIO;
		}
		left = RAND_POOL;
	}
	p = pool + RAND_POOL - left;
	memcpy(out, p, n);
	OPENSSL_cleanse(p, n);
	left -= n;
	return 0;
}

int esp_alg_iv(struct esp_sa *sa, uint32_t seq, uint8_t *iv)
{
	uint8_t in[16] = {0}, out[16];
	int n = 0;

	put_be32(in, sa->spi);
	put_be32(in + 12, seq);
	if (!sa->ivctx || !EVP_EncryptUpdate(sa->ivctx, out, &n, in, sizeof(in)) || n != 16)
		return EIO;
	memcpy(iv, out, sa->iv_len);
	OPENSSL_cleanse(out, sizeof(out));
	return 0;
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
		/* Key the SA's directions now: a missing algorithm shows at SA
		 * setup; an inbound SA never encrypts, an outbound never decrypts */
		if ((sa->dir != ESP_DIR_IN && !esp_alg_cctx(sa, 1)) ||
		    (sa->dir != ESP_DIR_OUT && !esp_alg_cctx(sa, 0)))
			return ENOTSUP;
	}
	if (sa->mode == ESP_MODE_CBC && sa->dir != ESP_DIR_IN && iv_gen_setup(sa))
		return ENOTSUP;
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
	EVP_CIPHER_CTX_free(sa->ivctx);
	sa->ivctx = NULL;
	EVP_MAC_CTX_free(sa->mac);
	EVP_CIPHER_free(sa->cipher);
	sa->ectx = sa->dctx = NULL;
	sa->mac = NULL;
	sa->cipher = NULL;
}
