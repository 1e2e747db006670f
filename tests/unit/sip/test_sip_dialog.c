/* Unit tests: sip_dialog (RFC 3261 §12): UAS and UAC creation, route sets,
 * in-dialog requests (loose and strict routing), target refresh, CSeq
 * checks, matching, delivery to the owner and the table's bound. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/sip_dialog.h"
#include "sip/sip_hdr.h"
#include "sip/sip_msg.h"

static struct sip_msg *dec(const char *s)
{
	struct sip_msg *msg = NULL;

	assert_int_equal(sip_msg_decode_copy(&msg, s, strlen(s), NULL), 0);
	return msg;
}

/* An INVITE through two proxies (Record-Route on two lines, one of them a
 * list) from bob to alice. */
static const char invite[] =
    "INVITE sip:alice@ims.test SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinv1\r\n"
    "Record-Route: <sip:p2.ims.test;lr>, <sip:p1.ims.test;lr>\r\n"
    "Record-Route: <sip:edge.ims.test;lr;ftag=x>\r\n"
    "Max-Forwards: 68\r\n"
    "From: \"Bob\" <sip:bob@ims.test>;tag=bobtag\r\n"
    "To: <sip:alice@ims.test>\r\n"
    "Call-ID: call-7@192.0.2.1\r\n"
    "CSeq: 10 INVITE\r\n"
    "Contact: <sip:bob@192.0.2.1:5060>\r\n"
    "Content-Length: 0\r\n\r\n";

static struct net_flow flow_v4(uint16_t port)
{
	struct net_flow f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(net_addr_parse_str(&f.peer, "192.0.2.1", port), 0);
	assert_int_equal(net_addr_parse_str(&f.local, "192.0.2.9", 5060), 0);
	return f;
}

static struct sip_dialog *uas_new(void)
{
	struct sip_msg *m = dec(invite);
	struct net_flow f = flow_v4(5060);
	struct sip_dialog_uas_prm p = {.req = m, .local_tag = PL("alicetag"), .flow = &f};
	struct sip_dialog *d = NULL;

	assert_int_equal(sip_dialog_uas_alloc(&d, &p), 0);
	mem_deref(m);
	return d;
}

static void test_uas_create(void **state)
{
	struct sip_dialog *d = uas_new();

	(void)state;
	assert_false(sip_dialog_is_uac(d));
	assert_false(sip_dialog_is_early(d));
	assert_false(sip_dialog_secure(d));
	assert_string_equal(sip_dialog_callid(d), "call-7@192.0.2.1");
	assert_string_equal(sip_dialog_local_tag(d), "alicetag");
	assert_string_equal(sip_dialog_remote_tag(d), "bobtag");
	/* §12.1.1: the URIs alone */
	assert_string_equal(sip_dialog_local_uri(d), "<sip:alice@ims.test>");
	assert_string_equal(sip_dialog_remote_uri(d), "<sip:bob@ims.test>");
	assert_string_equal(sip_dialog_target(d), "sip:bob@192.0.2.1:5060");
	/* §12.1.1: Record-Route in order */
	assert_int_equal(sip_dialog_route_count(d), 3);
	assert_true(pl_eq_str(sip_dialog_route(d, 0), "<sip:p2.ims.test;lr>"));
	assert_true(pl_eq_str(sip_dialog_route(d, 1), "<sip:p1.ims.test;lr>"));
	assert_true(pl_eq_str(sip_dialog_route(d, 2), "<sip:edge.ims.test;lr;ftag=x>"));
	assert_int_equal(sip_dialog_route(d, 3).l, 0);
	assert_string_equal(sip_dialog_routes(d), "<sip:p2.ims.test;lr>, <sip:p1.ims.test;lr>, "
						  "<sip:edge.ims.test;lr;ftag=x>");
	assert_int_equal(sip_dialog_remote_cseq(d), 10);
	assert_int_equal(sip_dialog_local_cseq(d), 0); /* empty */
	assert_false(sip_dialog_is_early(d));
	assert_non_null(sip_dialog_flow(d));
	assert_int_equal(net_addr_port(&sip_dialog_flow(d)->local), 5060);
	assert_true(sip_dialog_mem(d) > 100);
	mem_deref(d);
}

/* An early UAS dialog (our 180) confirmed by our own 200: its target and
 * route set stay those of the request (not our Contact). */
