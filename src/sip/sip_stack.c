/*
 * sip/sip_stack — sockets, receive pipeline, dispatch by method and the
 * transaction layer's send function. See sip_stack.h and docs/sip-stack.md.
 *
 * Receive: net (UDP datagram or framed TCP message) -> sip_msg_decode ->
 * log (manual §8.1) -> sip_msg_check (errors answered statelessly, RFC 3261
 * §8.2) -> received/rport on the top Via (§18.2.1, RFC 3581) ->
 * sip_tsx_recv -> request_h -> the method's handler, or 405/501.
 * Send: sip_tsx_dst -> net_send_conn (TCP, §18.2.2 "the same connection",
 * then a new one to the source) or net_send on the socket it came in on.
 */
#include "sip/sip_stack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "sip/sip_build.h"
#include "sip/sip_dialog.h"
#include "sip/sip_hdr.h"
#include "sip/sip_log.h"
#include "sip/sip_stack_int.h"
#include "sip/sip_tsx_int.h" /* sip_stack_tsx_counts: the live sets */
#include "sip/sip_uri.h"

#define SIP_STACK_PEER_MAX (NET_ADDR_STRLEN + 8)
#define SIP_STACK_ID_MAX 128

size_t sip_stack_tsx_max_for(uint32_t rate, uint32_t t1_ms, uint32_t t4_ms)
{
	/* The longest a transaction lives in the usual case: 64*T1 (Timer
	 * J, H, L, F, B) plus T4 (a NICT's Timer K after a late final). A
	 * quarter more absorbs bursts above the expected rate. */
	uint64_t life_ms = 64u * (uint64_t)t1_ms + t4_ms;
	uint64_t n;

	if (!rate)
		rate = SIP_STACK_TSX_RATE_DEFAULT;
	n = (uint64_t)rate * life_ms / 1000u;
	n += n / 4;
	if (n < SIP_STACK_TSX_MAX_MIN)
		n = SIP_STACK_TSX_MAX_MIN;
	return n > SIZE_MAX ? SIZE_MAX : (size_t)n;
}

void sip_stack_prm_init(struct sip_stack_prm *prm)
{
	memset(prm, 0, sizeof(*prm));
	prm->t1_ms = 2000;
	prm->t2_ms = 16000;
	prm->t4_ms = 17000;
	prm->tcp_threshold = 1300;
	prm->tcp_keepalive = 900;
	prm->tcp_keepcount = 2;
	prm->force_user_agent = true;
}

/* The log id column: the Call-ID (manual §8.1 "an ID associated to a SIP
 * dialog"; every message of a dialog carries it, in both directions). */
static const char *stack_log_id(struct pl callid, char *buf, size_t size)
{
	size_t n = callid.l < size - 1 ? callid.l : size - 1;

	if (!callid.p || !callid.l)
		return NULL;
	memcpy(buf, callid.p, n);
	buf[n] = '\0';
	return buf;
}

static void stack_log_tx(bool reliable, const struct net_addr *dst, const void *data,
			 size_t len)
{
	char peer[SIP_STACK_PEER_MAX], id[SIP_STACK_ID_MAX];

	if (!log_on(LOG_SIP, LOG_LVL_INFO))
		return;
	sip_buf_log(data, len, LOG_DIR_TO,
		    stack_log_id(sip_stack_callid_scan(data, len), id, sizeof(id)),
		    sip_stack_peer_str(reliable, dst, peer, sizeof(peer)));
}

/* ---- sending ---- */

size_t sip_stack_sock_index(const struct sip_stack *stack, const struct net_sock *sock)
{
	for (size_t i = 0; i < stack->nsocks; i++) {
		if (stack->socks[i] == sock)
			return i;
	}
	return stack->nsocks;
}

struct net_sock *sip_stack_flow_sock(const struct sip_stack *stack,
				     const struct net_flow *f)
{
	int af = net_addr_af(&f->peer);
	struct net_sock *sock = net_sock_by_local(stack->net, &f->local);
	char l[NET_ADDR_STRLEN];

	if (sock && (!af || net_addr_af(net_sock_addr(sock)) == af))
		return sock;
	sock = net_sock_find(stack->net, af ? af : net_addr_af(&f->local));
	if (net_addr_isset(&f->local) && log_on(LOG_SIP, LOG_LVL_INFO))
		log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
			  "flow's local address %s is none of ours (sip_addr changed?): "
			  "using %s",
			  net_addr_print(&f->local, l, sizeof(l)),
			  sock ? stack->uri_hosts[sip_stack_sock_index(stack, sock)]
			       : "no socket");
	return sock;
}

