/*
 * imsctl api — a remote API client (manual §6), as the manual's ws.js:
 *
 *   imsctl api [--password P] [--tls [--ca F] [--cert F --key F]] [--timeout S]
 *              [--events] [--wait] HOST:PORT 'JSON'
 *
 * --tls speaks wss:// (com_ssl_certificate): the server's certificate is
 * verified against --ca (else the system's CAs) and its name or address;
 * --cert and --key present a client certificate (com_ssl_peer_verify).
 * Connects over WebSocket (RFC 6455, wslay framing, Origin: imsctl as the
 * manual requires), answers com_auth's challenge with
 * res = HMAC-SHA256("IMS:<password>:<name>", challenge) (--password, or
 * the IMSCTL_API_PASSWORD environment variable), sends the message (one
 * object, or an array), prints every message received as one line of
 * compact JSON, and exits once each message was answered. A message with
 * start_time or loop_count is waited for only with --wait (loop_count
 * answers); --events keeps printing events after that until --timeout
 * (default 30 s; 0 = no limit with --events). Exit status: 0, 1 when an
 * answer has an error (or authentication failed, or the connection did),
 * 2 for a bad command line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <wslay/wslay.h>

#include "api/api_http.h"
#include "api/api_int.h"
#include "tools/imsctl.h"

#define API_CLI_HEAD_MAX 8192

struct cli {
	int fd;
	const char *password;
	json_t *out;	    /* the messages to send */
	bool events, wait;
	long expected;	    /* answers still to come */
	bool sent, failed, done;
	char rest[API_CLI_HEAD_MAX]; /* bytes after the 101 head */
	size_t rest_len, rest_off;
	wslay_event_context_ptr ws;
	bool tls;
	const char *ca, *cert, *key;
	SSL_CTX *ssl_ctx;
	SSL *ssl;
};

/* recv / send, through TLS with --tls; -1 and EAGAIN when it would block. */
static ssize_t cli_io(struct cli *c, void *rbuf, const void *wbuf, size_t len)
{
	int r, e;

	if (!c->ssl)
		return rbuf ? recv(c->fd, rbuf, len, 0) : send(c->fd, wbuf, len, MSG_NOSIGNAL);
	r = rbuf ? SSL_read(c->ssl, rbuf, (int)len) : SSL_write(c->ssl, wbuf, (int)len);
	if (r > 0)
		return r;
	e = SSL_get_error(c->ssl, r);
	errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EPIPE;
	return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

static ssize_t cli_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
			   void *arg)
{
	struct cli *c = arg;
	ssize_t n;

	(void)flags;
	if (c->rest_off < c->rest_len) {
		size_t k = c->rest_len - c->rest_off < len ? c->rest_len - c->rest_off : len;

		memcpy(buf, c->rest + c->rest_off, k);
		c->rest_off += k;
		return (ssize_t)k;
	}
	n = cli_io(c, buf, NULL, len);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return n;
}

static ssize_t cli_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
			   int flags, void *arg)
{
	struct cli *c = arg;
	ssize_t n = cli_io(c, NULL, data, len);

	(void)flags;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return n;
}

