/*
 * Harness of the b2bua unit tests: see b2bua_harness.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "b2bua_harness.h"
#include "config/ims_cfg.h"
#include "core/mem.h"
#include "cscf/cscf.h"
#include "hss/hss.h"
#include "loop/loop.h"
#include "media/media.h"
#include "registrar/registrar.h"
#include "sip/sip_hdr.h"
#include "sip/sip_stack.h"

struct b2bt T;

static void once_h(void *arg)
{
	(void)arg;
	loop_stop();
}

void run_once(unsigned ms)
{
	struct loop_timer *t = loop_timer_alloc();

	assert_non_null(t);
	loop_timer_start(t, ms, once_h, NULL);
	(void)loop_run();
	loop_timer_free(t);
}

bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

/* The next message a UE gets (the loop runs meanwhile; bounded: 4 s). */
struct sip_msg *ue_recv(struct ue *u)
{
	struct sip_decode_prm dp = {.max_size = 65535};
	struct sip_msg *m = NULL;
	char buf[65536];
	ssize_t n;

	for (int i = 0; i < 4000 && !readable(u->fd); i++)
		run_once(1);
	assert_true(readable(u->fd));
	n = recv(u->fd, buf, sizeof(buf), 0);
	assert_true(n > 0);
	assert_int_equal(sip_msg_decode_copy(&m, buf, (size_t)n, &dp), 0);
	return m;
}

/* The next message that is not a 100 Trying or a retransmission of meth. */
struct sip_msg *ue_recv_skip(struct ue *u)
{
	for (;;) {
		struct sip_msg *m = ue_recv(u);

		if (!m->req && m->scode == 100) {
			mem_deref(m);
			continue;
		}
		return m;
	}
}

void ue_expect_req(struct ue *u, enum sip_method meth)
{
	struct sip_msg *m = ue_recv_skip(u);

	assert_true(m->req && m->meth == meth);
	mem_deref(m);
}

void ue_expect_scode(struct ue *u, uint16_t scode)
{
	struct sip_msg *m = ue_recv_skip(u);

	assert_int_equal(m->scode, scode);
	mem_deref(m);
}

/* Nothing arrives within ms. */
void ue_quiet(struct ue *u, unsigned ms)
{
	for (unsigned i = 0; i < ms; i++)
		run_once(1);
	assert_false(readable(u->fd));
}

void ue_send(struct ue *u, const char *text)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(T.port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
				  .sin6_port = htons(T.port6),
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT};

	if (u->v6)
		assert_true(sendto(u->fd, text, strlen(text), 0, (struct sockaddr *)&a6,
				   sizeof(a6)) == (ssize_t)strlen(text));
	else
		assert_true(sendto(u->fd, text, strlen(text), 0, (struct sockaddr *)&a,
				   sizeof(a)) == (ssize_t)strlen(text));
}

const char *ue_host(const struct ue *u)
{
	return u->v6 ? "[::1]" : "127.0.0.1";
}

void ue_open6(struct ue *u, const char *name)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	socklen_t l = sizeof(a);

	u->fd = socket(AF_INET6, SOCK_DGRAM, 0);
	assert_true(u->fd >= 0);
	assert_int_equal(bind(u->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(u->fd, (struct sockaddr *)&a, &l), 0);
	u->port = ntohs(a.sin6_port);
	u->name = name;
	u->v6 = true;
}

void ue_open(struct ue *u, const char *name)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);

	u->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(u->fd >= 0);
	assert_int_equal(bind(u->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(u->fd, (struct sockaddr *)&a, &l), 0);
	u->port = ntohs(a.sin_port);
	u->name = name;
	u->v6 = false;
}

char *hdr(const struct sip_msg *m, const char *name)
{
	static char v[8][512];
	static int k;
	const struct sip_hdr *h = sip_msg_hdr_name(m, pl_from_str(name));

	k = (k + 1) % 8;
	if (!h)
		return NULL;
	snprintf(v[k], sizeof(v[k]), "%.*s", (int)h->val.l, h->val.p);
	return v[k];
}

/* REGISTER from u; imei: its Contact's +sip.instance IMEI, "" none. */
void ue_register_imei(struct ue *u, const char *imei)
{
	char r[1024], inst[96] = "";
	struct sip_msg *m;

	if (imei[0])
		snprintf(inst, sizeof(inst), ";+sip.instance=\"<urn:gsma:imei:%s>\"",
			 imei);
	snprintf(r, sizeof(r),
		 "REGISTER sip:ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bKreg%u;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:%s@ims.test>;tag=r%u\r\n"
		 "To: <sip:%s@ims.test>\r\nCall-ID: reg-%u@t\r\nCSeq: 1 REGISTER\r\n"
		 "Contact: <sip:%s@%s:%u>%s\r\nExpires: 600\r\nContent-Length: "
		 "0\r\n\r\n",
		 ue_host(u), u->port, u->port, u->name, u->port, u->name, u->port, u->name,
		 ue_host(u), u->port, inst);
	ue_send(u, r);
	m = ue_recv(u);
	assert_int_equal(m->scode, 200);
	mem_deref(m);
}

