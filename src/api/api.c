/*
 * api — listening sockets, connections and WebSocket framing of the remote
 * API (api.h). wslay does the framing (RFC 6455 §5: masking, fragments,
 * control frames interleaved, close handshake) and no I/O: its callbacks
 * read and write our non-blocking socket. The loop watches a connection for
 * reading always and for writing while wslay has output queued.
 *
 * A connection's life: the HTTP head is read into conn->hs (bounded,
 * api_http.c); the 101 answer goes, then the greeting (ready, or
 * authenticate with a challenge, api_auth.c); then each text message goes to
 * api_msg.c. Bounds: a received message over API_MSG_MAX is closed by wslay
 * with 1009; invalid UTF-8 in a text message closes with 1007 (§8.1); a
 * binary message closes with 1003; output queued over API_OUT_MAX (a
 * client that does not read) closes the connection at once, with a log line.
 * A connection is freed at the end of the callback that closed it (dead),
 * never under a handler still using it.
 */
#include "api/api_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <wslay/wslay.h>

#include "config/ims_cfg.h"
#include "loop/loop.h"
#include "net/net_addr.h"

static void conn_io_h(int fd, int events, void *arg);

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double api_time_now(const struct api *api)
{
	return mono_s() - api->t0;
}

struct api_conn *api_conn_find(struct api *api, uint64_t id)
{
	for (struct api_conn *c = api->conns; c; c = c->next) {
		if (c->id == id && !c->dead)
			return c;
	}
	return NULL;
}

static void conn_free(struct api_conn *c)
{
	struct api *api = c->api;

	if (c->ws)
		log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "api: %s disconnected",
			  c->peer);
	api_reqs_cancel_conn(api, c->id);
	api_log_conn_close(c);
	api_tls_conn_end(c);
	if (c->fd >= 0) {
		loop_fd_close(c->fd);
		close(c->fd);
	}
	if (c->ws_ctx)
		wslay_event_context_free(c->ws_ctx);
	if (c->prev)
		c->prev->next = c->next;
	else
		api->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	api->nconn--;
	free(c);
}

/* Keeps api->out_total, the output queued to every client: log_get
 * answers wait while it is over API_OUT_TOTAL_MAX (api_log.c), and are
 * looked at again once it fell under half of it. */
static void conn_queued_update(struct api_conn *c)
{
	struct api *api = c->api;
	size_t q = c->ws_ctx && !c->dead ? wslay_event_get_queued_msg_length(c->ws_ctx) : 0;
	uint64_t one = 1;

	api->out_total = api->out_total - c->queued + q;
	c->queued = q;
	if (api->log_out_wait && api->out_total < API_OUT_TOTAL_MAX / 2) {
		api->log_out_wait = false;
		(void)!write(api->log_evfd, &one, sizeof(one));
	}
}

/* Stops the connection now; freed by the callback that runs it. */
static void conn_kill(struct api_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	conn_queued_update(c);
	if (c->fd >= 0) {
		char sink[4096];

		/* what the client sent and we will not read would make close()
		 * answer with a reset, which may cost it our last frames */
		api_tls_conn_end(c);
		shutdown(c->fd, SHUT_WR);
		for (int i = 0; i < 16 && recv(c->fd, sink, sizeof(sink), 0) > 0; i++)
			;
		loop_fd_close(c->fd);
		close(c->fd);
		c->fd = -1;
	}
}

/* Writes what wslay has queued; watches for writability while some is left. */
static void conn_flush(struct api_conn *c)
{
	wslay_event_context_ptr ws = c->ws_ctx;
	bool want;

	if (c->dead || !ws)
		return;
	if (wslay_event_want_write(ws) && wslay_event_send(ws)) {
		conn_kill(c);
		return;
	}
	conn_queued_update(c);
	if (!wslay_event_want_read(ws) && !wslay_event_want_write(ws)) {
		conn_kill(c); /* close handshake done */
		return;
	}
	want = wslay_event_want_write(ws);
	if (want != c->out_watch &&
	    !loop_fd_modify(c->fd, LOOP_READ | (want ? LOOP_WRITE : 0)))
		c->out_watch = want;
}

void api_conn_close(struct api_conn *c, uint16_t code, const char *why)
{
	if (c->dead)
		return;
	if (!c->ws_ctx) {
		conn_kill(c);
		return;
	}
	wslay_event_queue_close(c->ws_ctx, code, (const uint8_t *)why, why ? strlen(why) : 0);
	wslay_event_shutdown_read(c->ws_ctx);
	conn_flush(c);
}

