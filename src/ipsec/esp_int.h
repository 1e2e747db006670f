/*
 * ipsec/esp_int — what esp.c and esp_alg.c share: the SA layout and the
 * OpenSSL glue (cipher and MAC contexts keyed once per SA, the algorithms
 * fetched once per process).
 */
#ifndef IPSEC_ESP_INT_H
#define IPSEC_ESP_INT_H

#include <openssl/evp.h>

#include "ipsec/esp.h"

enum esp_mode {
	ESP_MODE_PLAIN = 0, /* null encryption */
	ESP_MODE_CBC,
	ESP_MODE_CTR,
	ESP_MODE_GCM,  /* AEAD: ICV is the GCM tag */
	ESP_MODE_GMAC, /* integrity only, RFC 4543 */
};

struct esp_sa {
	uint32_t spi;
	enum esp_aalg aalg;
	enum esp_ealg ealg;
	enum esp_mode mode;
	enum esp_dir dir;
	struct esp_keys keys;  /* owned, wiped on free */
	size_t iv_len;         /* bytes of IV on the wire */
	size_t block;          /* padding alignment (RFC 4303 §2.4) */
	size_t icv_len;
	EVP_CIPHER *cipher;    /* owned (fetched) */
	EVP_CIPHER_CTX *ectx;  /* owned: encrypt direction, keyed */
	EVP_CIPHER_CTX *dctx;  /* owned: decrypt direction, keyed */
	EVP_MAC_CTX *mac;      /* owned: HMAC/CMAC, keyed; NULL without */
	EVP_CIPHER_CTX *ivctx; /* owned: CBC IV generator (AES-ECB, own key) */
	uint32_t seq;          /* out: last sent; in: right edge of the window */
	uint64_t bitmap;       /* in: bit i = seq - i received */
	uint8_t fixed_iv[ESP_IV_MAX];
	size_t fixed_iv_len;   /* tests: IV to use instead of a fresh one */
	struct esp_sa_stats st;
};

/* Fill mode, lengths and OpenSSL contexts for sa->aalg/ealg/keys. */
int esp_alg_setup(struct esp_sa *sa);
void esp_alg_release(struct esp_sa *sa);
/* Keyed context for a direction (1 = encrypt), created on first use. */
EVP_CIPHER_CTX *esp_alg_cctx(struct esp_sa *sa, int enc);
/* CBC: the IV of outbound packet seq (iv_len bytes, esp_alg.c). */
int esp_alg_iv(struct esp_sa *sa, uint32_t seq, uint8_t *iv);
/* Full MAC of data (HMAC/CMAC) into out (at least EVP_MAX_MD_SIZE). */
int esp_alg_mac(struct esp_sa *sa, const uint8_t *data, size_t len, uint8_t *out);

#endif
