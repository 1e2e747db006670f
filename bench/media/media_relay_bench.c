/*
 * bench/media — imsd's relay as a process of its own, for the RTP relay
 * benchmark (bench/media/run.sh): sets up N calls through the real SDP
 * path (offer from UE A, answer from UE B), writes one line per call to
 * the pairs file, then relays until SIGTERM and prints the relay's counts.
 *
 *   media_relay_bench CALLS UE_BASE PORT_MIN PORT_MAX PAIRS_FILE
 *
 * UE A of call i is 127.0.0.1:UE_BASE+4i, UE B 127.0.0.1:UE_BASE+4i+2.
 * Pairs file lines: "ueA_port relayA_port ueB_port relayB_port".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "loop/loop.h"
#include "media/media.h"

static void sig_h(int signo, void *arg)
{
	(void)signo;
	(void)arg;
	loop_stop();
}

static const char *sdp_of(struct mbuf *mb, unsigned port)
{
	mbuf_clear(mb);
	mbuf_printf(mb,
		    "v=0\r\no=ue 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		    "m=audio %u RTP/AVP 96 100\r\na=rtpmap:96 AMR-WB/16000\r\n"
		    "a=rtpmap:100 telephone-event/16000\r\na=ptime:20\r\na=sendrecv\r\n",
		    port);
	return mbuf_str(mb);
}

static unsigned port_of(struct mbuf *out)
{
	static struct sdp_session sd;
	struct net_addr a;

	if (sdp_decode(&sd, (char *)out->buf, out->end, NULL, 0) || sd.media_count != 1)
		return 0;
	sdp_media_rtp_addr(&sd, 0, &a);
	return net_addr_port(&a);
}

static int call_setup(struct media_relay *r, struct media_session **sp, unsigned ua,
		      unsigned ub, unsigned *ra, unsigned *rb)
{
	struct media_session_prm prm = {.id = "bench"};
	struct mbuf in, out;
	struct media_sdp_prm p = {0};
	int err;

	mbuf_init(&in, 0);
	mbuf_init(&out, 0);
	for (int l = 0; l < 2; l++) {
		net_addr_parse_str(&prm.leg[l].local, "127.0.0.1", 0);
		net_addr_parse_str(&prm.leg[l].sig_peer, "127.0.0.1", 5060);
		prm.leg[l].audio = prm.leg[l].rtp = prm.leg[l].rtcp = true;
	}
	err = media_session_alloc(sp, r, &prm);
	p.out = &out;
	p.from = MEDIA_LEG_A;
	p.offer = true;
	p.sdp = sdp_of(&in, ua);
	p.len = strlen(p.sdp);
	if (!err)
		err = media_session_sdp(*sp, &p);
	*rb = port_of(&out);
	mbuf_clear(&out);
	p.from = MEDIA_LEG_B;
	p.offer = false;
	p.sdp = sdp_of(&in, ub);
	p.len = strlen(p.sdp);
	if (!err)
		err = media_session_sdp(*sp, &p);
	*ra = port_of(&out);
	mbuf_reset(&in);
	mbuf_reset(&out);
	return err;
}

/* Resident KiB of this process (/proc/self/statm). */
static unsigned long rss_kib(void)
{
	unsigned long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (unsigned long)sysconf(_SC_PAGESIZE) / 1024;
}

int main(int argc, char **argv)
{
	struct media_relay_addr a = {0};
	struct media_relay_prm prm = {.addrs = &a, .addr_count = 1};
	struct media_relay *r = NULL;
	struct media_session **calls;
	struct media_relay_stats st;
	unsigned n, base;
	unsigned long rss0;
	char err[64];
	FILE *f;

	if (argc != 6) {
		fprintf(stderr, "usage: %s CALLS UE_BASE PORT_MIN PORT_MAX PAIRS_FILE\n", argv[0]);
		return 2;
	}
	n = (unsigned)atoi(argv[1]);
	base = (unsigned)atoi(argv[2]);
	net_addr_parse_str(&a.addr, "127.0.0.1", 0);
	a.port_min = (uint16_t)atoi(argv[3]);
	a.port_max = (uint16_t)atoi(argv[4]);
	(void)log_options_apply("media.level=warn", err, sizeof(err));
	if (loop_init() || loop_signal_add(SIGTERM, sig_h, NULL) ||
	    loop_signal_add(SIGINT, sig_h, NULL) || media_relay_alloc(&r, &prm))
		return 1;
	calls = calloc(n, sizeof(*calls));
	f = fopen(argv[5], "w");
	if (!calls || !f)
		return 1;
	rss0 = rss_kib();
	for (unsigned i = 0; i < n; i++) {
		unsigned ua = base + 4 * i, ub = ua + 2, ra = 0, rb = 0;

		if (call_setup(r, &calls[i], ua, ub, &ra, &rb)) {
			fprintf(stderr, "call %u: set-up failed\n", i);
			return 1;
		}
		fprintf(f, "%u %u %u %u\n", ua, ra, ub, rb);
	}
	fclose(f);
	media_relay_stats(r, &st);
	printf("ready calls=%u mem_bytes=%zu per_call=%zu rss0_kib=%lu\n", n, st.mem_bytes,
	       n ? media_session_mem(calls[0]) : 0, rss0);
	fflush(stdout);
	loop_run();
	media_relay_stats(r, &st);
	printf("rx=%llu tx=%llu reads=%llu writes=%llu drop_source=%llu drop_invalid=%llu "
	       "drop_flood=%llu drop_blocked=%llu drop_send=%llu\n",
	       (unsigned long long)st.rx_pkts, (unsigned long long)st.tx_pkts,
	       (unsigned long long)st.rx_reads, (unsigned long long)st.tx_writes,
	       (unsigned long long)st.drop_source, (unsigned long long)st.drop_invalid,
	       (unsigned long long)st.drop_flood, (unsigned long long)st.drop_blocked,
	       (unsigned long long)st.drop_send);
	for (unsigned i = 0; i < n; i++)
		mem_deref(calls[i]);
	free(calls);
	mem_deref(r);
	loop_close();
	return 0;
}
