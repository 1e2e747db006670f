/*
 * api_http — the opening handshake of the remote API's WebSocket (RFC 6455
 * §4.2.1, §4.2.2): reads a client's HTTP/1.1 Upgrade request, bounded, and
 * writes the server's answer. No I/O, no allocation: the parser returns
 * views into the caller's buffer, so it can be fuzzed on bytes alone.
 *
 * What a request must have (else it is answered and the connection closed):
 *   GET <path> HTTP/1.1, a Host header, Upgrade: websocket, Connection
 *   naming upgrade, Sec-WebSocket-Key of 16 bytes in base64, and
 *   Sec-WebSocket-Version 13 (else 426 with the version we speak), and an
 *   Origin header, any value (manual §6: "Origin header is mandatory").
 * Bounds: API_HTTP_MAX bytes up to the blank line, API_HTTP_HDRS_MAX header
 * lines. Obsolete line folding (RFC 7230 §3.2.4) is refused.
 *
 * Errors: 0 a complete, acceptable request (req->len bytes of buf); ENODATA
 * need more bytes; EBADMSG refused, req->status (400, 403, 426, 431, 405)
 * and req->why say why.
 */
#ifndef API_API_HTTP_H
#define API_API_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/pl.h"

#define API_HTTP_MAX 8192u
#define API_HTTP_HDRS_MAX 64u
#define API_HTTP_ACCEPT_LEN 28u /* base64 of a SHA-1 */

struct api_http_req {
	struct pl path;
	struct pl key;	  /* Sec-WebSocket-Key, trimmed */
	struct pl origin; /* Origin, trimmed */
	struct pl host;
	size_t len;	 /* bytes through the blank line */
	uint16_t status; /* when refused: the HTTP status to answer */
	const char *why; /* when refused: a static reason */
};

int api_http_req_parse(const char *buf, size_t len, struct api_http_req *req);
/* Sec-WebSocket-Accept for key (RFC 6455 §4.2.2 step 5.4), NUL-terminated. */
int api_http_accept(struct pl key, char out[API_HTTP_ACCEPT_LEN + 1]);
/* The 101 answer to req into out; ENOSPC when it does not fit. Returns its
 * length in *n. */
int api_http_101(const struct api_http_req *req, char *out, size_t size, size_t *n);
/* The refusal of req (status, why) into out, with Connection: close. */
int api_http_refusal(const struct api_http_req *req, char *out, size_t size, size_t *n);

#endif