/* The socket index a UDP flow's messages leave by (sip_tsx_dst.conn);
 * nsocks, refused by stack_send_h, when there is none. */
static size_t stack_flow_idx(struct sip_stack *stack, const struct net_flow *f)
{
	size_t idx;

	/* nearly every message comes in on the same few addresses: the last
	 * one found answers most lookups with one comparison */
	if (stack->local_hit_set && net_addr_eq(&f->local, &stack->local_hit))
		return stack->local_hit_idx;
	idx = sip_stack_sock_index(stack, sip_stack_flow_sock(stack, f));
	if (idx < stack->nsocks && net_addr_isset(&f->local) &&
	    net_addr_af(&f->local) == net_addr_af(&f->peer)) {
		stack->local_hit = f->local;
		stack->local_hit_idx = idx;
		stack->local_hit_set = true;
	}
	return idx;
}

/* The transaction layer's send function. dst->conn is the TCP connection
 * id when reliable, else the index of the socket the request came in on
 * (or that sip_stack_request chose). */
static int stack_send_h(const struct sip_tsx_dst *dst, const void *data, size_t len,
			void *arg)
{
	struct sip_stack *stack = arg;
	struct net_addr to;
	int err;

	if (net_addr_from_sa(&to, (const struct sockaddr *)&dst->addr, dst->addrlen))
		memset(&to, 0, sizeof(to));
	stack_log_tx(dst->reliable, &to, data, len);
	if (dst->reliable) {
		err = net_send_conn(stack->net, dst->conn, data, len);
		/* §18.2.2: the connection is gone, open a new one to the
		 * source IP and the sent-by port (responses only: a request's
		 * connection failing fails its transaction). */
		if (err == ENOTCONN && len > 8 && !memcmp(data, "SIP/2.0 ", 8)) {
			struct net_sock *sock =
			    net_sock_find(stack->net, net_addr_af(&to));

			err = sock ? net_send(NET_TCP, sock, &to, data, len) : ENOTCONN;
		}
	} else {
		if (dst->conn >= stack->nsocks) {
			err = EINVAL;
			goto out;
		}
		err = net_send(NET_UDP, stack->socks[dst->conn], &to, data, len);
	}
	if (err) {
		stack->stats.tx_err++;
		log_write(LOG_SIP, LOG_LVL_WARN, LOG_DIR_TO, NULL,
			  "cannot send %zu bytes: %s", len, strerror(err));
	} else {
		stack->stats.tx_msgs++;
	}
out:
	return err;
}

/* The transaction layer's rewrite (sip_tsx_env.rewrite): custom_headers,
 * once per message built. */
static int stack_rewrite_h(const void *data, size_t len, struct mbuf *out, void *arg)
{
	struct sip_stack *stack = arg;
	int err;

	if (!stack->custom)
		return ENOENT;
	err = sip_custom_apply(stack->custom, data, len, out);
	if (err && err != ENOENT)
		log_write(LOG_SIP, LOG_LVL_WARN, LOG_DIR_TO, NULL,
			  "custom_headers not applied to a %zu-byte message: %s", len,
			  strerror(err));
	return err;
}

void sip_stack_custom_mb(struct sip_stack *stack, struct mbuf *mb)
{
	if (stack->custom)
		sip_tsx_env_rewrite(&stack->env, mb);
}

/* A stateless answer (check errors, 503 on overload): to the connection or
 * per §18.2.2 over UDP, with Server added. */
static void stack_answer(struct sip_stack *stack, const struct sip_msg *req,
			 const struct net_flow *src, const struct sip_verdict *v)
{
	const struct sip_hdr *cid = sip_msg_hdr(req, SIP_HDR_CALL_ID);
	const struct sip_hdr *vh = sip_msg_hdr(req, SIP_HDR_VIA);
	struct sip_tsx_dst dst = {0};
	struct net_addr to = src->peer;
	char tag[24];
	uint64_t h = 0xcbf29ce484222325ull;
	const struct sip_via *via;
	struct mbuf mb;

	/* A To tag that is the same for a retransmission of the request. */
	for (size_t i = 0; cid && i < cid->val.l; i++)
		h = (h ^ (unsigned char)cid->val.p[i]) * 0x100000001b3ull;
	for (size_t i = 0; vh && i < vh->val.l; i++)
		h = (h ^ (unsigned char)vh->val.p[i]) * 0x100000001b3ull;
	snprintf(tag, sizeof(tag), "%016llx", (unsigned long long)h);
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	if (sip_error_build(&mb, req, v, pl_from_str(tag)) ||
	    sip_stack_hdrs_insert(&mb, stack->server_hdr))
		goto out;
	via = sip_msg_via(req);
	if (!src->reliable && via && !via->rport)
		net_addr_set_port(&to, via->port ? via->port : 5060);
	memcpy(&dst.addr, net_addr_sa(&to), net_addr_len(&to));
	dst.addrlen = net_addr_len(&to);
	dst.reliable = src->reliable;
	dst.conn = src->reliable ? src->conn_id : stack_flow_idx(stack, src);
	sip_stack_custom_mb(stack, &mb);
	stack_send_h(&dst, mb.buf, mb.end, stack);
out:
	mbuf_reset(&mb);
}