static void test_uas_early_confirm(void **state)
{
	struct sip_msg *m = dec(invite);
	struct sip_msg *ok =
	    dec("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKinv1\r\n"
		"Record-Route: <sip:p2.ims.test;lr>, <sip:p1.ims.test;lr>\r\n"
		"From: \"Bob\" <sip:bob@ims.test>;tag=bobtag\r\n"
		"To: <sip:alice@ims.test>;tag=alicetag\r\nCall-ID: call-7@192.0.2.1\r\n"
		"CSeq: 10 INVITE\r\nContact: <sip:alice@192.0.2.9>\r\n\r\n");
	struct sip_dialog_uas_prm p = {.req = m, .local_tag = PL("alicetag"), .early = true};
	struct sip_dialog *d = NULL;

	(void)state;
	assert_int_equal(sip_dialog_uas_alloc(&d, &p), 0);
	assert_true(sip_dialog_is_early(d));
	assert_int_equal(sip_dialog_confirm(d, ok), 0);
	assert_false(sip_dialog_is_early(d));
	assert_string_equal(sip_dialog_target(d), "sip:bob@192.0.2.1:5060");
	assert_int_equal(sip_dialog_route_count(d), 3);
	mem_deref(d);
	mem_deref(ok);
	mem_deref(m);
}

static void test_uas_refused(void **state)
{
	struct sip_dialog_uas_prm p = {.local_tag = PL("t")};
	struct sip_dialog *d = NULL;
	struct sip_msg *m;
	char buf[8192];
	size_t n;

	(void)state;
	/* already in a dialog (To tag) */
	m = dec("SUBSCRIBE sip:a@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		"From: <sip:b@x>;tag=1\r\nTo: <sip:a@x>;tag=2\r\nCall-ID: c\r\n"
		"CSeq: 1 SUBSCRIBE\r\nContact: <sip:b@h>\r\n\r\n");
	p.req = m;
	assert_int_equal(sip_dialog_uas_alloc(&d, &p), EBADMSG);
	mem_deref(m);
	/* no Contact: no remote target (§12.1.1) */
	m = dec("INVITE sip:a@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		"From: <sip:b@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: c\r\n"
		"CSeq: 1 INVITE\r\n\r\n");
	p.req = m;
	assert_int_equal(sip_dialog_uas_alloc(&d, &p), EBADMSG);
	/* no local tag */
	p.local_tag = (struct pl)PL_INIT;
	assert_int_equal(sip_dialog_uas_alloc(&d, &p), EBADMSG);
	mem_deref(m);
	/* a route set over the bound */
	n = (size_t)snprintf(buf, sizeof(buf),
			     "INVITE sip:a@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
			     "From: <sip:b@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: c\r\n"
			     "CSeq: 1 INVITE\r\nContact: <sip:b@h>\r\n");
	for (unsigned i = 0; i <= SIP_DIALOG_ROUTES_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      "Record-Route: <sip:p%u.x;lr>\r\n", i);
	snprintf(buf + n, sizeof(buf) - n, "\r\n");
	m = dec(buf);
	p.req = m;
	p.local_tag = PL("t");
	assert_int_equal(sip_dialog_uas_alloc(&d, &p), E2BIG);
	mem_deref(m);
	assert_null(d);
}

static const char our_invite[] =
    "INVITE sip:bob@ims.test SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKours\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@ims.test>;tag=mine\r\n"
    "To: <sip:bob@ims.test>\r\n"
    "Call-ID: out-1@192.0.2.9\r\n"
    "CSeq: 5 INVITE\r\n"
    "Contact: <sip:alice@192.0.2.9:5060>\r\n\r\n";

