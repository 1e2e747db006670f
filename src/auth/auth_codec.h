/*
 * auth/auth_codec — strict hex and base64 codecs for credentials and nonces.
 *
 * Keys, RAND, AUTN and AUTS reach us as hex (configuration, imsctl, the
 * remote API) or base64 (the Digest nonce and auts parameters, RFC 3310).
 * Both decoders are bounded by the caller's output size and reject anything
 * that is not canonical: odd hex digit counts, stray characters, bad base64
 * padding or non-zero pad bits. They never read past the given length and
 * need no NUL terminator.
 */
#ifndef AUTH_CODEC_H
#define AUTH_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Output size (with NUL) for encoding n bytes. */
#define AUTH_HEX_SIZE(n) ((n) * 2 + 1)
#define AUTH_B64_SIZE(n) ((((n) + 2) / 3) * 4 + 1)

/*
 * Decode hex (either case). EBADMSG: odd length or a non-hex digit;
 * EOVERFLOW: more than `size` bytes. *lenp gets the byte count.
 */
int auth_hex_decode(const char *s, size_t slen, uint8_t *out, size_t size, size_t *lenp);
/* Decode exactly `want` bytes; EBADMSG if the length differs. */
int auth_hex_decode_exact(const char *s, size_t slen, uint8_t *out, size_t want);
/* Lower-case hex; `out` must hold AUTH_HEX_SIZE(len). */
void auth_hex_encode(const uint8_t *in, size_t len, char *out);

/*
 * Decode standard base64 (RFC 4648 §4, padded). Surrounding whitespace is
 * not accepted; callers trim. EBADMSG on malformed input, EOVERFLOW if the
 * result does not fit in `size`.
 */
int auth_b64_decode(const char *s, size_t slen, uint8_t *out, size_t size, size_t *lenp);
/* Padded base64; `out` must hold AUTH_B64_SIZE(len). Returns the length. */
size_t auth_b64_encode(const uint8_t *in, size_t len, char *out);

#endif