/* ---- dispatch (the transaction user) ---- */

int sip_stack_reply(struct sip_stack *stack, struct sip_tsx *tsx, uint16_t scode,
		    const char *reason, const struct sip_tsx_reply_prm *prm)
{
	struct sip_tsx_reply_prm p = {0};
	char buf[1024];
	struct mbuf mb;
	int err;

	if (!stack || !tsx)
		return EINVAL;
	if (prm)
		p = *prm;
	if (!stack->server_hdr.l)
		return sip_tsx_reply(tsx, scode, reason, &p);
	/* The usual case (a few header lines) without an allocation. */
	if (p.hdrs.l + stack->server_hdr.l <= sizeof(buf)) {
		if (p.hdrs.l)
			memcpy(buf, p.hdrs.p, p.hdrs.l);
		memcpy(buf + p.hdrs.l, stack->server_hdr.p, stack->server_hdr.l);
		p.hdrs = (struct pl){buf, p.hdrs.l + stack->server_hdr.l};
		return sip_tsx_reply(tsx, scode, reason, &p);
	}
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	err = mbuf_write_pl(&mb, p.hdrs);
	err = err ? err : mbuf_write_pl(&mb, stack->server_hdr);
	if (!err) {
		p.hdrs = (struct pl){(const char *)mb.buf, mb.end};
		err = sip_tsx_reply(tsx, scode, reason, &p);
	}
	mbuf_reset(&mb);
	return err;
}

/* CANCEL without a service handler (RFC 3261 §9.2): 200 and 487 on the
 * INVITE when it is still pending, else 481. */
static void stack_cancel(struct sip_stack *stack, struct sip_tsx *tsx)
{
	struct sip_tsx *inv = sip_tsx_cancel_target(tsx);

	if (!inv || sip_tsx_state(inv) != SIP_TSX_PROCEEDING) {
		sip_stack_reply(stack, tsx, 481, "Call/Transaction Does Not Exist", NULL);
		return;
	}
	sip_stack_reply(stack, tsx, 200, "OK", NULL);
	sip_stack_reply(stack, inv, 487, "Request Terminated", NULL);
}

static void stack_request_h(struct sip_tsx *tsx, const struct sip_msg *req,
			    const void *ctx, void *arg)
{
	const struct net_flow *flow = ctx; /* sip_tsx_rx.ctx, set by stack_deliver */
	struct sip_stack *stack = arg;
	struct sip_tsx_reply_prm rp = {0};
	const struct sip_stack_meth *m = NULL;
	uint16_t sc;

	/* RFC 3261 §12.2.2: a To tag names a dialog; its owner takes it */
	if (sip_dialogs_request(stack->dialogs, tsx, req, flow, &sc) != ENOENT) {
		if (sc)
			sip_stack_reply(stack, tsx, sc, sip_dialog_reason(sc), NULL);
		return;
	}
	if (req->meth != SIP_METHOD_OTHER && (size_t)req->meth < SIP_STACK_METHODS)
		m = &stack->meth[req->meth];
	if (m && m->h) {
		m->h(stack, tsx, req, flow, m->arg);
		return;
	}
	if (req->meth == SIP_METHOD_CANCEL) {
		stack_cancel(stack, tsx);
		return;
	}
	/* arg is the stack this handler was registered with, never NULL */
	stack->stats.no_handler++; // NOLINT(clang-analyzer-core.NullDereference)
	if (!m) {
		sip_stack_reply(stack, tsx, 501, "Not Implemented", NULL);
		return;
	}
	rp.hdrs = pl_from_str(stack->allow_hdr);
	sip_stack_reply(stack, tsx, 405, "Method Not Allowed", &rp);
}