static void test_uac_create_early_confirm(void **state)
{
	struct sip_msg *req = dec(our_invite);
	struct sip_msg *r180 =
	    dec("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKours\r\n"
		"Record-Route: <sip:p2.ims.test;lr>\r\nRecord-Route: <sip:p1.ims.test;lr>\r\n"
		"From: <sip:alice@ims.test>;tag=mine\r\nTo: <sip:bob@ims.test>;tag=theirs\r\n"
		"Call-ID: out-1@192.0.2.9\r\nCSeq: 5 INVITE\r\n"
		"Contact: <sip:bob@198.51.100.1:5062>\r\n\r\n");
	struct sip_msg *r200 =
	    dec("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKours\r\n"
		"Record-Route: <sip:p3.ims.test;lr>, <sip:p1.ims.test;lr>\r\n"
		"From: <sip:alice@ims.test>;tag=mine\r\nTo: <sip:bob@ims.test>;tag=theirs\r\n"
		"Call-ID: out-1@192.0.2.9\r\nCSeq: 5 INVITE\r\n"
		"Contact: <sip:bob@198.51.100.1:5070>\r\n\r\n");
	struct sip_dialog_uac_prm p = {.req = req, .resp = r180};
	struct sip_dialog *d = NULL;

	(void)state;
	assert_int_equal(sip_dialog_uac_alloc(&d, &p), 0);
	assert_true(sip_dialog_is_uac(d));
	assert_true(sip_dialog_is_early(d));
	assert_null(sip_dialog_flow(d));
	assert_string_equal(sip_dialog_local_tag(d), "mine");
	assert_string_equal(sip_dialog_remote_tag(d), "theirs");
	assert_string_equal(sip_dialog_local_uri(d), "<sip:alice@ims.test>");
	assert_string_equal(sip_dialog_remote_uri(d), "<sip:bob@ims.test>");
	assert_int_equal(sip_dialog_local_cseq(d), 5);
	assert_int_equal(sip_dialog_remote_cseq(d), 0);
	/* §12.1.2: Record-Route reversed */
	assert_string_equal(sip_dialog_routes(d), "<sip:p1.ims.test;lr>, <sip:p2.ims.test;lr>");
	assert_string_equal(sip_dialog_target(d), "sip:bob@198.51.100.1:5062");
	/* the 2xx confirms it and sets route set and target again */
	assert_int_equal(sip_dialog_confirm(d, r180), EBADMSG);
	assert_int_equal(sip_dialog_confirm(d, r200), 0);
	assert_false(sip_dialog_is_early(d));
	assert_string_equal(sip_dialog_routes(d), "<sip:p1.ims.test;lr>, <sip:p3.ims.test;lr>");
	assert_string_equal(sip_dialog_target(d), "sip:bob@198.51.100.1:5070");
	mem_deref(d);
	d = NULL;
	/* a 100 or a response without To tag makes none */
	p.resp = req;
	assert_int_equal(sip_dialog_uac_alloc(&d, &p), EINVAL);
	mem_deref(req);
	mem_deref(r180);
	mem_deref(r200);
}

static struct sip_msg *build(struct sip_dialog *d, const char *method, const char *body)
{
	struct sip_dialog_req_prm p = {
	    .method = pl_from_str(method),
	    .contact = PL("<sip:alice@192.0.2.9>"),
	    .hdrs = PL("Event: reg\r\n"),
	};
	struct sip_msg *m;
	struct mbuf mb;

	if (body) {
		p.ctype = PL("text/plain");
		p.body = pl_from_str(body);
	}
	mbuf_init(&mb, 0);
	assert_int_equal(sip_dialog_req_build(d, &mb, &p), 0);
	assert_int_equal(mbuf_write(&mb, "", 1), 0);
	m = dec((const char *)mb.buf);
	mbuf_reset(&mb);
	return m;
}

static bool hdr_is(const struct sip_msg *m, enum sip_hdr_id id, size_t nth, const char *v)
{
	const struct sip_hdr *h = sip_msg_hdr(m, id);

	for (size_t i = 0; h && i < nth; i++)
		h = sip_msg_hdr_next(m, h);
	return h && pl_eq_str(h->val, v);
}

static void test_request_loose(void **state)
{
	struct sip_dialog *d = uas_new();
	struct sip_msg *m;

	(void)state;
	m = build(d, "BYE", "x");
	/* §12.2.1.1: loose first route: Request-URI = target, Route = set */
	assert_true(pl_eq_str(m->ruri, "sip:bob@192.0.2.1:5060"));
	assert_int_equal(sip_msg_hdr_count(m, SIP_HDR_ROUTE), 3);
	assert_true(hdr_is(m, SIP_HDR_ROUTE, 0, "<sip:p2.ims.test;lr>"));
	assert_true(hdr_is(m, SIP_HDR_ROUTE, 2, "<sip:edge.ims.test;lr;ftag=x>"));
	assert_true(hdr_is(m, SIP_HDR_FROM, 0, "<sip:alice@ims.test>;tag=alicetag"));
	assert_true(hdr_is(m, SIP_HDR_TO, 0, "<sip:bob@ims.test>;tag=bobtag"));
	assert_true(hdr_is(m, SIP_HDR_CALL_ID, 0, "call-7@192.0.2.1"));
	assert_true(hdr_is(m, SIP_HDR_CSEQ, 0, "1 BYE"));
	assert_true(hdr_is(m, SIP_HDR_CONTACT, 0, "<sip:alice@192.0.2.9>"));
	assert_true(hdr_is(m, SIP_HDR_EVENT, 0, "reg"));
	assert_true(hdr_is(m, SIP_HDR_CONTENT_LENGTH, 0, "1"));
	assert_true(pl_eq_str(m->body, "x"));
	mem_deref(m);
	/* CSeq + 1 each time; an ACK takes the current one */
	m = build(d, "INFO", NULL);
	assert_true(hdr_is(m, SIP_HDR_CSEQ, 0, "2 INFO"));
	mem_deref(m);
	m = build(d, "ACK", NULL);
	assert_true(hdr_is(m, SIP_HDR_CSEQ, 0, "2 ACK"));
	mem_deref(m);
	assert_int_equal(sip_dialog_local_cseq(d), 2);
	mem_deref(d);
}