int api_conn_send_text(struct api_conn *c, const char *txt, size_t len)
{
	struct wslay_event_msg wm = {.opcode = WSLAY_TEXT_FRAME};
	size_t queued;

	if (c->dead || !c->ws_ctx)
		return ENOTCONN;
	queued = wslay_event_get_queued_msg_length(c->ws_ctx);
	if (queued + len > API_OUT_MAX) {
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "api: client %s does not read: %zu bytes waiting, %zu more: "
			  "disconnected",
			  c->peer, queued, len);
		conn_kill(c);
		return ENOBUFS;
	}
	wm.msg = (const uint8_t *)txt;
	wm.msg_length = len;
	if (wslay_event_queue_msg(c->ws_ctx, &wm))
		return ENOMEM;
	conn_flush(c);
	return 0;
}

int api_conn_send(struct api_conn *c, const json_t *msg)
{
	char *txt;
	int err;

	if (c->dead || !c->ws_ctx)
		return ENOTCONN;
	txt = json_dumps(msg, JSON_COMPACT);
	if (!txt)
		return ENOMEM;
	err = api_conn_send_text(c, txt, strlen(txt));
	free(txt);
	return err;
}

void api_event_send(struct api *api, enum api_event ev, json_t *msg)
{
	json_object_set_new(msg, "time", json_real(api_time_now(api)));
	for (struct api_conn *c = api->conns; c; c = c->next) {
		if (!c->dead && c->authed && (c->events & ev))
			api_conn_send(c, msg);
	}
}

bool api_event_listened(const struct api *api, enum api_event ev)
{
	for (const struct api_conn *c = api->conns; c; c = c->next) {
		if (!c->dead && c->authed && (c->events & ev))
			return true;
	}
	return false;
}

/* ---- wslay callbacks ---- */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
			  void *arg)
{
	struct api_conn *c = arg;
	ssize_t n;

	(void)flags;
	if (c->pre_off < c->hs_len) { /* bytes the client sent with its head */
		size_t k = c->hs_len - c->pre_off;

		k = k < len ? k : len;
		memcpy(buf, c->hs + c->pre_off, k);
		c->pre_off += k;
		return (ssize_t)k;
	}
	n = api_io_recv(c, buf, len);
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

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
			  int flags, void *arg)
{
	struct api_conn *c = arg;
	ssize_t n;

	(void)flags;
	if (c->api->out_iter_bytes >= API_OUT_ITER_MAX) { /* the rest next iteration */
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (len > API_OUT_ITER_MAX - c->api->out_iter_bytes)
		len = API_OUT_ITER_MAX - c->api->out_iter_bytes;
	n = api_io_send(c, data, len);
	if (n > 0)
		c->api->out_iter_bytes += (size_t)n;
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

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m,
		      void *arg)
{
	struct api_conn *c = arg;

	(void)ctx;
	if (c->dead || m->opcode & 0x8)
		return; /* control frames: wslay answers ping and close */
	if (m->opcode == WSLAY_BINARY_FRAME) {
		api_conn_close(c, WSLAY_CODE_UNSUPPORTED_DATA, "binary messages not accepted");
		return;
	}
	if (!api_utf8_valid(m->msg, m->msg_length)) {
		api_conn_close(c, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA, "invalid UTF-8");
		return;
	}
	api_msg_text_in(c->api, c, m->msg, m->msg_length);
}

static const struct wslay_event_callbacks ws_cbs = {
	.recv_callback = ws_recv_cb,
	.send_callback = ws_send_cb,
	.on_msg_recv_callback = ws_msg_cb,
};

/* ---- the handshake ---- */

static int conn_upgrade(struct api_conn *c, const struct api_http_req *req)
{
	char ans[256];
	size_t n;
	json_t *hello;
	wslay_event_context_ptr ws;

	if (api_http_101(req, ans, sizeof(ans), &n) || api_io_send(c, ans, n) != (ssize_t)n)
		return EIO; /* a fresh socket takes 130 bytes, or is gone */
	if (wslay_event_context_server_init(&ws, &ws_cbs, c))
		return ENOMEM;
	c->ws_ctx = ws;
	wslay_event_config_set_max_recv_msg_length(ws, API_MSG_MAX);
	c->ws = true;
	c->pre_off = req->len;
	c->authed = c->api->password == NULL;
	hello = api_auth_greeting(c->api, c);
	if (!hello)
		return ENOMEM;
	api_conn_send(c, hello);
	json_decref(hello);
	return 0;
}

/* The HTTP head, read until it is complete or the socket is drained (with
 * TLS, what OpenSSL holds decrypted does not wake the loop again). */
static int conn_head_take(struct api_conn *c, struct api_http_req *req)
{
	for (;;) {
		ssize_t n = api_io_recv(c, c->hs + c->hs_len, sizeof(c->hs) - c->hs_len);
		int err;

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return ENODATA;
		if (n <= 0)
			return EPIPE;
		c->hs_len += (size_t)n;
		err = api_http_req_parse(c->hs, c->hs_len, req);
		if (err != ENODATA)
			return err;
	}
}

static void conn_head_read(struct api_conn *c)
{
	struct api_http_req req;
	char ans[512];
	size_t alen;
	int err = conn_head_take(c, &req);

	if (err == ENODATA)
		return;
	if (err == EPIPE) {
		conn_kill(c);
		return;
	}
	if (err) {
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "api: %s: handshake refused (%u): %s", c->peer, req.status, req.why);
		if (!api_http_refusal(&req, ans, sizeof(ans), &alen))
			(void)!api_io_send(c, ans, alen);
		conn_kill(c);
		return;
	}
	if (conn_upgrade(c, &req)) {
		conn_kill(c);
		return;
	}
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "api: %s connected%s (origin %.*s)",
		  c->peer, c->ssl ? " over TLS" : "",
		  (int)(req.origin.l > 128 ? 128 : req.origin.l), req.origin.p);
	/* frames that came with the head, and what the socket holds */
	if (wslay_event_recv(c->ws_ctx))
		conn_kill(c);
	conn_flush(c);
}