static void stack_ack_h(struct sip_tsx *tsx, const struct sip_msg *ack,
			const struct sip_tsx_dst *src, const void *ctx, void *arg)
{
	struct sip_stack *stack = arg;

	/* The ACK of a 2xx belongs to its dialog (RFC 3261 §13.3.1.4, RFC 6026
	 * §8.7 with tsx in Accepted); without one it ends here (it was logged
	 * on receipt). */
	(void)tsx;
	(void)src;
	(void)sip_dialogs_ack(stack->dialogs, ack, ctx);
}

static void stack_server_err_h(struct sip_tsx *tsx, int err, void *arg)
{
	(void)arg;
	log_write(LOG_SIP, err == ETIMEDOUT ? LOG_LVL_INFO : LOG_LVL_WARN, LOG_DIR_NONE,
		  NULL, "server transaction %llu (%s) failed: %s",
		  (unsigned long long)sip_tsx_id(tsx),
		  sip_method_name(sip_tsx_method(tsx)), strerror(err));
}

/* ---- receiving ---- */

static void stack_src_fill(const struct net_msg *m, struct net_flow *src)
{
	memset(src, 0, sizeof(*src));
	src->reliable = m->kind == NET_TCP;
	src->peer = m->src;
	src->local = m->dst;
	src->conn_id = m->conn_id;
}

/* Where responses to this request go (§18.2.2): the connection, or the
 * source IP at the rport (RFC 3581) or the sent-by port. */
static void stack_resp_dst(struct sip_stack *stack, const struct sip_via *via,
			   const struct net_flow *src, struct sip_tsx_dst *dst)
{
	struct net_addr to = src->peer;

	if (via && !(via->rport && !src->reliable))
		net_addr_set_port(&to, via->port ? via->port : 5060);
	memset(dst, 0, sizeof(*dst));
	memcpy(&dst->addr, net_addr_sa(&to), net_addr_len(&to));
	dst->addrlen = net_addr_len(&to);
	dst->reliable = src->reliable;
	dst->conn = src->reliable ? src->conn_id : stack_flow_idx(stack, src);
}

static void stack_bad_input(struct sip_stack *stack, const struct net_msg *m, int err)
{
	char peer[SIP_STACK_PEER_MAX];

	stack->stats.rx_undecodable++;
	sip_stack_peer_str(m->kind == NET_TCP, &m->src, peer, sizeof(peer));
	if (log_on(LOG_SIP, LOG_LVL_WARN))
		log_write(LOG_SIP, LOG_LVL_WARN, LOG_DIR_FROM, NULL,
			  "undecodable message from %s (%zu bytes, %s): %.*s", peer,
			  m->len, strerror(err), (int)(m->len < 64 ? m->len : 64),
			  (const char *)m->buf);
	if (log_on(LOG_SIP, LOG_LVL_DEBUG))
		sip_buf_log(m->buf, m->len, LOG_DIR_FROM, NULL, peer);
	if (m->kind == NET_TCP) {
		struct net_conn *c = net_conn_lookup(stack->net, m->conn_id);

		/* The stream can no longer be trusted to be in step. */
		if (c)
			net_conn_close(c);
	}
}

/* The start of a TCP message over frame_max (net_msg.oversize: its header
 * section and what came of the body): a request gets 513 Message Too Large
 * (RFC 3261 §21.5.14), built from its header section, on the connection;
 * the transport drops the rest of the message and keeps the connection. */
static void stack_oversize(struct sip_stack *stack, const struct net_msg *m)
{
	struct sip_decode_prm dp = {.max_size = m->len};
	struct sip_verdict v = {.scode = 513, .reason = "Message Too Large"};
	char peer[SIP_STACK_PEER_MAX];
	struct net_flow src;
	struct sip_msg *msg = NULL;
	bool answer;

	stack->stats.rx_oversize++;
	sip_stack_peer_str(true, &m->src, peer, sizeof(peer));
	/* datagram rules: the body is cut short of its Content-Length
	 * (clen_err), which is the point */
	if (sip_msg_decode_copy(&msg, m->buf, m->len, &dp)) {
		log_write(LOG_SIP, LOG_LVL_WARN, LOG_DIR_FROM, NULL,
			  "message over %zu bytes from %s with an undecodable header "
			  "section: dropped",
			  stack->frame_max, peer);
		return;
	}
	answer = msg->req && msg->meth != SIP_METHOD_ACK && sip_msg_via(msg) &&
		 sip_msg_from(msg) && sip_msg_to(msg) && sip_msg_cseq(msg) &&
		 sip_msg_hdr(msg, SIP_HDR_CALL_ID);
	log_write(LOG_SIP, LOG_LVL_WARN, LOG_DIR_FROM, NULL, "%.*s over %zu bytes from %s%s",
		  (int)(msg->req ? msg->method.l : 8),
		  msg->req ? msg->method.p : "response", stack->frame_max, peer,
		  answer ? ": 513 Message Too Large" : ": dropped");
	if (answer) {
		stack_src_fill(m, &src);
		stack_answer(stack, msg, &src, &v);
	}
	mem_deref(msg);
}

