/*
 * ipsec/esp — ESP transport mode codec (RFC 4303), pure: no I/O, no clock.
 *
 * One struct esp_sa is one unidirectional security association: its SPI, the
 * algorithms agreed by sec-agree (TS 33.203 §7), the keys expanded from the
 * AKA run's CK/IK (esp_key_expand(), TS 33.203 Annex I), the outbound
 * sequence number and the inbound anti-replay window (RFC 4303 §3.4.3,
 * 64 packets, 32-bit sequence numbers: 3GPP SAs never use ESN).
 *
 *   esp_encap()  transport payload + next header  ->  SPI|Seq|IV|ct|ICV
 *   esp_decap()  SPI|Seq|IV|ct|ICV                 ->  payload + next header
 *
 * The IP header is the caller's (ipsec/ datapath): in transport mode it is
 * not covered by ESP. Integrity: hmac-md5-96, hmac-md5-128, hmac-sha-1-96,
 * hmac-sha-1-160, aes-cmac-96 (RFC 4494), aes-gmac (RFC 4543, integrity
 * only: valid with ealg null), null. Encryption: aes-cbc (RFC 3602), des-cbc
 * (RFC 2405), des-ede3-cbc (RFC 2451), blowfish (RFC 2451), aes-ctr
 * (RFC 3686), aes-gcm (RFC 4106, 16-byte ICV; it carries its own integrity,
 * so the alg of the pair adds none), null (RFC 2410). All through OpenSSL 3;
 * the legacy provider is loaded once, on first use of DES or Blowfish.
 *
 * Ownership: an esp_sa owns its keys and OpenSSL contexts; esp_sa_free()
 * wipes and frees them. Not thread-safe: one SA is used by one thread.
 * Errors: 0; EINVAL bad parameters (caller); ENOSPC output buffer too small;
 * EBADMSG malformed or truncated packet, bad padding; EACCES ICV mismatch;
 * EALREADY replayed or left of the window; EOVERFLOW outbound sequence
 * number exhausted (the SA must be replaced); ENOTSUP algorithm unavailable
 * in this OpenSSL; EIO crypto failure.
 */
#ifndef IPSEC_ESP_H
#define IPSEC_ESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Same order and spelling as config's ipsec_aalg_list / ipsec_ealg_list. */
enum esp_aalg {
	ESP_AALG_NULL = 0,
	ESP_AALG_HMAC_MD5_96,
	ESP_AALG_HMAC_MD5_128,
	ESP_AALG_HMAC_SHA1_96,
	ESP_AALG_HMAC_SHA1_160,
	ESP_AALG_AES_CMAC_96,
	ESP_AALG_AES_GMAC,
	ESP_AALG_COUNT
};

enum esp_ealg {
	ESP_EALG_NULL = 0,
	ESP_EALG_AES_CBC,
	ESP_EALG_DES_CBC,
	ESP_EALG_DES_EDE3_CBC,
	ESP_EALG_BLOWFISH,
	ESP_EALG_AES_CTR,
	ESP_EALG_AES_GCM,
	ESP_EALG_COUNT
};

#define ESP_HDR_LEN 8        /* SPI + sequence number */
#define ESP_KEY_MAX 32
#define ESP_SALT_LEN 4       /* RFC 3686 nonce, RFC 4106/4543 salt */
#define ESP_IV_MAX 16
#define ESP_ICV_MAX 20
#define ESP_BLOCK_MAX 16
/* Worst-case growth of a payload: header, IV, padding, trailer, ICV. */
#define ESP_OVERHEAD_MAX (ESP_HDR_LEN + ESP_IV_MAX + ESP_BLOCK_MAX + 2 + ESP_ICV_MAX)
#define ESP_REPLAY_WINDOW 64

/* Keys as agreed: encryption key (+ salt) and integrity key (+ salt). */
struct esp_keys {
	uint8_t ekey[ESP_KEY_MAX];
	size_t ekey_len;
	uint8_t esalt[ESP_SALT_LEN]; /* aes-ctr nonce / aes-gcm salt */
	uint8_t akey[ESP_KEY_MAX];
	size_t akey_len;
	uint8_t asalt[ESP_SALT_LEN]; /* aes-gmac salt */
};

/* What an SA is used for: an SA of a set of TS 33.203 §7.1 is either
 * inbound or outbound, and keys only the contexts of its direction (an SA
 * costs about half to make and free); BOTH (0) keys all of them. */
