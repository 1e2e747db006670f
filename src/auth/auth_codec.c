/* auth/auth_codec — strict hex and base64 codecs. See auth_codec.h. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "auth/auth_codec.h"
#include "core/strutil.h"

int auth_hex_decode(const char *s, size_t slen, uint8_t *out, size_t size, size_t *lenp)
{
	size_t n;

	if (!s || slen % 2)
		return EBADMSG;
	n = slen / 2;
	if (n > size)
		return EOVERFLOW;
	for (size_t i = 0; i < n; i++) {
		int hi = str_hex_digit(s[2 * i]);
		int lo = str_hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return EBADMSG;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	if (lenp)
		*lenp = n;
	return 0;
}

int auth_hex_decode_exact(const char *s, size_t slen, uint8_t *out, size_t want)
{
	size_t n;
	int err;

	if (slen != want * 2)
		return EBADMSG;
	err = auth_hex_decode(s, slen, out, want, &n);
	return err;
}

void auth_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

static const char b64_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

size_t auth_b64_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t rem = len - i;

		if (rem > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (rem > 2)
			v |= in[i + 2];
		out[o++] = b64_alpha[(v >> 18) & 63];
		out[o++] = b64_alpha[(v >> 12) & 63];
		out[o++] = rem > 1 ? b64_alpha[(v >> 6) & 63] : '=';
		out[o++] = rem > 2 ? b64_alpha[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

/* Decode one 4-character quantum; `last` allows '=' padding. */
static int b64_quantum(const char *q, bool last, uint8_t *dst, size_t *nout)
{
	int v[4];
	int pad = 0;

	for (int i = 0; i < 4; i++) {
		if (q[i] == '=' && last && i >= 2) {
			v[i] = 0;
			pad++;
			continue;
		}
		if (pad) /* data after padding */
			return EBADMSG;
		v[i] = b64_val(q[i]);
		if (v[i] < 0)
			return EBADMSG;
	}
	/* Non-zero bits under the padding would make two encodings decode to
	 * the same bytes; reject them so that a nonce has one spelling. */
	if (pad == 2 && (v[1] & 0x0f))
		return EBADMSG;
	if (pad == 1 && (v[2] & 0x03))
		return EBADMSG;
	dst[0] = (uint8_t)(v[0] << 2 | v[1] >> 4);
	dst[1] = (uint8_t)((v[1] & 0x0f) << 4 | v[2] >> 2);
	dst[2] = (uint8_t)((v[2] & 0x03) << 6 | v[3]);
	*nout = 3 - (size_t)pad;
	return 0;
}

int auth_b64_decode(const char *s, size_t slen, uint8_t *out, size_t size, size_t *lenp)
{
	size_t n = 0;

	if (!s || slen % 4)
		return EBADMSG;
	for (size_t i = 0; i < slen; i += 4) {
		uint8_t tmp[3];
		size_t got;
		int err = b64_quantum(s + i, i + 4 == slen, tmp, &got);

		if (err)
			return err;
		if (n + got > size)
			return EOVERFLOW;
		memcpy(out + n, tmp, got);
		n += got;
	}
	if (lenp)
		*lenp = n;
	return 0;
}
