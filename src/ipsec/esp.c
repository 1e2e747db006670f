/*
 * ipsec/esp — ESP transport mode encapsulation and decapsulation
 * (RFC 4303 §2, §3.3 outbound, §3.4 inbound).
 *
 * Wire layout: SPI(4) | Seq(4) | IV | E(payload | padding | pad len | NH) | ICV
 *   CBC:  IV = one cipher block, unpredictable (RFC 3602 §3): the sequence
 *         number under an AES key of the SA's own (esp_alg_iv)
 *   CTR:  IV = 8 bytes, counter block = salt | IV | 00000001 (RFC 3686 §4)
 *   GCM:  IV = 8 bytes, nonce = salt | IV, AAD = SPI | Seq (RFC 4106 §5)
 *   GMAC: IV = 8 bytes, nonce = salt | IV, AAD = everything, no ciphertext
 *         (RFC 4543 §3.5)
 * CTR, GCM and GMAC must never repeat an IV under one key: they send the
 * 64-bit sequence counter, which an SA never wraps (EOVERFLOW first).
 * Inbound order (RFC 4303 §3.4.3): window check, ICV check, decrypt, then
 * the window moves; a packet that fails any step leaves no trace but a
 * counter.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ipsec/esp_int.h"

#define ESP_NH_NONE 59 /* RFC 4303 §2.6 dummy packet */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int esp_sa_alloc(struct esp_sa **sap, const struct esp_sa_prm *prm)
{
	struct esp_sa *sa;
	int err;

	if (!sap || !prm || !prm->keys)
		return EINVAL;
	sa = calloc(1, sizeof(*sa));
	if (!sa)
		return ENOMEM;
	sa->spi = prm->spi;
	sa->aalg = prm->aalg;
	sa->ealg = prm->ealg;
	sa->dir = prm->dir;
	sa->keys = *prm->keys;
	err = esp_alg_setup(sa);
	if (err) {
		esp_sa_free(sa);
		return err;
	}
	*sap = sa;
	return 0;
}

void esp_sa_free(struct esp_sa *sa)
{
	if (!sa)
		return;
	esp_alg_release(sa);
	OPENSSL_cleanse(sa, sizeof(*sa));
	free(sa);
}

uint32_t esp_sa_spi(const struct esp_sa *sa)
{
	return sa->spi;
}

const struct esp_sa_stats *esp_sa_stats(const struct esp_sa *sa)
{
	return &sa->st;
}

uint32_t esp_sa_seq(const struct esp_sa *sa)
{
	return sa->seq;
}

void esp_sa_set_seq(struct esp_sa *sa, uint32_t seq)
{
	sa->seq = seq;
}

void esp_sa_set_iv(struct esp_sa *sa, const uint8_t *iv, size_t len)
{
	sa->fixed_iv_len = iv && len <= ESP_IV_MAX ? len : 0;
	if (sa->fixed_iv_len)
		memcpy(sa->fixed_iv, iv, len);
}

int esp_hdr_parse(const uint8_t *pkt, size_t len, uint32_t *spi, uint32_t *seq)
{
	if (!pkt || len < ESP_HDR_LEN)
		return EBADMSG;
	*spi = get32(pkt);
	*seq = get32(pkt + 4);
	/* RFC 4303 §2.1: SPI 1..255 reserved, 0 local use only */
	return *spi < 256 ? EBADMSG : 0;
}

/* --- anti-replay window, RFC 4303 §3.4.3 --- */

static int replay_check(const struct esp_sa *sa, uint32_t seq)
{
	uint32_t diff;

	if (seq == 0)
		return EALREADY; /* the first packet carries 1 (§3.3.3) */
	if (seq > sa->seq)
		return 0;
	diff = sa->seq - seq;
	if (diff >= ESP_REPLAY_WINDOW || (sa->bitmap >> diff) & 1u)
		return EALREADY;
	return 0;
}

static void replay_update(struct esp_sa *sa, uint32_t seq)
{
	uint32_t shift;

	if (seq > sa->seq) {
		shift = seq - sa->seq;
		sa->bitmap = shift >= ESP_REPLAY_WINDOW ? 1 : (sa->bitmap << shift) | 1;
		sa->seq = seq;
		return;
	}
	sa->bitmap |= (uint64_t)1 << (sa->seq - seq);
}

