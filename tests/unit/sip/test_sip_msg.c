/* Unit tests: sip decode, framing, typed headers, URIs, serializer, checks. */
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
#include "sip/sip_build.h"
#include "sip/sip_check.h"
#include "sip/sip_hdr.h"
#include "sip/sip_msg.h"
#include "sip/sip_uri.h"

static const char reg[] =
	"REGISTER sip:ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n"
	"v: SIP/2.0/UDP [2001:db8::5]:5060;branch=z9hG4bK1;rport\r\n"
	"Max-Forwards: 70\r\n"
	"f: <sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org>;tag=abc\r\n"
	"t: <sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org>\r\n"
	"i: reg1@2001:db8::5\r\n"
	"CSeq: 1 REGISTER\r\n"
	"m: <sip:001010000000001@[2001:db8::5]:5060>;expires=600000;q=0.5;"
	"+sip.instance=\"<urn:gsma:imei:35000000-000000-0>\";reg-id=1,\r\n"
	" <sip:alt@192.0.2.9>\r\n"
	"Authorization: Digest username=\"001010000000001@ims.mnc001.mcc001.3gppnetwork.org\","
	"realm=\"ims.mnc001.mcc001.3gppnetwork.org\",nonce=\"a\\\"b\",uri=\"sip:ims\","
	"response=\"\",algorithm=AKAv1-MD5,qop=auth,nc=00000001,cnonce=\"x\","
	"integrity-protected=\"no\"\r\n"
	"Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;ealg=null;spi-c=1111;spi-s=2222;"
	"port-c=5062;port-s=5064;prot=esp;mod=trans, tls;q=0.1\r\n"
	"Supported: path, sec-agree\r\n"
	"Require: sec-agree\r\n"
	"P-Access-Network-Info: 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=0010100010019B01\r\n"
	"Event: reg;id=7\r\n"
	"Subscription-State: active;expires=3600\r\n"
	"RSeq: 9\r\nRAck: 9 1 INVITE\r\n"
	"x: 1800;refresher=uas\r\nMin-SE: 90\r\n"
	"Route: <sip:pcscf.ims;lr>, <sip:scscf.ims;lr>\r\n"
	"l: 0\r\n\r\n";

static struct sip_msg *dec(const char *s)
{
	struct sip_msg *msg = NULL;

	assert_int_equal(sip_msg_decode_copy(&msg, s, strlen(s), NULL), 0);
	return msg;
}

static void test_decode(void **state)
{
	struct sip_msg *msg = dec(reg);
	const struct sip_hdr *h;

	(void)state;
	assert_true(msg->req);
	assert_int_equal(msg->meth, SIP_METHOD_REGISTER);
	assert_int_equal(msg->ver_major, 2);
	assert_int_equal(sip_msg_hdr_count(msg, SIP_HDR_CONTACT), 2);
	assert_int_equal(sip_msg_hdr_lines(msg, SIP_HDR_CONTACT), 1);
	assert_int_equal(sip_msg_hdr_count(msg, SIP_HDR_SECURITY_CLIENT), 2);
	assert_int_equal(sip_msg_hdr_count(msg, SIP_HDR_ROUTE), 2);
	h = sip_msg_hdr(msg, SIP_HDR_CALL_ID);
	assert_true(pl_eq_str(h->val, "reg1@2001:db8::5"));
	assert_true(pl_eq_str(h->name, "i"));
	assert_non_null(sip_msg_hdr_name(msg, PL("call-id")));
	assert_non_null(sip_msg_hdr_name(msg, PL("Session-Expires")));
	assert_true(msg->clen_set);
	assert_int_equal(msg->clen, 0);
	mem_deref(msg);
}

