/* Unit tests: the CSCF stage (dispatch table, originating identification
 * by flow, asserted identity, Route set, terminating lookup). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/ims_cfg.h"
#include "core/mem.h"
#include "cscf/cscf.h"
#include "hss/hss.h"
#include "registrar/registrar.h"
#include "sip/sip_hdr.h"

/* dave: two IMPUs, the tel one asserted; erin, frank, gina: one each. No
 * authentication, so a REGISTER binds at once; gina's callflow_modifier
 * answers hers 403. */
static const char *CFG =
    "{'sip_addr': '127.0.0.1:5060', 'domain': 'ims.test', 'ue_db': ["
    "{'imsi': '001010000000004', 'impi': 'dave@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:dave', {'impu': 'tel:+33100000004', 'asserted': true}]},"
    "{'imsi': '001010000000005', 'impi': 'erin@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:erin']},"
    "{'imsi': '001010000000006', 'impi': 'frank@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:frank']},"
    "{'imsi': '001010000000007', 'impi': 'gina@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:gina'], 'callflow_modifier': {'method': 'REGISTER', 'code': 403}}]}";

static struct {
	struct ims_cfg *cfg;
	struct hss *hss;
	struct registrar *reg;
	struct cscf *cscf;
	uint16_t scode; /* the stage's last own answer */
	char reason[128];
	char hdrs[256];
	int calls; /* service handler runs */
	struct cscf_req seen;
	char asserted[256];
	char route_next[256];
	const char *to_tag; /* req(): in a dialog when set */
} T;

static struct sip_msg *decode(const char *text)
{
	struct sip_decode_prm dp = {.max_size = 65535};
	struct sip_msg *m = NULL;

	if (sip_msg_decode_copy(&m, text, strlen(text), &dp))
		fail_msg("decode: %s", text);
	return m;
}

static int reg_reply_h(struct sip_tsx *tsx, uint16_t scode, const char *reason,
		       const struct sip_tsx_reply_prm *prm, void *arg)
{
	(void)tsx;
	(void)reason;
	(void)prm;
	(void)arg;
	T.scode = scode;
	return 0;
}

static int stage_reply_h(struct sip_stack *stack, struct sip_tsx *tsx, uint16_t scode,
			 const char *reason, const struct sip_tsx_reply_prm *prm, void *arg)
{
	(void)stack;
	(void)tsx;
	(void)arg;
	T.scode = scode;
	snprintf(T.reason, sizeof(T.reason), "%s", reason);
	snprintf(T.hdrs, sizeof(T.hdrs), "%.*s", prm ? (int)prm->hdrs.l : 0,
		 prm ? prm->hdrs.p : "");
	return 0;
}

static void svc_h(const struct cscf_req *r, void *arg)
{
	(void)arg;
	T.calls++;
	T.seen = *r;
	snprintf(T.asserted, sizeof(T.asserted), "%s", r->asserted);
	snprintf(T.route_next, sizeof(T.route_next), "%.*s", (int)r->route_next.l,
		 r->route_next.p);
	T.seen.asserted = T.asserted;
}

