/*
 * sip/sip_stack_req — requests the server originates (NOTIFY, MESSAGE,
 * INVITE towards a UE...): destination and transport choice (RFC 3261
 * §18.1.1: over UDP unless larger than tcp_threshold; the flow a UE
 * registered over when it is still open), the top Via, User-Agent, and
 * failing client transactions whose TCP connection fails later (§17.1.4).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "sip/sip_build.h"
#include "sip/sip_hdr.h"
#include "sip/sip_stack_int.h"
#include "sip/sip_uri.h"

/* Room for the Via line we add, for the size check against the threshold. */
#define SIP_STACK_VIA_EST 96

/*
 * A request moved to TCP by its size alone. Its client transaction's
 * resp_h is fallback_resp_h: the first outcome decides. A 503 without a
 * response because the connection was refused (RST to our SYN, or an ICMP
 * unreachable: ECONNREFUSED, told by sip_stack_pend_conn_closed) sends
 * the request again over UDP to the address it would have gone to, in a
 * new transaction whose answers go to the TU directly. Anything else is
 * passed on, and so is everything after it: a connection accepted and
 * then reset shows a peer that has TCP and may have the request already
 * (a copy over UDP would repeat its CSeq). The entry lives as long as its
 * transaction (pend_prune, sip_stack_pend_conn_closed).
 */
struct sip_stack_fallback {
	struct sip_stack *stack;
	sip_tsx_resp_h *resp_h; /* the TU's */
	void *arg;		/* the TU's, borrowed */
	struct net_addr addr;	/* UDP destination */
	struct net_sock *sock;
	char *req; /* owned: the request as the TU gave it; NULL once decided */
	size_t req_len;
	bool refused; /* the connection was refused */
};

static void fallback_free(struct sip_stack_fallback *fb)
{
	if (!fb)
		return;
	free(fb->req);
	free(fb);
}

static void pend_prune(struct sip_stack *stack)
{
	size_t j = 0;

	for (size_t i = 0; i < stack->npend; i++) {
		if (sip_tsx_lookup(stack->tsx, stack->pend[i].tsx_id))
			stack->pend[j++] = stack->pend[i];
		else
			fallback_free(stack->pend[i].fb);
	}
	stack->npend = j;
	stack->pend_prune_at = j * 2 > 64 ? j * 2 : 64;
}

/* Room for one more entry, so that pend_add cannot fail once the
 * transaction exists. */
static int pend_reserve(struct sip_stack *stack)
{
	if (stack->npend >= stack->pend_prune_at)
		pend_prune(stack);
	if (stack->npend == stack->pend_cap) {
		size_t cap = stack->pend_cap ? stack->pend_cap * 2 : 64;
		struct sip_stack_pend *p = realloc(stack->pend, cap * sizeof(*p));

		if (!p)
			return ENOMEM;
		stack->pend = p;
		stack->pend_cap = cap;
	}
	return 0;
}

static void pend_add(struct sip_stack *stack, uint64_t tsx_id, uint64_t conn_id,
		     struct sip_stack_fallback *fb)
{
	stack->pend[stack->npend].tsx_id = tsx_id;
	stack->pend[stack->npend].conn_id = conn_id;
	stack->pend[stack->npend].fb = fb;
	stack->npend++;
}

void sip_stack_pend_conn_closed(struct sip_stack *stack, uint64_t conn_id, int err)
{
	struct sip_stack_pend *gone;
	size_t n = 0, j = 0;

	for (size_t i = 0; i < stack->npend; i++)
		n += stack->pend[i].conn_id == conn_id;
	if (!n)
		return;
	gone = malloc(n * sizeof(*gone));
	if (!gone)
		return;
	n = 0;
	for (size_t i = 0; i < stack->npend; i++) {
		if (stack->pend[i].conn_id == conn_id)
			gone[n++] = stack->pend[i];
		else
			stack->pend[j++] = stack->pend[i];
	}
	stack->npend = j;
	/* after the array is consistent: resp_h may start new requests */
	for (size_t i = 0; i < n; i++) {
		if (gone[i].fb)
			gone[i].fb->refused = err == ECONNREFUSED;
		sip_tsx_transport_error(stack->tsx, gone[i].tsx_id, err);
	}
	/* each transaction is Terminated now: no resp_h call is left */
	for (size_t i = 0; i < n; i++)
		fallback_free(gone[i].fb);
	free(gone);
}

void sip_stack_pend_free(struct sip_stack *stack)
{
	for (size_t i = 0; i < stack->npend; i++)
		fallback_free(stack->pend[i].fb);
	free(stack->pend);
	stack->pend = NULL;
	stack->npend = stack->pend_cap = 0;
}

