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

static void pend_prune(struct sip_stack *stack)
{
	size_t j = 0;

	for (size_t i = 0; i < stack->npend; i++) {
		if (sip_tsx_lookup(stack->tsx, stack->pend[i].tsx_id))
			stack->pend[j++] = stack->pend[i];
	}
	stack->npend = j;
	stack->pend_prune_at = j * 2 > 64 ? j * 2 : 64;
}

static int pend_add(struct sip_stack *stack, uint64_t tsx_id, uint64_t conn_id)
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
	stack->pend[stack->npend].tsx_id = tsx_id;
	stack->pend[stack->npend].conn_id = conn_id;
	stack->npend++;
	return 0;
}

void sip_stack_pend_conn_closed(struct sip_stack *stack, uint64_t conn_id, int err)
{
	uint64_t *ids;
	size_t n = 0, j = 0;

	for (size_t i = 0; i < stack->npend; i++)
		n += stack->pend[i].conn_id == conn_id;
	if (!n)
		return;
	ids = malloc(n * sizeof(*ids));
	if (!ids)
		return;
	n = 0;
	for (size_t i = 0; i < stack->npend; i++) {
		if (stack->pend[i].conn_id == conn_id)
			ids[n++] = stack->pend[i].tsx_id;
		else
			stack->pend[j++] = stack->pend[i];
	}
	stack->npend = j;
	/* after the array is consistent: resp_h may start new requests */
	for (size_t i = 0; i < n; i++)
		sip_tsx_transport_error(stack->tsx, ids[i], err);
	free(ids);
}

static size_t sock_index(const struct sip_stack *stack, const struct net_sock *sock)
{
	for (size_t i = 0; i < stack->nsocks; i++) {
		if (stack->socks[i] == sock)
			return i;
	}
	return 0;
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

static int route_from_src(struct sip_stack *stack, const struct sip_stack_src *dst,
			  struct req_route *rt)
{
	rt->addr = dst->peer;
	rt->tcp = dst->reliable;
	if (dst->reliable && dst->conn_id && net_conn_lookup(stack->net, dst->conn_id))
		rt->conn_id = dst->conn_id;
	if (dst->sock_idx < stack->nsocks &&
	    net_addr_af(net_sock_addr(stack->socks[dst->sock_idx])) ==
		net_addr_af(&rt->addr))
		rt->sock = stack->socks[dst->sock_idx];
	else
		rt->sock = net_sock_find(stack->net, net_addr_af(&rt->addr));
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
		     stack->uri_hosts[sock_index(stack, rt->sock)], branch);
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

int sip_stack_request(struct sip_stack *stack, const struct sip_stack_req_prm *prm,
		      struct sip_tsx **tsxp)
{
	struct sip_decode_prm dp = {.max_size = SIP_MSG_MAX_HARD, .stream = false};
	struct sip_tsx_req_prm tp = {0};
	struct req_route rt;
	struct sip_msg *msg = NULL;
	struct sip_tsx *tsx = NULL;
	const char *end;
	struct pl body;
	struct mbuf mb;
	int err;

	if (!stack || !prm || !prm->req.p || !prm->req.l || !prm->resp_h)
		return EINVAL;
	end = memmem(prm->req.p, prm->req.l, "\r\n\r\n", 4);
	if (!end)
		return EINVAL;
	body.p = end + 4;
	body.l = prm->req.l - (size_t)(body.p - prm->req.p);
	mbuf_init(&mb, SIP_MSG_MAX_HARD);
	memset(&rt, 0, sizeof(rt));
	err = sip_msg_decode_copy(&msg, prm->req.p, prm->req.l, &dp);
	if (err)
		goto out;
	if (!msg->req || msg->meth == SIP_METHOD_ACK) {
		err = EINVAL;
		goto out;
	}
	err = prm->dst ? route_from_src(stack, prm->dst, &rt)
		       : route_from_ruri(stack, msg, &rt);
	if (err)
		goto out;
	/* §18.1.1: a request that may not fit the path MTU goes over TCP */
	if (!rt.tcp && stack->tcp_threshold &&
	    msg->raw.l + SIP_STACK_VIA_EST +
		    (stack->user_agent ? strlen(stack->user_agent) : 0) >
		stack->tcp_threshold) {
		rt.tcp = true;
		stack->stats.tx_over_tcp++;
	}
	if (rt.tcp && !rt.conn_id) {
		err = net_connect(rt.sock, &rt.addr, &rt.conn_id);
		if (err)
			goto out;
	}
	err = req_build(stack, msg, body, &rt, &mb);
	if (err)
		goto out;
	tp.req = (struct pl){(const char *)mb.buf, mb.end};
	memcpy(&tp.dst.addr, net_addr_sa(&rt.addr), net_addr_len(&rt.addr));
	tp.dst.addrlen = net_addr_len(&rt.addr);
	tp.dst.reliable = rt.tcp;
	tp.dst.conn = rt.tcp ? rt.conn_id : sock_index(stack, rt.sock);
	tp.resp_h = prm->resp_h;
	tp.arg = prm->arg;
	err = sip_tsx_request(&tsx, stack->tsx, &tp);
	if (!err && tsx && rt.tcp)
		pend_add(stack, sip_tsx_id(tsx),
			 rt.conn_id); /* ENOMEM: no later failure notice */
out:
	if (tsxp)
		*tsxp = err ? NULL : tsx;
	mem_deref(msg);
	mbuf_reset(&mb);
	return err;
}
