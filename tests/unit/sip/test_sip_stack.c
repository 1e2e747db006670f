/*
 * sip_stack unit tests over loopback on the real event loop: outgoing
 * requests (UDP below tcp_threshold, TCP above it with the Via transport
 * changed, and back to UDP when TCP is refused, not when reset), ;transport=tcp,
 * flows, User-Agent), responses back to the client
 * transaction, connection failures, server dispatch with the source, a
 * flow leaving from the socket of its local address, the Allow list and
 * local host checks, and dialogs: an in-dialog request and the ACK of a 2xx
 * reach the dialog's owner with their flow.
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

#include "core/mem.h"
#include "loop/loop.h"
#include "net/net.h"
#include "net/net_addr.h"
#include "sip/sip_dialog.h"
#include "sip/sip_hdr.h"
#include "sip/sip_stack.h"

struct fix {
	struct sip_stack *stack;
	int udp; /* a plain UDP peer on 127.0.0.1 */
	int lsn; /* a plain TCP listener on 127.0.0.1 */
	uint16_t udp_port, tcp_port;
	unsigned max_per_peer; /* tcp_max_per_peer of the next stack_new, 0 = default */
	int nresp;
	uint16_t last_scode;
	int nreq;
	struct net_flow last_src;
	char last_ruri[128];
};

static void once_h(void *arg)
{
	(void)arg;
	loop_stop();
}

static void run_once(void)
{
	struct loop_timer *t = loop_timer_alloc();

	assert_non_null(t);
	loop_timer_start(t, 1, once_h, NULL);
	(void)loop_run();
	loop_timer_free(t);
}

/* Runs the loop until fd is readable (bounded: 2 s). */
static void run_until_readable(int fd)
{
	for (int i = 0; i < 2000; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, 0) == 1)
			return;
		run_once();
	}
	fail_msg("nothing arrived");
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	return ntohs(a.sin_port);
}

static int sock_open(int type, uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, type, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 8), 0);
	*port = bound_port(fd);
	return fd;
}

static int stack_new(struct fix *f, uint32_t threshold, const char *ua, bool force)
{
	static const char *const tags[] = {"path"};
	struct sip_stack_listen ls = {.addr = "127.0.0.1:0"};
	struct sip_stack_prm prm;

	sip_stack_prm_init(&prm);
	prm.listen = &ls;
	prm.listen_count = 1;
	prm.t1_ms = 500;
	prm.t2_ms = 4000;
	prm.t4_ms = 5000;
	prm.tcp_threshold = threshold;
	prm.user_agent = ua;
	prm.force_user_agent = force;
	prm.option_tags = tags;
	prm.option_tag_count = 1;
	prm.tcp_max_per_peer = f->max_per_peer;
	return sip_stack_alloc(&f->stack, &prm);
}

static int setup(void **state)
{
	static struct fix f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(loop_init(), 0);
	f.udp = sock_open(SOCK_DGRAM, &f.udp_port);
	f.lsn = sock_open(SOCK_STREAM, &f.tcp_port);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	sip_stack_free(f->stack);
	close(f->udp);
	close(f->lsn);
	loop_close();
	assert_int_equal(mem_live_count(), 0);
	return 0;
}

static void resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
		   void *arg)
{
	struct fix *f = arg;

	(void)tsx;
	(void)resp;
	f->nresp++;
	f->last_scode = scode;
}

/* Runs the loop (bounded) until the client transaction's outcome: exactly
 * one, with status scode; the count starts again for the next request. */
static void wait_final(struct fix *f, uint16_t scode)
{
	for (int i = 0; i < 2000 && !f->nresp; i++)
		run_once();
	assert_int_equal(f->nresp, 1);
	assert_int_equal(f->last_scode, scode);
	f->nresp = 0;
}

static int send_req(struct fix *f, const char *ruri, size_t body_len, const char *extra)
{
	static char buf[8192];
	struct sip_stack_req_prm rp = {0};
	int n;

	assert_true(body_len < 4096);
	n = snprintf(buf, sizeof(buf),
		     "MESSAGE %s SIP/2.0\r\nFrom: <sip:imsd@ims.test>;tag=a1\r\n"
		     "To: <sip:ue@ims.test>\r\nCall-ID: c1@test\r\nCSeq: 1 MESSAGE\r\n"
		     "Max-Forwards: 70\r\n%sContent-Type: text/plain\r\n\r\n",
		     ruri, extra ? extra : "");
	memset(buf + n, 'b', body_len);
	rp.req = (struct pl){buf, (size_t)n + body_len};
	rp.resp_h = resp_h;
	rp.arg = f;
	return sip_stack_request(f->stack, &rp, NULL);
}