static void test_decode_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"INVITE\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n",             /* no blank line */
		"INVITE sip:a@b SIP/2.0\r\nVia x\r\n\r\n",          /* no colon */
		"INVITE sip:a@b SIP/2.0\r\n bad: x\r\n\r\n",        /* fold first */
		"INVITE sip:a@b SIP/2.0\nVia: x\n\n",               /* bare LF */
		"INVITE sip:a@b HTTP/1.1\r\n\r\n",
		"SIP/2.0 99 x\r\n\r\n",
		"SIP/2.0 2000 x\r\n\r\n",
		"SIP/2.0 200 x\rY\r\n\r\n",
	};
	struct sip_msg *msg;
	struct mbuf mb;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg = NULL;
		assert_int_not_equal(sip_msg_decode_copy(&msg, bad[i], strlen(bad[i]), NULL), 0);
		assert_null(msg);
	}
	/* bounds: too many headers, too large */
	mbuf_init(&mb, 0);
	assert_int_equal(mbuf_write_str(&mb, "OPTIONS sip:a@b SIP/2.0\r\n"), 0);
	for (int i = 0; i < 300; i++)
		assert_int_equal(mbuf_printf(&mb, "X-H%d: v\r\n", i), 0);
	assert_int_equal(mbuf_write_str(&mb, "\r\n"), 0);
	assert_int_equal(sip_msg_decode_copy(&msg, mb.buf, mb.end, NULL), E2BIG);
	struct sip_decode_prm small = {.max_size = 100};
	assert_int_equal(sip_msg_decode_copy(&msg, mb.buf, mb.end, &small), EMSGSIZE);
	mbuf_reset(&mb);
}

static void test_frame(void **state)
{
	static const char m[] = "OPTIONS sip:a@b SIP/2.0\r\nl: 4\r\n\r\nbody";
	char buf[256];
	struct sip_frame f;

	(void)state;
	for (size_t n = 0; n < sizeof(m) - 1; n++)
		assert_int_equal(sip_frame(m, n, 0, &f), ENODATA);
	memcpy(buf, m, sizeof(m) - 1);
	memcpy(buf + sizeof(m) - 1, "INVITE", 6);
	assert_int_equal(sip_frame(buf, sizeof(m) - 1 + 6, 0, &f), 0);
	assert_int_equal(f.kind, SIP_FRAME_MSG);
	assert_int_equal(f.len, sizeof(m) - 1);
	assert_int_equal(sip_frame("\r\n\r\n", 4, 0, &f), 0);
	assert_int_equal(f.kind, SIP_FRAME_PING);
	assert_int_equal(f.len, 4);
	assert_int_equal(sip_frame("\r\n", 2, 0, &f), ENODATA);
	assert_int_equal(sip_frame("\r\nINV", 5, 0, &f), 0);
	assert_int_equal(f.kind, SIP_FRAME_PONG);
	assert_int_equal(sip_frame("\x01garbage", 8, 0, &f), EBADMSG);
	assert_int_equal(sip_frame("OPTIONS sip:a@b SIP/2.0\r\n\r\n", 27, 0, &f), EBADMSG);
	assert_int_equal(sip_frame("OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\n", 39, 0,
				   &f), EBADMSG);
	assert_int_equal(sip_frame(m, sizeof(m) - 1, 20, &f), EBADMSG);
	assert_int_equal(sip_frame("A\r\nl: 99999\r\n\r\n", 15, 100, &f), EMSGSIZE);
	assert_int_equal(f.len, 15 + 99999); /* the whole message, to be skipped */
	assert_true(sip_is_keepalive("\r\n\r\n", 4));
	assert_false(sip_is_keepalive("\r\nx\n", 4));
}

static void test_via(void **state)
{
	struct sip_via v;

	(void)state;
	assert_int_equal(sip_via_decode(&v, PL("SIP/2.0/UDP [2001:db8::5]:5060;branch=z9hG4bK1;"
					      "rport;received=2001:db8::9;maddr=224.0.0.1;ttl=16")),
			 0);
	assert_true(pl_eq_str(v.transport, "UDP"));
	assert_true(pl_eq_str(v.host, "2001:db8::5"));
	assert_int_equal(v.host_type, SIP_HOST_IPV6);
	assert_int_equal(v.port, 5060);
	assert_true(v.rport);
	assert_int_equal(v.rport_val, 0);
	assert_true(pl_eq_str(v.received, "2001:db8::9"));
	assert_int_equal(v.ttl, 16);
	assert_true(sip_via_branch_is_3261(&v));
	assert_int_equal(sip_via_decode(&v, PL("SIP / 2.0 / TCP host.example.com ;rport=5070")), 0);
	assert_int_equal(v.rport_val, 5070);
	assert_false(sip_via_branch_is_3261(&v));
	assert_int_equal(sip_via_decode(&v, PL("SIP/2.0/UDP h;;")), EBADMSG);
	assert_int_equal(sip_via_decode(&v, PL("SIP/2.0/UDP h:70000")), EBADMSG);
	assert_int_equal(sip_via_decode(&v, PL("SIP/2.0/UDP h;rport=x")), EBADMSG);
	assert_int_equal(sip_via_decode(&v, PL("SIP/2.0/UDP h;ttl=256")), EBADMSG);
	assert_int_equal(sip_via_decode(&v, PL("SIP/2.0/UDP h;received=300.1.1.1")), EBADMSG);
}