static int cli_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *arg)
{
	(void)ctx;
	(void)arg;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void cli_send(struct cli *c, const json_t *m)
{
	char *txt = json_dumps(m, JSON_COMPACT);
	struct wslay_event_msg wm = {.opcode = WSLAY_TEXT_FRAME};

	if (!txt) {
		c->failed = c->done = true;
		return;
	}
	wm.msg = (const uint8_t *)txt;
	wm.msg_length = strlen(txt);
	if (wslay_event_queue_msg(c->ws, &wm))
		c->failed = c->done = true;
	free(txt);
}

/* Answers expected for one message. */
static long answers_for(const struct cli *c, const json_t *m)
{
	const json_t *lc = json_object_get(m, "loop_count");
	bool later = json_object_get(m, "start_time") || (lc && json_integer_value(lc) > 0);

	if (!later)
		return 1;
	if (!c->wait)
		return 0;
	return lc && json_integer_value(lc) > 0 ? (long)json_integer_value(lc) : 1;
}

static void cli_send_all(struct cli *c)
{
	size_t i;
	json_t *m;

	c->sent = true;
	if (!json_is_array(c->out)) {
		c->expected = answers_for(c, c->out);
	} else {
		json_array_foreach(c->out, i, m)
		{
			c->expected += answers_for(c, m);
		}
	}
	cli_send(c, c->out);
	if (!c->expected && !c->events)
		c->done = true;
}

static void cli_authenticate(struct cli *c, const json_t *m)
{
	const char *type = json_string_value(json_object_get(m, "type"));
	const char *name = json_string_value(json_object_get(m, "name"));
	const char *ch = json_string_value(json_object_get(m, "challenge"));
	char res[65];
	json_t *a;

	if (!c->password) {
		imsctl_err("api", "the server asks for authentication: give --password");
		c->failed = c->done = true;
		return;
	}
	if (!type || !name || !ch || api_auth_res(type, c->password, name, ch, res)) {
		imsctl_err("api", "malformed authenticate message");
		c->failed = c->done = true;
		return;
	}
	a = json_pack("{s:s, s:s}", "message", "authenticate", "res", res);
	cli_send(c, a);
	json_decref(a);
}

static void cli_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
		       void *arg)
{
	struct cli *c = arg;
	json_t *m;
	const char *name;

	(void)ctx;
	if (a->opcode != WSLAY_TEXT_FRAME)
		return;
	printf("%.*s\n", (int)a->msg_length, (const char *)a->msg);
	fflush(stdout);
	m = json_loadb((const char *)a->msg, a->msg_length, 0, NULL);
	name = json_string_value(json_object_get(m, "message"));
	if (!m || !name) {
		json_decref(m);
		return;
	}
	if (!c->sent && !strcmp(name, "ready")) {
		cli_send_all(c);
	} else if (!c->sent && !strcmp(name, "authenticate")) {
		if (json_object_get(m, "challenge") && json_object_get(m, "error")) {
			imsctl_err("api", "authentication failed");
			c->failed = c->done = true;
		} else if (json_is_true(json_object_get(m, "ready"))) {
			cli_send_all(c);
		} else {
			cli_authenticate(c, m);
		}
	} else if (c->sent && json_object_get(m, "utc")) { /* an answer, not an event */
		if (json_object_get(m, "error"))
			c->failed = true;
		if (--c->expected <= 0 && !c->events)
			c->done = true;
	}
	json_decref(m);
}

static int cli_connect(const char *hostport, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	size_t hl;
	int fd = -1, e;

	if (!colon || colon == hostport || !colon[1]) {
		snprintf(err, errlen, "HOST:PORT expected, got \"%s\"", hostport);
		return -1;
	}
	hl = (size_t)(colon - hostport);
	if (hostport[0] == '[' && hl >= 2 && hostport[hl - 1] == ']') {
		hostport++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "host name too long");
		return -1;
	}
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	e = getaddrinfo(host, colon + 1, &hints, &res);
	if (e) {
		snprintf(err, errlen, "%s: %s", hostport, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd >= 0 && !connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	if (fd < 0)
		snprintf(err, errlen, "cannot connect to %s: %s", hostport, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

/* The opening handshake (RFC 6455 §4.1), blocking. */
static int cli_handshake(struct cli *c, const char *hostport, char *err, size_t errlen)
{
	unsigned char nonce[16];
	char key[25], acc[API_HTTP_ACCEPT_LEN + 1], req[512], head[API_CLI_HEAD_MAX];
	size_t hl = 0;
	char *end = NULL;
	int n;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1 ||
	    EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce)) != 24 ||
	    api_http_accept((struct pl){key, 24}, acc))
		return snprintf(err, errlen, "no randomness for the key"), -1;
	n = snprintf(req, sizeof(req),
		     "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: imsctl\r\n\r\n",
		     hostport, key);
	if (n < 0 || (size_t)n >= sizeof(req) || cli_io(c, NULL, req, (size_t)n) != n)
		return snprintf(err, errlen, "cannot send the handshake"), -1;
	while (!end) {
		ssize_t k = cli_io(c, head + hl, NULL, sizeof(head) - 1 - hl);

		if (k <= 0)
			return snprintf(err, errlen, "connection closed during the handshake"), -1;
		hl += (size_t)k;
		head[hl] = '\0';
		end = strstr(head, "\r\n\r\n");
		if (!end && hl >= sizeof(head) - 1)
			return snprintf(err, errlen, "handshake answer too long"), -1;
	}
	if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
		snprintf(err, errlen, "handshake refused: %.*s", (int)strcspn(head, "\r\n"), head);
		return -1;
	}
	if (!strcasestr(head, acc))
		return snprintf(err, errlen, "wrong Sec-WebSocket-Accept"), -1;
	c->rest_len = hl - (size_t)(end + 4 - head);
	memcpy(c->rest, end + 4, c->rest_len);
	return 0;
}

