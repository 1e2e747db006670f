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
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

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

static void request_h(struct sip_tsx *tsx, const struct sip_msg *req, const void *ctx,
		      void *arg)
{
	(void)tsx;
	(void)req;
	(void)arg;
}

static size_t heap_used(void)
{
	return mallinfo2().uordblks;
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

		if (!tsx || sip_tsx_reply(tsx, 200, "OK", &rp) ||
		    sip_tsx_state(tsx) != SIP_TSX_COMPLETED)
			return 1;
	}
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