static void test_alloc_errors(void **state)
{
	struct sip_stack_prm prm;
	struct sip_stack *s = NULL;
	struct sip_stack_listen ls = {.addr = "127.0.0.1:0"};
	struct sip_stack_listen bad = {.addr = "not-an-address"};

	(void)state;
	sip_stack_prm_init(&prm);
	assert_int_equal(prm.t1_ms, 2000);
	assert_int_equal(prm.tcp_threshold, 1300);
	assert_int_equal(sip_stack_alloc(&s, &prm), EINVAL); /* no listen */
	prm.listen = &ls;
	prm.listen_count = 1;
	prm.t2_ms = 100; /* below T1 */
	assert_int_equal(sip_stack_alloc(&s, &prm), EINVAL);
	prm.t2_ms = 16000;
	prm.listen = &bad;
	assert_int_not_equal(sip_stack_alloc(&s, &prm), 0);
	assert_null(s);
}

/* The live-transaction bound follows the expected rate and T1: what the
 * rate keeps alive for 64*T1 + T4, a quarter more, at least 2^16. */
static void test_tsx_max_from_rate(void **state)
{
	struct fix *f = *state;

	/* manual timers, default rate 20,000/s: 20000 * 145 s * 5/4 */
	assert_int_equal(sip_stack_tsx_max_for(0, 2000, 17000), 3625000);
	/* 10,000/s explicitly */
	assert_int_equal(sip_stack_tsx_max_for(10000, 2000, 17000), 1812500);
	/* RFC timers: 10000 * 37 s * 5/4 */
	assert_int_equal(sip_stack_tsx_max_for(10000, 500, 5000), 462500);
	assert_int_equal(sip_stack_tsx_max_for(10, 500, 5000), SIP_STACK_TSX_MAX_MIN);
	/* the stack uses it (T1 500, T4 5000, default rate 20,000/s) */
	assert_int_equal(stack_new(f, 1300, "imsd-test", true), 0);
	assert_int_equal(sip_tsx_stack_max(sip_stack_tsx(f->stack)), 925000);
}

/* What the default bound holds of the SMS load it is sized for (bench/sms,
 * issue 16): an SMS is two server transactions living 64*T1 after their
 * answer and two client ones living T4. 10,000 SMS/s sustained must fit
 * under the default bound with T1 0.5 s (the bench's) and with the
 * manual's 2 s, whatever T4; the former default (10,000/s) held 6,250. */
static uint64_t sms_live(uint64_t sms_per_s, uint64_t t1_ms, uint64_t t4_ms)
{
	return sms_per_s * (2 * 64 * t1_ms + 2 * t4_ms) / 1000;
}

static void test_tsx_max_holds_sms_target(void **state)
{
	static const uint32_t timers[][2] = {{500, 5000}, {500, 17000}, {2000, 17000},
					     {2000, 5000}, {1000, 60000}};

	(void)state;
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
		uint32_t t1 = timers[i][0], t4 = timers[i][1];
		size_t max = sip_stack_tsx_max_for(0, t1, t4);

		assert_true(sms_live(10000, t1, t4) <= max);
		/* and at the old default it did not */
		assert_true(sms_live(10000, t1, t4) > sip_stack_tsx_max_for(10000, t1, t4));
		/* 12,500 SMS/s fill it to within rounding */
		assert_true(sms_live(12500, t1, t4) <= max + 1);
		assert_true(sms_live(12600, t1, t4) > max);
	}
}

/* Reads one datagram (after the loop flushed it). */
static ssize_t read_udp(struct fix *f, char *buf, size_t size)
{
	ssize_t n;

	run_until_readable(f->udp);
	n = recv(f->udp, buf, size - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	return n;
}

static void test_small_request_over_udp(void **state)
{
	struct fix *f = *state;
	char ruri[64], buf[65536], want[128];
	struct sip_stack_stats st;

	assert_int_equal(stack_new(f, 1300, "imsd-unit", true), 0);
	snprintf(ruri, sizeof(ruri), "sip:ue@127.0.0.1:%u", f->udp_port);
	assert_int_equal(sip_stack_tsx_peak_take(f->stack), 0);
	assert_int_equal(send_req(f, ruri, 10, NULL), 0);
	/* the high-water mark: the client transaction, then those live now */
	assert_int_equal(sip_stack_tsx_peak_take(f->stack), 1);
	assert_int_equal(sip_stack_tsx_peak_take(f->stack), 1);
	assert_int_equal(sip_stack_tsx_peak_take(NULL), 0);
	read_udp(f, buf, sizeof(buf));
	snprintf(want, sizeof(want), "\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK",
		 sip_stack_local_uri_host(f->stack, 0));
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, ";rport\r\n"));
	assert_non_null(strstr(buf, "\r\nUser-Agent: imsd-unit\r\n"));
	assert_non_null(strstr(buf, "\r\nContent-Length: 10\r\n\r\nbbbbbbbbbb"));
	sip_stack_stats_get(f->stack, &st);
	assert_int_equal(st.tx_over_tcp, 0);
}