/* TLS over the connected socket, blocking (--tls). */
static int cli_tls(struct cli *c, const char *hostport, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t hl = colon ? (size_t)(colon - hostport) : 0;
	unsigned char ip[16];
	X509_VERIFY_PARAM *vp;

	if (hostport[0] == '[' && hl >= 2) {
		hostport++;
		hl -= 2;
	}
	snprintf(host, sizeof(host), "%.*s", (int)hl, hostport);
	c->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ssl_ctx)
		return snprintf(err, errlen, "out of memory"), -1;
	SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(c->ssl_ctx,
			 SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
	if ((c->ca ? SSL_CTX_load_verify_locations(c->ssl_ctx, c->ca, NULL)
		   : SSL_CTX_set_default_verify_paths(c->ssl_ctx)) != 1)
		return snprintf(err, errlen, "--ca %s: cannot be read", c->ca ? c->ca : ""), -1;
	if (c->cert && (SSL_CTX_use_certificate_chain_file(c->ssl_ctx, c->cert) != 1 ||
			SSL_CTX_use_PrivateKey_file(c->ssl_ctx, c->key, SSL_FILETYPE_PEM) != 1))
		return snprintf(err, errlen, "--cert/--key: cannot be used"), -1;
	c->ssl = SSL_new(c->ssl_ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return snprintf(err, errlen, "out of memory"), -1;
	vp = SSL_get0_param(c->ssl);
	if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
		X509_VERIFY_PARAM_set1_ip_asc(vp, host);
	else {
		X509_VERIFY_PARAM_set1_host(vp, host, 0);
		SSL_set_tlsext_host_name(c->ssl, host);
	}
	if (SSL_connect(c->ssl) != 1) {
		char buf[256];

		ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
		snprintf(err, errlen, "TLS with %s failed: %s", hostport, buf);
		return -1;
	}
	return 0;
}

static int cli_run(struct cli *c, long timeout_ms)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (c->rest_len && wslay_event_recv(c->ws))
		return -1;
	while (!c->done) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		long left = -1;

		if (wslay_event_want_write(c->ws))
			p.events |= POLLOUT;
		if (timeout_ms > 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			left = timeout_ms - ((now.tv_sec - t0.tv_sec) * 1000 +
					     (now.tv_nsec - t0.tv_nsec) / 1000000);
			if (left <= 0)
				return c->events && c->expected <= 0 ? 0 : ETIMEDOUT;
		}
		if (c->ssl && SSL_pending(c->ssl))
			p.revents = POLLIN; /* decrypted already: the socket may stay quiet */
		else if (poll(&p, 1, (int)(left < 0 ? 1000 : left)) < 0 && errno != EINTR)
			return -1;
		if ((p.revents & (POLLIN | POLLERR | POLLHUP)) && wslay_event_recv(c->ws))
			return -1;
		if (wslay_event_want_write(c->ws) && wslay_event_send(c->ws))
			return -1;
		if (!wslay_event_want_read(c->ws))
			return c->done ? 0 : -1;
	}
	/* our close, best effort */
	wslay_event_queue_close(c->ws, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
	wslay_event_send(c->ws);
	return 0;
}

static void api_usage(FILE *f)
{
	fputs("usage: imsctl api [--password P] [--tls [--ca F] [--cert F --key F]]\n"
	      "                  [--timeout S] [--events] [--wait] HOST:PORT 'JSON'\n\n"
	      "Sends JSON (one message object, or an array of them) to imsd's remote API\n"
	      "(com_addr, manual §6) over WebSocket and prints every message received, one\n"
	      "compact JSON a line. With com_auth, --password (or IMSCTL_API_PASSWORD)\n"
	      "answers the challenge. Exits once each message was answered; messages with\n"
	      "start_time or loop_count are waited for only with --wait. --events keeps\n"
	      "printing events (register to them in JSON) until --timeout (default 30 s,\n"
	      "0: none with --events). Exit status 1 when an answer has an error.\n"
	      "--tls: wss://, the server verified against --ca (else the system's CAs);\n"
	      "--cert and --key: a client certificate (com_ssl_peer_verify).\n\n"
	      "example:\n  imsctl api 127.0.0.1:9003 '{\"message\": \"config_get\"}'\n"
	      "  imsctl api --events 127.0.0.1:9003 '{\"message\": \"register\", \"register\": "
	      "\"users_update\"}'\n",
	      f);
}