void ue_register(struct ue *u)
{
	ue_register_imei(u, "");
}

const char SDP[] =
    "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

void answer(struct ue *u, const struct sip_msg *req, int scode, const char *reason,
	    const char *tag, const char *body)
{
	answer_x(u, req, scode, reason, tag, NULL, body);
}

void answer_x(struct ue *u, const struct sip_msg *req, int scode, const char *reason,
	      const char *tag, const char *extra, const char *body)
{
	char r[4096], via[512] = "", rr[512] = "";
	const struct sip_hdr *h;
	int n = 0;

	for (h = sip_msg_hdr(req, SIP_HDR_VIA); h; h = sip_msg_hdr_next(req, h))
		n += snprintf(via + n, sizeof(via) - (size_t)n, "Via: %.*s\r\n",
			      (int)h->val.l, h->val.p);
	if (sip_msg_hdr(req, SIP_HDR_RECORD_ROUTE))
		snprintf(rr, sizeof(rr), "Record-Route: %s\r\n",
			 hdr(req, "Record-Route"));
	snprintf(
	    r, sizeof(r),
	    "SIP/2.0 %d %s\r\n%s%sFrom: %s\r\nTo: %s%s%s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
	    "Contact: <sip:%s@%s:%u>\r\n%s%sContent-Length: %zu\r\n\r\n%s",
	    scode, reason, via, rr, hdr(req, "From"), hdr(req, "To"),
	    tag && !strstr(hdr(req, "To"), "tag=") ? ";tag=" : "",
	    tag && !strstr(hdr(req, "To"), "tag=") ? tag : "", hdr(req, "Call-ID"),
	    hdr(req, "CSeq"), u->name, ue_host(u), u->port, extra ? extra : "",
	    body ? "Content-Type: application/sdp\r\n" : "", body ? strlen(body) : 0,
	    body ? body : "");
	ue_send(u, r);
}

/* The first block of 200 ports on 127.0.0.1 whose first 16 are free: the
 * machine is shared, and a bench may hold whole ranges. */
uint16_t free_block(void)
{
	for (uint32_t lo = 20000; lo < 32000; lo += 200) {
		bool ok = true;

		for (uint16_t p = 0; p < 16 && ok; p++) {
			struct sockaddr_in a = {.sin_family = AF_INET,
						.sin_port = htons((uint16_t)(lo + p)),
						.sin_addr.s_addr =
						    htonl(INADDR_LOOPBACK)};
			int fd = socket(AF_INET, SOCK_DGRAM, 0);

			ok = fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a));
			if (fd >= 0)
				close(fd);
		}
		if (ok)
			return (uint16_t)lo;
	}
	fail_msg("no free block of ports");
	return 0;
}

uint16_t T_port_lo; /* the relay's block (free_block), for the tests */

static bool dual; /* setup_dual */

int setup_prm(uint32_t timer_c_ms, bool relay)
{
	struct sip_stack_listen ls[2] = {{.addr = "127.0.0.1:0"}, {.addr = "[::1]:0"}};
	struct sip_stack_prm sp;
	struct cscf_prm cp = {0};
	struct b2bua_prm bp = {0};
	char err[512], text[4096];
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	json_error_t je;
	json_t *root;
	struct net_addr a;

	memset(&T, 0, sizeof(T));
	assert_int_equal(loop_init(), 0);
	snprintf(text, sizeof(text), "%s", CFG);
	for (char *p = text; *p; p++)
		*p = *p == '\'' ? '"' : *p;
	root = json_loads(text, 0, &je);
	assert_non_null(root);
	if (ims_cfg_from_json(root, NULL, &T.cfg, &d))
		fail_msg("config: %s", err);
	json_decref(root);
	assert_int_equal(hss_alloc(&T.hss, T.cfg, err, sizeof(err)), 0);
	sip_stack_prm_init(&sp);
	sp.listen = ls;
	sp.listen_count = dual ? 2 : 1;
	sp.t1_ms = T.cfg->timer_t1_ms;
	sp.t2_ms = T.cfg->timer_t2_ms;
	sp.t4_ms = 500;
	sp.user_agent = "imsd-unit";
	assert_int_equal(sip_stack_alloc(&T.stack, &sp), 0);
	assert_int_equal(net_addr_parse_str(&a, sip_stack_local_uri_host(T.stack, 0), 0),
			 0);
	T.port = net_addr_port(&a);
	if (dual) {
		assert_int_equal(
		    net_addr_parse_str(&a, sip_stack_local_uri_host(T.stack, 1), 0), 0);
		T.port6 = net_addr_port(&a);
	}
	assert_int_equal(registrar_app_start(T.stack, T.cfg, T.hss, NULL, &T.reg), 0);
	cp.stack = T.stack;
	cp.hss = T.hss;
	cp.reg = T.reg;
	assert_int_equal(cscf_alloc(&T.cscf, &cp), 0);
	assert_int_equal(cscf_registrar_add(T.cscf, T.reg), 0);
	bp.stack = T.stack;
	bp.hss = T.hss;
	bp.reg = T.reg;
	bp.cfg = T.cfg;
	bp.timer_c_ms = timer_c_ms;
	if (relay) {
		struct media_relay_addr ra[2];
		struct media_relay_prm rp = {.addrs = ra, .addr_count = dual ? 2 : 1};

		memset(ra, 0, sizeof(ra));
		assert_int_equal(net_addr_parse_str(&ra[0].addr, "127.0.0.1", 0), 0);
		assert_int_equal(net_addr_parse_str(&ra[1].addr, "::1", 0), 0);
		T_port_lo = free_block();
		for (int i = 0; i < 2; i++) {
			ra[i].port_min = T_port_lo;
			ra[i].port_max = (uint16_t)(T_port_lo + 199);
		}
		assert_int_equal(media_relay_alloc(&T.relay, &rp), 0);
		bp.relay = T.relay;
	}
	bp.linger_ms = 200;
	assert_int_equal(b2bua_alloc(&T.b2b, &bp), 0);
	assert_int_equal(cscf_b2bua_add(T.cscf, T.b2b), 0);
	return 0;
}