/* Answers the request in buf with a 200 built from its Via/From/To/Call-ID/
 * CSeq lines. */
static size_t answer_200(const char *req, char *out, size_t size)
{
	static const char *const names[] = {
	    "\r\nVia: ", "\r\nFrom: ", "\r\nTo: ", "\r\nCall-ID: ", "\r\nCSeq: "};
	size_t n = (size_t)snprintf(out, size, "SIP/2.0 200 OK");

	for (size_t i = 0; i < 5; i++) {
		const char *p = strstr(req, names[i]);
		const char *e = p ? strstr(p + 2, "\r\n") : NULL;

		assert_non_null(e);
		n += (size_t)snprintf(out + n, size - n, "%.*s", (int)(e - p), p);
	}
	n += (size_t)snprintf(out + n, size - n, "\r\nContent-Length: 0\r\n\r\n");
	return n;
}

static void test_large_request_over_tcp(void **state)
{
	struct fix *f = *state;
	char ruri[64], buf[16384], resp[2048], want[128];
	struct sip_stack_stats st;
	size_t got = 0;
	int c;

	assert_int_equal(stack_new(f, 1300, "imsd-unit", true), 0);
	/* the Request-URI names the UDP port of a peer listening on TCP too */
	snprintf(ruri, sizeof(ruri), "sip:ue@127.0.0.1:%u", f->tcp_port);
	assert_int_equal(send_req(f, ruri, 1400, NULL), 0);
	sip_stack_stats_get(f->stack, &st);
	assert_int_equal(st.tx_over_tcp, 1);
	run_until_readable(f->lsn);
	c = accept(f->lsn, NULL, NULL);
	assert_true(c >= 0);
	while (!strstr(buf, "\r\n\r\n") || got < 1400 + 200) {
		ssize_t n;

		run_until_readable(c);
		n = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
		assert_true(n > 0);
		got += (size_t)n;
		buf[got] = '\0';
	}
	snprintf(want, sizeof(want), "\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK",
		 sip_stack_local_uri_host(f->stack, 0));
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, "\r\nContent-Length: 1400\r\n"));
	/* the peer answers over the same connection: the client transaction
	 * gets it */
	assert_int_equal(send(c, resp, answer_200(buf, resp, sizeof(resp)), 0) > 0, 1);
	wait_final(f, 200);
	close(c);
}

static void test_transport_tcp_and_refused(void **state)
{
	struct fix *f = *state;
	char ruri[96];
	uint16_t dead;
	int fd = sock_open(SOCK_STREAM, &dead);

	close(fd); /* nothing listens there any more */
	assert_int_equal(stack_new(f, 1300, NULL, false), 0);
	snprintf(ruri, sizeof(ruri), "sip:ue@127.0.0.1:%u;transport=tcp", dead);
	assert_int_equal(send_req(f, ruri, 5, NULL), 0);
	/* §17.1.4: a transport failure is a 503 for the client transaction */
	wait_final(f, 503);
}

/* Reads the request that reaches f->udp and answers it with a 200 from
 * there; returns the request's length. */
static size_t udp_answer(struct fix *f, char *buf, size_t size)
{
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	char resp[2048];
	ssize_t n;

	run_until_readable(f->udp);
	n = recvfrom(f->udp, buf, size - 1, 0, (struct sockaddr *)&from, &fl);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_true(sendto(f->udp, resp, answer_200(buf, resp, sizeof(resp)), 0,
			   (struct sockaddr *)&from, fl) > 0);
	return (size_t)n;
}

/* RFC 3261 §18.1.1: moved to TCP by its size, refused there (nothing
 * listens on TCP at the UE's port), sent again over UDP; the TU sees the
 * UDP transaction's 200, never the 503. */
static void test_large_request_refused_falls_back_to_udp(void **state)
{
	struct fix *f = *state;
	char ruri[64], buf[16384], want[128];
	struct sip_stack_stats st;

	assert_int_equal(stack_new(f, 1300, "imsd-unit", true), 0);
	snprintf(ruri, sizeof(ruri), "sip:ue@127.0.0.1:%u", f->udp_port);
	assert_int_equal(send_req(f, ruri, 1400, NULL), 0);
	assert_true(udp_answer(f, buf, sizeof(buf)) > 1400);
	snprintf(want, sizeof(want), "\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK",
		 sip_stack_local_uri_host(f->stack, 0));
	assert_non_null(strstr(buf, want));
	wait_final(f, 200);
	sip_stack_stats_get(f->stack, &st);
	assert_int_equal(st.tx_over_tcp, 1);
	assert_int_equal(st.tx_udp_fallback, 1);
	/* a request sent over TCP because the URI says so is not retried */
	snprintf(ruri, sizeof(ruri), "sip:ue@127.0.0.1:%u;transport=tcp", f->udp_port);
	assert_int_equal(send_req(f, ruri, 1400, NULL), 0);
	wait_final(f, 503);
	sip_stack_stats_get(f->stack, &st);
	assert_int_equal(st.tx_udp_fallback, 1);
}