/* A request the transaction layer refused for lack of room (ENOSPC) or
 * because its key had SIP_TSX_SAME_KEY_MAX transactions (EMLINK, counted
 * there): 503, with received/rport on its Via as any response. */
static void stack_overload(struct sip_stack *stack, const struct sip_msg *msg,
			   const struct net_flow *src, int err)
{
	const struct sip_hdr *vh = sip_msg_hdr(msg, SIP_HDR_VIA);
	struct sip_verdict v = {.scode = 503, .reason = "Service Unavailable"};
	const struct sip_via *via = sip_msg_via(msg);
	struct sip_msg *fixed = NULL;

	if (err == ENOSPC)
		stack->stats.overload_503++;
	if (vh && via)
		sip_stack_via_fix(&fixed, msg, vh, via, &src->peer);
	stack_answer(stack, fixed ? fixed : msg, src, &v);
	mem_deref(fixed);
}

static void stack_deliver(struct sip_stack *stack, struct sip_msg *msg,
			  const struct net_flow *src)
{
	struct sip_tsx_dst dst;
	struct sip_tsx_rx rx = {0};
	struct mbuf v;
	int err;

	mbuf_init(&v, SIP_MAX_LINE);
	if (msg->req) {
		const struct sip_hdr *vh = sip_msg_hdr(msg, SIP_HDR_VIA);
		const struct sip_via *via = vh ? sip_msg_via(msg) : NULL;

		/* §18.2.1, RFC 3581: received/rport go into the responses'
		 * top Via (built by the transaction from this value); the
		 * request is not re-encoded. Its destination comes from the
		 * Via as received. */
		stack_resp_dst(stack, via, src, &dst);
		if (via && !sip_stack_via_top(&v, vh, via, &src->peer))
			rx.via_top = (struct pl){(const char *)v.buf, v.end};
		rx.via = via;
		stack->stats.rx_req++;
	} else {
		memset(&dst, 0, sizeof(dst));
		memcpy(&dst.addr, net_addr_sa(&src->peer), net_addr_len(&src->peer));
		dst.addrlen = net_addr_len(&src->peer);
		dst.reliable = src->reliable;
		dst.conn = src->reliable ? src->conn_id : stack_flow_idx(stack, src);
		stack->stats.rx_resp++;
	}
	rx.ctx = src; /* the flow, handed to the handlers as an argument */
	err = sip_tsx_recv_rx(stack->tsx, msg, &dst, &rx);
	if ((err == ENOSPC || err == EMLINK) && msg->req && msg->meth != SIP_METHOD_ACK)
		stack_overload(stack, msg, src, err);
	mbuf_reset(&v);
}

static void stack_recv_h(const struct net_msg *m, void *arg)
{
	struct sip_stack *stack = arg;
	struct sip_decode_prm dp = {0};
	struct net_flow src;
	struct sip_verdict v;
	struct sip_msg *msg = NULL;
	int err;

	if (m->kind == NET_UDP && sip_is_keepalive(m->buf, m->len)) {
		/* RFC 5626 §4.4.1 keeps NAT bindings over UDP with STUN; some
		 * UEs send CRLFs instead, which need no answer. */
		stack->stats.rx_keepalive++;
		return;
	}
	if (m->oversize) {
		stack_oversize(stack, m);
		return;
	}
	dp.stream = m->kind == NET_TCP;
	dp.max_size = m->kind == NET_TCP ? stack->frame_max : SIP_MSG_MAX_UDP;
	err = sip_msg_decode_copy(&msg, m->buf, m->len, &dp);
	if (err) {
		stack_bad_input(stack, m, err);
		return;
	}
	stack_src_fill(m, &src);
	if (log_on(LOG_SIP, LOG_LVL_INFO)) {
		const struct sip_hdr *cid = sip_msg_hdr(msg, SIP_HDR_CALL_ID);
		char peer[SIP_STACK_PEER_MAX], id[SIP_STACK_ID_MAX];

		sip_msg_log(
		    msg, LOG_DIR_FROM,
		    stack_log_id(cid ? cid->val : (struct pl)PL_INIT, id, sizeof(id)),
		    sip_stack_peer_str(src.reliable, &src.peer, peer, sizeof(peer)));
	}
	sip_msg_check(msg, &stack->check, &v);
	if (v.scode) {
		if (v.drop) {
			stack->stats.rx_dropped++;
		} else {
			stack->stats.rx_rejected++;
			stack_answer(stack, msg, &src, &v);
		}
		goto out;
	}
	stack_deliver(stack, msg, &src);
out:
	mem_deref(msg);
}

