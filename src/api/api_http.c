/* api_http — the WebSocket opening handshake; see api_http.h. */
#include "api/api_http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/* RFC 6455 §1.3 */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static int refuse(struct api_http_req *req, uint16_t status, const char *why)
{
	req->status = status;
	req->why = why;
	return EBADMSG;
}

/* The blank line ending the head, within the bound; its end in *endp. */
static int head_end(const char *buf, size_t len, size_t *endp)
{
	size_t lim = len < API_HTTP_MAX ? len : API_HTTP_MAX;

	for (size_t i = 0; i + 3 < lim; i++) {
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' &&
		    buf[i + 3] == '\n') {
			*endp = i + 4;
			return 0;
		}
	}
	return len >= API_HTTP_MAX ? EMSGSIZE : ENODATA;
}

/* Whether a comma-separated list (Connection) holds token, any case. */
static bool list_has(struct pl list, const char *token)
{
	size_t i = 0;

	while (i < list.l) {
		size_t s = i;

		while (i < list.l && list.p[i] != ',')
			i++;
		if (pl_caseeq_str(pl_trim((struct pl){list.p + s, i - s}), token))
			return true;
		i++;
	}
	return false;
}

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* RFC 6455 §4.1: a base64 nonce of 16 bytes is 24 characters, "==" last. */
static bool key_ok(struct pl k)
{
	if (k.l != 24 || k.p[22] != '=' || k.p[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++) {
		if (!is_b64(k.p[i]))
			return false;
	}
	return true;
}

struct hdrs {
	struct pl upgrade, connection, version;
	unsigned n_key, n_origin, n_host;
};

/* One header line: name ":" value (RFC 7230 §3.2), no folding. */
static int header_take(struct pl line, struct api_http_req *req, struct hdrs *h)
{
	const char *colon = memchr(line.p, ':', line.l);
	struct pl name, val;

	if (line.p[0] == ' ' || line.p[0] == '\t')
		return refuse(req, 400, "obsolete header line folding");
	if (!colon || colon == line.p)
		return refuse(req, 400, "malformed header line");
	name = (struct pl){line.p, (size_t)(colon - line.p)};
	if (memchr(name.p, ' ', name.l) || memchr(name.p, '\t', name.l))
		return refuse(req, 400, "white space in a header name");
	val = pl_trim((struct pl){colon + 1, line.l - name.l - 1});
	if (pl_caseeq_str(name, "Upgrade"))
		h->upgrade = val;
	else if (pl_caseeq_str(name, "Connection"))
		h->connection = val;
	else if (pl_caseeq_str(name, "Sec-WebSocket-Version"))
		h->version = val;
	else if (pl_caseeq_str(name, "Sec-WebSocket-Key")) {
		req->key = val;
		h->n_key++;
	} else if (pl_caseeq_str(name, "Origin")) {
		req->origin = val;
		h->n_origin++;
	} else if (pl_caseeq_str(name, "Host")) {
		req->host = val;
		h->n_host++;
	}
	return 0;
}

/* "GET <path> HTTP/1.1" */
static int request_line(struct pl line, struct api_http_req *req)
{
	const char *sp;

	if (line.l < 14 || memcmp(line.p, "GET ", 4) != 0) {
		/* another method on an HTTP/1.x line is 405, garbage 400 */
		sp = memchr(line.p, ' ', line.l);
		return refuse(req, sp ? 405 : 400,
			      sp ? "only GET upgrades to WebSocket" : "malformed request line");
	}
	if (memcmp(line.p + line.l - 9, " HTTP/1.1", 9) != 0)
		return refuse(req, 400, "HTTP/1.1 required");
	req->path = (struct pl){line.p + 4, line.l - 13};
	if (!req->path.l || req->path.p[0] != '/' || memchr(req->path.p, ' ', req->path.l))
		return refuse(req, 400, "malformed request target");
	return 0;
}

static int head_check(const struct hdrs *h, struct api_http_req *req)
{
	if (h->n_host != 1)
		return refuse(req, 400, "one Host header required");
	if (!pl_caseeq_str(h->upgrade, "websocket"))
		return refuse(req, 400, "Upgrade: websocket required");
	if (!list_has(h->connection, "upgrade"))
		return refuse(req, 400, "Connection: Upgrade required");
	if (!pl_eq_str(h->version, "13"))
		return refuse(req, 426, "Sec-WebSocket-Version 13 required");
	if (h->n_key != 1 || !key_ok(req->key))
		return refuse(req, 400, "one Sec-WebSocket-Key of 16 bytes in base64 required");
	if (h->n_origin != 1)
		return refuse(req, 403, "Origin header required");
	return 0;
}

int api_http_req_parse(const char *buf, size_t len, struct api_http_req *req)
{
	struct hdrs h;
	size_t end, i = 0, nhdr = 0;
	int err;

	if (!buf || !req)
		return EINVAL;
	memset(req, 0, sizeof(*req));
	memset(&h, 0, sizeof(h));
	err = head_end(buf, len, &end);
	if (err == EMSGSIZE)
		return refuse(req, 431, "request head too large");
	if (err)
		return err;
	for (size_t k = 0; k < end; k++) {
		unsigned char c = (unsigned char)buf[k];

		if (c == 0 || c >= 0x7f || (c < 0x20 && c != '\r' && c != '\n' && c != '\t'))
			return refuse(req, 400, "control or non-ASCII byte in the request head");
	}
	while (i < end - 2) {
		const char *nl = memchr(buf + i, '\n', end - i);
		struct pl line;

		if (!nl || nl == buf + i || nl[-1] != '\r')
			return refuse(req, 400, "bare LF in the request head");
		line = (struct pl){buf + i, (size_t)(nl - 1 - (buf + i))};
		if (!line.l)
			return refuse(req, 400, "malformed request head");
		if (i == 0)
			err = request_line(line, req);
		else if (++nhdr > API_HTTP_HDRS_MAX)
			err = refuse(req, 431, "too many header lines");
		else
			err = header_take(line, req, &h);
		if (err)
			return err;
		i = (size_t)(nl - buf) + 1;
	}
	err = head_check(&h, req);
	if (!err)
		req->len = end;
	return err;
}

int api_http_accept(struct pl key, char out[API_HTTP_ACCEPT_LEN + 1])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char cat[64 + sizeof(ws_guid)];

	if (key.l > 64)
		return EINVAL;
	memcpy(cat, key.p, key.l);
	memcpy(cat + key.l, ws_guid, sizeof(ws_guid) - 1);
	SHA1((const unsigned char *)cat, key.l + sizeof(ws_guid) - 1, md);
	if (EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH) !=
	    (int)API_HTTP_ACCEPT_LEN)
		return EINVAL;
	return 0;
}

int api_http_101(const struct api_http_req *req, char *out, size_t size, size_t *n)
{
	char acc[API_HTTP_ACCEPT_LEN + 1];
	int w;

	if (api_http_accept(req->key, acc))
		return EINVAL;
	w = snprintf(out, size,
		     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		     acc);
	if (w < 0 || (size_t)w >= size)
		return ENOSPC;
	*n = (size_t)w;
	return 0;
}

static const char *status_text(uint16_t status)
{
	switch (status) {
	case 403:
		return "Forbidden";
	case 405:
		return "Method Not Allowed";
	case 426:
		return "Upgrade Required";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Bad Request";
	}
}

int api_http_refusal(const struct api_http_req *req, char *out, size_t size, size_t *n)
{
	uint16_t st = req->status ? req->status : 400;
	const char *why = req->why ? req->why : "bad request";
	int w;

	w = snprintf(out, size,
		     "HTTP/1.1 %u %s\r\n%sContent-Type: text/plain\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
		     st, status_text(st), st == 426 ? "Sec-WebSocket-Version: 13\r\n" : "",
		     strlen(why) + 1, why);
	if (w < 0 || (size_t)w >= size)
		return ENOSPC;
	*n = (size_t)w;
	return 0;
}
