/*
 * b2bua_msg — what goes into the messages imsd builds for a call, header by
 * header (docs/calls.md "Which header comes from where"):
 *
 *   Request-URI        the callee binding's registered contact (RFC 3261
 *                      §10.3, TS 24.229 §5.4.3.3)
 *   From, To           the caller's, with our own From tag (a new dialog)
 *   Call-ID            new, one per branch: one id per dialog in the log
 *   Contact            ours, on the socket the leg's flow uses
 *   Record-Route       ours, loose (RFC 3261 §16.6 step 4, what the
 *                      P-CSCF/S-CSCF insert)
 *   Max-Forwards       the caller's minus one (RFC 3261 §16.6 step 3)
 *   P-Asserted-Identity the asserted IMPU the CSCF stage named, with its
 *                      display_name (RFC 3325 §9.1, TS 24.229 §5.2.6.3.1);
 *                      answers to the caller carry the callee's
 *   P-Called-Party-ID  the dialled IMPU with `p_called_party_id`, or the
 *                      IMPU's forced value (RFC 3455 §4.2)
 *   P-Charging-Vector  the caller's, else a new icid-value (RFC 3455 §4.6)
 *   Allow              the methods imsd serves
 *   passed on          P-Access-Network-Info, Accept-Contact, Supported and
 *                      Require (without 100rel in Require: negotiated per
 *                      leg), Session-Expires, Min-SE (with session
 *                      timers on, imsd writes these and the timer tag
 *                      per leg instead: b2bua_st.c), Privacy, Reason,
 *                      User-Agent (the stack replaces it with
 *                      force_user_agent), the body
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "cfm/cfm.h"
#include "core/log.h"
#include "net/net_addr.h"
#include "sip/sip_build.h"
#include "sip/sip_hdr.h"

void b2b_rand_hex(const struct b2bua *b, char *buf, size_t n)
{
	char br[32];

	if (n > 16)
		n = 16;
	if (sip_tsx_branch_gen(sip_stack_tsx(b->prm.stack), br, sizeof(br)))
		snprintf(br, sizeof(br), "z9hG4bK%016llx",
			 (unsigned long long)loop_now_ms());
	memcpy(buf, br + 7, n);
	buf[n] = '\0';
}

/* The index of the socket a flow reaches us on: its local address, else
 * the same port and family, else the first of the family. */
static unsigned our_sock(const struct b2bua *b, const struct net_flow *flow)
{
	unsigned n = sip_stack_sock_count(b->prm.stack), fam = n, port = n;
	int af = net_addr_af(&flow->local) ? net_addr_af(&flow->local)
					   : net_addr_af(&flow->peer);

	for (unsigned i = 0; i < n; i++) {
		struct net_addr a;

		if (net_addr_parse_str(&a, sip_stack_local_uri_host(b->prm.stack, i),
				       5060) ||
		    net_addr_af(&a) != af)
			continue;
		if (net_addr_eq(&a, &flow->local))
			return i;
		if (port == n && net_addr_port(&a) == net_addr_port(&flow->local))
			port = i;
		if (fam == n)
			fam = i;
	}
	return port < n ? port : fam < n ? fam : 0;
}

void b2b_our_addr(const struct b2bua *b, const struct net_flow *flow, struct net_addr *a)
{
	if (net_addr_parse_str(
		a, sip_stack_local_uri_host(b->prm.stack, our_sock(b, flow)), 5060))
		*a = flow->local;
}

void b2b_our_host(const struct b2bua *b, const struct net_flow *flow, char *buf,
		  size_t size)
{
	snprintf(buf, size, "%s%s",
		 sip_stack_local_uri_host(b->prm.stack, our_sock(b, flow)),
		 flow->reliable ? ";transport=tcp" : "");
}

int b2b_contact(const struct b2bua *b, const struct net_flow *flow, char *buf,
		size_t size)
{
	char host[NET_ADDR_STRLEN + 32];
	int n;

	b2b_our_host(b, flow, host, sizeof(host));
	n = snprintf(buf, size, "<sip:b2bua@%s>", host);
	return n < 0 || (size_t)n >= size ? ENOSPC : 0;
}