/* A connect that fails at once (here the per-peer connection limit: one
 * connection to 127.0.0.1 is already open) falls back to UDP at once. */
static void test_large_request_connect_fails_at_once_udp(void **state)
{
	struct fix *f = *state;
	struct sip_stack_stats st;
	char ruri[64], buf[16384];
	int c;

	f->max_per_peer = 1;
	assert_int_equal(stack_new(f, 1300, NULL, false), 0);
	/* the one connection allowed to 127.0.0.1, kept open */
	snprintf(ruri, sizeof(ruri), "sip:ue@127.0.0.1:%u;transport=tcp", f->tcp_port);
	assert_int_equal(send_req(f, ruri, 10, NULL), 0);
	run_until_readable(f->lsn);
	c = accept(f->lsn, NULL, NULL);
	assert_true(c >= 0);
	snprintf(ruri, sizeof(ruri), "sip:ue@127.0.0.1:%u", f->udp_port);
	assert_int_equal(send_req(f, ruri, 1400, NULL), 0);
	sip_stack_stats_get(f->stack, &st);
	assert_int_equal(st.tx_over_tcp, 1);
	assert_int_equal(st.tx_udp_fallback, 1); /* before any loop turn */
	assert_true(udp_answer(f, buf, sizeof(buf)) > 1400);
	assert_non_null(strstr(buf, "\r\nVia: SIP/2.0/UDP "));
	wait_final(f, 200);
	close(c);
}

/* Not when the UE accepts the connection and then resets it: it has TCP,
 * and may have the request already (a copy over UDP would repeat its CSeq):
 * the TU gets the 503. */
static void test_large_request_reset_not_retried(void **state)
{
	struct fix *f = *state;
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	char ruri[64];
	struct sip_stack_stats st;
	int lsn = -1, c;

	/* a TCP listener on the UDP peer's port number */
	for (int i = 0; i < 50 && lsn < 0; i++) {
		lsn = socket(AF_INET, SOCK_STREAM, 0);
		a.sin_port = htons(f->udp_port);
		if (bind(lsn, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lsn, 4) == 0)
			break;
		close(lsn);
		lsn = -1;
		close(f->udp);
		f->udp = sock_open(SOCK_DGRAM, &f->udp_port);
	}
	assert_true(lsn >= 0);
	assert_int_equal(stack_new(f, 1300, NULL, false), 0);
	snprintf(ruri, sizeof(ruri), "sip:ue@127.0.0.1:%u", f->udp_port);
	assert_int_equal(send_req(f, ruri, 1400, NULL), 0);
	run_until_readable(lsn);
	c = accept(lsn, NULL, NULL);
	assert_true(c >= 0);
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(c); /* RST */
	wait_final(f, 503);
	sip_stack_stats_get(f->stack, &st);
	assert_int_equal(st.tx_over_tcp, 1);
	assert_int_equal(st.tx_udp_fallback, 0);
	{
		struct pollfd p = {.fd = f->udp, .events = POLLIN};

		assert_int_equal(poll(&p, 1, 0), 0); /* nothing came over UDP */
	}
	close(lsn);
}

/* A request over a TCP flow whose connection is gone opens a new one to
 * the flow's IP and the Request-URI's port (the UE's Contact, where it
 * listens), not to the flow's source port (ephemeral: nothing listens
 * there), nor to the Contact's host (any third party). */