struct req_route {
	struct net_addr addr;
	struct net_sock *sock;
	bool tcp;
	uint64_t conn_id; /* an open flow to reuse, 0 = none */
};

/* The destination from the Request-URI: numeric host, port or 5060,
 * ;transport=tcp. */
static int route_from_ruri(struct sip_stack *stack, const struct sip_msg *msg,
			   struct req_route *rt)
{
	struct sip_uri uri;
	struct pl tp;

	if (sip_uri_decode(&uri, msg->ruri) ||
	    (uri.scheme != SIP_URI_SIP && uri.scheme != SIP_URI_SIPS))
		return EDESTADDRREQ;
	if (uri.host_type != SIP_HOST_IPV4 && uri.host_type != SIP_HOST_IPV6)
		return EDESTADDRREQ; /* names are not resolved here */
	if (net_addr_parse(&rt->addr, uri.host, 5060))
		return EDESTADDRREQ;
	if (uri.port)
		net_addr_set_port(&rt->addr, uri.port);
	rt->tcp = !sip_uri_param_get(&uri, "transport", &tp) && pl_caseeq_str(tp, "tcp");
	rt->sock = net_sock_find(stack->net, net_addr_af(&rt->addr));
	return rt->sock ? 0 : EAFNOSUPPORT;
}

/* The port a Request-URI names (sip:/sips:), 5060 when it names none. */
static uint16_t ruri_port(const struct sip_msg *msg)
{
	struct sip_uri uri;

	if (sip_uri_decode(&uri, msg->ruri) ||
	    (uri.scheme != SIP_URI_SIP && uri.scheme != SIP_URI_SIPS) || !uri.port)
		return 5060;
	return uri.port;
}

/* The flow dst: its TCP connection while open, its address for UDP. A TCP
 * flow whose connection is gone came from the UE's ephemeral port, where
 * nothing listens: a new connection goes to the flow's IP address (the
 * UE's, which the registration tied to it) and the port of the
 * Request-URI, the UE's Contact, where it listens (5060 when it names
 * none). Not the Contact's host: it would let a subscriber point the
 * server at any third party. */
static int route_from_src(struct sip_stack *stack, const struct net_flow *dst,
			  const struct sip_msg *msg, struct req_route *rt)
{
	rt->addr = dst->peer;
	rt->tcp = dst->reliable;
	if (dst->reliable) {
		if (dst->conn_id && net_conn_lookup(stack->net, dst->conn_id))
			rt->conn_id = dst->conn_id;
		else
			net_addr_set_port(&rt->addr, ruri_port(msg));
	}
	/* from the flow's own socket, found by its local address */
	rt->sock = sip_stack_flow_sock(stack, dst);
	return rt->sock ? 0 : EAFNOSUPPORT;
}

/* Builds the request as sent: our Via on top, User-Agent, Content-Length
 * from the body actually given. */
static int req_build(struct sip_stack *stack, const struct sip_msg *msg, struct pl body,
		     const struct req_route *rt, struct mbuf *mb)
{
	const struct sip_hdr *ua = sip_msg_hdr(msg, SIP_HDR_USER_AGENT);
	struct sip_edit ed = {0};
	struct sip_fwd_prm fp = {0};
	char branch[32], via[NET_ADDR_STRLEN + 96];
	int n, err;

	err = sip_tsx_branch_gen(stack->tsx, branch, sizeof(branch));
	if (err)
		return err;
	n = snprintf(via, sizeof(via), "SIP/2.0/%s %s;branch=%s;rport",
		     rt->tcp ? "TCP" : "UDP",
		     stack->uri_hosts[sip_stack_sock_index(stack, rt->sock)], branch);
	if (n < 0 || (size_t)n >= sizeof(via))
		return ENOSPC;
	fp.via = (struct pl){via, (size_t)n};
	fp.body_set = true;
	fp.body = body;
	if (stack->user_agent && (!ua || stack->force_user_agent)) {
		ed.op = ua ? SIP_EDIT_REPLACE : SIP_EDIT_ADD;
		ed.hdr = ua;
		ed.name = pl_from_str("User-Agent");
		ed.val = pl_from_str(stack->user_agent);
		fp.editv = &ed;
		fp.editc = 1;
	}
	return sip_msg_forward(mb, msg, &fp);
}