/* 100rel is negotiated per leg (RFC 3262): imsd supports it towards the
 * other side (b2bua_prack.c, b2bua_early.c) but never requires it there;
 * precondition passes end to end (RFC 3312, the SDP untouched). */
static bool tag_dropped(enum sip_hdr_id id, struct pl v)
{
	return id == SIP_HDR_REQUIRE && pl_caseeq_str(pl_trim(v), "100rel");
}

/* A Require list without "timer" (imsd requires it per leg, b2bua_st.c;
 * Supported: timer stays, imsd supports it); nothing when no tag is
 * left. */
static int list_without_timer(struct mbuf *mb, enum sip_hdr_id id, struct pl v)
{
	size_t start = mb->end;
	bool any = false;
	int err = mbuf_printf(mb, "%s: ", sip_hdr_name(id));

	while (v.l && !err) {
		const char *comma = memchr(v.p, ',', v.l);
		struct pl t = {v.p, comma ? (size_t)(comma - v.p) : v.l};

		v.p += t.l + (comma ? 1 : 0);
		v.l -= t.l + (comma ? 1 : 0);
		t = pl_trim(t);
		if (!t.l || pl_caseeq_str(t, "timer") ||
		    (id == SIP_HDR_REQUIRE && pl_caseeq_str(t, "100rel")))
			continue;
		err = mbuf_printf(mb, "%s%.*s", any ? ", " : "", (int)t.l, t.p);
		any = true;
	}
	if (!err && any)
		return mbuf_printf(mb, "\r\n");
	mb->end = start;
	return err;
}

int b2b_hdrs_copy(struct mbuf *mb, const struct sip_msg *msg, bool response)
{
	return b2b_hdrs_copy_se(mb, msg, response, false);
}

int b2b_hdrs_copy_se(struct mbuf *mb, const struct sip_msg *msg, bool response,
		     bool own_se)
{
	static const enum sip_hdr_id req_ids[] = {
	    SIP_HDR_P_ACCESS_NETWORK_INFO,
	    SIP_HDR_ACCEPT_CONTACT,
	    SIP_HDR_SUPPORTED,
	    SIP_HDR_REQUIRE,
	    SIP_HDR_SESSION_EXPIRES,
	    SIP_HDR_MIN_SE,
	    SIP_HDR_PRIVACY,
	    SIP_HDR_REASON,
	    SIP_HDR_USER_AGENT,
	    SIP_HDR_ACCEPT,
	    SIP_HDR_SUBJECT,
	    SIP_HDR_PRIORITY,
	    SIP_HDR_CONTENT_DISPOSITION,
	    SIP_HDR_EVENT,
	    SIP_HDR_ALERT_INFO,
	    SIP_HDR_REJECT_CONTACT,
	    SIP_HDR_REQUEST_DISPOSITION,
	};
	static const enum sip_hdr_id resp_ids[] = {
	    SIP_HDR_SUPPORTED,
	    SIP_HDR_REQUIRE,
	    SIP_HDR_SESSION_EXPIRES,
	    SIP_HDR_MIN_SE,
	    SIP_HDR_ACCEPT,
	    SIP_HDR_CONTENT_DISPOSITION,
	    SIP_HDR_REASON,
	    SIP_HDR_RETRY_AFTER,
	    SIP_HDR_WARNING,
	    SIP_HDR_UNSUPPORTED,
	    SIP_HDR_P_ACCESS_NETWORK_INFO,
	    SIP_HDR_PRIVACY,
	};
	const enum sip_hdr_id *ids = response ? resp_ids : req_ids;
	bool add_timer = !b2b_st_has_tag(msg, SIP_HDR_SUPPORTED, "timer");
	size_t n = response ? sizeof(resp_ids) / sizeof(resp_ids[0])
			    : sizeof(req_ids) / sizeof(req_ids[0]);
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		for (const struct sip_hdr *h = sip_msg_hdr(msg, ids[i]); h && !err;
		     h = sip_msg_hdr_next(msg, h)) {
			if ((ids[i] == SIP_HDR_SUPPORTED || ids[i] == SIP_HDR_REQUIRE) &&
			    tag_dropped(ids[i], h->val))
				continue;
			if (own_se &&
			    (ids[i] == SIP_HDR_SESSION_EXPIRES || ids[i] == SIP_HDR_MIN_SE))
				continue;
			if (own_se && ids[i] == SIP_HDR_REQUIRE) {
				err = list_without_timer(mb, ids[i], h->val);
				continue;
			}
			if (own_se && ids[i] == SIP_HDR_SUPPORTED && add_timer) {
				/* one Supported line: SIPp and some phones read one */
				add_timer = false;
				err = mbuf_printf(mb, "Supported: %.*s, timer\r\n",
						  (int)h->val.l, h->val.p);
				continue;
			}
			err = mbuf_printf(mb, "%s: %.*s\r\n", sip_hdr_name(ids[i]),
					  (int)h->val.l, h->val.p);
		}
	}
	/* P-Early-Media, Info-Package, Recv-Info: no id of their own */
	static const char *const other[] = {"P-Early-Media", "Info-Package", "Recv-Info"};

	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]) && !err; i++) {
		const struct sip_hdr *h = sip_msg_hdr_name(msg, pl_from_str(other[i]));

		if (h)
			err = mbuf_printf(mb, "%s: %.*s\r\n", other[i], (int)h->val.l,
					  h->val.p);
	}
	return err;
}