static void test_request_strict_and_none(void **state)
{
	struct sip_dialog_state st = {
	    .callid = PL("c1"),
	    .local_tag = PL("l"),
	    .remote_tag = PL("r"),
	    .local_uri = PL("<sip:a@x>"),
	    .remote_uri = PL("<sip:b@x>"),
	    .target = PL("sip:b@192.0.2.5:5080"),
	    .routes = PL("<sip:old.x;method=INVITE;maddr=192.0.2.7?h=v>, \"P, two\" <sip:p2.x;lr>"),
	    .local_cseq = 41,
	};
	struct sip_dialog *d = NULL;
	struct sip_msg *m;

	(void)state;
	assert_int_equal(sip_dialog_restore(&d, &st), 0);
	assert_int_equal(sip_dialog_route_count(d), 2);
	m = build(d, "NOTIFY", NULL);
	/* §12.2.1.1 strict first route: it is the Request-URI (no method
	 * parameter, no headers, §19.1.1), Route = the rest, then the target */
	assert_true(pl_eq_str(m->ruri, "sip:old.x;maddr=192.0.2.7"));
	assert_int_equal(sip_msg_hdr_count(m, SIP_HDR_ROUTE), 2);
	assert_true(hdr_is(m, SIP_HDR_ROUTE, 0, "\"P, two\" <sip:p2.x;lr>"));
	assert_true(hdr_is(m, SIP_HDR_ROUTE, 1, "<sip:b@192.0.2.5:5080>"));
	assert_true(hdr_is(m, SIP_HDR_CSEQ, 0, "42 NOTIFY"));
	mem_deref(m);
	mem_deref(d);
	d = NULL;
	/* no route set: no Route, Request-URI = target */
	st.routes = (struct pl)PL_INIT;
	st.remote_tag = (struct pl)PL_INIT; /* an RFC 2543 peer: no tag */
	assert_int_equal(sip_dialog_restore(&d, &st), 0);
	m = build(d, "NOTIFY", NULL);
	assert_true(pl_eq_str(m->ruri, "sip:b@192.0.2.5:5080"));
	assert_int_equal(sip_msg_hdr_count(m, SIP_HDR_ROUTE), 0);
	assert_true(hdr_is(m, SIP_HDR_TO, 0, "<sip:b@x>"));
	mem_deref(m);
	mem_deref(d);
	d = NULL;
	/* stored fields that cannot be a dialog */
	st.routes = PL("<sip:p1.x;lr");
	assert_int_equal(sip_dialog_restore(&d, &st), EBADMSG);
	st.routes = PL("<sip:p1.x;lr>,,<sip:p2.x>");
	assert_int_equal(sip_dialog_restore(&d, &st), EBADMSG);
	st.routes = (struct pl)PL_INIT;
	st.target = PL("not a uri");
	assert_int_equal(sip_dialog_restore(&d, &st), EBADMSG);
	st.target = PL("sip:b@x");
	st.local_tag = (struct pl)PL_INIT;
	assert_int_equal(sip_dialog_restore(&d, &st), EBADMSG);
	assert_null(d);
}

/* ---- the table and delivery ---- */

struct seen {
	unsigned reqs, acks;
	enum sip_method meth;
	const struct net_flow *flow;
	void *obj;
	bool end_it;
};

static void seen_req_h(struct sip_dialog *dlg, struct sip_tsx *tsx, const struct sip_msg *req,
		       const struct net_flow *flow, void *arg)
{
	struct seen *s = arg;

	(void)tsx;
	s->reqs++;
	s->meth = req->meth;
	s->flow = flow;
	s->obj = sip_dialog_owner(dlg)->obj;
	if (s->end_it)
		sip_dialog_end(dlg);
}