static void flow_notify(struct fix *f, const struct net_flow *dst, const char *host,
			int *cp)
{
	static char req[512];
	struct sip_stack_req_prm rp = {0};
	char buf[4096], want[96];
	ssize_t n;
	int c, len;

	len = snprintf(
	    req, sizeof(req),
	    "NOTIFY sip:ue@%s:%u;transport=tcp SIP/2.0\r\n"
	    "From: <sip:imsd@ims.test>;tag=a1\r\nTo: <sip:ue@ims.test>;tag=b1\r\n"
	    "Call-ID: flow-%s@test\r\nCSeq: 1 NOTIFY\r\nMax-Forwards: 70\r\n"
	    "Event: reg\r\nSubscription-State: active\r\n\r\n",
	    host, f->tcp_port, host);
	rp.req = (struct pl){req, (size_t)len};
	rp.dst = dst;
	rp.resp_h = resp_h;
	rp.arg = f;
	assert_int_equal(sip_stack_request(f->stack, &rp, NULL), 0);
	if (*cp < 0) { /* the first: a new connection */
		run_until_readable(f->lsn);
		*cp = accept(f->lsn, NULL, NULL);
		assert_true(*cp >= 0);
	}
	c = *cp; /* the next ones reuse it: same address and port */
	run_until_readable(c);
	n = recv(c, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	snprintf(want, sizeof(want), "NOTIFY sip:ue@%s:%u;", host, f->tcp_port);
	assert_true(strncmp(buf, want, strlen(want)) == 0);
	assert_non_null(strstr(buf, "\r\nVia: SIP/2.0/TCP "));
}

static void test_closed_tcp_flow_uses_contact_port(void **state)
{
	struct fix *f = *state;
	/* the flow's address: the UDP peer's port, where no TCP listens */
	struct net_flow dst = {.reliable = true, .conn_id = 4242};
	int c = -1;

	assert_int_equal(stack_new(f, 1300, NULL, false), 0);
	assert_int_equal(net_addr_parse_str(&dst.peer, "127.0.0.1", f->udp_port), 0);
	flow_notify(f, &dst, "127.0.0.1", &c);
	/* the Contact names another host (and a name is never resolved):
	 * the request still goes to the UE's own address */
	flow_notify(f, &dst, "192.0.2.7", &c);
	flow_notify(f, &dst, "ue.ims.test", &c);
	close(c);
}

/* Sends a MESSAGE over the UDP flow dst (peer: the test's UDP socket) and
 * returns the address it came from. */
static void flow_send_from(struct fix *f, const struct net_flow *dst,
			   struct sockaddr_in *from)
{
	static const char req[] =
	    "MESSAGE sip:ue@127.0.0.1 SIP/2.0\r\nFrom: <sip:imsd@ims.test>;tag=a1\r\n"
	    "To: <sip:ue@ims.test>\r\nCall-ID: from-local@test\r\nCSeq: 1 MESSAGE\r\n"
	    "Max-Forwards: 70\r\n\r\n";
	struct sip_stack_req_prm rp = {0};
	socklen_t l = sizeof(*from);
	char buf[4096];

	rp.req = (struct pl){req, sizeof(req) - 1};
	rp.dst = dst;
	rp.resp_h = resp_h;
	rp.arg = f;
	assert_int_equal(sip_stack_request(f->stack, &rp, NULL), 0);
	run_until_readable(f->udp);
	assert_true(recvfrom(f->udp, buf, sizeof(buf), 0, (struct sockaddr *)from, &l) > 0);
}

/* Two sip_addr entries: a flow leaves from the socket its local address
 * names, whatever its place in the list; a local address that is none of
 * ours (a flow stored before the list changed), or none, falls back to the
 * first socket of the family. */
static void test_flow_leaves_from_its_local_address(void **state)
{
	struct fix *f = *state;
	struct sip_stack_listen ls[2] = {{.addr = "127.0.0.1:0"}, {.addr = "127.0.0.2:0"}};
	struct sip_stack_prm prm;
	struct net_flow dst = {0};
	struct sockaddr_in from;
	const struct net_addr *l0, *l1;
	struct net *net;

	sip_stack_prm_init(&prm);
	prm.listen = ls;
	prm.listen_count = 2;
	assert_int_equal(sip_stack_alloc(&f->stack, &prm), 0);
	net = sip_stack_net(f->stack);
	l0 = net_sock_laddr(net_sock_get(net, 0), NET_UDP);
	l1 = net_sock_laddr(net_sock_get(net, 1), NET_UDP);
	assert_int_equal(net_addr_parse_str(&dst.peer, "127.0.0.1", f->udp_port), 0);
	dst.local = *l1;
	flow_send_from(f, &dst, &from);
	assert_int_equal(ntohl(from.sin_addr.s_addr), 0x7f000002);
	assert_int_equal(ntohs(from.sin_port), net_addr_port(l1));
	dst.local = *l0;
	flow_send_from(f, &dst, &from);
	assert_int_equal(ntohs(from.sin_port), net_addr_port(l0));
	assert_int_equal(net_addr_parse_str(&dst.local, "127.0.0.9", 5060), 0);
	flow_send_from(f, &dst, &from);
	assert_int_equal(ntohl(from.sin_addr.s_addr), 0x7f000001);
	assert_int_equal(ntohs(from.sin_port), net_addr_port(l0));
	memset(&dst.local, 0, sizeof(dst.local));
	flow_send_from(f, &dst, &from);
	assert_int_equal(ntohs(from.sin_port), net_addr_port(l0));
	/* a local address of the other family is no help either */
	assert_int_equal(net_addr_parse_str(&dst.local, "[::1]", net_addr_port(l1)), 0);
	flow_send_from(f, &dst, &from);
	assert_int_equal(ntohs(from.sin_port), net_addr_port(l0));
}

static void test_user_agent_kept_or_forced(void **state)
{
	struct fix *f = *state;
	char ruri[64], buf[8192];

	assert_int_equal(stack_new(f, 0, "imsd-unit", false), 0);
	snprintf(ruri, sizeof(ruri), "sip:ue@127.0.0.1:%u", f->udp_port);
	assert_int_equal(send_req(f, ruri, 0, "User-Agent: theirs\r\n"), 0);
	read_udp(f, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\r\nUser-Agent: theirs\r\n"));
	assert_null(strstr(buf, "imsd-unit"));
	sip_stack_free(f->stack);
	assert_int_equal(stack_new(f, 0, "imsd-unit", true), 0);
	assert_int_equal(send_req(f, ruri, 0, "User-Agent: theirs\r\n"), 0);
	read_udp(f, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\r\nUser-Agent: imsd-unit\r\n"));
	assert_null(strstr(buf, "theirs"));
}

static void test_request_errors(void **state)
{
	struct fix *f = *state;
	struct sip_stack_req_prm rp = {0};

	assert_int_equal(stack_new(f, 1300, NULL, false), 0);
	/* host names are not resolved on the loop */
	assert_int_equal(send_req(f, "sip:ue@ims.test", 0, NULL), EDESTADDRREQ);
	assert_int_equal(send_req(f, "tel:+33612345678", 0, NULL), EDESTADDRREQ);
	/* IPv6 destination without an IPv6 socket */
	assert_int_equal(send_req(f, "sip:ue@[::1]:5060", 0, NULL), EAFNOSUPPORT);
	rp.req = pl_from_str("MESSAGE sip:a@127.0.0.1 SIP/2.0\r\nCall-ID: x\r\n");
	rp.resp_h = resp_h;
	assert_int_equal(sip_stack_request(f->stack, &rp, NULL),
			 EINVAL); /* no blank line */
	assert_int_equal(sip_stack_request(f->stack, NULL, NULL), EINVAL);
}

static void req_h(struct sip_stack *stack, struct sip_tsx *tsx, const struct sip_msg *req,
		  const struct net_flow *src, void *arg)
{
	struct fix *f = arg;
	struct sip_tsx_reply_prm rp = {.hdrs = pl_from_str("X-Test: 1\r\n")};

	f->nreq++;
	f->last_src = *src;
	snprintf(f->last_ruri, sizeof(f->last_ruri), "%.*s", (int)req->ruri.l,
		 req->ruri.p);
	assert_int_equal(sip_stack_reply(stack, tsx, 202, "Accepted", &rp), 0);
}

static void test_dispatch_and_allow(void **state)
{
	struct fix *f = *state;
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char req[512], buf[4096];
	const char *host;
	int n;

	assert_int_equal(stack_new(f, 1300, "imsd-unit", true), 0);
	assert_string_equal(sip_stack_allow(f->stack), "ACK, CANCEL");
	assert_int_equal(sip_stack_method_set(f->stack, SIP_METHOD_MESSAGE, req_h, f), 0);
	assert_int_equal(sip_stack_method_set(f->stack, SIP_METHOD_ACK, req_h, f),
			 EINVAL);
	assert_int_equal(sip_stack_method_set(f->stack, SIP_METHOD_OTHER, req_h, f),
			 EINVAL);
	assert_string_equal(sip_stack_allow(f->stack), "ACK, CANCEL, MESSAGE");
	host = sip_stack_local_uri_host(f->stack, 0);
	assert_non_null(host);
	assert_int_equal(sip_stack_sock_count(f->stack), 1);
	to.sin_port = htons((uint16_t)atoi(strrchr(host, ':') + 1));
	n = snprintf(
	    req, sizeof(req),
	    "MESSAGE sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKd1\r\n"
	    "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: d1\r\nCSeq: 1 MESSAGE\r\n"
	    "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
	    host, f->udp_port);
	assert_int_equal(
	    sendto(f->udp, req, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)), n);
	read_udp(f, buf, sizeof(buf));
	assert_int_equal(f->nreq, 1);
	assert_false(f->last_src.reliable);
	assert_int_equal(f->last_src.conn_id, 0);
	/* the flow names our socket by its address, not by an index */
	assert_true(net_addr_eq(&f->last_src.local,
				net_sock_laddr(net_sock_get(sip_stack_net(f->stack), 0),
					       NET_UDP)));
	assert_int_equal(ntohs(f->last_src.peer.u.in.sin_port), f->udp_port);
	assert_true(!strncmp(buf, "SIP/2.0 202 Accepted\r\n", 22));
	assert_non_null(strstr(buf, "\r\nX-Test: 1\r\nServer: imsd-unit\r\n"));
	/* local host checks: our address and port, any port, others */
	assert_true(sip_stack_host_is_local(f->stack, pl_from_str("127.0.0.1"), 0));
	assert_true(sip_stack_host_is_local(f->stack, pl_from_str("127.0.0.1"),
					    ntohs(to.sin_port)));
	assert_false(sip_stack_host_is_local(f->stack, pl_from_str("127.0.0.1"),
					     (uint16_t)(ntohs(to.sin_port) + 1)));
	assert_false(sip_stack_host_is_local(f->stack, pl_from_str("127.0.0.2"), 0));
	assert_false(sip_stack_host_is_local(f->stack, pl_from_str("ims.test"), 0));
	assert_int_equal(sip_stack_method_set(f->stack, SIP_METHOD_MESSAGE, NULL, NULL),
			 0);
	assert_string_equal(sip_stack_allow(f->stack), "ACK, CANCEL");
}

/* ---- dialogs: an owner makes a UAS dialog from an INVITE, answers 200;
 * the ACK of the 2xx and later in-dialog requests reach it with their
 * flow, not the method handlers ---- */

struct owner {
	struct fix *f;
	struct sip_dialog *dlg; /* our reference */
	int invites, acks, reqs;
	enum sip_method last_meth;
	struct net_flow ack_flow, req_flow;
};

static void own_req_h(struct sip_dialog *dlg, struct sip_tsx *tsx, const struct sip_msg *req,
		      const struct net_flow *flow, void *arg)
{
	struct owner *o = arg;

	assert_ptr_equal(dlg, o->dlg);
	assert_ptr_equal(sip_dialog_owner(dlg)->obj, o);
	o->reqs++;
	o->last_meth = req->meth;
	o->req_flow = *flow;
	assert_int_equal(sip_stack_reply(o->f->stack, tsx, 200, "OK", NULL), 0);
	if (req->meth == SIP_METHOD_BYE)
		sip_dialog_end(dlg);
}

static void own_ack_h(struct sip_dialog *dlg, const struct sip_msg *ack,
		      const struct net_flow *flow, void *arg)
{
	struct owner *o = arg;

	assert_ptr_equal(dlg, o->dlg);
	assert_int_equal(sip_msg_cseq(ack)->num, 1);
	o->acks++;
	o->ack_flow = *flow;
}

static void own_invite_h(struct sip_stack *stack, struct sip_tsx *tsx,
			 const struct sip_msg *req, const struct net_flow *src, void *arg)
{
	struct owner *o = arg;
	struct sip_dialog_uas_prm up = {.req = req, .local_tag = PL("srv1"), .flow = src};
	struct sip_dialog_owner ow = {own_req_h, own_ack_h, o, o};
	struct sip_tsx_reply_prm rp = {.to_tag = PL("srv1"),
				       .hdrs = PL("Contact: <sip:srv@127.0.0.1>\r\n")};

	o->invites++;
	assert_int_equal(sip_dialog_uas_alloc(&o->dlg, &up), 0);
	assert_int_equal(sip_dialogs_add(sip_stack_dialogs(stack), o->dlg, &ow), 0);
	assert_int_equal(sip_stack_reply(stack, tsx, 200, "OK", &rp), 0);
}

static int dlg_req(char *buf, size_t size, const char *method, const char *host,
		   const char *transport, uint16_t port, unsigned cseq, const char *to_tag)
{
	return snprintf(buf, size,
			"%s sip:srv@%s SIP/2.0\r\n"
			"Via: SIP/2.0/%s 127.0.0.1:%u;branch=z9hG4bK%s%u\r\n"
			"From: <sip:ue@127.0.0.1>;tag=ue1\r\nTo: <sip:srv@127.0.0.1>%s%s\r\n"
			"Call-ID: dlg-1\r\nCSeq: %u %s\r\nMax-Forwards: 70\r\n"
			"Contact: <sip:ue@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
			method, host, transport, port, method, cseq, to_tag ? ";tag=" : "",
			to_tag ? to_tag : "", strcmp(method, "ACK") ? cseq : 1, method, port);
}

static void udp_send(struct fix *f, const struct sockaddr_in *to, const char *req, int n)
{
	assert_true(n > 0);
	assert_int_equal(
	    sendto(f->udp, req, (size_t)n, 0, (const struct sockaddr *)to, sizeof(*to)), n);
}

/* Runs the loop until cond holds (bounded: 2 s). */
#define RUN_UNTIL(cond)                                                               \
	do {                                                                           \
		for (int i_ = 0; i_ < 2000 && !(cond); i_++)                          \
			run_once();                                                    \
		assert_true(cond);                                                     \
	} while (0)

static void test_dialog_owner_gets_ack_and_requests(void **state)
{
	struct fix *f = *state;
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct owner o = {.f = f};
	char req[1024], buf[4096];
	const char *host;
	int n, tcp;
	ssize_t got;

	assert_int_equal(stack_new(f, 1300, "imsd-unit", true), 0);
	assert_int_equal(sip_stack_method_set(f->stack, SIP_METHOD_INVITE, own_invite_h, &o),
			 0);
	assert_int_equal(sip_stack_method_set(f->stack, SIP_METHOD_INFO, req_h, f), 0);
	host = sip_stack_local_uri_host(f->stack, 0);
	to.sin_port = htons((uint16_t)atoi(strrchr(host, ':') + 1));

	/* INVITE: the owner makes the dialog and answers 200 */
	udp_send(f, &to, req, dlg_req(req, sizeof(req), "INVITE", host, "UDP", f->udp_port, 1, NULL));
	read_udp(f, buf, sizeof(buf));
	assert_true(!strncmp(buf, "SIP/2.0 200 OK\r\n", 16));
	assert_non_null(strstr(buf, ";tag=srv1"));
	assert_int_equal(o.invites, 1);
	assert_int_equal(sip_dialogs_count(sip_stack_dialogs(f->stack)), 1);

	/* the ACK of the 2xx reaches the owner with its flow */
	udp_send(f, &to, req, dlg_req(req, sizeof(req), "ACK", host, "UDP", f->udp_port, 2, "srv1"));
	RUN_UNTIL(o.acks == 1);
	assert_false(o.ack_flow.reliable);
	assert_true(net_addr_isset(&o.ack_flow.local));
	assert_int_equal(ntohs(o.ack_flow.peer.u.in.sin_port), f->udp_port);

	/* an in-dialog INFO: the owner answers it, not INFO's handler */
	udp_send(f, &to, req, dlg_req(req, sizeof(req), "INFO", host, "UDP", f->udp_port, 3, "srv1"));
	read_udp(f, buf, sizeof(buf));
	assert_true(!strncmp(buf, "SIP/2.0 200 OK\r\n", 16));
	assert_int_equal(o.reqs, 1);
	assert_int_equal(o.last_meth, SIP_METHOD_INFO);
	assert_int_equal(f->nreq, 0);
	assert_int_equal(ntohs(o.req_flow.peer.u.in.sin_port), f->udp_port);
	assert_int_equal(sip_dialog_remote_cseq(o.dlg), 3);

	/* out of order (RFC 3261 §12.2.2): the stack answers 500 */
	udp_send(f, &to, req, dlg_req(req, sizeof(req), "INFO", host, "UDP", f->udp_port, 2, "srv1"));
	read_udp(f, buf, sizeof(buf));
	assert_true(!strncmp(buf, "SIP/2.0 500 Server Internal Error - CSeq out of order\r\n", 55));
	assert_non_null(strstr(buf, "\r\nServer: imsd-unit\r\n"));
	assert_int_equal(o.reqs, 1);

	/* a To tag of no dialog keeps today's path: INFO's handler */
	udp_send(f, &to, req, dlg_req(req, sizeof(req), "INFO", host, "UDP", f->udp_port, 4, "other"));
	read_udp(f, buf, sizeof(buf));
	assert_true(!strncmp(buf, "SIP/2.0 202 Accepted\r\n", 22));
	assert_int_equal(f->nreq, 1);
	assert_int_equal(o.reqs, 1);

	/* a BYE over TCP: the owner gets it with that connection's flow */
	tcp = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(tcp >= 0);
	assert_int_equal(connect(tcp, (struct sockaddr *)&to, sizeof(to)), 0);
	n = dlg_req(req, sizeof(req), "BYE", host, "TCP", bound_port(tcp), 5, "srv1");
	assert_int_equal(send(tcp, req, (size_t)n, 0), n);
	run_until_readable(tcp);
	got = recv(tcp, buf, sizeof(buf) - 1, 0);
	assert_true(got > 16);
	buf[got] = '\0';
	assert_true(!strncmp(buf, "SIP/2.0 200 OK\r\n", 16));
	assert_int_equal(o.reqs, 2);
	assert_int_equal(o.last_meth, SIP_METHOD_BYE);
	assert_true(o.req_flow.reliable);
	assert_int_not_equal(o.req_flow.conn_id, 0);
	assert_int_equal(ntohs(o.req_flow.peer.u.in.sin_port), bound_port(tcp));
	/* the owner ended it: gone from the table */
	assert_int_equal(sip_dialogs_count(sip_stack_dialogs(f->stack)), 0);
	close(tcp);
	mem_deref(o.dlg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_alloc_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tsx_max_from_rate, setup, teardown),
	    cmocka_unit_test(test_tsx_max_holds_sms_target),
	    cmocka_unit_test_setup_teardown(test_small_request_over_udp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_request_over_tcp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_request_refused_falls_back_to_udp,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_request_reset_not_retried, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_large_request_connect_fails_at_once_udp,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_closed_tcp_flow_uses_contact_port, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_transport_tcp_and_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_flow_leaves_from_its_local_address, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_user_agent_kept_or_forced, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_request_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dispatch_and_allow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dialog_owner_gets_ack_and_requests, setup,
					    teardown),
	};

	return cmocka_run_group_tests_name("sip_stack", tests, NULL, NULL);
}