enum esp_dir { ESP_DIR_BOTH = 0, ESP_DIR_IN, ESP_DIR_OUT };

struct esp_sa_prm {
	uint32_t spi;
	enum esp_aalg aalg;
	enum esp_ealg ealg;
	const struct esp_keys *keys; /* copied */
	enum esp_dir dir;	      /* esp_encap on an IN SA, esp_decap on an
				       * OUT one: EINVAL */
};

struct esp_sa_stats {
	uint64_t packets;    /* encapsulated (out) or accepted (in) */
	uint64_t bytes;      /* payload bytes of those */
	uint64_t auth_fail;  /* ICV mismatch */
	uint64_t replay;     /* replayed or left of the window */
	uint64_t malformed;  /* truncated, bad length or padding */
};

struct esp_sa;

/* Lengths the SA expects for its algorithms (what esp_key_expand() fills). */
size_t esp_ealg_key_len(enum esp_ealg e);
size_t esp_aalg_key_len(enum esp_aalg a);
size_t esp_icv_len(enum esp_aalg a, enum esp_ealg e);
/* Whether the pair makes one valid transform (aes-gmac needs ealg null). */
bool esp_alg_pair_valid(enum esp_aalg a, enum esp_ealg e);
/* Whether this OpenSSL provides the pair (DES/Blowfish need "legacy"). */
bool esp_alg_pair_available(enum esp_aalg a, enum esp_ealg e);

const char *esp_aalg_name(enum esp_aalg a);
const char *esp_ealg_name(enum esp_ealg e);
/* Manual/RFC 3329 spelling, case-insensitive; EINVAL if unknown. */
int esp_aalg_from_str(const char *s, size_t n, enum esp_aalg *a);
int esp_ealg_from_str(const char *s, size_t n, enum esp_ealg *e);

/*
 * TS 33.203 Annex I key expansion from the AKA run's CK and IK (16 bytes
 * each). Wipe the result with esp_keys_wipe().
 */
int esp_key_expand(enum esp_aalg a, enum esp_ealg e, const uint8_t ck[16],
		   const uint8_t ik[16], struct esp_keys *out);
void esp_keys_wipe(struct esp_keys *k);

int esp_sa_alloc(struct esp_sa **sap, const struct esp_sa_prm *prm);
void esp_sa_free(struct esp_sa *sa);
uint32_t esp_sa_spi(const struct esp_sa *sa);
const struct esp_sa_stats *esp_sa_stats(const struct esp_sa *sa);
/* Highest sequence number sent (out) or accepted (in). */
uint32_t esp_sa_seq(const struct esp_sa *sa);
/* For tests and for reinstalling an SA: the next esp_encap() sends seq + 1. */
void esp_sa_set_seq(struct esp_sa *sa, uint32_t seq);
/* Fixed IV source for test vectors (NULL: random IVs for CBC, seq for others). */
void esp_sa_set_iv(struct esp_sa *sa, const uint8_t *iv, size_t len);

/*
 * n bytes from OpenSSL's CSPRNG (RAND_bytes), drawn 512 at a time into a
 * pool of the calling thread: a RAND_bytes call costs about 1.5 µs whatever
 * its size, and an SA set of a registration needs six small draws (two
 * SPIs, four CBC IV keys). Handed-out bytes are wiped from the pool. A
 * process that forks without exec must not use the pool in both. EIO.
 */
int esp_rand_bytes(uint8_t *out, size_t n);
/* SPI and sequence number of a packet, before any SA lookup. */
int esp_hdr_parse(const uint8_t *pkt, size_t len, uint32_t *spi, uint32_t *seq);

/*
 * Encapsulate one transport-mode payload with next header nh.
 * out_size must be at least len + ESP_OVERHEAD_MAX.
 */
int esp_encap(struct esp_sa *sa, uint8_t nh, const uint8_t *payload, size_t len,
	      uint8_t *out, size_t out_size, size_t *out_len);

/*
 * Check and decrypt one ESP packet (from the SPI on). On success the
 * payload is in out[0..*out_len) and its next header in *nh, and the
 * replay window has moved. out may not overlap pkt.
 */
int esp_decap(struct esp_sa *sa, const uint8_t *pkt, size_t len, uint8_t *out,
	      size_t out_size, size_t *out_len, uint8_t *nh);

#endif