static int stack_frame_h(const uint8_t *buf, size_t len, size_t *msg_len, void *arg)
{
	struct sip_stack *stack = arg;
	struct sip_frame fr;
	int err = sip_frame(buf, len, stack->frame_max, &fr);

	if (err == ENODATA)
		return ENODATA;
	if (err == EMSGSIZE) {
		*msg_len = fr.len; /* the whole message, for the transport to skip */
		return EMSGSIZE;
	}
	if (err)
		return EBADMSG;
	*msg_len = fr.len;
	return 0;
}

static void stack_close_h(struct net_conn *conn, int err, void *arg)
{
	struct sip_stack *stack = arg;

	if (err)
		sip_stack_pend_conn_closed(stack, net_conn_id(conn), err);
}

/* ---- set-up ---- */

static void stack_allow_build(struct sip_stack *stack)
{
	size_t n = 0;

	n += (size_t)snprintf(stack->allow, sizeof(stack->allow), "ACK, CANCEL");
	for (size_t i = 1; i < SIP_STACK_METHODS; i++) {
		if (!stack->meth[i].h || i == SIP_METHOD_ACK || i == SIP_METHOD_CANCEL)
			continue;
		n += (size_t)snprintf(stack->allow + n, sizeof(stack->allow) - n, ", %s",
				      sip_method_name((enum sip_method)i));
	}
	snprintf(stack->allow_hdr, sizeof(stack->allow_hdr), "Allow: %s\r\n",
		 stack->allow);
}

static int stack_tags_set(struct sip_stack *stack, const struct sip_stack_prm *prm)
{
	size_t total = 0, off = 0;

	for (size_t i = 0; i < prm->option_tag_count; i++)
		total += strlen(prm->option_tags[i]) + 1;
	stack->tags = calloc(prm->option_tag_count + 1, sizeof(*stack->tags));
	stack->tag_store = malloc(total + 1);
	if (!stack->tags || !stack->tag_store)
		return ENOMEM;
	for (size_t i = 0; i < prm->option_tag_count; i++) {
		size_t l = strlen(prm->option_tags[i]);

		memcpy(stack->tag_store + off, prm->option_tags[i], l + 1);
		stack->tags[i] = stack->tag_store + off;
		off += l + 1;
	}
	stack->check.supported = stack->tags;
	return 0;
}

static int stack_net_alloc(struct sip_stack *stack, const struct sip_stack_prm *prm)
{
	struct net_listen *ls = calloc(prm->listen_count, sizeof(*ls));
	struct net_prm np;
	char buf[NET_ADDR_STRLEN];
	int err;

	if (!ls)
		return ENOMEM;
	for (size_t i = 0; i < prm->listen_count; i++) {
		ls[i].addr = prm->listen[i].addr;
		ls[i].bind_addr = prm->listen[i].bind_addr;
		ls[i].ns_run = prm->listen[i].ns_run;
		ls[i].ns_ctx = prm->listen[i].ns_ctx;
		ls[i].protected_sock = prm->listen[i].protected_sock;
	}
	net_prm_init(&np);
	np.listen = ls;
	np.listen_count = prm->listen_count;
	np.recv_h = stack_recv_h;
	np.frame_h = stack_frame_h;
	np.close_h = stack_close_h;
	np.arg = stack;
	np.tcp_rx_max = stack->frame_max;
	np.tcp_keepalive = prm->tcp_keepalive;
	np.tcp_keepcount = prm->tcp_keepcount;
	if (prm->tcp_max_conns)
		np.tcp_max_conns = prm->tcp_max_conns;
	if (prm->tcp_max_per_peer)
		np.tcp_max_per_peer = prm->tcp_max_per_peer;
	err = net_alloc(&stack->net, &np);
	free(ls);
	if (err)
		return err;
	stack->nsocks = net_sock_count(stack->net);
	stack->socks = calloc(stack->nsocks, sizeof(*stack->socks));
	stack->uri_hosts = calloc(stack->nsocks, sizeof(*stack->uri_hosts));
	if (!stack->socks || !stack->uri_hosts)
		return ENOMEM;
	for (size_t i = 0; i < stack->nsocks; i++) {
		stack->socks[i] = net_sock_get(stack->net, i);
		net_addr_print(net_sock_addr(stack->socks[i]), buf, sizeof(buf));
		stack->uri_hosts[i] = strdup(buf);
		if (!stack->uri_hosts[i])
			return ENOMEM;
	}
	return 0;
}

