/*
 * Memory of a non-INVITE server transaction (bench/RESULTS.md, "options"):
 * N REGISTER server transactions are created as the SIP stack creates them
 * (a decoded datagram handed to sip_tsx_recv), first left in Trying (the
 * transaction holds the request), then answered with a typical 200 OK to
 * REGISTER (Contact with expires, P-Associated-URI, Service-Route, Path,
 * Date, Server), which moves them to Completed where they wait for Timer J.
 * Heap bytes are glibc's mallinfo2().uordblks before and after, so the
 * figure includes malloc overhead, the hash tables' buckets and the
 * deadline queue, everything a live transaction costs.
 *
 *   build/bench/options_bench_tsxmem [count]      default 200000
 *
 * With --lookup it measures instead the CPU of the server table lookups
 * with `count` finished records in place (bench/RESULTS.md, "sms"): the
 * records are made as an SMS's MESSAGEs make them (each request answered
 * 202 at once), then `count` retransmissions in random order (each
 * absorbed by its record) and `count` new requests (refused at the
 * transaction bound, so that only the key, the hash and the lookups run)
 * are fed pre-decoded, timed with CLOCK_PROCESS_CPUTIME_ID. Decoding is
 * not timed. Prints ns per request for each.
 *
 *   build/bench/options_bench_tsxmem 500000 --lookup
 *
 * With --nict it measures instead the memory of a non-INVITE client
 * transaction (imsd's MESSAGE to a phone, bench/RESULTS.md "sms"): count
 * of them started towards a proven UDP destination, heap per transaction
 * while they wait (Trying, request bytes held), then once each has its
 * 200 (Completed until Timer K: the transaction, or its finished record).
 *
 *   build/bench/options_bench_tsxmem 200000 --nict
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "core/log.h"
#include "core/mem.h"
#include "loop/loop.h"
#include "sip/sip_tsx.h"

static size_t resp_len;

static int send_h(const struct sip_tsx_dst *dst, const void *data, size_t len, void *arg)
{
	(void)dst;
	(void)data;
	(void)arg;
	resp_len = len;
	return 0;
}

static size_t heap_used(void)
{
	return mallinfo2().uordblks;
}

static bool answer_now; /* --lookup: request_h answers 202 at once */

static void request_h(struct sip_tsx *tsx, const struct sip_msg *req, const void *ctx,
		      void *arg)
{
	(void)req;
	(void)ctx;
	(void)arg;
	if (answer_now)
		sip_tsx_reply(tsx, 202, "Accepted", NULL);
}

/* An SMS-like MESSAGE from one of 2,000 phones behind one P-CSCF flow. */
static int msg_req(struct sip_msg **mp, size_t i)
{
	char req[512];
	int l = snprintf(req, sizeof(req),
			 "MESSAGE sip:+3360%07zu@ims.test SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.%zu:5060;branch=z9hG4bK%016zx;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:+3361%07zu@ims.test>;tag=%zu\r\n"
			 "To: <sip:+3360%07zu@ims.test>\r\n"
			 "Call-ID: %zu-sms@192.0.2.7\r\nCSeq: 1 MESSAGE\r\n"
			 "Content-Type: application/vnd.3gpp.sms\r\n"
			 "Content-Length: 0\r\n\r\n",
			 i % 2000, 1 + i % 200, (size_t)(i * 0x9e3779b97f4a7c15ULL), i % 2000, i,
			 (i + 1) % 2000, i);

	*mp = NULL;
	return sip_msg_decode_copy(mp, req, (size_t)l, NULL);
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Feeds requests first..first+n (order: perm, or in order if NULL) in
 * batches decoded beforehand; returns the CPU ns of the sip_tsx_recv
 * calls alone, and the results not `want` in *bad. */
static uint64_t feed(struct sip_tsx_stack *st, const struct sip_tsx_dst *src,
		     const size_t *perm, size_t first, size_t n, int want, size_t *bad)
{
	enum { BATCH = 4096 };
	static struct sip_msg *m[BATCH];
	uint64_t ns = 0;

	for (size_t b = 0; b < n; b += BATCH) {
		size_t k = n - b < BATCH ? n - b : BATCH;
		uint64_t t0;

		for (size_t j = 0; j < k; j++) {
			if (msg_req(&m[j], first + (perm ? perm[b + j] : b + j)))
				return 0;
		}
		t0 = cpu_ns();
		for (size_t j = 0; j < k; j++)
			*bad += sip_tsx_recv(st, m[j], src) != want;
		ns += cpu_ns() - t0;
		for (size_t j = 0; j < k; j++)
			mem_deref(m[j]);
	}
	return ns;
}

static void nict_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
			void *arg)
{
	(void)tsx;
	(void)resp;
	(void)scode;
	(void)arg;
}