/* `"display" <uri>` or `<uri>`. */
static int name_addr(struct mbuf *mb, const char *hdr, const char *dname, const char *uri)
{
	if (dname && dname[0])
		return mbuf_printf(mb, "%s: \"%s\" <%s>\r\n", hdr, dname, uri);
	return mbuf_printf(mb, "%s: <%s>\r\n", hdr, uri);
}

/* The caller's From value with its tag replaced by ours. */
static int from_value(const struct b2b_call *c, char *tag, char *buf, size_t size)
{
	const struct sip_addr *f = sip_msg_from(c->a_inv);
	int n;

	if (!f)
		return EBADMSG;
	b2b_rand_hex(c->b, tag, B2B_TAG_LEN);
	if (pl_isset(f->dname))
		n = snprintf(buf, size, "%s%.*s%s <%.*s>;tag=%s",
			     f->dname_quoted ? "\"" : "", (int)f->dname.l, f->dname.p,
			     f->dname_quoted ? "\"" : "", (int)f->uri.l, f->uri.p, tag);
	else
		n = snprintf(buf, size, "<%.*s>;tag=%s", (int)f->uri.l, f->uri.p, tag);
	return n < 0 || (size_t)n >= size ? E2BIG : 0;
}

static int invite_hdrs(struct b2b_call *c, struct b2b_leg *leg, struct mbuf *h)
{
	const struct b2bua *b = c->b;
	const struct ims_cfg_impu_opts *o = hss_impu_opts(leg->user, leg->impu);
	const struct sip_hdr *pcv = sip_msg_hdr(c->a_inv, SIP_HDR_P_CHARGING_VECTOR);
	char host[NET_ADDR_STRLEN + 32], uri[HSS_URI_MAX];
	int err;

	b2b_our_host(b, &leg->flow, host, sizeof(host));
	err = mbuf_printf(h, "Record-Route: <sip:%s;lr>\r\n", host);
	if (!err && c->orig && /* NULL: an mt_call from an unknown caller */
	    hss_impu_uri(b->prm.hss, c->orig, c->orig_impu, uri, sizeof(uri)) == 0)
		err = name_addr(h, "P-Asserted-Identity",
				hss_impu_display_name(c->orig, c->orig_impu), uri);
	if (!err && o->p_called_party_id && o->p_called_party_id[0])
		err = mbuf_printf(h, "P-Called-Party-ID: <%s>\r\n", o->p_called_party_id);
	else if (!err && b->prm.cfg && b->prm.cfg->p_called_party_id)
		err = mbuf_printf(h, "P-Called-Party-ID: <%.*s>\r\n",
				  (int)c->a_inv->ruri.l, c->a_inv->ruri.p);
	if (!err && pcv)
		err = mbuf_printf(h, "P-Charging-Vector: %.*s\r\n", (int)pcv->val.l,
				  pcv->val.p);
	else if (!err)
		err = mbuf_printf(
		    h, "P-Charging-Vector: icid-value=%s;icid-generated-at=%s\r\n",
		    c->icid, sip_stack_local_uri_host(b->prm.stack, 0));
	if (!err)
		err = mbuf_printf(h, "Allow: %s\r\n", sip_stack_allow(b->prm.stack));
	err = err ? err : b2b_hdrs_copy_se(h, c->a_inv, false, b2b_st_on(c));
	return err ? err : b2b_st_invite_hdrs(c, leg, h); /* RFC 4028 (b2bua_st.c) */
}