int sip_stack_alloc(struct sip_stack **stackp, const struct sip_stack_prm *prm)
{
	struct sip_tsx_prm tp = {0};
	struct sip_stack *stack;
	int err;

	if (!stackp || !prm || !prm->listen || !prm->listen_count || !prm->t1_ms ||
	    !prm->t2_ms || !prm->t4_ms || prm->t2_ms < prm->t1_ms ||
	    (prm->option_tag_count && !prm->option_tags))
		return EINVAL;
	stack = calloc(1, sizeof(*stack));
	if (!stack)
		return ENOMEM;
	stack->tcp_threshold = prm->tcp_threshold;
	err = sip_custom_alloc(&stack->custom, prm->custom_hdrs, prm->custom_hdr_count);
	if (err)
		goto out;
	stack->max_size = prm->max_size ? prm->max_size : SIP_MSG_MAX_UDP;
	stack->frame_max = prm->tcp_rx_max ? prm->tcp_rx_max : SIP_MSG_MAX_TCP;
	if (stack->frame_max > SIP_MSG_MAX_HARD)
		stack->frame_max = SIP_MSG_MAX_HARD;
	stack->force_user_agent = prm->force_user_agent;
	if (prm->user_agent && *prm->user_agent) {
		int n = snprintf(stack->server_buf, sizeof(stack->server_buf),
				 "Server: %.*s\r\n", SIP_STACK_UA_MAX, prm->user_agent);

		stack->server_hdr = (struct pl){stack->server_buf, (size_t)n};
		stack->user_agent = strndup(prm->user_agent, SIP_STACK_UA_MAX);
		if (!stack->user_agent) {
			err = ENOMEM;
			goto out;
		}
	}
	stack->check.max_size = stack->max_size;
	stack->check.proxy = prm->proxy;
	stack->check.proxy_require = prm->proxy_require;
	err = stack_tags_set(stack, prm);
	if (err)
		goto out;
	stack_allow_build(stack);
	stack->env.send = stack_send_h;
	stack->env.send_arg = stack;
	stack->env.rewrite = stack_rewrite_h;
	stack->env.timer = &sip_tsx_timer_loop;
	tp.t1_ms = prm->t1_ms;
	tp.t2_ms = prm->t2_ms;
	tp.t4_ms = prm->t4_ms;
	tp.hint = prm->tsx_hint ? prm->tsx_hint : 4096;
	tp.max = prm->tsx_max
		     ? prm->tsx_max
		     : sip_stack_tsx_max_for(prm->tsx_rate, prm->t1_ms, prm->t4_ms);
	tp.tu.request_h = stack_request_h;
	tp.tu.ack_h = stack_ack_h;
	tp.tu.server_err_h = stack_server_err_h;
	tp.tu.arg = stack;
	err = sip_tsx_stack_alloc(&stack->tsx, &stack->env, &tp);
	err = err ? err : sip_dialogs_alloc(&stack->dialogs, prm->dialog_max);
	if (err)
		goto out;
	err = stack_net_alloc(stack, prm);
	if (err)
		goto out;
	/* Our sent-by for loop detection (§16.3 item 4) when proxying. */
	if (stack->nsocks) {
		const struct net_addr *a0 = net_sock_addr(stack->socks[0]);

		net_addr_print_host(a0, stack->sentby_host, sizeof(stack->sentby_host));
		stack->check.via_host = pl_from_str(stack->sentby_host);
		stack->check.via_port = net_addr_port(a0);
	}
	*stackp = stack;
	return 0;
out:
	sip_stack_free(stack);
	return err;
}

void sip_stack_free(struct sip_stack *stack)
{
	if (!stack)
		return;
	/* Transactions first: their timers and buffers go without sending. */
	sip_tsx_stack_free(stack->tsx);
	sip_dialogs_free(stack->dialogs); /* owners keep their references */
	mem_deref(stack->net);
	for (size_t i = 0; stack->uri_hosts && i < stack->nsocks; i++)
		free(stack->uri_hosts[i]);
	free(stack->uri_hosts);
	free(stack->socks);
	free(stack->tags);
	free(stack->tag_store);
	free(stack->user_agent);
	sip_custom_free(stack->custom);
	sip_stack_pend_free(stack);
	free(stack);
}