static int nict_bench(size_t n)
{
	static const char body[] =
	    "0123456789012345678901234567890123456789"; /* RP-DATA */
	const struct sip_tsx_env env = {.send = send_h, .timer = &sip_tsx_timer_loop};
	struct sip_tsx_prm prm = {.t1_ms = 2000, .t2_ms = 16000, .t4_ms = 17000};
	struct sip_tsx_req_prm rp = {.resp_h = nict_resp_h};
	struct sip_tsx_dst src = {.addrlen = sizeof(struct sockaddr_in)};
	struct sip_tsx_stack *st;
	size_t h0, h1, h2, live;
	char b[1024];

	prm.hint = 4096;
	prm.max = n + 1;
	prm.tu.request_h = request_h;
	if (sip_tsx_stack_alloc(&st, &env, &prm))
		return 1;
	src.addr.ss_family = AF_INET;
	rp.dst = src;
	sip_tsx_peer_prove(st, &src); /* retransmits, and no byte budget */
	h0 = heap_used();
	for (size_t i = 0; i < n; i++) {
		struct sip_tsx *tsx;
		int l = snprintf(
		    b, sizeof(b),
		    "MESSAGE sip:+3360%07zu@192.0.2.9:5060 SIP/2.0\r\n"
		    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK%016zx\r\n"
		    "Max-Forwards: 70\r\n"
		    "From: <sip:ims.test>;tag=%zu\r\nTo: <sip:+3360%07zu@ims.test>\r\n"
		    "Call-ID: %zu-mt@ims.test\r\nCSeq: 1 MESSAGE\r\n"
		    "Content-Type: application/vnd.3gpp.sms\r\n"
		    "Content-Length: %zu\r\n\r\n%s",
		    i % 2000, i, i, i % 2000, i, sizeof(body) - 1, body);

		rp.req = (struct pl){b, (size_t)l};
		if (sip_tsx_request(&tsx, st, &rp))
			return 1;
	}
	h1 = heap_used();
	for (size_t i = 0; i < n; i++) {
		struct sip_msg *m = NULL;
		int l =
		    snprintf(b, sizeof(b),
			     "SIP/2.0 200 OK\r\n"
			     "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK%016zx\r\n"
			     "From: <sip:ims.test>;tag=%zu\r\nTo: "
			     "<sip:+3360%07zu@ims.test>;tag=u\r\n"
			     "Call-ID: %zu-mt@ims.test\r\nCSeq: 1 MESSAGE\r\n"
			     "Content-Length: 0\r\n\r\n",
			     i, i, i % 2000, i);

		if (sip_msg_decode_copy(&m, b, (size_t)l, NULL) ||
		    sip_tsx_recv(st, m, &src))
			return 1;
		mem_deref(m);
	}
	h2 = heap_used();
	live = sip_tsx_stack_count(st);
	printf("client transactions: %zu, live %zu\n", n, live);
	printf("Trying, request bytes held: %.0f B per transaction\n",
	       (double)(h1 - h0) / n);
	printf("Completed (Timer K):        %.0f B per transaction\n",
	       (double)(h2 - h0) / n);
	sip_tsx_stack_free(st);
	return live == n ? 0 : 1;
}