static void seen_ack_h(struct sip_dialog *dlg, const struct sip_msg *ack,
		       const struct net_flow *flow, void *arg)
{
	struct seen *s = arg;

	(void)dlg;
	assert_int_equal(ack->meth, SIP_METHOD_ACK);
	s->acks++;
	s->flow = flow;
}

static struct sip_msg *in_dialog(const char *method, uint32_t cseq, const char *ftag,
				 const char *contact)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "%s sip:alice@192.0.2.9 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKin%u\r\n"
		 "From: <sip:bob@ims.test>;tag=%s\r\nTo: <sip:alice@ims.test>;tag=alicetag\r\n"
		 "Call-ID: call-7@192.0.2.1\r\nCSeq: %u %s\r\n%s%s%s\r\n",
		 method, cseq, ftag, cseq, method, contact ? "Contact: " : "",
		 contact ? contact : "", contact ? "\r\n" : "");
	return dec(buf);
}

static void test_table_match_deliver(void **state)
{
	struct sip_dialogs *t = NULL;
	struct sip_dialog *d = uas_new();
	struct seen seen = {0};
	int obj;
	struct sip_dialog_owner o = {seen_req_h, seen_ack_h, &seen, &obj};
	struct net_flow f = flow_v4(6000);
	struct sip_msg *m;
	uint16_t sc;

	(void)state;
	assert_int_equal(sip_dialogs_alloc(&t, 4), 0);
	assert_int_equal(sip_dialogs_add(t, d, &(struct sip_dialog_owner){0}), EINVAL);
	assert_int_equal(sip_dialogs_add(t, d, &o), 0);
	assert_int_equal(sip_dialogs_add(t, d, &o), EINVAL); /* already in one */
	assert_int_not_equal(sip_dialog_id(d), 0);
	assert_ptr_equal(sip_dialogs_lookup(t, sip_dialog_id(d)), d);
	assert_ptr_equal(sip_dialogs_find(t, PL("call-7@192.0.2.1"), PL("alicetag"),
					  PL("bobtag")),
			 d);
	assert_null(sip_dialogs_find(t, PL("call-7@192.0.2.1"), PL("alicetag"), PL("x")));
	assert_null(sip_dialogs_find(t, PL("call-8"), PL("alicetag"), PL("bobtag")));

	/* an in-dialog INFO: to the owner with its flow; not a target refresh */
	m = in_dialog("INFO", 11, "bobtag", "<sip:bob@203.0.113.5>");
	assert_int_equal(sip_dialogs_request(t, NULL, m, &f, &sc), 0);
	assert_int_equal(sc, 0);
	assert_int_equal(seen.reqs, 1);
	assert_int_equal(seen.meth, SIP_METHOD_INFO);
	assert_ptr_equal(seen.flow, &f);
	assert_ptr_equal(seen.obj, &obj);
	assert_int_equal(sip_dialog_remote_cseq(d), 11);
	assert_string_equal(sip_dialog_target(d), "sip:bob@192.0.2.1:5060");
	mem_deref(m);
	/* a re-INVITE is a target refresh (§12.2.2) */
	m = in_dialog("INVITE", 12, "bobtag", "<sip:bob@203.0.113.5:5090>");
	assert_int_equal(sip_dialogs_request(t, NULL, m, &f, &sc), 0);
	assert_int_equal(seen.reqs, 2);
	assert_string_equal(sip_dialog_target(d), "sip:bob@203.0.113.5:5090");
	mem_deref(m);
	/* lower CSeq: 500, nothing delivered, nothing changed */
	m = in_dialog("UPDATE", 9, "bobtag", "<sip:bob@203.0.113.6>");
	assert_int_equal(sip_dialogs_request(t, NULL, m, &f, &sc), 0);
	assert_int_equal(sc, 500);
	assert_string_equal(sip_dialog_reason(sc), "Server Internal Error - CSeq out of order");
	assert_int_equal(seen.reqs, 2);
	assert_int_equal(sip_dialog_remote_cseq(d), 12);
	assert_string_equal(sip_dialog_target(d), "sip:bob@203.0.113.5:5090");
	mem_deref(m);
	/* the ACK of the 2xx goes to ack_h, CSeq unchecked */
	m = in_dialog("ACK", 12, "bobtag", NULL);
	assert_int_equal(sip_dialogs_request(t, NULL, m, &f, &sc), ENOENT);
	assert_int_equal(sip_dialogs_ack(t, m, &f), 0);
	assert_int_equal(seen.acks, 1);
	mem_deref(m);
	/* CANCEL is hop by hop, another remote tag is another dialog */
	m = in_dialog("CANCEL", 12, "bobtag", NULL);
	assert_int_equal(sip_dialogs_request(t, NULL, m, &f, &sc), ENOENT);
	mem_deref(m);
	m = in_dialog("BYE", 13, "othertag", NULL);
	assert_int_equal(sip_dialogs_request(t, NULL, m, &f, &sc), ENOENT);
	assert_int_equal(sip_dialogs_ack(t, m, &f), ENOENT);
	mem_deref(m);
	/* the owner may end the dialog from its handler */
	seen.end_it = true;
	m = in_dialog("BYE", 14, "bobtag", NULL);
	assert_int_equal(sip_dialogs_request(t, NULL, m, &f, &sc), 0);
	assert_int_equal(seen.reqs, 3);
	assert_int_equal(sip_dialogs_count(t), 0);
	assert_null(sip_dialogs_lookup(t, sip_dialog_id(d)));
	assert_int_equal(sip_dialogs_request(t, NULL, m, &f, &sc), ENOENT);
	mem_deref(m);
	sip_dialog_end(d); /* idempotent */
	mem_deref(d);
	sip_dialogs_free(t);
}