/* --- outbound --- */

static int iv_make(struct esp_sa *sa, uint32_t seq, uint8_t *iv)
{
	if (sa->fixed_iv_len == sa->iv_len && sa->iv_len) {
		memcpy(iv, sa->fixed_iv, sa->iv_len);
		return 0;
	}
	if (sa->mode == ESP_MODE_CBC)
		return esp_alg_iv(sa, seq, iv);
	if (sa->iv_len == 8) {
		put32(iv, 0);
		put32(iv + 4, seq);
	}
	return 0;
}

/* Counter block (CTR) or nonce (GCM/GMAC) from salt and wire IV. */
static size_t nonce_make(const struct esp_sa *sa, const uint8_t *iv, uint8_t *nonce)
{
	const uint8_t *salt = sa->mode == ESP_MODE_GMAC ? sa->keys.asalt : sa->keys.esalt;

	memcpy(nonce, salt, ESP_SALT_LEN);
	memcpy(nonce + ESP_SALT_LEN, iv, 8);
	if (sa->mode != ESP_MODE_CTR)
		return 12;
	put32(nonce + 12, 1);
	return 16;
}

/* Encrypt (enc=1) or decrypt in[0..len) into out with the SA's cipher. */
static int cipher_run(struct esp_sa *sa, int enc, const uint8_t *iv, const uint8_t *aad,
		      size_t aad_len, const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *c = esp_alg_cctx(sa, enc);
	uint8_t nonce[16];
	const uint8_t *civ = iv;
	int n = 0;

	if (!c)
		return EIO;
	if (sa->mode != ESP_MODE_CBC) {
		nonce_make(sa, iv, nonce);
		civ = nonce;
	}
	if (!EVP_CipherInit_ex2(c, NULL, NULL, civ, enc, NULL))
		return EIO;
	if (aad_len && !EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len))
		return EIO;
	if (len && !EVP_CipherUpdate(c, out, &n, in, (int)len))
		return EIO;
	return 0;
}

static int aead_tag(struct esp_sa *sa, int enc, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = enc ? sa->ectx : sa->dctx;
	uint8_t scratch[ESP_BLOCK_MAX];
	int n = 0;

	if (!enc && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag))
		return EIO;
	if (!EVP_CipherFinal_ex(c, scratch, &n))
		return enc ? EIO : EACCES;
	if (enc && !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag))
		return EIO;
	return 0;
}

static size_t trailer_fill(const struct esp_sa *sa, uint8_t *pt, size_t len, uint8_t nh)
{
	size_t total = len + 2, pad = (sa->block - total % sa->block) % sa->block;

	for (size_t i = 0; i < pad; i++)
		pt[len + i] = (uint8_t)(i + 1); /* RFC 4303 §2.4 default padding */
	pt[len + pad] = (uint8_t)pad;
	pt[len + pad + 1] = nh;
	return total + pad;
}