/* Builds the request for the route and starts its client transaction. */
static int request_start(struct sip_stack *stack, const struct sip_msg *msg,
			 struct pl body, const struct req_route *rt,
			 sip_tsx_resp_h *resp_h, void *arg, struct sip_tsx **tsxp)
{
	struct sip_tsx_req_prm tp = {0};
	struct mbuf mb;
	int err;

	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	err = req_build(stack, msg, body, rt, &mb);
	if (err)
		goto out;
	tp.req = (struct pl){(const char *)mb.buf, mb.end};
	memcpy(&tp.dst.addr, net_addr_sa(&rt->addr), net_addr_len(&rt->addr));
	tp.dst.addrlen = net_addr_len(&rt->addr);
	tp.dst.reliable = rt->tcp;
	tp.dst.conn = rt->tcp ? rt->conn_id : sip_stack_sock_index(stack, rt->sock);
	tp.resp_h = resp_h;
	tp.arg = arg;
	err = sip_tsx_request(tsxp, stack->tsx, &tp);
out:
	mbuf_reset(&mb);
	return err;
}

/* Decodes the TU's request: *bodyp is its body. */
static int request_decode(struct sip_msg **msgp, struct pl req, struct pl *bodyp)
{
	struct sip_decode_prm dp = {.max_size = SIP_MSG_MAX_HARD, .stream = false};
	const char *end = memmem(req.p, req.l, "\r\n\r\n", 4);
	int err;

	if (!end)
		return EINVAL;
	bodyp->p = end + 4;
	bodyp->l = req.l - (size_t)(bodyp->p - req.p);
	err = sip_msg_decode_copy(msgp, req.p, req.l, &dp);
	if (!err && (!(*msgp)->req || (*msgp)->meth == SIP_METHOD_ACK))
		err = EINVAL;
	return err;
}

/* Sends the request of fb again over UDP (`why` the TCP connection
 * failed); 0 when a transaction carries it, whose answers go to
 * the TU directly. */
static int fallback_retry(struct sip_stack_fallback *fb, const char *why,
			  struct sip_tsx **tsxp)
{
	struct req_route rt = {.addr = fb->addr, .sock = fb->sock};
	struct sip_msg *msg = NULL;
	const struct sip_hdr *h;
	struct pl body, callid = PL_INIT;
	char peer[NET_ADDR_STRLEN], id[128];
	int err;

	err = request_decode(&msg, (struct pl){fb->req, fb->req_len}, &body);
	if (!err) {
		h = sip_msg_hdr(msg, SIP_HDR_CALL_ID);
		if (h)
			callid = h->val;
		err = request_start(fb->stack, msg, body, &rt, fb->resp_h, fb->arg, tsxp);
	}
	if (!err)
		fb->stack->stats.tx_udp_fallback++;
	/* the id column is the Call-ID, as for the messages themselves */
	snprintf(id, sizeof(id), "%.*s", (int)callid.l, callid.p ? callid.p : "");
	log_write(LOG_SIP, err ? LOG_LVL_WARN : LOG_LVL_INFO, LOG_DIR_TO, id,
		  "to %s: TCP failed (%s), %s over UDP (RFC 3261 18.1.1)%s%s",
		  net_addr_print(&fb->addr, peer, sizeof(peer)), why,
		  err ? "cannot send it" : "sent again", err ? ": " : "",
		  err ? strerror(err) : "");
	mem_deref(msg);
	return err;
}

static void fallback_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp,
			    uint16_t scode, void *arg)
{
	struct sip_stack_fallback *fb = arg;

	if (fb->req) { /* the first outcome */
		struct sip_tsx *udp;
		bool retried = !resp && scode == 503 && fb->refused &&
			       !fallback_retry(fb, "connection refused", &udp);

		free(fb->req);
		fb->req = NULL;
		if (retried)
			return; /* this transaction is Terminated: no more calls */
	}
	fb->resp_h(tsx, resp, scode, fb->arg);
}

static struct sip_stack_fallback *fallback_new(struct sip_stack *stack,
					       const struct sip_stack_req_prm *prm,
					       const struct req_route *udp)
{
	struct sip_stack_fallback *fb = calloc(1, sizeof(*fb));

	if (!fb)
		return NULL;
	fb->req = malloc(prm->req.l);
	if (!fb->req) {
		free(fb);
		return NULL;
	}
	memcpy(fb->req, prm->req.p, prm->req.l);
	fb->req_len = prm->req.l;
	fb->stack = stack;
	fb->resp_h = prm->resp_h;
	fb->arg = prm->arg;
	fb->addr = udp->addr;
	fb->sock = udp->sock;
	return fb;
}

int sip_stack_request(struct sip_stack *stack, const struct sip_stack_req_prm *prm,
		      struct sip_tsx **tsxp)
{
	struct sip_stack_fallback *fb = NULL;
	struct req_route rt;
	struct sip_msg *msg = NULL;
	struct sip_tsx *tsx = NULL;
	struct pl body;
	int err;