int setup(void **state)
{
	(void)state;
	return setup_prm(0, false);
}

int setup_relay(void **state)
{
	(void)state;
	dual = false;
	return setup_prm(0, true);
}

int setup_dual(void **state)
{
	int err;

	(void)state;
	dual = true;
	err = setup_prm(0, true);
	dual = false;
	return err;
}

int teardown(void **state)
{
	(void)state;
	mem_deref(T.cscf);
	mem_deref(T.b2b);
	mem_deref(T.relay);
	mem_deref(T.reg);
	sip_stack_free(T.stack);
	mem_deref(T.hss);
	ims_cfg_free(T.cfg);
	loop_close();
	return 0;
}

void ue_close(struct ue *u)
{
	close(u->fd);
}

uint16_t body_port(const struct sip_msg *m)
{
	long at = pl_casefind(m->body, "m=audio ");
	uint32_t port = 0;
	char line[64];

	assert_true(at >= 0);
	snprintf(line, sizeof(line), "%.*s", (int)(m->body.l - (size_t)at), m->body.p + at);
	assert_int_equal(sscanf(line, "m=audio %u ", &port), 1);
	/* the relay's address on loopback, of either family (setup_dual) */
	assert_true(pl_casefind(m->body, "c=IN IP4 127.0.0.1") >= 0 ||
		    pl_casefind(m->body, "c=IN IP6 ::1") >= 0);
	return (uint16_t)port;
}

/* A request of u in a dialog with imsd: to the Contact of m (a message
 * imsd sent u), From/To as u sees them (from_hdr its own, to_hdr imsd's). */
static void dlg_req(struct ue *u, const struct sip_msg *m, const char *from_hdr,
		    const char *to_hdr, const char *meth, int cseq, const char *extra,
		    const char *body)
{
	char r[8192];
	const char *ct = hdr(m, "Contact");

	snprintf(r, sizeof(r),
		 "%s %.*s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%u;branch=z9hG4bKd%s%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n"
		 "Contact: <sip:%s@%s:%u>\r\n%s%sContent-Length: %zu\r\n\r\n%s",
		 meth, (int)(strlen(ct) - 2), ct + 1, ue_host(u), u->port, meth, ++T.cseq,
		 from_hdr, to_hdr, hdr(m, "Call-ID"), cseq, meth, u->name, ue_host(u), u->port,
		 extra ? extra : "",
		 body ? "Content-Type: application/sdp\r\n" : "", body ? strlen(body) : 0,
		 body ? body : "");
	ue_send(u, r);
}

void ue_req_caller(struct ue *a, const struct sip_msg *resp, const char *meth, int cseq,
		   const char *extra, const char *body)
{
	char from[256];

	snprintf(from, sizeof(from), "%s", hdr(resp, "From"));
	dlg_req(a, resp, from, hdr(resp, "To"), meth, cseq, extra, body);
}

void ue_req_callee(struct ue *b, const struct sip_msg *inv, const char *tag,
		   const char *meth, int cseq, const char *extra, const char *body)
{
	char from[256], to[256];

	snprintf(from, sizeof(from), "%s;tag=%s", hdr(inv, "To"), tag);
	snprintf(to, sizeof(to), "%s", hdr(inv, "From"));
	dlg_req(b, inv, from, to, meth, cseq, extra, body);
}