static int api_args(int argc, char **argv, struct cli *c, const char **addr,
		    const char **json, long *timeout_ms)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--password") && i + 1 < argc) {
			c->password = argv[++i];
		} else if (!strcmp(a, "--timeout") && i + 1 < argc) {
			char *end;
			double s = strtod(argv[++i], &end);

			if (*end || s < 0 || s > 86400) {
				imsctl_err("api", "--timeout: seconds from 0 to 86400 expected");
				return IMSCTL_EXIT_USAGE;
			}
			*timeout_ms = (long)(s * 1000);
		} else if (!strcmp(a, "--events")) {
			c->events = true;
		} else if (!strcmp(a, "--wait")) {
			c->wait = true;
		} else if (!strcmp(a, "--tls")) {
			c->tls = true;
		} else if (!strcmp(a, "--ca") && i + 1 < argc) {
			c->ca = argv[++i];
		} else if (!strcmp(a, "--cert") && i + 1 < argc) {
			c->cert = argv[++i];
		} else if (!strcmp(a, "--key") && i + 1 < argc) {
			c->key = argv[++i];
		} else if (!strncmp(a, "--", 2)) {
			imsctl_err("api", "unknown option %s (see imsctl api --help)", a);
			return IMSCTL_EXIT_USAGE;
		} else if (!*addr) {
			*addr = a;
		} else if (!*json) {
			*json = a;
		} else {
			imsctl_err("api", "unexpected argument \"%s\"", a);
			return IMSCTL_EXIT_USAGE;
		}
	}
	if (!*addr || !*json) {
		api_usage(stderr);
		return IMSCTL_EXIT_USAGE;
	}
	if ((c->ca || c->cert || c->key) && !c->tls) {
		imsctl_err("api", "--ca, --cert and --key go with --tls");
		return IMSCTL_EXIT_USAGE;
	}
	if (!c->cert != !c->key) {
		imsctl_err("api", "--cert and --key go together");
		return IMSCTL_EXIT_USAGE;
	}
	return 0;
}

int imsctl_api_main(int argc, char **argv)
{
	static const struct wslay_event_callbacks cbs = {
	    .recv_callback = cli_recv_cb,
	    .send_callback = cli_send_cb,
	    .genmask_callback = cli_genmask_cb,
	    .on_msg_recv_callback = cli_msg_cb,
	};
	struct cli c = {.fd = -1};
	const char *addr = NULL, *json = NULL;
	long timeout_ms = 30000;
	json_error_t je;
	char err[512];
	int rc;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			api_usage(stdout);
			return IMSCTL_EXIT_OK;
		}
	}
	rc = api_args(argc, argv, &c, &addr, &json, &timeout_ms);
	if (rc)
		return rc;
	if (!c.password)
		c.password = getenv("IMSCTL_API_PASSWORD");
	c.out = json_loads(json, JSON_REJECT_DUPLICATES, &je);
	if (!c.out || !(json_is_object(c.out) || json_is_array(c.out))) {
		imsctl_err("api", "JSON: %s", c.out ? "an object or an array expected" : je.text);
		json_decref(c.out);
		return IMSCTL_EXIT_USAGE;
	}
	rc = IMSCTL_EXIT_FAIL;
	c.fd = cli_connect(addr, err, sizeof(err));
	if (c.fd < 0 || (c.tls && cli_tls(&c, addr, err, sizeof(err))) ||
	    cli_handshake(&c, addr, err, sizeof(err)) ||
	    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK) < 0) {
		imsctl_err("api", "%s", err);
		goto out;
	}
	if (wslay_event_context_client_init(&c.ws, &cbs, &c)) {
		imsctl_err("api", "out of memory");
		goto out;
	}
	if (cli_run(&c, timeout_ms)) {
		imsctl_err("api", "%s", c.done ? "connection lost" : "no answer in time, or "
								   "connection lost");
		goto out;
	}
	rc = c.failed ? IMSCTL_EXIT_FAIL : IMSCTL_EXIT_OK;
out:
	if (c.ws)
		wslay_event_context_free(c.ws);
	SSL_free(c.ssl);
	SSL_CTX_free(c.ssl_ctx);
	if (c.fd >= 0)
		close(c.fd);
	json_decref(c.out);
	return rc;
}