static void test_addr(void **state)
{
	struct sip_addr a;
	struct pl inst;
	uint32_t u;
	uint16_t q;
	char buf[64];

	(void)state;
	assert_int_equal(sip_addr_decode(&a, PL("\"A \\\"B\\\" C\" <sip:a@b;lr>;tag=x1")), 0);
	assert_true(a.dname_quoted);
	assert_int_equal(sip_pl_unquote(a.dname, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "A \"B\" C");
	assert_true(pl_eq_str(a.uri, "sip:a@b;lr"));
	assert_true(pl_eq_str(a.tag, "x1"));
	assert_int_equal(sip_addr_decode(&a, PL("Bob Smith <tel:+1-555-0100>")), 0);
	assert_true(pl_eq_str(a.dname, "Bob Smith"));
	assert_int_equal(sip_addr_decode(&a, PL("sip:a@b;tag=1;expires=4294967296")), 0);
	assert_true(pl_eq_str(a.uri, "sip:a@b"));
	assert_int_equal(sip_addr_expires(&a, &u), 0);
	assert_int_equal(u, UINT32_MAX);
	assert_int_equal(sip_addr_decode(&a, PL("<sip:a@b>;q=0.7;+sip.instance=\"<urn:uuid:1-2>\""
					       ";reg-id=2")), 0);
	assert_int_equal(sip_addr_q(&a, &q), 0);
	assert_int_equal(q, 700);
	assert_int_equal(sip_addr_instance(&a, &inst), 0);
	assert_true(pl_eq_str(inst, "urn:uuid:1-2"));
	assert_int_equal(sip_addr_regid(&a, &u), 0);
	assert_int_equal(u, 2);
	assert_int_equal(sip_addr_decode(&a, PL("*")), 0);
	assert_true(a.star);
	assert_int_equal(sip_addr_decode(&a, PL("<urn:service:sos>")), 0);
	assert_int_equal(sip_addr_decode(&a, PL("\"unterminated <sip:a@b>")), EBADMSG);
	assert_int_equal(sip_addr_decode(&a, PL("< sip:a@b>")), EBADMSG);
	assert_int_equal(sip_addr_decode(&a, PL("sip:a@b?x=y")), EBADMSG);
	assert_int_equal(sip_addr_decode(&a, PL("<sip:a@b>;tag")), EBADMSG);
	assert_int_equal(sip_addr_decode(&a, PL("<sip:a@b>;q=2")), 0);
	assert_int_equal(sip_addr_q(&a, &q), EBADMSG);
}

static void test_headers(void **state)
{
	struct sip_msg *msg = dec(reg);
	struct sip_auth au;
	struct sip_secmech sm;
	struct sip_pani pani;
	struct sip_event ev;
	struct sip_substate ss;
	struct sip_rack rack;
	struct sip_sessexp se;
	struct sip_cseq cs;
	struct sip_ctype ct;
	struct pl tok, v;
	uint32_t u;
	const struct sip_hdr *h;

	(void)state;
	assert_int_equal(sip_auth_decode(&au, sip_msg_hdr(msg, SIP_HDR_AUTHORIZATION)->val), 0);
	assert_true(pl_eq_str(au.scheme, "Digest"));
	assert_true(pl_eq_str(au.realm, "ims.mnc001.mcc001.3gppnetwork.org"));
	assert_true(pl_eq_str(au.nonce, "a\\\"b"));
	assert_true(pl_eq_str(au.algorithm, "AKAv1-MD5"));
	assert_true(pl_eq_str(au.nc, "00000001"));
	assert_true(pl_eq_str(au.integrity_protected, "no"));
	assert_int_equal(au.response.l, 0);
	assert_non_null(au.response.p);
	assert_int_equal(sip_auth_param_get(&au, "cnonce", &v), 0);
	assert_int_equal(sip_auth_decode(&au, PL("Digest")), EBADMSG);
	assert_int_equal(sip_auth_decode(&au, PL("Digest realm=\"x")), EBADMSG);
	assert_int_equal(sip_authinfo_decode(&au, PL("nextnonce=\"n2\", rspauth=\"ab\"")), 0);
	assert_true(pl_eq_str(au.nextnonce, "n2"));
	h = sip_msg_hdr(msg, SIP_HDR_SECURITY_CLIENT);
	assert_int_equal(sip_secmech_decode(&sm, h->val), 0);
	assert_true(pl_eq_str(sm.mech, "ipsec-3gpp"));
	assert_true(pl_eq_str(sm.alg, "hmac-sha-1-96"));
	assert_int_equal(sm.spi_c, 1111);
	assert_int_equal(sm.spi_s, 2222);
	assert_int_equal(sm.port_c, 5062);
	assert_int_equal(sm.port_s, 5064);
	assert_true(pl_eq_str(sm.mod, "trans"));
	h = sip_msg_hdr_next(msg, h);
	assert_int_equal(sip_secmech_decode(&sm, h->val), 0);
	assert_true(sm.q_set);
	assert_int_equal(sm.q1000, 100);
	assert_int_equal(sip_secmech_decode(&sm, PL("ipsec-3gpp;port-c=99999")), EBADMSG);
	assert_int_equal(sip_pani_decode(&pani, sip_msg_hdr(msg, SIP_HDR_P_ACCESS_NETWORK_INFO)->val), 0);
	assert_true(pl_eq_str(pani.access_type, "3GPP-E-UTRAN-FDD"));
	assert_int_equal(sip_param_get(pani.params, "utran-cell-id-3gpp", &v), 0);
	assert_true(pl_eq_str(v, "0010100010019B01"));
	assert_int_equal(sip_event_decode(&ev, sip_msg_hdr(msg, SIP_HDR_EVENT)->val), 0);
	assert_true(pl_eq_str(ev.package, "reg") && pl_eq_str(ev.id, "7"));
	assert_int_equal(sip_substate_decode(&ss, sip_msg_hdr(msg, SIP_HDR_SUBSCRIPTION_STATE)->val), 0);
	assert_true(ss.expires_set);
	assert_int_equal(ss.expires, 3600);
	assert_int_equal(sip_rack_decode(&rack, sip_msg_hdr(msg, SIP_HDR_RACK)->val), 0);
	assert_int_equal(rack.rseq, 9);
	assert_true(pl_eq_str(rack.method, "INVITE"));
	assert_int_equal(sip_sessexp_decode(&se, sip_msg_hdr(msg, SIP_HDR_SESSION_EXPIRES)->val), 0);
	assert_int_equal(se.delta, 1800);
	assert_int_equal(se.refresher, SIP_REFRESHER_UAS);
	assert_int_equal(sip_sessexp_decode(&se, PL("90;refresher=x")), EBADMSG);
	assert_int_equal(sip_uint_decode(sip_msg_hdr(msg, SIP_HDR_MIN_SE)->val, UINT32_MAX, &u), 0);
	assert_int_equal(u, 90);
	assert_int_equal(sip_cseq_decode(&cs, PL("0009\r\n  INVITE")), 0);
	assert_int_equal(cs.num, 9);
	assert_int_equal(cs.meth, SIP_METHOD_INVITE);
	assert_int_equal(sip_cseq_decode(&cs, PL("4294967296 INVITE")), EBADMSG);
	assert_int_equal(sip_cseq_decode(&cs, PL("1INVITE")), EBADMSG);
	assert_int_equal(sip_ctype_decode(&ct, PL("application/sdp;charset=utf-8")), 0);
	assert_true(pl_eq_str(ct.subtype, "sdp"));
	assert_int_equal(sip_ctype_decode(&ct, PL("application")), EBADMSG);
	assert_int_equal(sip_token_decode(PL(" path "), &tok), 0);
	assert_int_equal(sip_token_decode(PL("pa th"), &tok), EBADMSG);
	assert_int_equal(sip_callid_decode(PL("abc@def"), &tok), 0);
	assert_int_equal(sip_callid_decode(PL("abc def"), &tok), EBADMSG);
	assert_int_equal(sip_uint_decode(PL("256"), 255, &u), ERANGE);
	mem_deref(msg);
}

static void test_uri(void **state)
{
	struct sip_uri u;
	struct pl v;
	char buf[32];
	size_t n;

	(void)state;
	assert_int_equal(sip_uri_decode(&u, PL("sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr"
					      "?Subject=hi&Priority=urgent")), 0);
	assert_int_equal(u.scheme, SIP_URI_SIPS);
	assert_true(pl_eq_str(u.user, "alice") && pl_eq_str(u.password, "pw"));
	assert_true(pl_eq_str(u.host, "2001:db8::1"));
	assert_int_equal(u.port, 5061);
	assert_int_equal(sip_uri_param_get(&u, "lr", &v), 0);
	assert_int_equal(v.l, 0);
	assert_int_equal(sip_uri_param_get(&u, "transport", &v), 0);
	assert_true(pl_eq_str(v, "tcp"));
	assert_true(pl_eq_str(u.headers, "Subject=hi&Priority=urgent"));
	assert_int_equal(sip_uri_decode(&u, PL("tel:+1-201-555-0123;phone-context=x")), 0);
	assert_int_equal(u.scheme, SIP_URI_TEL);
	assert_int_equal(sip_uri_decode(&u, PL("tel:7042;phone-context=example.com")), 0);
	assert_int_equal(sip_uri_decode(&u, PL("tel:7042")), EBADMSG);
	assert_int_equal(sip_uri_decode(&u, PL("urn:service:sos")), 0);
	assert_int_equal(u.scheme, SIP_URI_URN);
	assert_int_equal(sip_uri_decode(&u, PL("http://www.example.com/x")), 0);
	assert_int_equal(u.scheme, SIP_URI_OTHER);
	assert_int_equal(sip_uri_decode(&u, PL("sip:a@b:99999")), EBADMSG);
	assert_int_equal(sip_uri_decode(&u, PL("sip:a@[::1")), EBADMSG);
	assert_int_equal(sip_uri_decode(&u, PL("sip:a%4@b")), EBADMSG);
	assert_int_equal(sip_uri_decode(&u, PL("sip:a@1.2.3.256")), EBADMSG);
	assert_int_equal(sip_uri_decode(&u, PL("sip:a b@c")), EBADMSG);
	assert_int_equal(sip_pl_unescape(PL("a%40b%00"), buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "a@b\0", 4);
	/* RFC 3261 §19.1.4 examples */
	assert_true(sip_uri_cmp(PL("sip:%61lice@atlanta.com;transport=TCP"),
				PL("sip:alice@AtLanTa.CoM;Transport=tcp")));
	assert_true(sip_uri_cmp(PL("sip:carol@chicago.com"),
				PL("sip:carol@chicago.com;newparam=5")));
	assert_true(sip_uri_cmp(PL("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com"),
				PL("sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com")));
	assert_false(sip_uri_cmp(PL("SIP:ALICE@AtLanTa.CoM;Transport=udp"),
				 PL("sip:alice@AtLanTa.CoM;Transport=UDP")));
	assert_false(sip_uri_cmp(PL("sip:bob@biloxi.com"), PL("sip:bob@biloxi.com:5060")));
	assert_false(sip_uri_cmp(PL("sip:bob@biloxi.com"), PL("sip:bob@biloxi.com;transport=udp")));
	assert_false(sip_uri_cmp(PL("sip:carol@chicago.com;security=on"),
				 PL("sip:carol@chicago.com;security=off")));
	assert_false(sip_uri_cmp(PL("sip:a@b"), PL("sips:a@b")));
	assert_true(sip_uri_cmp(PL("sip:a@[2001:db8::1]"), PL("sip:a@[2001:DB8:0::1]")));
	assert_true(sip_uri_cmp(PL("tel:+1-201-555-0123"), PL("tel:+1.201.5550123")));
}

/* The URI memo behind sip_addr_decode answers by the exact bytes: a URI
 * accepted before does not make a near copy pass, in any slot. */
static void test_addr_uri_memo(void **state)
{
	struct sip_addr a;
	char buf[64];

	(void)state;
	for (int round = 0; round < 2; round++) {
		assert_int_equal(sip_addr_decode(&a, PL("<sip:alice@example.com>;tag=1")), 0);
		assert_int_equal(sip_addr_decode(&a, PL("<sip:bob@example.com>")), 0);
		assert_int_equal(sip_addr_decode(&a, PL("<sip:alice@exa mple.com>")), EBADMSG);
		assert_int_equal(sip_addr_decode(&a, PL("<sip:alice@example.com:99999>")),
				 EBADMSG);
		assert_int_equal(sip_addr_decode(&a, PL("<sip:alice@example.com>;tag=2")), 0);
	}
	/* the same text at another address, and a changed byte at the same one */
	snprintf(buf, sizeof(buf), "<sip:bob@example.com>");
	assert_int_equal(sip_addr_decode(&a, pl_from_str(buf)), 0);
	buf[13] = '[';
	assert_int_equal(sip_addr_decode(&a, pl_from_str(buf)), EBADMSG);
	/* more URIs than slots, then the first again */
	for (int i = 0; i < 8; i++) {
		snprintf(buf, sizeof(buf), "<sip:u%d@example.com>", i);
		assert_int_equal(sip_addr_decode(&a, pl_from_str(buf)), 0);
	}
	assert_int_equal(sip_addr_decode(&a, PL("<sip:u0@example.com>")), 0);
	assert_int_equal(sip_addr_decode(&a, PL("<sip:u0@example..com>")), EBADMSG);
}

/* sip_msg_via/from/to/cseq: decoded once, the same answer as the decoders,
 * NULL for an absent or malformed header (and still NULL when asked again). */
static void test_msg_memo(void **state)
{
	struct sip_msg *msg = dec(reg);
	const struct sip_via *v;
	const struct sip_addr *f, *t;
	const struct sip_cseq *cs;

	(void)state;
	v = sip_msg_via(msg);
	assert_non_null(v);
	assert_ptr_equal(sip_msg_via(msg), v);
	assert_true(pl_eq(v->branch, PL("z9hG4bK1")));
	assert_true(pl_eq(v->host, PL("2001:db8::5")));
	assert_true(v->rport);
	f = sip_msg_from(msg);
	t = sip_msg_to(msg);
	assert_non_null(f);
	assert_non_null(t);
	assert_ptr_equal(sip_msg_from(msg), f);
	assert_ptr_equal(sip_msg_to(msg), t);
	assert_true(pl_eq(f->tag, PL("abc")));
	assert_int_equal(t->tag.l, 0);
	assert_true(pl_eq(t->uri, PL("sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org")));
	cs = sip_msg_cseq(msg);
	assert_non_null(cs);
	assert_ptr_equal(sip_msg_cseq(msg), cs);
	assert_int_equal(cs->num, 1);
	assert_int_equal(cs->meth, SIP_METHOD_REGISTER);
	mem_deref(msg);

	/* a bad top Via, a bad To, no From and a bad CSeq */
	msg = dec("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a b\r\n"
		  "Via: SIP/2.0/UDP h;branch=z9hG4bK2\r\nTo: <sip:x@y\r\n"
		  "Call-ID: 1\r\nCSeq: x OPTIONS\r\nContent-Length: 0\r\n\r\n");
	for (int i = 0; i < 2; i++) {
		assert_null(sip_msg_via(msg));
		assert_null(sip_msg_to(msg));
		assert_null(sip_msg_from(msg));
		assert_null(sip_msg_cseq(msg));
	}
	mem_deref(msg);
	assert_null(sip_msg_via(NULL));
	assert_null(sip_msg_from(NULL));
	assert_null(sip_msg_to(NULL));
	assert_null(sip_msg_cseq(NULL));
}

static void test_response(void **state)
{
	struct sip_msg *req = dec(reg), *resp;
	struct sip_resp_prm rp = {.scode = 200, .reason = PL("OK"), .to_tag = PL("tt9"),
				  .hdrs = PL("Service-Route: <sip:scscf;lr>\r\n")};
	struct sip_addr a;
	struct mbuf mb;

	(void)state;
	mbuf_init(&mb, 0);
	assert_int_equal(sip_resp_build(&mb, req, &rp), 0);
	assert_int_equal(sip_msg_decode_copy(&resp, mb.buf, mb.end, NULL), 0);
	assert_int_equal(resp->scode, 200);
	assert_true(pl_eq(sip_msg_hdr(resp, SIP_HDR_VIA)->line, sip_msg_hdr(req, SIP_HDR_VIA)->line));
	assert_true(pl_eq(sip_msg_hdr(resp, SIP_HDR_CALL_ID)->val, sip_msg_hdr(req, SIP_HDR_CALL_ID)->val));
	assert_true(pl_eq(sip_msg_hdr(resp, SIP_HDR_CSEQ)->val, sip_msg_hdr(req, SIP_HDR_CSEQ)->val));
	assert_int_equal(sip_addr_decode(&a, sip_msg_hdr(resp, SIP_HDR_TO)->val), 0);
	assert_true(pl_eq_str(a.tag, "tt9"));
	assert_int_equal(resp->clen, 0);
	assert_non_null(sip_msg_hdr(resp, SIP_HDR_SERVICE_ROUTE));
	mem_deref(resp);
	/* a request built from parts decodes back to the same parts */
	struct sip_req_prm q = {.method = PL("INVITE"), .ruri = PL("sip:b@example.com"),
				.via = PL("SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKx"),
				.from = PL("<sip:a@example.com>;tag=1"), .to = PL("<sip:b@example.com>"),
				.call_id = PL("c1"), .cseq = 5, .ctype = PL("application/sdp"),
				.body = PL("v=0\r\n")};
	mbuf_clear(&mb);
	assert_int_equal(sip_req_build(&mb, &q), 0);
	assert_int_equal(sip_msg_decode_copy(&resp, mb.buf, mb.end, NULL), 0);
	assert_true(pl_eq_str(resp->body, "v=0\r\n"));
	assert_int_equal(resp->clen, 5);
	struct sip_verdict v;
	sip_msg_check(resp, NULL, &v);
	assert_int_equal(v.scode, 0);
	mem_deref(resp);
	mem_deref(req);
	mbuf_reset(&mb);
}

static void test_forward(void **state)
{
	struct sip_msg *msg = dec(reg), *out;
	const struct sip_hdr *route = sip_msg_hdr(msg, SIP_HDR_ROUTE);
	const struct sip_hdr *sup = sip_msg_hdr(msg, SIP_HDR_SUPPORTED);
	struct sip_edit ed[] = {
		{.op = SIP_EDIT_REMOVE, .hdr = route},
		{.op = SIP_EDIT_ADD, .hdr = sup, .name = PL("Path"), .val = PL("<sip:pcscf;lr>")},
		{.op = SIP_EDIT_REPLACE, .hdr = sip_msg_hdr(msg, SIP_HDR_MAX_FORWARDS), .val = PL("69")},
	};
	struct sip_fwd_prm fp = {.ruri = PL("sip:scscf.ims"), .via = PL("SIP/2.0/UDP pcscf;branch=z9hG4bKp"),
				 .editv = ed, .editc = 3, .body_set = true, .body = PL("hello")};
	struct mbuf mb;

	(void)state;
	mbuf_init(&mb, 0);
	assert_int_equal(sip_msg_forward(&mb, msg, &fp), 0);
	assert_int_equal(sip_msg_decode_copy(&out, mb.buf, mb.end, NULL), 0);
	assert_true(pl_eq_str(out->ruri, "sip:scscf.ims"));
	assert_int_equal(sip_msg_hdr_count(out, SIP_HDR_VIA), 2);
	assert_true(pl_eq_str(sip_msg_hdr(out, SIP_HDR_ROUTE)->val, "<sip:scscf.ims;lr>"));
	assert_int_equal(sip_msg_hdr_count(out, SIP_HDR_ROUTE), 1);
	assert_true(pl_eq_str(sip_msg_hdr(out, SIP_HDR_MAX_FORWARDS)->val, "69"));
	assert_true(sip_msg_hdr(out, SIP_HDR_PATH) + 1 == sip_msg_hdr(out, SIP_HDR_SUPPORTED));
	assert_true(pl_eq_str(out->body, "hello"));
	assert_int_equal(out->clen, 5);
	/* every untouched line is byte-identical, compact names included */
	for (size_t i = 0; i < msg->hdrc; i++) {
		const struct sip_hdr *h = &msg->hdrv[i];

		if (h->id == SIP_HDR_ROUTE || h->id == SIP_HDR_MAX_FORWARDS ||
		    h->id == SIP_HDR_CONTENT_LENGTH)
			continue;
		assert_non_null(memmem(mb.buf, mb.end, h->line.p, h->line.l));
	}
	mem_deref(out);
	/* no edits: output equals input */
	struct sip_fwd_prm none = {0};
	mbuf_clear(&mb);
	assert_int_equal(sip_msg_forward(&mb, msg, &none), 0);
	assert_int_equal(mb.end, strlen(reg));
	assert_memory_equal(mb.buf, reg, mb.end);
	mem_deref(msg);
	mbuf_reset(&mb);
}

static void test_check(void **state)
{
	static const char *const sup[] = {"path", NULL};
	struct sip_msg *msg = dec(reg);
	struct sip_check_prm prm = {.supported = sup};
	struct sip_verdict v;
	char hash[17];
	struct mbuf mb;

	(void)state;
	sip_msg_check(msg, &prm, &v);
	assert_int_equal(v.scode, 420);
	assert_int_equal(v.n_unsup, 1);
	assert_true(pl_eq_str(v.unsup[0], "sec-agree"));
	mbuf_init(&mb, 0);
	assert_int_equal(sip_error_build(&mb, msg, &v, PL("t1")), 0);
	assert_non_null(memmem(mb.buf, mb.end, "\r\nUnsupported: sec-agree\r\n", 26));
	assert_memory_equal(mb.buf, "SIP/2.0 420 Bad Extension\r\n", 27);
	mbuf_reset(&mb);
	prm.max_size = 100;
	sip_msg_check(msg, &prm, &v);
	assert_int_equal(v.scode, 513);
	mem_deref(msg);
	/* loop detection: our Via with this request's hash */
	msg = dec("OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
		  "f: <sip:a@x>;tag=1\r\nt: <sip:b@x>\r\ni: c\r\nCSeq: 1 OPTIONS\r\n"
		  "Max-Forwards: 5\r\n\r\n");
	assert_int_equal(sip_msg_loop_hash(msg, hash, sizeof(hash)), 0);
	mem_deref(msg);
	char looped[512];
	snprintf(looped, sizeof(looped),
		 "OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
		 "f: <sip:a@x>;tag=1\r\nt: <sip:b@x>\r\ni: c\r\nCSeq: 1 OPTIONS\r\n"
		 "Max-Forwards: 5\r\nVia: SIP/2.0/UDP proxy.ims:5060;branch=z9hG4bKq.%s\r\n\r\n",
		 hash);
	msg = dec(looped);
	prm = (struct sip_check_prm){.proxy = true, .via_host = PL("proxy.ims"),
				     .loop_hash = pl_from_str(hash)};
	sip_msg_check(msg, &prm, &v);
	assert_int_equal(v.scode, 482);
	prm.loop_hash = PL("0000000000000000");
	sip_msg_check(msg, &prm, &v);
	assert_int_equal(v.scode, 0);
	mem_deref(msg);
	/* Proxy-Require: a proxy's header; a UAS that is also the first proxy
	 * (proxy_require) reads both, and lists a tag named twice once */
	msg =
	    dec("REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
		"f: <sip:a@x>;tag=1\r\nt: <sip:a@x>\r\ni: c\r\nCSeq: 1 REGISTER\r\n"
		"Proxy-Require: sec-agree, foo\r\nRequire: sec-agree, foo, bar\r\n\r\n");
	static const char *const sa[] = {"sec-agree", NULL};
	prm = (struct sip_check_prm){.supported = sa};
	sip_msg_check(msg, &prm, &v);
	assert_int_equal(v.scode, 420);
	assert_int_equal(v.n_unsup, 2); /* Require only: foo, bar */
	prm.proxy = true;
	sip_msg_check(msg, &prm, &v);
	assert_int_equal(v.scode, 420);
	assert_int_equal(v.n_unsup, 1); /* Proxy-Require only: foo */
	assert_true(pl_eq_str(v.unsup[0], "foo"));
	prm = (struct sip_check_prm){.supported = sa, .proxy_require = true};
	sip_msg_check(msg, &prm, &v);
	assert_int_equal(v.scode, 420);
	assert_int_equal(v.n_unsup, 2); /* foo once, bar */
	assert_true(pl_eq_str(v.unsup[0], "foo"));
	assert_true(pl_eq_str(v.unsup[1], "bar"));
	mem_deref(msg);
	msg = dec("REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
		  "f: <sip:a@x>;tag=1\r\nt: <sip:a@x>\r\ni: c\r\nCSeq: 1 REGISTER\r\n"
		  "Proxy-Require: foo\r\n\r\n");
	prm.proxy_require = false;
	sip_msg_check(msg, &prm, &v);
	assert_int_equal(v.scode, 0); /* a plain UAS ignores Proxy-Require */
	prm.proxy_require = true;
	sip_msg_check(msg, &prm, &v);
	assert_int_equal(v.scode, 420);
	mem_deref(msg);
	/* response faults are dropped, not answered */
	msg = dec("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\ni: c\r\n"
		  "CSeq: x\r\nf: <sip:a@x>;tag=1\r\nt: <sip:b@x>\r\n\r\n");
	sip_msg_check(msg, NULL, &v);
	assert_int_equal(v.scode, 400);
	assert_true(v.drop);
	mem_deref(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),   cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_frame),    cmocka_unit_test(test_via),
		cmocka_unit_test(test_addr),     cmocka_unit_test(test_headers),
		cmocka_unit_test(test_addr_uri_memo), cmocka_unit_test(test_msg_memo),
		cmocka_unit_test(test_uri),      cmocka_unit_test(test_response),
		cmocka_unit_test(test_forward),  cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests_name("sip_msg", tests, NULL, NULL);
}