static void conn_io_h(int fd, int events, void *arg)
{
	struct api_conn *c = arg;

	(void)fd;
	if (c->ssl && !c->tls_done) {
		int e = api_tls_handshake(c);

		if (e && e != EAGAIN)
			conn_kill(c);
		if (e)
			goto out;
	}
	if (!c->ws) {
		if (events & (LOOP_READ | LOOP_ERROR | LOOP_WRITE))
			conn_head_read(c);
	} else {
		if ((events & (LOOP_READ | LOOP_ERROR)) && !c->dead &&
		    wslay_event_recv(c->ws_ctx))
			conn_kill(c);
		conn_flush(c);
	}
out:
	if (c->dead)
		conn_free(c);
}

/* Frees the connections closed outside their own callback (an answer over
 * the bound from a timer, an event). */
static void api_reap_h(void *arg)
{
	struct api *api = arg;
	struct api_conn *c = api->conns;

	api->log_iter_entries = 0; /* a new iteration: a new budget for log_get */
	api->out_iter_bytes = 0;   /* and for writing to the clients */
	while (c) {
		struct api_conn *next = c->next;

		if (c->dead)
			conn_free(c);
		c = next;
	}
}

static void conn_accept(struct api *api, int fd, const struct sockaddr_storage *ss,
			socklen_t sl)
{
	struct api_conn *c;
	struct net_addr a;
	int one = 1;

	if (api->nconn >= API_CONNS_MAX) {
		if (loop_now_ms() - api->refused_logged_ms >= 1000) {
			api->refused_logged_ms = loop_now_ms();
			log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
				  "api: %u clients already: connection refused", api->nconn);
		}
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->api = api;
	c->fd = fd;
	c->id = ++api->next_id;
	if (net_addr_from_sa(&a, (const struct sockaddr *)ss, sl) ||
	    !net_addr_print(&a, c->peer, sizeof(c->peer)))
		snprintf(c->peer, sizeof(c->peer), "?");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (api_tls_conn_start(c) || loop_fd_listen(fd, LOOP_READ, conn_io_h, c)) {
		api_tls_conn_end(c);
		close(fd);
		free(c);
		return;
	}
	c->next = api->conns;
	if (api->conns)
		api->conns->prev = c;
	api->conns = c;
	api->nconn++;
}