static int setup(void **state)
{
	static const struct registrar_ops ops = {.reply = reg_reply_h};
	struct registrar_prm rp = {0};
	struct cscf_prm cp = {0};
	char err[512], text[2048];
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	json_error_t je;
	json_t *root;

	(void)state;
	memset(&T, 0, sizeof(T));
	snprintf(text, sizeof(text), "%s", CFG);
	for (char *p = text; *p; p++)
		*p = *p == '\'' ? '"' : *p;
	root = json_loads(text, 0, &je);
	assert_non_null(root);
	assert_int_equal(ims_cfg_from_json(root, NULL, &T.cfg, &d), 0);
	json_decref(root);
	assert_int_equal(hss_alloc(&T.hss, T.cfg, err, sizeof(err)), 0);
	rp.cfg = T.cfg;
	rp.hss = T.hss;
	rp.ops = &ops;
	rp.host = "127.0.0.1:5060";
	assert_int_equal(registrar_alloc(&T.reg, &rp), 0);
	cp.hss = T.hss;
	cp.reg = T.reg;
	cp.reply = stage_reply_h;
	assert_int_equal(cscf_alloc(&T.cscf, &cp), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mem_deref(T.cscf);
	mem_deref(T.reg);
	mem_deref(T.hss);
	ims_cfg_free(T.cfg);
	return 0;
}

static struct net_flow flow_v4(uint16_t port, bool tcp)
{
	struct net_flow f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(net_addr_parse_str(&f.peer, "127.0.0.1", port), 0);
	f.reliable = tcp;
	return f;
}

/* user registers from flow f (no authentication: 200 at once). */
static void ue_bind(const char *user, const struct net_flow *f)
{
	char buf[1024];
	struct sip_msg *m;

	snprintf(buf, sizeof(buf),
		 "REGISTER sip:ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKr%s\r\n"
		 "From: <sip:%s@ims.test>;tag=f\r\nTo: <sip:%s@ims.test>\r\n"
		 "Call-ID: reg-%s\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
		 "Contact: <sip:%s@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
		 net_addr_port(&f->peer), user, user, user, user, user,
		 net_addr_port(&f->peer));
	m = decode(buf);
	registrar_register_h(NULL, NULL, m, f, T.reg);
	mem_deref(m);
	assert_int_equal(T.scode, 200);
}

/* Dispatches method to ruri from flow f with extra header lines. */
static void req(const char *method, const char *ruri, const char *from, const char *hdrs,
		const struct net_flow *f)
{
	char buf[2048];
	struct sip_msg *m;

	snprintf(buf, sizeof(buf),
		 "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKq\r\n"
		 "From: <%s>;tag=f1\r\nTo: <%s>%s%s\r\nCall-ID: q@x\r\nCSeq: 1 %s\r\n"
		 "Max-Forwards: 70\r\n%sContent-Length: 0\r\n\r\n",
		 method, ruri, from, ruri, T.to_tag ? ";tag=" : "", T.to_tag ? T.to_tag : "",
		 method, hdrs);
	m = decode(buf);
	T.scode = 0;
	T.calls = 0;
	cscf_dispatch(T.cscf, NULL, NULL, m, f);
	mem_deref(m);
}

static void add_sub_svc(const char *event, bool orig, enum cscf_target target)
{
	struct cscf_service s = {.name = "test", .meth = SIP_METHOD_SUBSCRIBE,
				 .event = event, .target = target, .orig = orig,
				 .h = svc_h};

	assert_int_equal(cscf_service_add(T.cscf, &s), 0);
}

static void test_table(void **state)
{
	static char evs[CSCF_SERVICES_MAX][8];
	struct cscf_service s = {.name = "x", .meth = SIP_METHOD_MESSAGE, .h = svc_h};
	struct cscf_stats st;

	(void)state;
	assert_int_equal(cscf_service_add(T.cscf, &s), 0);
	assert_int_equal(cscf_service_add(T.cscf, &s), EEXIST);
	s.meth = SIP_METHOD_ACK;
	assert_int_equal(cscf_service_add(T.cscf, &s), EINVAL);
	s.meth = SIP_METHOD_SUBSCRIBE;
	for (int i = 1; i < CSCF_SERVICES_MAX; i++) {
		snprintf(evs[i], sizeof(evs[i]), "ev%d", i);
		s.event = evs[i]; /* borrowed: static */
		assert_int_equal(cscf_service_add(T.cscf, &s), 0);
	}
	s.event = "one-too-many";
	assert_int_equal(cscf_service_add(T.cscf, &s), ENOSPC);
	/* MESSAGE to anyone, no identification asked */
	req("MESSAGE", "sip:nobody@elsewhere", "sip:x@y", "", NULL);
	assert_int_equal(T.calls, 1);
	assert_null(T.seen.orig);
	assert_int_equal(T.seen.orig_impu, HSS_IMPU_NONE);
	assert_string_equal(T.asserted, "");
	cscf_stats_get(T.cscf, &st);
	assert_int_equal(st.dispatched, 1);
}

/* RFC 6665 §8.2.2: an Event no service takes gets 489 with Allow-Events;
 * a missing Event header too. */
static void test_bad_event(void **state)
{
	struct net_flow f = flow_v4(5070, false);

	(void)state;
	add_sub_svc("reg", false, CSCF_TARGET_ANY);
	add_sub_svc("presence", false, CSCF_TARGET_ANY);
	req("SUBSCRIBE", "sip:dave@ims.test", "sip:dave@ims.test", "Event: dialog\r\n", &f);
	assert_int_equal(T.scode, 489);
	assert_int_equal(T.calls, 0);
	assert_string_equal(T.hdrs, "Allow-Events: reg, presence\r\n");
	req("SUBSCRIBE", "sip:dave@ims.test", "sip:dave@ims.test", "", &f);
	assert_int_equal(T.scode, 489);
	req("SUBSCRIBE", "sip:dave@ims.test", "sip:dave@ims.test", "Event: REG;id=1\r\n",
	    &f);
	assert_int_equal(T.calls, 1);
}

/* Originating: the sender is the user the request names (From) only when
 * that user's binding was made over the request's flow — the same
 * transport, address and port; a new request from no registered flow, or
 * naming a user registered elsewhere, is refused. */
static void test_orig_by_flow(void **state)
{
	struct net_flow f = flow_v4(5070, false), other_port = flow_v4(5071, false),
			tcp = flow_v4(5070, true), erin_f = flow_v4(5080, false);
	struct hss_user *dave = hss_user_by_impi(T.hss, PL("dave@ims.test"));

	(void)state;
	add_sub_svc("reg", true, CSCF_TARGET_ANY);
	ue_bind("dave", &f);
	ue_bind("erin", &erin_f);
	req("SUBSCRIBE", "sip:dave@ims.test", "sip:dave@ims.test", "Event: reg\r\n", &f);
	assert_int_equal(T.calls, 1);
	assert_ptr_equal(T.seen.orig, dave);
	/* the asserted IMPU (manual §5.2.1 asserted: true), not From's */
	assert_string_equal(T.asserted, "tel:+33100000004");
	/* from dave's flow, claiming erin (registered elsewhere): refused */
	req("SUBSCRIBE", "sip:dave@ims.test", "sip:erin@ims.test", "Event: reg\r\n", &f);
	assert_int_equal(T.scode, 403);
	assert_int_equal(T.calls, 0);
	/* same IP, another port or transport: another subscriber */
	req("SUBSCRIBE", "sip:dave@ims.test", "sip:dave@ims.test", "Event: reg\r\n",
	    &other_port);
	assert_int_equal(T.scode, 403);
	assert_int_equal(T.calls, 0);
	req("SUBSCRIBE", "sip:dave@ims.test", "sip:dave@ims.test", "Event: reg\r\n", &tcp);
	assert_int_equal(T.scode, 403);
	/* in a dialog: no new identity is claimed, it goes on to the service
	 * (the dialog names its peer) */
	T.to_tag = "t1";
	req("SUBSCRIBE", "sip:dave@ims.test", "sip:dave@ims.test", "Event: reg\r\n",
	    &other_port);
	assert_int_equal(T.calls, 1);
	assert_true(T.seen.in_dialog);
	assert_null(T.seen.orig);
}

/* TS 24.229 §5.2.6.3.1: P-Preferred-Identity naming one of the sender's
 * IMPUs is asserted; one that is not its own is ignored. */
static void test_preferred_identity(void **state)
{
	struct net_flow f = flow_v4(5070, false);

	(void)state;
	add_sub_svc("reg", true, CSCF_TARGET_ANY);
	ue_bind("dave", &f);
	req("SUBSCRIBE", "sip:dave@ims.test", "sip:dave@ims.test",
	    "Event: reg\r\nP-Preferred-Identity: <sip:dave@ims.test>\r\n", &f);
	assert_string_equal(T.asserted, "sip:dave@ims.test");
	req("SUBSCRIBE", "sip:dave@ims.test", "sip:dave@ims.test",
	    "Event: reg\r\nP-Preferred-Identity: <sip:erin@ims.test>\r\n", &f);
	assert_string_equal(T.asserted, "tel:+33100000004");
}

/* Two users over one flow: From tells them apart, else the first. */
static void test_two_users_one_flow(void **state)
{
	struct net_flow f = flow_v4(5070, false);
	struct hss_user *erin = hss_user_by_impi(T.hss, PL("erin@ims.test"));
	struct hss_user *frank = hss_user_by_impi(T.hss, PL("frank@ims.test"));

	(void)state;
	add_sub_svc("reg", true, CSCF_TARGET_ANY);
	ue_bind("erin", &f);
	ue_bind("frank", &f);
	assert_true(registrar_user_on_flow(T.reg, erin, &f));
	assert_true(registrar_user_on_flow(T.reg, frank, &f));
	req("SUBSCRIBE", "sip:frank@ims.test", "sip:frank@ims.test", "Event: reg\r\n", &f);
	assert_ptr_equal(T.seen.orig, frank);
	assert_string_equal(T.asserted, "sip:frank@ims.test");
	req("SUBSCRIBE", "sip:erin@ims.test", "sip:erin@ims.test", "Event: reg\r\n", &f);
	assert_ptr_equal(T.seen.orig, erin);
}

/* Terminating: the users the Request-URI names, else 404 (out of dialog). */
static void test_term_lookup(void **state)
{
	struct net_flow f = flow_v4(5070, false);
	struct hss_user *erin = hss_user_by_impi(T.hss, PL("erin@ims.test"));

	(void)state;
	add_sub_svc("reg", false, CSCF_TARGET_USER);
	req("SUBSCRIBE", "sip:erin@ims.test", "sip:x@y", "Event: reg\r\n", &f);
	assert_int_equal(T.calls, 1);
	assert_int_equal(T.seen.nterm, 1);
	assert_ptr_equal(T.seen.term[0].user, erin);
	req("SUBSCRIBE", "sip:nobody@ims.test", "sip:x@y", "Event: reg\r\n", &f);
	assert_int_equal(T.scode, 404);
	assert_int_equal(T.calls, 0);
}

/* RFC 3261 §16.4: with no stack every Route entry is foreign: the first is
 * kept for a forwarding service. */
static void test_route_next(void **state)
{
	struct net_flow f = flow_v4(5070, false);

	(void)state;
	add_sub_svc("reg", true, CSCF_TARGET_ANY);
	ue_bind("dave", &f);
	req("SUBSCRIBE", "sip:dave@ims.test", "sip:dave@ims.test",
	    "Event: reg\r\nRoute: <sip:as.example;lr>, <sip:b.example;lr>\r\n", &f);
	assert_int_equal(T.calls, 1);
	assert_string_equal(T.route_next, "<sip:as.example;lr>");
	assert_false(T.seen.orig_route);
}

/* callflow_modifier: a modifier the stage applies (gina's REGISTER
 * answered 403) is counted in cscf_stats.cfm (monitor `cscf.cfm`, API
 * counters.callflow_modifier); a request it does not touch is not. */
static void test_cfm_counted(void **state)
{
	struct cscf_service s = {.name = "registrar", .meth = SIP_METHOD_REGISTER, .h = svc_h};
	struct net_flow f = flow_v4(5090, false);
	struct cscf_stats st;

	(void)state;
	assert_int_equal(cscf_service_add(T.cscf, &s), 0);
	req("REGISTER", "sip:ims.test", "sip:erin@ims.test", "", &f);
	assert_int_equal(T.calls, 1);
	cscf_stats_get(T.cscf, &st);
	assert_int_equal(st.cfm, 0);
	req("REGISTER", "sip:gina@ims.test", "sip:gina@ims.test", "", &f);
	assert_int_equal(T.scode, 403);
	assert_int_equal(T.calls, 0);
	cscf_stats_get(T.cscf, &st);
	assert_int_equal(st.cfm, 1);
}

#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T_(test_table),	 T_(test_bad_event),	      T_(test_orig_by_flow),
	    T_(test_preferred_identity), T_(test_two_users_one_flow), T_(test_term_lookup),
	    T_(test_route_next), T_(test_cfm_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
