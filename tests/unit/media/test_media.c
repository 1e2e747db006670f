/* Unit tests: media — the relay over loopback sockets playing the UEs:
 * SDP through a session (IPv4 caller, IPv6 callee), latching, forwarding
 * both ways, counters, the hijack drop, RTCP on the RTP port, rejection
 * of a media type, hold, rtp off, media_delay, echo (answer_local and
 * offer_local), exhausted ports, SDP errors, release; batched reads and
 * writes; the pool of bound pairs kept between calls (reuse after the
 * quarantine, stray packets on an idle pair dropped, the idle bound and the
 * descriptors it keeps). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../net/net_testutil.h"
#include "config/ims_cfg.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "loop/loop.h"
#include "media/media.h"

#define PORT_LO 41000
#define PORT_HI 41199

static struct media_relay *relay;
static size_t live0;

/* A UE: one non-blocking UDP socket. */
struct ue {
	int fd;
	struct net_addr addr;
};

static void ue_open(struct ue *u, const char *ip)
{
	socklen_t len = sizeof(u->addr.u.ss);

	assert_int_equal(net_addr_parse_str(&u->addr, ip, 0), 0);
	u->fd = socket(net_addr_af(&u->addr), SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(u->fd >= 0);
	assert_int_equal(bind(u->fd, net_addr_sa(&u->addr), net_addr_len(&u->addr)), 0);
	assert_int_equal(getsockname(u->fd, &u->addr.u.sa, &len), 0);
}

static void ue_send(const struct ue *u, const struct net_addr *to, const void *p, size_t len)
{
	assert_int_equal(sendto(u->fd, p, len, 0, net_addr_sa(to), net_addr_len(to)),
			 (ssize_t)len);
}

struct rx {
	const struct ue *u;
	uint8_t buf[2048];
	ssize_t len;
	struct net_addr from;
};

static bool rx_cond(void *arg)
{
	struct rx *r = arg;
	socklen_t sl = sizeof(r->from.u.ss);

	if (r->len > 0)
		return true;
	r->len = recvfrom(r->u->fd, r->buf, sizeof(r->buf), 0, &r->from.u.sa, &sl);
	return r->len > 0;
}

/* Waits up to 5 s for a datagram on u. */
static ssize_t ue_recv(const struct ue *u, struct rx *r)
{
	memset(r, 0, sizeof(*r));
	r->u = u;
	r->len = -1;
	tu_run_until(rx_cond, r, 5000);
	return r->len;
}

struct stat_wait {
	uint64_t *field;
	uint64_t want;
	struct media_relay_stats st;
};

static bool stat_cond(void *arg)
{
	struct stat_wait *w = arg;

	media_relay_stats(relay, &w->st);
	return *w->field >= w->want;
}

/* Waits until the relay has read `want` datagrams in all. */
static void wait_rx(uint64_t want)
{
	struct stat_wait w;

	w.field = &w.st.rx_pkts;
	w.want = want;
	assert_true(tu_run_until(stat_cond, &w, 5000));
	tu_run_once();
}

static const void *rtp_pkt(uint8_t *p, uint8_t pt, uint16_t seq, size_t len)
{
	memset(p, 0xab, len);
	p[0] = 0x80;
	p[1] = pt;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	return p;
}

static int setup(void **state)
{
	struct media_relay_addr a[3];
	struct media_relay_prm prm = {.addrs = a, .addr_count = 3, .pps_max = 50};

	(void)state;
	live0 = mem_live_count();
	assert_int_equal(loop_init(), 0);
	memset(a, 0, sizeof(a));
	assert_int_equal(net_addr_parse_str(&a[0].addr, "127.0.0.1", 0), 0);
	a[0].port_min = PORT_LO;
	a[0].port_max = PORT_HI;
	assert_int_equal(net_addr_parse_str(&a[1].addr, "::1", 0), 0);
	a[1].port_min = PORT_LO;
	a[1].port_max = PORT_HI;
	/* a small pool for the exhaustion test: 2 pairs */
	assert_int_equal(net_addr_parse_str(&a[2].addr, "127.0.0.3", 0), 0);
	a[2].port_min = PORT_HI + 1;
	a[2].port_max = PORT_HI + 4;
	assert_int_equal(media_relay_alloc(&relay, &prm), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	relay = mem_deref(relay);
	loop_close();
	assert_int_equal(mem_live_count(), live0);
	return 0;
}

static void leg_init(struct media_leg_prm *l, const char *local, const struct ue *sig)
{
	memset(l, 0, sizeof(*l));
	if (local)
		assert_int_equal(net_addr_parse_str(&l->local, local, 0), 0);
	if (sig)
		l->sig_peer = sig->addr;
	l->audio = l->video = l->text = l->rtp = l->rtcp = true;
}

static const char *sdp_of(struct mbuf *mb, const struct ue *u, const char *extra_media)
{
	char host[INET6_ADDRSTRLEN];
	int af = net_addr_af(&u->addr);

	inet_ntop(af, af == AF_INET ? (void *)&u->addr.u.in.sin_addr
				    : (void *)&u->addr.u.in6.sin6_addr,
		  host, sizeof(host));
	mbuf_clear(mb);
	mbuf_printf(mb,
		    "v=0\r\no=ue 1 1 IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\n"
		    "m=audio %u RTP/AVP 116 111\r\na=rtpmap:116 AMR-WB/16000\r\n"
		    "a=rtpmap:111 telephone-event/16000\r\na=curr:qos local none\r\n"
		    "a=des:qos mandatory local sendrecv\r\n%s",
		    af == AF_INET ? "IP4" : "IP6", host, af == AF_INET ? "IP4" : "IP6", host,
		    net_addr_port(&u->addr), extra_media ? extra_media : "");
	return mbuf_str(mb);
}

static int sdp_through(struct media_session *s, enum media_leg from, bool offer, const char *sdp,
		       struct mbuf *out, char *reason)
{
	struct media_sdp_prm p = {.from = from, .offer = offer, .sdp = sdp, .len = strlen(sdp),
				  .out = out, .reason = reason, .reason_size = 128};

	if (out)
		mbuf_clear(out);
	return media_session_sdp(s, &p);
}

/* The address an SDP we wrote tells its UE to send to, for m= line i. */
static void relay_addr(struct mbuf *out, size_t i, struct net_addr *a)
{
	static struct sdp_session sd;

	assert_int_equal(sdp_decode(&sd, (char *)out->buf, out->end, NULL, 0), 0);
	sdp_media_rtp_addr(&sd, i, a);
}

struct call {
	struct ue a, b, evil;
	struct media_session *s;
	struct net_addr ra, rb; /* relay addresses: A sends to ra, B to rb */
	struct mbuf mb, out;
};

static void call_up(struct call *c, struct media_session_prm *prm)
{
	char reason[128];

	mbuf_init(&c->mb, 0);
	mbuf_init(&c->out, 0);
	assert_int_equal(media_session_alloc(&c->s, relay, prm), 0);
	assert_int_equal(sdp_through(c->s, MEDIA_LEG_A, true, sdp_of(&c->mb, &c->a, NULL),
				     &c->out, reason), 0);
	relay_addr(&c->out, 0, &c->rb);
	assert_int_equal(sdp_through(c->s, MEDIA_LEG_B, false, sdp_of(&c->mb, &c->b, NULL),
				     &c->out, reason), 0);
	relay_addr(&c->out, 0, &c->ra);
}

static void call_down(struct call *c)
{
	c->s = mem_deref(c->s);
	mbuf_reset(&c->mb);
	mbuf_reset(&c->out);
	close(c->a.fd);
	close(c->b.fd);
	if (c->evil.fd > 0)
		close(c->evil.fd);
}

static void call_prm(struct call *c, struct media_session_prm *prm)
{
	memset(c, 0, sizeof(*c));
	ue_open(&c->a, "127.0.0.1");
	ue_open(&c->b, "::1");
	memset(prm, 0, sizeof(*prm));
	prm->id = "call-1";
	leg_init(&prm->leg[0], "127.0.0.1", &c->a);
	leg_init(&prm->leg[1], "::1", &c->b);
}

static void test_call_v4_v6(void **state)
{
	struct media_session_prm prm;
	struct media_stream_info in;
	struct media_relay_stats st;
	struct call c;
	uint8_t pkt[200];
	struct rx r;
	size_t n;

	(void)state;
	call_prm(&c, &prm);
	call_up(&c, &prm);
	/* the callee sees an IPv6 relay address, the caller an IPv4 one */
	assert_int_equal(net_addr_af(&c.rb), AF_INET6);
	assert_int_equal(net_addr_af(&c.ra), AF_INET);
	assert_true(net_addr_port(&c.ra) >= PORT_LO && net_addr_port(&c.ra) <= PORT_HI);
	assert_int_equal(net_addr_port(&c.ra) % 2, 0);
	assert_int_equal(media_session_stream_count(c.s), 1);

	/* A → relay → B, leaving from the port B was told */
	n = 172;
	rtp_pkt(pkt, 116, 1, n);
	ue_send(&c.a, &c.ra, pkt, n);
	assert_int_equal(ue_recv(&c.b, &r), (ssize_t)n);
	assert_memory_equal(r.buf, pkt, n);
	assert_true(net_addr_eq(&r.from, &c.rb));
	/* B → relay → A */
	n = 60;
	rtp_pkt(pkt, 116, 7, n);
	ue_send(&c.b, &c.rb, pkt, n);
	assert_int_equal(ue_recv(&c.a, &r), (ssize_t)n);
	assert_true(net_addr_eq(&r.from, &c.ra));
	/* RTCP on the RTP port (rtcp-mux, RFC 5761 §4): forwarded, counted as RTCP */
	n = 28;
	rtp_pkt(pkt, 200, 0, n);
	ue_send(&c.a, &c.ra, pkt, n);
	assert_int_equal(ue_recv(&c.b, &r), (ssize_t)n);

	assert_int_equal(media_session_stream_info(c.s, MEDIA_LEG_A, 0, &in), 0);
	assert_true(in.active && in.latched);
	assert_int_equal(in.type, SDP_MEDIA_AUDIO);
	assert_true(net_addr_eq(&in.rtp_addr, &c.a.addr));
	assert_int_equal(in.rtp_recv.pkts, 1);
	assert_int_equal(in.rtp_recv.bytes, 172);
	assert_int_equal(in.rtp_send.pkts, 1);
	assert_int_equal(in.rtp_send.bytes, 60);
	assert_int_equal(in.rtcp_recv.pkts, 1);
	assert_int_equal(in.rtcp_send.pkts, 0);
	assert_int_equal(media_session_stream_info(c.s, MEDIA_LEG_B, 0, &in), 0);
	assert_int_equal(in.rtp_recv.pkts, 1);
	assert_int_equal(in.rtp_send.pkts, 1);
	assert_int_equal(in.rtcp_send.pkts, 1);
	assert_int_equal(media_session_stream_info(c.s, MEDIA_LEG_B, 1, &in), EINVAL);
	assert_true(media_session_last_rx_ms(c.s) > 0);

	/* no hijack, no bleed: another host's packets are dropped and counted */
	ue_open(&c.evil, "127.0.0.2");
	media_relay_stats(relay, &st);
	ue_send(&c.evil, &c.ra, pkt, n);
	/* not RTP at all from A itself */
	memset(pkt, 0, 20);
	ue_send(&c.a, &c.ra, pkt, 20);
	wait_rx(st.rx_pkts + 2);
	media_relay_stats(relay, &st);
	assert_int_equal(st.drop_source, 1);
	assert_int_equal(st.drop_invalid, 1);
	assert_int_equal(media_session_stream_info(c.s, MEDIA_LEG_A, 0, &in), 0);
	assert_int_equal(in.dropped, 2);
	assert_int_equal(in.rtp_recv.pkts, 1);
	assert_true(recv(c.b.fd, pkt, sizeof(pkt), 0) < 0); /* nothing reached B */

	/* release frees the ports; the counters stay readable */
	assert_int_equal(st.pairs_used, 2);
	assert_int_equal(st.sessions, 1);
	assert_true(media_session_mem(c.s) > 0);
	media_session_release(c.s);
	media_session_release(c.s);
	media_relay_stats(relay, &st);
	assert_int_equal(st.pairs_used, 0);
	assert_int_equal(st.sessions, 0);
	assert_int_equal(media_session_stream_info(c.s, MEDIA_LEG_A, 0, &in), 0);
	assert_int_equal(in.rtp_recv.pkts, 1);
	assert_false(in.active);
	call_down(&c);
}

/* RTCP on its own port (RFC 3605 a=rtcp): the SDP each UE gets names the
 * relay's RTCP port, RTCP goes RTCP socket to RTCP socket, latched and
 * counted apart from RTP. */
static void test_rtcp_port(void **state)
{
	struct media_session_prm prm;
	struct media_stream_info in;
	struct sdp_session *sd = test_malloc(sizeof(*sd));
	struct call c;
	struct ue ca, cb; /* the UEs' RTCP sockets */
	struct net_addr ra_rtcp, rb_rtcp;
	uint8_t pkt[100];
	struct rx r;
	char reason[128], extra[64];
	struct mbuf sdp;

	(void)state;
	call_prm(&c, &prm);
	ue_open(&ca, "127.0.0.1");
	ue_open(&cb, "::1");
	mbuf_init(&c.mb, 0);
	mbuf_init(&c.out, 0);
	mbuf_init(&sdp, 0);
	assert_int_equal(media_session_alloc(&c.s, relay, &prm), 0);
	snprintf(extra, sizeof(extra), "a=rtcp:%u\r\n", net_addr_port(&ca.addr));
	mbuf_write_str(&sdp, sdp_of(&c.mb, &c.a, extra));
	assert_int_equal(sdp_through(c.s, MEDIA_LEG_A, true, mbuf_str(&sdp), &c.out, reason), 0);
	assert_int_equal(sdp_decode(sd, (char *)c.out.buf, c.out.end, NULL, 0), 0);
	sdp_media_rtp_addr(sd, 0, &c.rb);
	sdp_media_rtcp_addr(sd, 0, &rb_rtcp);
	assert_true(sd->media[0].rtcp_set);
	assert_int_equal(net_addr_port(&rb_rtcp), net_addr_port(&c.rb) + 1);
	assert_int_equal(net_addr_af(&rb_rtcp), AF_INET6);

	mbuf_clear(&sdp);
	snprintf(extra, sizeof(extra), "a=rtcp:%u IN IP6 ::1\r\n", net_addr_port(&cb.addr));
	mbuf_write_str(&sdp, sdp_of(&c.mb, &c.b, extra));
	assert_int_equal(sdp_through(c.s, MEDIA_LEG_B, false, mbuf_str(&sdp), &c.out, reason), 0);
	assert_non_null(strstr(mbuf_str(&c.out), " IN IP4 127.0.0.1\r\n"));
	assert_int_equal(sdp_decode(sd, (char *)c.out.buf, c.out.end, NULL, 0), 0);
	sdp_media_rtp_addr(sd, 0, &c.ra);
	sdp_media_rtcp_addr(sd, 0, &ra_rtcp);
	assert_int_equal(net_addr_port(&ra_rtcp), net_addr_port(&c.ra) + 1);
	assert_int_equal(net_addr_af(&ra_rtcp), AF_INET);

	/* A's RTCP reaches B's RTCP socket from the relay's RTCP port, and back */
	ue_send(&ca, &ra_rtcp, rtp_pkt(pkt, 200, 0, 52), 52);
	assert_int_equal(ue_recv(&cb, &r), 52);
	assert_true(net_addr_eq(&r.from, &rb_rtcp));
	ue_send(&cb, &rb_rtcp, rtp_pkt(pkt, 201, 0, 32), 32);
	assert_int_equal(ue_recv(&ca, &r), 32);
	assert_true(net_addr_eq(&r.from, &ra_rtcp));
	assert_int_equal(media_session_stream_info(c.s, MEDIA_LEG_A, 0, &in), 0);
	assert_int_equal(in.rtcp_recv.pkts, 1);
	assert_int_equal(in.rtcp_recv.bytes, 52);
	assert_int_equal(in.rtcp_send.pkts, 1);
	assert_int_equal(in.rtp_recv.pkts, 0);
	assert_true(net_addr_eq(&in.rtcp_addr, &ca.addr));
	assert_false(in.latched); /* RTP has not latched: RTCP latches apart */

	mbuf_reset(&sdp);
	close(ca.fd);
	close(cb.fd);
	test_free(sd);
	call_down(&c);
}

static void test_nat_latch(void **state)
{
	struct media_session_prm prm;
	struct media_stream_info in;
	struct media_relay_stats st;
	struct call c;
	struct ue nat;
	uint8_t pkt[100];
	struct rx r;
	char reason[128];

	(void)state;
	call_prm(&c, &prm);
	mbuf_init(&c.mb, 0);
	mbuf_init(&c.out, 0);
	assert_int_equal(media_session_alloc(&c.s, relay, &prm), 0);
	/* A signals a private address it cannot be reached at */
	assert_int_equal(sdp_through(c.s, MEDIA_LEG_A, true,
				     "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"
				     "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
				     &c.out, reason),
			 0);
	relay_addr(&c.out, 0, &c.rb);
	assert_int_equal(sdp_through(c.s, MEDIA_LEG_B, false, sdp_of(&c.mb, &c.b, NULL), &c.out,
				     reason),
			 0);
	relay_addr(&c.out, 0, &c.ra);
	/* it sends from its signalling IP, another port: latched there */
	ue_open(&nat, "127.0.0.1");
	ue_send(&nat, &c.ra, rtp_pkt(pkt, 0, 1, 50), 50);
	assert_int_equal(ue_recv(&c.b, &r), 50);
	ue_send(&c.b, &c.rb, rtp_pkt(pkt, 0, 2, 40), 40);
	assert_int_equal(ue_recv(&nat, &r), 40);
	assert_int_equal(media_session_stream_info(c.s, MEDIA_LEG_A, 0, &in), 0);
	assert_true(net_addr_eq(&in.rtp_addr, &nat.addr));
	/* once latched, even the UE's signalling IP on another port is refused */
	media_relay_stats(relay, &st);
	ue_send(&c.a, &c.ra, rtp_pkt(pkt, 0, 3, 50), 50);
	wait_rx(st.rx_pkts + 1);
	assert_true(recv(c.b.fd, pkt, sizeof(pkt), 0) < 0);
	assert_int_equal(media_session_stream_info(c.s, MEDIA_LEG_A, 0, &in), 0);
	assert_int_equal(in.dropped, 1);
	close(nat.fd);
	call_down(&c);
}

static void test_reject_and_hold(void **state)
{
	static const char extra[] = "m=video 5000 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n"
				    "m=application 9 TCP/MSRP *\r\n";
	struct media_session_prm prm;
	struct media_relay_stats st;
	struct sdp_session *sd = NULL;
	struct call c;
	uint8_t pkt[100];
	struct rx r;
	char reason[128];
	struct mbuf ans;

	(void)state;
	sd = test_malloc(sizeof(*sd));
	call_prm(&c, &prm);
	prm.leg[1].video = false; /* the callee's IMPU: video false */
	mbuf_init(&c.mb, 0);
	mbuf_init(&c.out, 0);
	mbuf_init(&ans, 0);
	assert_int_equal(media_session_alloc(&c.s, relay, &prm), 0);
	assert_int_equal(sdp_through(c.s, MEDIA_LEG_A, true, sdp_of(&c.mb, &c.a, extra), &c.out,
				     reason),
			 0);
	assert_int_equal(sdp_decode(sd, (char *)c.out.buf, c.out.end, NULL, 0), 0);
	assert_int_equal(sd->media_count, 3);
	assert_true(sd->media[0].port != 0);
	assert_int_equal(sd->media[1].port, 0); /* video refused */
	assert_int_equal(sd->media[2].port, 0); /* TCP is not relayed */
	sdp_media_rtp_addr(sd, 0, &c.rb);
	media_relay_stats(relay, &st);
	assert_int_equal(st.pairs_used, 2); /* audio on both legs only */
	/* B answers video anyway: the caller still sees port 0 */
	mbuf_clear(&ans);
	mbuf_printf(&ans, "%s", sdp_of(&c.mb, &c.b, "m=video 6000 RTP/AVP 97\r\n"
						    "m=application 0 TCP/MSRP *\r\n"));
	assert_int_equal(sdp_through(c.s, MEDIA_LEG_B, false, mbuf_str(&ans), &c.out, reason), 0);
	assert_int_equal(sdp_decode(sd, (char *)c.out.buf, c.out.end, NULL, 0), 0);
	assert_int_equal(sd->media[1].port, 0);
	sdp_media_rtp_addr(sd, 0, &c.ra);

	/* hold: A re-offers sendonly, B answers recvonly */
	mbuf_clear(&ans);
	mbuf_printf(&ans, "%sa=sendonly\r\n%s", sdp_of(&c.mb, &c.a, NULL), extra);
	assert_int_equal(sdp_through(c.s, MEDIA_LEG_A, true, mbuf_str(&ans), &c.out, reason), 0);
	assert_non_null(strstr(mbuf_str(&c.out), "a=sendonly"));
	mbuf_clear(&ans);
	mbuf_printf(&ans, "%sa=recvonly\r\nm=video 0 RTP/AVP 97\r\nm=application 0 TCP/MSRP *\r\n",
		    sdp_of(&c.mb, &c.b, NULL));
	assert_int_equal(sdp_through(c.s, MEDIA_LEG_B, false, mbuf_str(&ans), &c.out, reason), 0);
	ue_send(&c.a, &c.ra, rtp_pkt(pkt, 116, 1, 50), 50);
	assert_int_equal(ue_recv(&c.b, &r), 50); /* the holder's music on hold */
	media_relay_stats(relay, &st);
	ue_send(&c.b, &c.rb, rtp_pkt(pkt, 116, 1, 50), 50);
	wait_rx(st.rx_pkts + 1);
	assert_true(recv(c.a.fd, pkt, sizeof(pkt), 0) < 0); /* held direction */
	media_relay_stats(relay, &st);
	assert_int_equal(st.drop_blocked, 1);

	/* an offer removing m= lines, an answer of the wrong shape */
	assert_int_equal(sdp_through(c.s, MEDIA_LEG_A, true, sdp_of(&c.mb, &c.a, NULL), &c.out,
				     reason),
			 EPROTO);
	assert_non_null(strstr(reason, "RFC 3264"));
	assert_int_equal(sdp_through(c.s, MEDIA_LEG_A, false, sdp_of(&c.mb, &c.a, NULL), &c.out,
				     reason),
			 EPROTO);
	assert_int_equal(sdp_through(c.s, MEDIA_LEG_A, true, "v=0\r\nm=audio x\r\n", &c.out,
				     reason),
			 EBADMSG);
	assert_non_null(strstr(reason, "SDP line 2"));
	mbuf_reset(&ans);
	test_free(sd);
	call_down(&c);
}

static void test_rtp_off_and_delay(void **state)
{
	struct media_session_prm prm;
	struct media_relay_stats st;
	struct call c;
	uint8_t pkt[100];
	struct rx r;
	size_t mem0;

	(void)state;
	call_prm(&c, &prm);
	prm.leg[0].rtp = false;	    /* what A sends is not forwarded */
	prm.leg[0].delay_ms = 1500; /* what A is sent waits */
	call_up(&c, &prm);
	media_relay_stats(relay, &st);
	ue_send(&c.a, &c.ra, rtp_pkt(pkt, 116, 1, 50), 50);
	wait_rx(st.rx_pkts + 1);
	media_relay_stats(relay, &st);
	assert_int_equal(st.drop_blocked, 1);
	/* RTCP still goes */
	ue_send(&c.a, &c.ra, rtp_pkt(pkt, 201, 1, 32), 32);
	assert_int_equal(ue_recv(&c.b, &r), 32);
	/* media_delay: B's packet is held, then delivered */
	mem0 = media_session_mem(c.s);
	ue_send(&c.b, &c.rb, rtp_pkt(pkt, 116, 9, 70), 70);
	wait_rx(st.rx_pkts + 2);
	assert_true(media_session_mem(c.s) > mem0);
	assert_int_equal(ue_recv(&c.a, &r), 70);
	assert_int_equal(r.buf[3], 9);
	assert_int_equal(media_session_mem(c.s), mem0);
	media_session_flags_set(c.s, MEDIA_LEG_A, true, true);
	ue_send(&c.a, &c.ra, rtp_pkt(pkt, 116, 2, 50), 50);
	assert_int_equal(ue_recv(&c.b, &r), 50);
	call_down(&c);
}

static void test_echo(void **state)
{
	struct media_session_prm prm;
	struct media_local_prm lp;
	struct media_stream_info in;
	struct sdp_session *sd = test_malloc(sizeof(*sd));
	struct call c;
	struct net_addr ra;
	uint8_t pkt[100];
	struct rx r;
	char reason[128];

	(void)state;
	call_prm(&c, &prm);
	memset(&prm.leg[1], 0, sizeof(prm.leg[1])); /* leg B is imsd itself */
	mbuf_init(&c.mb, 0);
	mbuf_init(&c.out, 0);
	assert_int_equal(media_session_alloc(&c.s, relay, &prm), 0);
	memset(&lp, 0, sizeof(lp));
	lp.leg = MEDIA_LEG_A;
	lp.sdp = sdp_of(&c.mb, &c.a, "m=video 5000 RTP/AVP 97\r\na=sendonly\r\n");
	lp.len = strlen(lp.sdp);
	lp.out = &c.out;
	lp.reason = reason;
	lp.reason_size = sizeof(reason);
	assert_int_equal(media_session_answer_local(c.s, &lp), 0);
	assert_int_equal(sdp_decode(sd, (char *)c.out.buf, c.out.end, NULL, 0), 0);
	assert_int_equal(sdp_media_dir(sd, 1), SDP_DIR_RECVONLY); /* the answer's view */
	assert_non_null(strstr(mbuf_str(&c.out), "a=rtpmap:116 AMR-WB/16000"));
	sdp_media_rtp_addr(sd, 0, &ra);
	ue_send(&c.a, &ra, rtp_pkt(pkt, 116, 5, 80), 80);
	assert_int_equal(ue_recv(&c.a, &r), 80);
	assert_true(net_addr_eq(&r.from, &ra));
	assert_int_equal(r.buf[3], 5);
	assert_int_equal(media_session_stream_info(c.s, MEDIA_LEG_A, 0, &in), 0);
	assert_int_equal(in.rtp_recv.pkts, 1);
	assert_int_equal(in.rtp_send.pkts, 1);
	/* SDP for imsd's own leg cannot be sent anywhere */
	assert_int_equal(sdp_through(c.s, MEDIA_LEG_B, true, lp.sdp, &c.out, reason), EINVAL);
	/* a forced answer (sdp_file) must match the offer's m= count */
	lp.tmpl = "v=0\r\no=imsd 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		  "m=audio 1 RTP/AVP 8\r\n";
	lp.tmpl_len = strlen(lp.tmpl);
	assert_int_equal(media_session_answer_local(c.s, &lp), EPROTO);
	c.s = mem_deref(c.s);

	/* mt_call: imsd offers (the default offer), the UE answers, media echoes */
	assert_int_equal(media_session_alloc(&c.s, relay, &prm), 0);
	mbuf_clear(&c.out);
	lp.tmpl = media_sdp_default_offer;
	lp.tmpl_len = strlen(lp.tmpl);
	assert_int_equal(media_session_offer_local(c.s, &lp), 0);
	assert_non_null(strstr(mbuf_str(&c.out), "m=audio 41"));
	assert_non_null(strstr(mbuf_str(&c.out), "\r\nc=IN IP4 127.0.0.1\r\n"));
	assert_non_null(strstr(mbuf_str(&c.out), "a=rtpmap:96 AMR-WB/16000"));
	assert_null(strstr(mbuf_str(&c.out), "192.0.2.1"));
	relay_addr(&c.out, 0, &ra);
	assert_int_equal(sdp_through(c.s, MEDIA_LEG_A, false, sdp_of(&c.mb, &c.a, NULL), NULL,
				     reason),
			 0);
	ue_send(&c.a, &ra, rtp_pkt(pkt, 8, 6, 90), 90);
	assert_int_equal(ue_recv(&c.a, &r), 90);
	test_free(sd);
	call_down(&c);
}

static void test_exhausted(void **state)
{
	struct media_session_prm prm;
	struct media_session *s2 = NULL;
	struct media_relay_stats st;
	struct call c;
	char reason[128];

	(void)state;
	memset(&c, 0, sizeof(c));
	ue_open(&c.a, "127.0.0.1");
	ue_open(&c.b, "127.0.0.1");
	memset(&prm, 0, sizeof(prm));
	leg_init(&prm.leg[0], "127.0.0.3", &c.a);
	leg_init(&prm.leg[1], "127.0.0.3", &c.b);
	call_up(&c, &prm); /* both pairs of the small pool */
	assert_int_equal(media_session_alloc(&s2, relay, &prm), 0);
	assert_int_equal(sdp_through(s2, MEDIA_LEG_A, true, sdp_of(&c.mb, &c.a, NULL), &c.out,
				     reason),
			 ENOSPC);
	assert_non_null(strstr(reason, "no free media port pair"));
	assert_int_equal(media_session_stream_count(s2), 0);
	media_relay_stats(relay, &st);
	assert_true(st.exhausted >= 1);
	assert_int_equal(st.pairs_used, 2);
	media_session_release(c.s);
	assert_int_equal(sdp_through(s2, MEDIA_LEG_A, true, sdp_of(&c.mb, &c.a, NULL), &c.out,
				     reason),
			 0);
	/* a leg on an address that is no sip_addr */
	leg_init(&prm.leg[1], "127.0.0.9", &c.b);
	prm.leg[1].rtp = false;
	assert_int_equal(media_session_leg_set(s2, MEDIA_LEG_B, &prm.leg[1]), EBUSY);
	{
		/* the address stays (the UE knows those ports), the rest is taken:
		 * B's RTP is no longer forwarded */
		struct media_relay_stats st0;
		struct net_addr rb;
		uint8_t pkt[64];

		relay_addr(&c.out, 0, &rb);
		assert_string_equal(net_addr_print_host(&rb, (char *)pkt, sizeof(pkt)),
				    "127.0.0.3");
		media_relay_stats(relay, &st0);
		ue_send(&c.b, &rb, rtp_pkt(pkt, 116, 1, 40), 40);
		wait_rx(st0.rx_pkts + 1);
		media_relay_stats(relay, &st);
		assert_int_equal(st.drop_blocked, st0.drop_blocked + 1);
		assert_true(recv(c.a.fd, pkt, sizeof(pkt), 0) < 0);
	}
	prm.leg[1].rtp = true;
	s2 = mem_deref(s2);
	assert_int_equal(media_session_alloc(&s2, relay, &prm), 0);
	assert_int_equal(sdp_through(s2, MEDIA_LEG_A, true, sdp_of(&c.mb, &c.a, NULL), &c.out,
				     reason),
			 EADDRNOTAVAIL);
	media_relay_stats(relay, &st);
	assert_int_equal(st.pairs_used, 0); /* nothing half-open */
	s2 = mem_deref(s2);
	call_down(&c);
}

/* A flood from the UE itself: past pps_max a second, dropped and counted;
 * the relay keeps forwarding the allowed share. */
static void test_flood(void **state)
{
	struct media_session_prm prm;
	struct media_relay_stats st;
	struct media_stream_info in;
	struct call c;
	uint8_t pkt[100];

	(void)state;
	call_prm(&c, &prm);
	call_up(&c, &prm);
	media_relay_stats(relay, &st);
	for (uint16_t i = 0; i < 150; i++)
		ue_send(&c.a, &c.ra, rtp_pkt(pkt, 116, i, 60), 60);
	wait_rx(st.rx_pkts + 150);
	media_relay_stats(relay, &st);
	/* 150 packets read within 3 one-second windows cannot all pass 50 a second */
	assert_true(st.drop_flood >= 1);
	assert_int_equal(media_session_stream_info(c.s, MEDIA_LEG_A, 0, &in), 0);
	assert_int_equal(in.rtp_recv.pkts + st.drop_flood, 150);
	assert_true(in.rtp_recv.pkts >= 50);
	/* memory: a session with one stream is an empty one plus a stream */
	{
		struct media_session *empty = NULL;

		assert_int_equal(media_session_alloc(&empty, relay, &prm), 0);
		assert_int_equal(media_session_mem(c.s),
				 media_session_mem(empty) + media_stream_mem());
		mem_deref(empty);
	}
	call_down(&c);
}

static void test_relay_cfg(void **state)
{
	struct ims_cfg_sip_addr sa[3];
	struct ims_cfg cfg;
	struct media_relay *r = NULL;
	struct media_relay_stats st;

	(void)state;
	memset(sa, 0, sizeof(sa));
	memset(&cfg, 0, sizeof(cfg));
	sa[0].addr.host = "127.0.0.1";
	sa[0].port_min = 10000;
	sa[0].port_max = 20000;
	sa[1].addr.host = "127.0.0.1"; /* a second SIP port on the same IP: one pool */
	sa[1].addr.port = 5070;
	sa[1].port_min = 30000;
	sa[1].port_max = 30009;
	sa[2].addr.host = "::1";
	sa[2].bind_addr.host = "::";
	sa[2].port_min = 30000;
	sa[2].port_max = 30009;
	cfg.sip_addr = sa;
	cfg.sip_addr_count = 3;
	assert_int_equal(media_relay_alloc_cfg(&r, &cfg), 0);
	media_relay_stats(r, &st);
	assert_int_equal(st.pairs_total, 5000 + 5);
	assert_true(st.mem_bytes > (size_t)MEDIA_BATCH * MEDIA_PKT_MAX);
	r = mem_deref(r);
	sa[2].addr.host = "ims.example.com";
	assert_int_equal(media_relay_alloc_cfg(&r, &cfg), EBADMSG);
	cfg.sip_addr_count = 0;
	assert_int_equal(media_relay_alloc_cfg(&r, &cfg), EINVAL);
}

static void test_relay_prm(void **state)
{
	struct media_relay_addr a = {0};
	struct media_relay_prm prm = {.addrs = &a, .addr_count = 1};
	struct media_relay *r = NULL;

	(void)state;
	assert_int_equal(media_relay_alloc(&r, &prm), EINVAL); /* no address */
	assert_int_equal(net_addr_parse_str(&a.addr, "127.0.0.1", 0), 0);
	a.port_min = 2000;
	a.port_max = 1000;
	assert_int_equal(media_relay_alloc(&r, &prm), EINVAL);
	a.port_min = 1001;
	a.port_max = 1002; /* rounds up to 1002: no pair left */
	assert_int_equal(media_relay_alloc(&r, &prm), EINVAL);
	a.port_max = 1003;
	assert_int_equal(media_relay_alloc(&r, &prm), 0);
	r = mem_deref(r);
	prm.addr_count = 0;
	assert_int_equal(media_relay_alloc(&r, &prm), EINVAL);
}

/* Batches: what waits on a socket is read MEDIA_BATCH datagrams per
 * recvmmsg and leaves by one sendmmsg per read; the level-triggered loop
 * comes back for the rest. Every packet arrives, in order, counted once. */
static void test_batch(void **state)
{
	struct media_session_prm prm;
	struct media_relay_stats st0, st;
	struct media_stream_info in;
	struct call c;
	uint8_t pkt[100];
	struct rx r;

	(void)state;
	call_prm(&c, &prm);
	call_up(&c, &prm);
	media_relay_stats(relay, &st0);
	for (uint16_t i = 0; i < 40; i++)
		ue_send(&c.a, &c.ra, rtp_pkt(pkt, 116, i, 60), 60);
	wait_rx(st0.rx_pkts + 40);
	media_relay_stats(relay, &st);
	assert_int_equal(st.rx_pkts - st0.rx_pkts, 40);
	assert_int_equal(st.tx_pkts - st0.tx_pkts, 40);
	/* MEDIA_BATCH, then the 8 left; each read leaves by one send */
	assert_int_equal(st.rx_reads - st0.rx_reads, 2);
	assert_int_equal(st.tx_writes - st0.tx_writes, 2);
	for (uint16_t i = 0; i < 40; i++) {
		assert_int_equal(ue_recv(&c.b, &r), 60);
		assert_int_equal((r.buf[2] << 8) | r.buf[3], i);
	}
	assert_int_equal(media_session_stream_info(c.s, MEDIA_LEG_A, 0, &in), 0);
	assert_int_equal(in.rtp_recv.pkts, 40);
	assert_int_equal(in.rtp_recv.bytes, 40 * 60);
	assert_int_equal(media_session_stream_info(c.s, MEDIA_LEG_B, 0, &in), 0);
	assert_int_equal(in.rtp_send.pkts, 40);
	call_down(&c);
}


/* ---- the pool of bound pairs kept between calls ---- */

#define POOL_LO 41300
#define POOL_HI 41307 /* 4 pairs */

/* A relay of one address, 127.0.0.1 POOL_LO..POOL_HI, in `relay`. */
static void pool_relay(uint32_t idle_max, uint32_t quarantine_ms)
{
	struct media_relay_addr a;
	struct media_relay_prm prm = {.addrs = &a, .addr_count = 1, .idle_max = idle_max,
				      .quarantine_ms = quarantine_ms};

	memset(&a, 0, sizeof(a));
	assert_int_equal(net_addr_parse_str(&a.addr, "127.0.0.1", 0), 0);
	a.port_min = POOL_LO;
	a.port_max = POOL_HI;
	assert_int_equal(media_relay_alloc(&relay, &prm), 0);
}

static int setup_pool(void **state)
{
	(void)state;
	live0 = mem_live_count();
	assert_int_equal(loop_init(), 0);
	return 0;
}

static size_t fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void pool_call(struct call *c, struct media_session_prm *prm)
{
	memset(c, 0, sizeof(*c));
	ue_open(&c->a, "127.0.0.1");
	ue_open(&c->b, "127.0.0.1");
	memset(prm, 0, sizeof(*prm));
	prm->id = "pool";
	leg_init(&prm->leg[0], "127.0.0.1", &c->a);
	leg_init(&prm->leg[1], "127.0.0.1", &c->b);
	call_up(c, prm);
}

static void rest(unsigned ms)
{
	struct timespec ts = {.tv_nsec = (long)ms * 1000000};

	nanosleep(&ts, NULL);
	tu_run_once(); /* loop_now_ms() moves on */
}

/* A pair that has rested is taken again without a new bind; a call still
 * relays on it. */
static void test_pool_reuse(void **state)
{
	struct media_session_prm prm;
	struct media_relay_stats st;
	struct net_addr ra, rb;
	struct call c;
	uint8_t pkt[80];
	struct rx r;
	size_t fds;

	(void)state;
	pool_relay(0, 2);
	pool_call(&c, &prm);
	ra = c.ra;
	rb = c.rb;
	media_relay_stats(relay, &st);
	assert_int_equal(st.pairs_used, 2);
	assert_int_equal(st.pairs_idle, 0);
	call_down(&c);
	media_relay_stats(relay, &st);
	assert_int_equal(st.pairs_used, 0);
	assert_int_equal(st.pairs_idle, 2); /* kept bound */
	fds = fd_count();
	rest(10);
	pool_call(&c, &prm);
	/* the same two pairs (the FIFO's order decides which leg gets which) */
	assert_true((net_addr_eq(&c.ra, &ra) && net_addr_eq(&c.rb, &rb)) ||
		    (net_addr_eq(&c.ra, &rb) && net_addr_eq(&c.rb, &ra)));
	assert_int_equal(fd_count(), fds + 2); /* the two new UEs' sockets only */
	media_relay_stats(relay, &st);
	assert_int_equal(st.pairs_used, 2);
	assert_int_equal(st.pairs_idle, 0);
	ue_send(&c.a, &c.ra, rtp_pkt(pkt, 116, 1, 80), 80);
	assert_int_equal(ue_recv(&c.b, &r), 80);
	assert_true(net_addr_eq(&r.from, &c.rb));
	call_down(&c);
}

/* A freed pair rests: the next call gets other ports while one is free,
 * a late packet to the ended call's pair is drained and counted, never
 * relayed; only a full range takes a pair that has not rested. */
static void test_pool_quarantine(void **state)
{
	struct media_session_prm prm, prm2;
	struct media_relay_stats st, st0;
	struct net_addr ra, rb;
	struct call c, c2;
	uint8_t pkt[80];
	struct rx r;

	(void)state;
	pool_relay(0, 60000);
	pool_call(&c, &prm);
	ra = c.ra;
	rb = c.rb;
	media_session_release(c.s);
	pool_call(&c2, &prm2);
	assert_false(net_addr_eq(&c2.ra, &ra) || net_addr_eq(&c2.ra, &rb));
	assert_false(net_addr_eq(&c2.rb, &ra) || net_addr_eq(&c2.rb, &rb));
	/* the first call's A, late: to its idle pair */
	media_relay_stats(relay, &st0);
	ue_send(&c.a, &ra, rtp_pkt(pkt, 116, 9, 80), 80);
	ue_send(&c.b, &rb, rtp_pkt(pkt, 116, 9, 80), 80);
	wait_rx(st0.rx_pkts + 2);
	media_relay_stats(relay, &st);
	assert_int_equal(st.drop_idle, st0.drop_idle + 2);
	assert_int_equal(st.tx_pkts, st0.tx_pkts);
	assert_true(recv(c2.a.fd, pkt, sizeof(pkt), 0) < 0);
	assert_true(recv(c2.b.fd, pkt, sizeof(pkt), 0) < 0);
	/* the range is full (2 used, 2 idle): a third call takes the idle
	 * pairs, drained first, so a packet waiting there is not relayed */
	ue_send(&c.a, &ra, rtp_pkt(pkt, 116, 10, 80), 80);
	ue_send(&c.b, &rb, rtp_pkt(pkt, 116, 10, 80), 80);
	{
		struct call c3;
		struct media_session_prm prm3;

		pool_call(&c3, &prm3);
		assert_true(net_addr_eq(&c3.ra, &ra) || net_addr_eq(&c3.ra, &rb));
		media_relay_stats(relay, &st);
		assert_int_equal(st.pairs_used, 4);
		assert_int_equal(st.pairs_idle, 0);
		assert_true(st.drop_idle >= st0.drop_idle + 3);
		tu_run_once();
		assert_true(recv(c3.a.fd, pkt, sizeof(pkt), 0) < 0);
		assert_true(recv(c3.b.fd, pkt, sizeof(pkt), 0) < 0);
		/* and it relays */
		ue_send(&c3.b, &c3.rb, rtp_pkt(pkt, 116, 1, 80), 80);
		assert_int_equal(ue_recv(&c3.a, &r), 80);
		call_down(&c3);
	}
	call_down(&c2);
	call_down(&c);
}

/* At most idle_max pairs stay bound per address; the rest are closed, so
 * the descriptors the pool keeps are bounded. */
static void test_pool_bound(void **state)
{
	struct media_session_prm prm, prm2;
	struct media_relay_stats st;
	struct call c, c2;
	size_t fds0;

	(void)state;
	fds0 = fd_count();
	pool_relay(1, 60000);
	pool_call(&c, &prm);
	pool_call(&c2, &prm2);
	media_relay_stats(relay, &st);
	assert_int_equal(st.pairs_used, 4);
	call_down(&c);
	call_down(&c2);
	media_relay_stats(relay, &st);
	assert_int_equal(st.pairs_used, 0);
	assert_int_equal(st.pairs_idle, 1);
	assert_int_equal(fd_count(), fds0 + 2); /* one pair: two sockets */
	relay = mem_deref(relay);
	assert_int_equal(fd_count(), fds0); /* the relay closes what it kept */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_call_v4_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtcp_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nat_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_and_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtp_off_and_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exhausted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_reuse, setup_pool, teardown),
		cmocka_unit_test_setup_teardown(test_pool_quarantine, setup_pool, teardown),
		cmocka_unit_test_setup_teardown(test_pool_bound, setup_pool, teardown),
		cmocka_unit_test(test_relay_prm),
		cmocka_unit_test(test_relay_cfg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
