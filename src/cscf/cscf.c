/*
 * cscf — the dispatch table and the path of a request through the stage
 * (cscf.h, docs/cscf.md):
 *
 *   stack (new server transaction) -> cscf_dispatch
 *     -> the service for (method, Event)        none: 489 (SUBSCRIBE)
 *     -> originating: flow -> user, asserted identity, Route set
 *     -> terminating: Request-URI -> users       none: 404 (out of dialog)
 *     -> service handler (struct cscf_req)
 */
#include "cscf/cscf_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "sip/sip_hdr.h"

static int cscf_reply_default(struct sip_stack *stack, struct sip_tsx *tsx, uint16_t scode,
			      const char *reason, const struct sip_tsx_reply_prm *prm,
			      void *arg)
{
	(void)arg;
	if (stack)
		return sip_stack_reply(stack, tsx, scode, reason, prm);
	return tsx ? sip_tsx_reply(tsx, scode, reason, prm) : EINVAL;
}

static void cscf_stack_h(struct sip_stack *stack, struct sip_tsx *tsx,
			 const struct sip_msg *req, const struct net_flow *flow, void *arg)
{
	cscf_dispatch(arg, stack, tsx, req, flow);
}

static void cscf_destroy(void *arg)
{
	struct cscf *c = arg;

	for (size_t i = 0; c->stack && i < c->nsvc; i++)
		sip_stack_method_set(c->stack, c->svc[i].meth, NULL, NULL);
	cscf_cfm_held_free_all(c);
}

int cscf_alloc(struct cscf **cp, const struct cscf_prm *prm)
{
	struct cscf *c;

	if (!cp || !prm || !prm->hss)
		return EINVAL;
	c = mem_zalloc(sizeof(*c), cscf_destroy);
	if (!c)
		return ENOMEM;
	c->stack = prm->stack;
	c->hss = prm->hss;
	c->reg = prm->reg;
	c->reply = prm->reply ? prm->reply : cscf_reply_default;
	c->reply_arg = prm->reply_arg;
	*cp = c;
	return 0;
}

static bool event_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcasecmp(a, b);
}

int cscf_service_add(struct cscf *c, const struct cscf_service *svc)
{
	int err;

	if (!c || !svc || !svc->h || svc->meth == SIP_METHOD_OTHER ||
	    svc->meth == SIP_METHOD_ACK || svc->meth == SIP_METHOD_CANCEL)
		return EINVAL;
	for (size_t i = 0; i < c->nsvc; i++) {
		if (c->svc[i].meth == svc->meth && event_eq(c->svc[i].event, svc->event))
			return EEXIST;
	}
	if (c->nsvc == CSCF_SERVICES_MAX)
		return ENOSPC;
	if (c->stack) {
		err = sip_stack_method_set(c->stack, svc->meth, cscf_stack_h, c);
		if (err)
			return err;
	}
	c->svc[c->nsvc++] = *svc;
	return 0;
}

/* The service for the method and, when the method's services name one, the
 * request's Event package (RFC 6665 §8.2.1: compared without case). */
static const struct cscf_service *svc_find(const struct cscf *c, const struct sip_msg *req,
					   bool *bad_event)
{
	struct sip_event ev = {0};
	int have_ev = -1; /* the Event header is read only when a service asks */

	*bad_event = false;
	for (size_t i = 0; i < c->nsvc; i++) {
		const struct cscf_service *s = &c->svc[i];

		if (s->meth != req->meth)
			continue;
		if (!s->event)
			return s;
		if (have_ev < 0) {
			const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_EVENT);

			have_ev = h && !sip_event_decode(&ev, h->val);
		}
		if (have_ev && pl_caseeq_str(ev.package, s->event))
			return s;
		*bad_event = true;
	}
	return NULL;
}

/* Allow-Events: the packages of the method's services (RFC 6665 §8.2.2). */
static void bad_event_reply(struct cscf *c, struct sip_stack *stack, struct sip_tsx *tsx,
			    enum sip_method meth)
{
	struct sip_tsx_reply_prm rp = {0};
	char hdr[256];
	size_t n = (size_t)snprintf(hdr, sizeof(hdr), "Allow-Events:");

	for (size_t i = 0; i < c->nsvc && n < sizeof(hdr); i++) {
		if (c->svc[i].meth != meth || !c->svc[i].event)
			continue;
		n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, "%s %s",
				      n > sizeof("Allow-Events:") - 1 ? "," : "",
				      c->svc[i].event);
	}
	if (n + 2 < sizeof(hdr)) {
		memcpy(hdr + n, "\r\n", 3);
		rp.hdrs = (struct pl){hdr, n + 2};
	}
	c->stats.bad_event++;
	c->reply(stack, tsx, 489, "Bad Event", &rp, c->reply_arg);
}

void cscf_dispatch(struct cscf *c, struct sip_stack *stack, struct sip_tsx *tsx,
		   const struct sip_msg *req, const struct net_flow *flow)
{
	const struct sip_addr *to = sip_msg_to(req);
	const struct cscf_service *s;
	char abuf[HSS_URI_MAX];
	struct cscf_req r;
	bool bad_event;
	size_t n;

	if (!c || !req)
		return;
	s = svc_find(c, req, &bad_event);
	if (!s) {
		/* only reachable for an Event no service takes: the stack
		 * sends methods without a service to 405/501 itself */
		if (bad_event)
			bad_event_reply(c, stack, tsx, req->meth);
		else
			c->reply(stack, tsx, 405, "Method Not Allowed", NULL, c->reply_arg);
		return;
	}
	memset(&r, 0, offsetof(struct cscf_req, term));
	r.stack = stack;
	r.tsx = tsx;
	r.req = req;
	r.flow = flow;
	r.in_dialog = to && pl_isset(to->tag);
	if (s->orig) {
		cscf_orig_identify(c, req, flow, &r, abuf);
		if (!r.orig && !r.in_dialog) {
			c->stats.not_orig++;
			c->reply(stack, tsx, 403, "Forbidden - not from a registered flow",
				NULL, c->reply_arg);
			return;
		}
	} else {
		r.orig_impu = HSS_IMPU_NONE;
		r.asserted = "";
	}
	if (s->target == CSCF_TARGET_USER && !r.in_dialog) {
		n = hss_users_by_impu(c->hss, req->ruri, r.term, CSCF_TERM_MAX);
		r.nterm = n < CSCF_TERM_MAX ? n : CSCF_TERM_MAX;
		if (!r.nterm) {
			c->stats.not_found++;
			c->reply(stack, tsx, 404, "Not Found", NULL, c->reply_arg);
			return;
		}
	}
	/* callflow_modifier (manual §5.2.1): may answer it in its place */
	if (cscf_cfm_request(c, &r))
		return;
	c->stats.dispatched++;
	if (r.orig)
		c->stats.orig++;
	s->h(&r, s->arg);
}

void cscf_stats_get(const struct cscf *c, struct cscf_stats *st)
{
	if (!st)
		return;
	if (c)
		*st = c->stats;
	else
		memset(st, 0, sizeof(*st));
}