int b2b_invite_build(struct b2b_call *c, struct b2b_leg *leg, struct mbuf *mb,
		     struct pl ruri, const char *callid)
{
	const struct sip_hdr *to = sip_msg_hdr(c->a_inv, SIP_HDR_TO);
	const struct sip_hdr *mf = sip_msg_hdr(c->a_inv, SIP_HDR_MAX_FORWARDS);
	const struct sip_hdr *ct = sip_msg_hdr(c->a_inv, SIP_HDR_CONTENT_TYPE);
	struct sip_req_prm rp = {0};
	char from[1024], tag[B2B_TAG_LEN + 1], contact[NET_ADDR_STRLEN + 64];
	uint32_t maxf = 70;
	struct mbuf h;
	int err;

	if (mf && !sip_uint_decode(mf->val, 255, &maxf) && maxf > 0)
		maxf--;
	mbuf_init(&h, SIP_MSG_MAX_UDP);
	err = from_value(c, tag, from, sizeof(from));
	err = err ? err : b2b_contact(c->b, &leg->flow, contact, sizeof(contact));
	err = err ? err : invite_hdrs(c, leg, &h);
	if (!err && c->cfm_inv) /* callflow_modifier (b2bua_cfm.c) */
		err = cfm_hdrs_apply(c->cfm_inv, &h);
	if (err || !to)
		goto out;
	rp.method = PL("INVITE");
	rp.ruri = ruri;
	rp.from = pl_from_str(from);
	rp.to = to->val;
	rp.call_id = pl_from_str(callid);
	rp.cseq = 1;
	rp.max_forwards = maxf ? maxf : 1;
	rp.contact = pl_from_str(contact);
	rp.hdrs = (struct pl){(const char *)h.buf, h.end};
	if (ct && c->a_inv->body.l) {
		rp.ctype = ct->val;
		/* the offer rewritten for the relay when there is one */
		rp.body = c->sdp_state > 0 && c->sdp_b.end
			      ? (struct pl){(const char *)c->sdp_b.buf, c->sdp_b.end}
			      : c->a_inv->body;
	}
	err = sip_req_build(mb, &rp);
out:
	mbuf_reset(&h);
	return err ? err : !to ? EBADMSG : 0;
}

int b2b_resp_hdrs(struct b2b_call *c, const struct b2b_leg *leg,
		  const struct sip_msg *resp, struct mbuf *mb)
{
	char contact[NET_ADDR_STRLEN + 64], uri[HSS_URI_MAX];
	int err = 0;

	/* RFC 3261 §12.1.1: the Record-Route of the request, in 1xx/2xx */
	for (const struct sip_hdr *rr = sip_msg_hdr(c->a_inv, SIP_HDR_RECORD_ROUTE);
	     rr && !err; rr = sip_msg_hdr_next(c->a_inv, rr))
		err =
		    mbuf_printf(mb, "Record-Route: %.*s\r\n", (int)rr->val.l, rr->val.p);
	if (!err && !b2b_contact(c->b, &c->a_flow, contact, sizeof(contact)))
		err = mbuf_printf(mb, "Contact: %s\r\n", contact);
	if (!err && leg &&
	    hss_impu_uri(c->b->prm.hss, leg->user, leg->impu, uri, sizeof(uri)) == 0)
		err = name_addr(mb, "P-Asserted-Identity",
				hss_impu_display_name(leg->user, leg->impu), uri);
	if (!err)
		err = mbuf_printf(mb, "Allow: %s\r\n", sip_stack_allow(c->b->prm.stack));
	if (!err && resp)
		err = b2b_hdrs_copy_se(mb, resp, true, b2b_st_on(c));
	return err;
}