static void listen_h(int fd, int events, void *arg)
{
	struct api *api = arg;

	(void)events;
	/* a few at a time: SIP is served in between */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0)
			return;
		conn_accept(api, cfd, &ss, sl);
	}
}

static int api_listen(struct api *api, char *err, size_t errlen)
{
	const struct ims_cfg *cfg = api->prm.cfg;
	char txt[300];
	struct net_addr a;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1, fd, e;

	memset(&ss, 0, sizeof(ss));

	if (api->prm.addr)
		snprintf(txt, sizeof(txt), "%s", api->prm.addr);
	else if (strchr(cfg->com_addr.host, ':'))
		snprintf(txt, sizeof(txt), "[%s]:%u", cfg->com_addr.host,
			 cfg->com_addr.port ? cfg->com_addr.port : API_PORT_DEFAULT);
	else
		snprintf(txt, sizeof(txt), "%s:%u", cfg->com_addr.host,
			 cfg->com_addr.port ? cfg->com_addr.port : API_PORT_DEFAULT);
	if (net_addr_parse_str(&a, txt, API_PORT_DEFAULT)) {
		snprintf(err, errlen, "com_addr: not an address: %s", txt);
		return EINVAL;
	}
	fd = socket(net_addr_af(&a), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (net_addr_af(&a) == AF_INET6) {
		int zero = 0; /* [::] takes IPv4 too (manual §5 com_addr) */

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (bind(fd, net_addr_sa(&a), net_addr_len(&a)) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl))
		goto fail;
	api->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						    : ((struct sockaddr_in *)&ss)->sin_port);
	if ((e = loop_fd_listen(fd, LOOP_READ, listen_h, api))) {
		errno = e;
		goto fail;
	}
	api->lfd = fd;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "api: listening on %s (port %u)",
		  txt, api->port);
	return 0;
fail:
	e = errno;
	snprintf(err, errlen, "com_addr %s: %s", txt, strerror(e));
	if (fd >= 0)
		close(fd);
	return e ? e : EIO;
}

int api_alloc(struct api **apip, const struct api_prm *prm, char *err, size_t errlen)
{
	struct api *api;
	int e;

	if (!apip || !prm || !prm->cfg)
		return EINVAL;
	*apip = NULL;
	if (!prm->cfg->com_addr.host && !prm->addr)
		return 0; /* no remote API configured */
	api = calloc(1, sizeof(*api));
	if (!api)
		return ENOMEM;
	api->prm = *prm;
	api->lfd = -1;
	api->log_evfd = -1;
	api->t0 = mono_s();
	api->msg_counts = json_object();
	api->err_counts = json_object();
	e = api->msg_counts && api->err_counts ? 0 : ENOMEM;
	if (!e)
		e = api_auth_init(api, err, errlen);
	if (!e)
		e = api_tls_init(api, err, errlen);
	if (!e)
		e = api_listen(api, err, errlen);
	if (!e)
		e = api_log_start(api);
	if (!e && (e = loop_before_sleep_add(api_reap_h, api)) == 0)
		api->reaping = true;
	if (e) {
		if (!err[0])
			snprintf(err, errlen, "%s", strerror(e));
		api_free(api);
		return e;
	}
	api_users_watch_start(api);
	api_sms_hook_start(api);
	api_dialog_watch_start(api);
	api_sim_events_start(api);
	*apip = api;
	return 0;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	api_users_watch_stop(api);
	api_sms_hook_stop(api);
	api_dialog_watch_stop(api);
	api_users_jobs_free(api);
	if (api->reaping)
		loop_before_sleep_remove(api_reap_h, api);
	for (struct api_conn *c = api->conns, *next; c; c = next) {
		next = c->next;
		if (c->ws_ctx && !c->dead) {
			wslay_event_queue_close(c->ws_ctx, WSLAY_CODE_GOING_AWAY,
						(const uint8_t *)"server stopping", 15);
			wslay_event_send(c->ws_ctx); /* best effort, no waiting */
		}
		conn_free(c);
	}
	api_reqs_free(api);
	api_log_stop(api);
	if (api->lfd >= 0) {
		loop_fd_close(api->lfd);
		close(api->lfd);
	}
	api_auth_free(api);
	ims_cfg_free(api->hdrs_set);
	api_tls_free(api);
	json_decref(api->msg_counts);
	json_decref(api->err_counts);
	free(api);
}

uint16_t api_port(const struct api *api)
{
	return api ? api->port : 0;
}