static void test_table_bound_and_free(void **state)
{
	struct sip_dialogs *t = NULL;
	struct sip_dialog *d[3] = {0}, *dup = NULL;
	struct seen seen = {0};
	struct sip_dialog_owner o = {seen_req_h, NULL, &seen, NULL};
	struct sip_msg *req = dec(invite);
	struct sip_msg *resp;
	char tag[16];

	(void)state;
	assert_int_equal(sip_dialogs_alloc(&t, 2), 0);
	assert_int_equal(sip_dialogs_max(t), 2);
	for (int i = 0; i < 3; i++) {
		struct sip_dialog_uas_prm p = {.req = req};

		snprintf(tag, sizeof(tag), "tag%d", i);
		p.local_tag = pl_from_str(tag);
		assert_int_equal(sip_dialog_uas_alloc(&d[i], &p), 0);
		assert_int_equal(sip_dialogs_add(t, d[i], &o), i < 2 ? 0 : ENOSPC);
	}
	assert_int_equal(sip_dialogs_count(t), 2);
	{
		struct sip_dialog_uas_prm p = {.req = req, .local_tag = PL("tag0")};

		assert_int_equal(sip_dialog_uas_alloc(&dup, &p), 0);
	}
	sip_dialog_end(d[1]);
	assert_int_equal(sip_dialogs_add(t, dup, &o), EEXIST);
	{
		/* one the table alone holds: freed with the table */
		struct sip_dialog_uas_prm p = {.req = req, .local_tag = PL("tagx")};
		struct sip_dialog *x = NULL;

		assert_int_equal(sip_dialog_uas_alloc(&x, &p), 0);
		assert_int_equal(sip_dialogs_add(t, x, &o), 0);
		mem_deref(x);
		assert_int_equal(sip_dialogs_count(t), 2);
	}
	/* a response matches with its From tag as ours */
	resp = dec("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKn\r\n"
		   "From: <sip:alice@ims.test>;tag=tag0\r\nTo: <sip:bob@ims.test>;tag=bobtag\r\n"
		   "Call-ID: call-7@192.0.2.1\r\nCSeq: 1 NOTIFY\r\n\r\n");
	assert_ptr_equal(sip_dialogs_match(t, resp), d[0]);
	mem_deref(resp);
	/* the table goes first: its dialogs end, owners keep theirs */
	sip_dialogs_free(t);
	assert_int_equal(sip_dialog_id(d[0]) != 0, 1);
	sip_dialog_end(d[0]);
	for (int i = 0; i < 3; i++)
		mem_deref(d[i]);
	mem_deref(dup);
	mem_deref(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uas_create),
	    cmocka_unit_test(test_uas_early_confirm),
	    cmocka_unit_test(test_uas_refused),
	    cmocka_unit_test(test_uac_create_early_confirm),
	    cmocka_unit_test(test_request_loose),
	    cmocka_unit_test(test_request_strict_and_none),
	    cmocka_unit_test(test_table_match_deliver),
	    cmocka_unit_test(test_table_bound_and_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