int sip_stack_method_set(struct sip_stack *stack, enum sip_method meth,
			 sip_stack_req_h *h, void *arg)
{
	if (!stack || meth == SIP_METHOD_OTHER || meth == SIP_METHOD_ACK ||
	    (size_t)meth >= SIP_STACK_METHODS)
		return EINVAL;
	stack->meth[meth].h = h;
	stack->meth[meth].arg = h ? arg : NULL;
	stack_allow_build(stack);
	return 0;
}

struct sip_dialogs *sip_stack_dialogs(struct sip_stack *stack)
{
	return stack ? stack->dialogs : NULL;
}

struct sip_tsx_stack *sip_stack_tsx(struct sip_stack *stack)
{
	return stack ? stack->tsx : NULL;
}

struct net *sip_stack_net(struct sip_stack *stack)
{
	return stack ? stack->net : NULL;
}

const char *sip_stack_local_uri_host(const struct sip_stack *stack, unsigned idx)
{
	return stack && idx < stack->nsocks ? stack->uri_hosts[idx] : NULL;
}

unsigned sip_stack_sock_count(const struct sip_stack *stack)
{
	return stack ? (unsigned)stack->nsocks : 0;
}

struct pl sip_stack_server_hdr(const struct sip_stack *stack)
{
	return stack ? stack->server_hdr : (struct pl)PL_INIT;
}

const char *sip_stack_allow(const struct sip_stack *stack)
{
	return stack ? stack->allow : "";
}

bool sip_stack_host_is_local(const struct sip_stack *stack, struct pl host, uint16_t port)
{
	struct net_addr a;

	if (!stack || !host.l)
		return false;
	/* IPv6 hosts come without brackets from sip_uri_decode */
	if (host.p[0] == '[' && host.l > 2 && host.p[host.l - 1] == ']') {
		host.p++;
		host.l -= 2;
	}
	if (net_addr_parse(&a, host, 0))
		return false;
	for (size_t i = 0; i < stack->nsocks; i++) {
		const struct net_addr *adv = net_sock_addr(stack->socks[i]);
		const struct net_addr *bnd = net_sock_laddr(stack->socks[i], NET_UDP);
		uint16_t our = net_addr_port(adv);

		if (port && port != our)
			continue;
		if (net_addr_eq_ip(&a, adv) || (bnd && net_addr_eq_ip(&a, bnd)))
			return true;
	}
	return false;
}

void sip_stack_stats_get(const struct sip_stack *stack, struct sip_stack_stats *st)
{
	struct sip_peers_stats ps;

	if (!stack || !st)
		return;
	*st = stack->stats;
	sip_tsx_peer_stats(stack->tsx, &ps);
	st->tx_unproven = ps.unproven;
	st->tx_unproven_refused = ps.refused;
	st->tsx_key_503 = sip_tsx_stack_key_refused(stack->tsx);
}

void sip_stack_peer_prove(struct sip_stack *stack, const struct net_flow *flow)
{
	struct sip_tsx_dst dst;

	if (!stack || !flow || flow->reliable)
		return;
	memset(&dst, 0, sizeof(dst));
	memcpy(&dst.addr, net_addr_sa(&flow->peer), net_addr_len(&flow->peer));
	dst.addrlen = net_addr_len(&flow->peer);
	sip_tsx_peer_prove(stack->tsx, &dst);
}

void sip_stack_tsx_counts(const struct sip_stack *stack, size_t *servers, size_t *clients)
{
	const struct sip_tsx_stack *st = stack ? stack->tsx : NULL;

	*servers = st ? hash_count(st->servers) + st->ndone : 0;
	*clients = st ? hash_count(st->clients) + st->ncdone : 0;
}

size_t sip_stack_tsx_peak_take(struct sip_stack *stack)
{
	struct sip_tsx_stack *st = stack ? stack->tsx : NULL;
	size_t peak;

	if (!st)
		return 0;
	peak = st->peak;
	st->peak = sip_tsx_stack_count(st);
	return peak;
}

int sip_stack_custom_set(struct sip_stack *stack, const struct sip_custom_hdr *v, size_t n)
{
	struct sip_custom *c;
	int err;

	if (!stack)
		return EINVAL;
	err = sip_custom_alloc(&c, v, n);
	if (err)
		return err;
	sip_custom_free(stack->custom);
	stack->custom = c;
	return 0;
}

void sip_stack_tcp_threshold_set(struct sip_stack *stack, uint32_t bytes)
{
	if (stack)
		stack->tcp_threshold = bytes;
}

void sip_stack_tcp_keepalive_set(struct sip_stack *stack, unsigned idle_s, unsigned count)
{
	if (stack)
		net_keepalive_set(stack->net, idle_s, count);
}