int esp_encap(struct esp_sa *sa, uint8_t nh, const uint8_t *payload, size_t len,
	      uint8_t *out, size_t out_size, size_t *out_len)
{
	uint8_t *iv, *pt, mac[EVP_MAX_MD_SIZE];
	size_t ptlen, body;
	int err;

	if (!sa || (!payload && len) || !out || !out_len || len > 65535 || sa->dir == ESP_DIR_IN)
		return EINVAL;
	if (out_size < len + ESP_OVERHEAD_MAX)
		return ENOSPC;
	if (sa->seq == UINT32_MAX)
		return EOVERFLOW; /* RFC 4303 §3.3.3: no cycling without ESN */
	put32(out, sa->spi);
	put32(out + 4, sa->seq + 1);
	iv = out + ESP_HDR_LEN;
	pt = iv + sa->iv_len;
	if ((err = iv_make(sa, sa->seq + 1, iv)))
		return err;
	if (len)
		memmove(pt, payload, len);
	ptlen = trailer_fill(sa, pt, len, nh);
	body = ESP_HDR_LEN + sa->iv_len + ptlen;
	switch (sa->mode) {
	case ESP_MODE_CBC:
	case ESP_MODE_CTR:
		err = cipher_run(sa, 1, iv, NULL, 0, pt, ptlen, pt);
		break;
	case ESP_MODE_GCM:
		err = cipher_run(sa, 1, iv, out, ESP_HDR_LEN, pt, ptlen, pt);
		if (!err)
			err = aead_tag(sa, 1, out + body);
		break;
	case ESP_MODE_GMAC:
		err = cipher_run(sa, 1, iv, out, body, NULL, 0, NULL);
		if (!err)
			err = aead_tag(sa, 1, out + body);
		break;
	default:
		break;
	}
	if (!err && sa->mac) {
		err = esp_alg_mac(sa, out, body, mac);
		memcpy(out + body, mac, sa->icv_len);
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	if (err)
		return err;
	sa->seq++;
	sa->st.packets++;
	sa->st.bytes += len;
	*out_len = body + sa->icv_len;
	return 0;
}

/* --- inbound --- */

static int padding_check(const uint8_t *pt, size_t ptlen, size_t *len, uint8_t *nh)
{
	size_t pad;
	unsigned bad = 0;

	if (ptlen < 2)
		return EBADMSG;
	pad = pt[ptlen - 2];
	if (pad + 2 > ptlen)
		return EBADMSG;
	for (size_t i = 0; i < pad; i++)
		bad |= pt[ptlen - 2 - pad + i] ^ (uint8_t)(i + 1);
	if (bad)
		return EBADMSG;
	*len = ptlen - 2 - pad;
	*nh = pt[ptlen - 1];
	return 0;
}

static int decap_body(struct esp_sa *sa, const uint8_t *pkt, size_t len, uint8_t *out,
		      size_t ctlen)
{
	const uint8_t *iv = pkt + ESP_HDR_LEN, *ct = iv + sa->iv_len;
	uint8_t mac[EVP_MAX_MD_SIZE], tag[16];
	size_t body = len - sa->icv_len;
	int err = 0;

	if (sa->mac) {
		err = esp_alg_mac(sa, pkt, body, mac);
		if (!err && CRYPTO_memcmp(mac, pkt + body, sa->icv_len))
			err = EACCES;
		OPENSSL_cleanse(mac, sizeof(mac));
		if (err)
			return err;
	}
	switch (sa->mode) {
	case ESP_MODE_CBC:
	case ESP_MODE_CTR:
		return cipher_run(sa, 0, iv, NULL, 0, ct, ctlen, out);
	case ESP_MODE_GCM:
		memcpy(tag, pkt + body, 16);
		err = cipher_run(sa, 0, iv, pkt, ESP_HDR_LEN, ct, ctlen, out);
		return err ? err : aead_tag(sa, 0, tag);
	case ESP_MODE_GMAC:
		memcpy(tag, pkt + body, 16);
		err = cipher_run(sa, 0, iv, pkt, body, NULL, 0, NULL);
		if (!err)
			err = aead_tag(sa, 0, tag);
		break;
	default:
		break;
	}
	if (!err && ctlen)
		memcpy(out, ct, ctlen);
	return err;
}

int esp_decap(struct esp_sa *sa, const uint8_t *pkt, size_t len, uint8_t *out,
	      size_t out_size, size_t *out_len, uint8_t *nh)
{
	size_t min, ctlen;
	uint32_t spi, seq;
	int err;

	if (!sa || !pkt || !out || !out_len || !nh || sa->dir == ESP_DIR_OUT)
		return EINVAL;
	min = ESP_HDR_LEN + sa->iv_len + sa->icv_len;
	if (len < min + 2 || len > 65535 || esp_hdr_parse(pkt, len, &spi, &seq) ||
	    spi != sa->spi) {
		sa->st.malformed++;
		return EBADMSG;
	}
	ctlen = len - min;
	if (ctlen % sa->block) {
		sa->st.malformed++;
		return EBADMSG;
	}
	if (out_size < ctlen)
		return ENOSPC;
	if (replay_check(sa, seq)) {
		sa->st.replay++;
		return EALREADY;
	}
	err = decap_body(sa, pkt, len, out, ctlen);
	if (err == EACCES)
		sa->st.auth_fail++;
	if (!err)
		err = padding_check(out, ctlen, out_len, nh);
	if (err == EBADMSG)
		sa->st.malformed++;
	if (err)
		return err;
	replay_update(sa, seq);
	sa->st.packets++;
	sa->st.bytes += *out_len;
	if (*nh == ESP_NH_NONE)
		*out_len = 0; /* dummy packet: counted, nothing to deliver */
	return 0;
}