	if (!stack || !prm || !prm->req.p || !prm->req.l || !prm->resp_h)
		return EINVAL;
	memset(&rt, 0, sizeof(rt));
	err = request_decode(&msg, prm->req, &body);
	if (err)
		goto out;
	err = prm->dst ? route_from_src(stack, prm->dst, msg, &rt)
		       : route_from_ruri(stack, msg, &rt);
	if (err)
		goto out;
	/* §18.1.1: a request that may not fit the path MTU goes over TCP */
	if (!rt.tcp && stack->tcp_threshold &&
	    msg->raw.l + SIP_STACK_VIA_EST +
		    (stack->user_agent ? strlen(stack->user_agent) : 0) +
		    sip_custom_added_max(stack->custom) >
		stack->tcp_threshold) {
		stack->stats.tx_over_tcp++;
		fb = fallback_new(stack, prm, &rt);
		if (!fb) {
			err = ENOMEM;
			goto out;
		}
		rt.tcp = true;
	}
	if (rt.tcp) {
		err = pend_reserve(stack);
		if (err)
			goto out;
	}
	if (rt.tcp && !rt.conn_id) {
		err = net_connect(rt.sock, &rt.addr, &rt.conn_id);
		if (err && fb) {
			/* size-switched, refused at once: UDP, as after a
			 * later refusal */
			err = fallback_retry(fb,
					     err == EMFILE ? "connection limit reached"
							   : strerror(err),
					     &tsx);
			goto out;
		}
		if (err)
			goto out;
	}
	err = request_start(stack, msg, body, &rt, fb ? fallback_resp_h : prm->resp_h,
			    fb ? (void *)fb : prm->arg, &tsx);
	if (!err && rt.tcp) {
		pend_add(stack, sip_tsx_id(tsx), rt.conn_id, fb);
		fb = NULL;
	}
out:
	fallback_free(fb);
	if (tsxp)
		*tsxp = err ? NULL : tsx;
	mem_deref(msg);
	return err;
}

/* The ACK of a 2xx (RFC 3261 §13.2.2.4): a request of its own, with a new
 * branch, sent once without a transaction (the TU sends it again for each
 * retransmitted 2xx). */
int sip_stack_ack(struct sip_stack *stack, struct pl req, const struct net_flow *dst)
{
	struct sip_decode_prm dp = {.max_size = SIP_MSG_MAX_HARD, .stream = false};
	const char *end = req.p ? memmem(req.p, req.l, "\r\n\r\n", 4) : NULL;
	struct sip_tsx_dst td = {0};
	struct sip_msg *msg = NULL;
	struct req_route rt;
	struct pl body;
	struct mbuf mb;
	int err;

	if (!stack || !end)
		return EINVAL;
	memset(&rt, 0, sizeof(rt));
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	body.p = end + 4;
	body.l = req.l - (size_t)(body.p - req.p);
	err = sip_msg_decode_copy(&msg, req.p, req.l, &dp);
	if (!err && (!msg->req || msg->meth != SIP_METHOD_ACK))
		err = EINVAL;
	if (!err)
		err = dst ? route_from_src(stack, dst, msg, &rt) : route_from_ruri(stack, msg, &rt);
	if (!err && rt.tcp && !rt.conn_id)
		err = ENOTCONN; /* the 2xx came over a connection that is gone */
	if (!err)
		err = req_build(stack, msg, body, &rt, &mb);
	if (err)
		goto out;
	memcpy(&td.addr, net_addr_sa(&rt.addr), net_addr_len(&rt.addr));
	td.addrlen = net_addr_len(&rt.addr);
	td.reliable = rt.tcp;
	td.conn = rt.tcp ? rt.conn_id : sip_stack_sock_index(stack, rt.sock);
	sip_stack_custom_mb(stack, &mb);
	err = stack->env.send(&td, mb.buf, mb.end, stack->env.send_arg);
out:
	mbuf_reset(&mb);
	mem_deref(msg);
	return err;
}

/* RFC 3261 §9.1: the CANCEL of an INVITE client transaction, with its
 * Request-URI, top Via (branch), Call-ID, From, To, CSeq number and Route,
 * to where the INVITE went. */
int sip_stack_cancel(struct sip_stack *stack, struct sip_tsx *ict, sip_tsx_resp_h *resp_h,
		     void *arg)
{
	struct sip_tsx_req_prm tp = {0};
	struct sip_tsx *tsx = NULL;
	struct mbuf mb;
	int err;

	if (!stack || !ict || !resp_h || sip_tsx_kind(ict) != SIP_TSX_ICT)
		return EINVAL;
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	err = sip_tsx_cancel_build(&mb, ict);
	if (!err) {
		tp.req = (struct pl){(const char *)mb.buf, mb.end};
		tp.dst = sip_tsx_dst(ict);
		tp.resp_h = resp_h;
		tp.arg = arg;
		err = sip_tsx_request(&tsx, stack->tsx, &tp);
	}
	mbuf_reset(&mb);
	return err;
}