static int lookup_bench(size_t n)
{
	const struct sip_tsx_env env = {.send = send_h, .timer = &sip_tsx_timer_loop};
	struct sip_tsx_prm prm = {.t1_ms = 2000, .t2_ms = 16000, .t4_ms = 17000};
	struct sip_tsx_dst src = {.addrlen = sizeof(struct sockaddr_in)};
	struct sip_tsx_stack *st;
	size_t *perm = calloc(n, sizeof(*perm));
	size_t bad = 0;
	uint64_t fill, retx, miss;

	char err[128];

	if (!perm)
		return 1;
	/* the refusals below would each log an error: not what is measured */
	if (log_options_apply("all.level=none", err, sizeof(err)))
		return 1;
	prm.hint = 4096; /* the tables grow as in production */
	prm.max = n;	 /* full once filled: a new request is refused */
	prm.tu.request_h = request_h;
	if (sip_tsx_stack_alloc(&st, &env, &prm))
		return 1;
	src.addr.ss_family = AF_INET;
	answer_now = true;
	fill = feed(st, &src, NULL, 0, n, 0, &bad);
	srand(1);
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = ((size_t)rand() << 16 ^ (size_t)rand()) % (i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	retx = feed(st, &src, perm, 0, n, 0, &bad);
	miss = feed(st, &src, perm, n, n, ENOSPC, &bad);
	printf("records: %zu (count %zu), unexpected results: %zu\n", n,
	       sip_tsx_stack_count(st), bad);
	printf("new request answered 202 at once (fill): %.1f ns\n", (double)fill / n);
	printf("retransmission absorbed by its record:   %.1f ns\n", (double)retx / n);
	printf("new request refused at the bound:        %.1f ns\n", (double)miss / n);
	sip_tsx_stack_free(st);
	free(perm);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const char hdrs[] =
	    "Contact: <sip:001010000000001@192.0.2.7:5060>;expires=600;+sip.instance="
	    "\"<urn:gsma:imei:35000000-000000-0>\";+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-"
	    "service.ims.icsi.mmtel\"\r\n"
	    "P-Associated-URI: <sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org>, "
	    "<tel:+33600000001>\r\n"
	    "Service-Route: "
	    "<sip:orig@scscf.ims.mnc001.mcc001.3gppnetwork.org:6060;lr>\r\n"
	    "Path: <sip:term@pcscf.ims.mnc001.mcc001.3gppnetwork.org:5060;lr>\r\n"
	    "Date: Mon, 23 Nov 2026 17:00:00 GMT\r\n"
	    "Server: imsd-0.1.0\r\n";
	const struct sip_tsx_env env = {.send = send_h, .timer = &sip_tsx_timer_loop};
	struct sip_tsx_prm prm = {.t1_ms = 2000, .t2_ms = 16000, .t4_ms = 17000};
	struct sip_tsx_reply_prm rp = {.hdrs = {hdrs, sizeof(hdrs) - 1}};
	struct sip_tsx_dst src = {.addrlen = sizeof(struct sockaddr_in)};
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
	struct sip_tsx_stack *st;
	uint64_t *ids;
	size_t h0, h1, h2;
	char req[1024];

	if (!n || loop_init())
		return 1;
	if (argc > 2 &&
	    (strcmp(argv[2], "--lookup") == 0 || strcmp(argv[2], "--nict") == 0)) {
		int r = argv[2][2] == 'l' ? lookup_bench(n) : nict_bench(n);

		loop_close();
		return r;
	}
	prm.hint = 4096; /* the tables grow as in production */
	prm.max = n + 1;
	prm.tu.request_h = request_h;
	if (sip_tsx_stack_alloc(&st, &env, &prm))
		return 1;
	ids = calloc(n, sizeof(*ids));
	if (!ids)
		return 1;
	src.addr.ss_family = AF_INET;
	h0 = heap_used();
	for (size_t i = 0; i < n; i++) {
		struct sip_msg *m = NULL;
		int l = snprintf(
		    req, sizeof(req),
		    "REGISTER sip:ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n"
		    "Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK%016zx;rport\r\n"
		    "Max-Forwards: 70\r\n"
		    "From: "
		    "<sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org>;tag=%zu\r\n"
		    "To: <sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org>\r\n"
		    "Call-ID: %zu-reg@192.0.2.7\r\n"
		    "CSeq: 2 REGISTER\r\n"
		    "Contact: <sip:001010000000001@192.0.2.7:5060>;+sip.instance="
		    "\"<urn:gsma:imei:35000000-000000-0>\";+g.3gpp.icsi-ref=\"urn%%3Aurn-"
		    "7%%3A"
		    "3gpp-service.ims.icsi.mmtel\"\r\n"
		    "Authorization: Digest username=\"001010000000001@ims.mnc001.mcc001."
		    "3gppnetwork.org\",realm=\"ims.mnc001.mcc001.3gppnetwork.org\",uri="
		    "\"sip:"
		    "ims.mnc001.mcc001.3gppnetwork.org\",nonce="
		    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAA\",response="
		    "\"0123456789abcdef0123456789abcdef\","
		    "algorithm=AKAv1-MD5,qop=auth,nc=00000001,cnonce=\"abcdef\"\r\n"
		    "Expires: 600\r\n"
		    "Supported: path, sec-agree\r\n"
		    "User-Agent: bench UE\r\n"
		    "Content-Length: 0\r\n\r\n",
		    i, i, i);

		if (sip_msg_decode_copy(&m, req, (size_t)l, NULL) ||
		    sip_tsx_recv(st, m, &src))
			return 1;
		mem_deref(m); /* as the stack does after sip_tsx_recv */
		ids[i] = (uint64_t)i + 1;
	}
	h1 = heap_used();
	for (size_t i = 0; i < n; i++) {
		struct sip_tsx *tsx = sip_tsx_lookup(st, ids[i]);

		/* over UDP the transaction hands over to a finished record
		 * (sip_tsx_done.c) and is Terminated: tsx is not read again */
		if (!tsx || sip_tsx_reply(tsx, 200, "OK", &rp))
			return 1;
	}
	if (sip_tsx_stack_count(st) != n)
		return 1;
	h2 = heap_used();
	printf("transactions: %zu (REGISTER request %d bytes on the wire)\n", n,
	       (int)strlen(req));
	printf("Trying, request held:  %.0f B per transaction\n", (double)(h1 - h0) / n);
	printf(
	    "Completed (Timer J):   %.0f B per transaction, of which %zu B of response "
	    "bytes, %.0f B everything else\n",
	    (double)(h2 - h0) / n, resp_len, (double)(h2 - h0) / n - (double)resp_len);
	sip_tsx_stack_free(st);
	free(ids);
	loop_close();
	return 0;
}
