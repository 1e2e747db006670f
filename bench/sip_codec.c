/*
 * bench/sip_codec — nanoseconds per parse + serialize of a typical IMS
 * REGISTER (Authorization, Security-Client, Contact with +sip.instance) and
 * a typical INVITE with SDP. Each iteration decodes the message (zero-copy
 * over a refcounted buffer), parses the headers a P-CSCF looks at, validates
 * it, and forwards it with a new Via, a removed Route and a new Record-Route.
 *
 * A third figure, "uas", is the registrar's side of the same REGISTER:
 * decode, sip_msg_check as a UAS (RFC 3261 §8.2), then the 200 OK built from
 * it (To tag, Contact, Path, Service-Route, P-Associated-URI).
 *
 * Each iteration writes its number into the user part (the IMSI) wherever it
 * occurs, so that consecutive messages differ as they do on the wire and no
 * per-thread parse memo (sip_scan.h) can carry a result from one iteration
 * to the next.
 *
 * Usage: bench_sip_codec [iterations [register|invite|uas]]   (default 200000, all)
 *
 * Instructions per message (the machine is shared and noisy, so this is the
 * stable figure): run one message type under callgrind at two iteration
 * counts and divide the difference of the totals by the difference of the
 * counts, e.g.
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     build-rel/bench/bench_sip_codec 1000 register   (then 3000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/sip_build.h"
#include "sip/sip_check.h"
#include "sip/sip_hdr.h"
#include "sip/sip_msg.h"

static const char reg[] =
	"REGISTER sip:ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n"
	"Via: SIP/2.0/UDP [2001:db8:0:1::5]:5062;branch=z9hG4bK3984210987;rport\r\n"
	"Max-Forwards: 70\r\n"
	"From: <sip:001010123456789@ims.mnc001.mcc001.3gppnetwork.org>;tag=3856093812\r\n"
	"To: <sip:001010123456789@ims.mnc001.mcc001.3gppnetwork.org>\r\n"
	"Call-ID: 1809315433_2347283096@2001:db8:0:1::5\r\n"
	"CSeq: 2 REGISTER\r\n"
	"Contact: <sip:001010123456789@[2001:db8:0:1::5]:5062>;+sip.instance=\"<urn:gsma:imei:"
	"35622110-123456-0>\";+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\";"
	"+g.3gpp.smsip;audio;video;expires=600000\r\n"
	"Authorization: Digest username=\"001010123456789@ims.mnc001.mcc001.3gppnetwork.org\","
	"realm=\"ims.mnc001.mcc001.3gppnetwork.org\",uri=\"sip:ims.mnc001.mcc001.3gppnetwork.org\","
	"nonce=\"fQ3MHRLcJ1bTNEFH+rGgBJZ/LXw7tUAAy4DQm2nqFlc=\",response=\"0c0e05e3a9d1b0b2c7b2"
	"8a6ac3f5b6d1\",algorithm=AKAv1-MD5,cnonce=\"1a2b3c4d\",qop=auth,nc=00000001\r\n"
	"Security-Client: ipsec-3gpp;prot=esp;mod=trans;spi-c=3225145391;spi-s=3225145392;"
	"port-c=5064;port-s=5062;ealg=null;alg=hmac-sha-1-96,ipsec-3gpp;prot=esp;mod=trans;"
	"spi-c=3225145391;spi-s=3225145392;port-c=5064;port-s=5062;ealg=aes-cbc;alg=hmac-sha-1-96\r\n"
	"Security-Verify: ipsec-3gpp;q=0.1;prot=esp;mod=trans;spi-c=1;spi-s=2;port-c=5066;"
	"port-s=5068;ealg=null;alg=hmac-sha-1-96\r\n"
	"Require: sec-agree\r\nProxy-Require: sec-agree\r\n"
	"Supported: path,sec-agree\r\n"
	"Allow: INVITE,ACK,OPTIONS,CANCEL,BYE,UPDATE,INFO,REFER,NOTIFY,MESSAGE,PRACK\r\n"
	"P-Access-Network-Info: 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=0010100010019B01\r\n"
	"User-Agent: Samsung IMS 6.0\r\n"
	"Content-Length: 0\r\n\r\n";

static const char inv_head[] =
	"INVITE tel:+15551234567;phone-context=ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n"
	"Via: SIP/2.0/TCP [2001:db8:0:1::5]:5062;branch=z9hG4bK1771942611;rport\r\n"
	"Max-Forwards: 70\r\n"
	"Route: <sip:[2001:db8::1]:5064;lr>\r\n"
	"Route: <sip:orig@scscf.ims.mnc001.mcc001.3gppnetwork.org;lr>\r\n"
	"From: <sip:001010123456789@ims.mnc001.mcc001.3gppnetwork.org>;tag=1294387392\r\n"
	"To: <tel:+15551234567;phone-context=ims.mnc001.mcc001.3gppnetwork.org>\r\n"
	"Call-ID: 3782371940_3428734@2001:db8:0:1::5\r\n"
	"CSeq: 1 INVITE\r\n"
	"Contact: <sip:001010123456789@[2001:db8:0:1::5]:5062>;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A"
	"3gpp-service.ims.icsi.mmtel\";+g.3gpp.mid-call;+sip.instance=\"<urn:gsma:imei:35622110-"
	"123456-0>\"\r\n"
	"P-Preferred-Identity: <sip:001010123456789@ims.mnc001.mcc001.3gppnetwork.org>\r\n"
	"Accept-Contact: *;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\"\r\n"
	"P-Access-Network-Info: 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=0010100010019B01\r\n"
	"Supported: 100rel,timer,precondition,sec-agree\r\n"
	"Require: sec-agree\r\nProxy-Require: sec-agree\r\n"
	"Session-Expires: 1800\r\nMin-SE: 90\r\n"
	"Security-Verify: ipsec-3gpp;q=0.1;prot=esp;mod=trans;spi-c=1;spi-s=2;port-c=5066;"
	"port-s=5068;ealg=null;alg=hmac-sha-1-96\r\n"
	"Allow: INVITE,ACK,OPTIONS,CANCEL,BYE,UPDATE,INFO,REFER,NOTIFY,MESSAGE,PRACK\r\n"
	"Content-Type: application/sdp\r\n";

static const char sdp[] =
	"v=0\r\no=rue 3251 3251 IN IP6 2001:db8:0:1::5\r\ns=-\r\n"
	"c=IN IP6 2001:db8:0:1::5\r\nb=AS:41\r\nb=RR:1537\r\nb=RS:512\r\nt=0 0\r\n"
	"m=audio 1234 RTP/AVP 116 107 118 96 111 110\r\n"
	"a=rtpmap:116 AMR-WB/16000/1\r\na=fmtp:116 mode-change-capability=2;max-red=0\r\n"
	"a=rtpmap:107 AMR-WB/16000/1\r\na=fmtp:107 octet-align=1;mode-change-capability=2\r\n"
	"a=rtpmap:118 AMR/8000/1\r\na=rtpmap:96 AMR/8000/1\r\na=rtpmap:111 telephone-event/16000\r\n"
	"a=rtpmap:110 telephone-event/8000\r\na=ptime:20\r\na=maxptime:240\r\n"
	"a=curr:qos local none\r\na=curr:qos remote none\r\na=des:qos mandatory local sendrecv\r\n"
	"a=des:qos optional remote sendrecv\r\na=sendrecv\r\n";

static void parse_all(const struct sip_msg *msg)
{
	for (size_t i = 0; i < msg->hdrc; i++) {
		const struct sip_hdr *h = &msg->hdrv[i];
		union {
			struct sip_via via;
			struct sip_addr addr;
			struct sip_auth auth;
			struct sip_secmech sm;
			struct sip_cseq cseq;
		} u;

		switch (h->id) {
		case SIP_HDR_VIA:
			sip_via_decode(&u.via, h->val);
			break;
		case SIP_HDR_FROM: case SIP_HDR_TO: case SIP_HDR_CONTACT: case SIP_HDR_ROUTE:
		case SIP_HDR_P_PREFERRED_IDENTITY:
			sip_addr_decode(&u.addr, h->val);
			break;
		case SIP_HDR_AUTHORIZATION:
			sip_auth_decode(&u.auth, h->val);
			break;
		case SIP_HDR_SECURITY_CLIENT: case SIP_HDR_SECURITY_VERIFY:
			sip_secmech_decode(&u.sm, h->val);
			break;
		case SIP_HDR_CSEQ:
			sip_cseq_decode(&u.cseq, h->val);
			break;
		default:
			break;
		}
	}
}

/* Offsets of the IMSI's last six digits in the message (setup, once). */
#define BENCH_MAX_IMSI 8
static const char bench_imsi[] = "001010123456789";
static size_t imsi_off[BENCH_MAX_IMSI], imsi_n;

static void imsi_find(const char *text, size_t len)
{
	const char *p = text, *e = text + len, *q;

	imsi_n = 0;
	while (imsi_n < BENCH_MAX_IMSI &&
	       (q = memmem(p, (size_t)(e - p), bench_imsi, sizeof(bench_imsi) - 1))) {
		imsi_off[imsi_n++] = (size_t)(q - text) + sizeof(bench_imsi) - 1 - 6;
		p = q + 1;
	}
}

static void imsi_set(char *mem, long iter)
{
	char d[6];
	unsigned long v = (unsigned long)iter;

	for (int i = 5; i >= 0; i--, v /= 10)
		d[i] = (char)('0' + v % 10);
	for (size_t k = 0; k < imsi_n; k++)
		memcpy(mem + imsi_off[k], d, 6);
}

/* One iteration of "uas": what the registrar's side does with a REGISTER
 * (decode, UAS check) and the 200 OK it sends back. */
static size_t once_uas(const char *name, void *mem, size_t len, struct mbuf *mb)
{
	static const char *const sup[] = {"path", "sec-agree", "gruu", "outbound", NULL};
	static const char hdrs[] =
		"Contact: <sip:001010123456789@[2001:db8:0:1::5]:5062>;expires=600000;"
		"+sip.instance=\"<urn:gsma:imei:35622110-123456-0>\"\r\n"
		"Path: <sip:term@pcscf.ims.mnc001.mcc001.3gppnetwork.org;lr>\r\n"
		"Service-Route: <sip:orig@scscf.ims.mnc001.mcc001.3gppnetwork.org;lr>\r\n"
		"P-Associated-URI: <sip:001010123456789@ims.mnc001.mcc001.3gppnetwork.org>,"
		" <tel:+15551234567>\r\n"
		"Date: Mon, 23 Nov 2026 18:47:14 GMT\r\n";
	struct sip_check_prm prm = {.supported = sup};
	struct sip_resp_prm rp = {.scode = 200, .reason = PL("OK"), .to_tag = PL("a8f3c2d1"),
				  .hdrs = PL(hdrs)};
	struct sip_msg *msg;
	struct sip_verdict v;
	size_t out;

	if (sip_msg_decode(&msg, mem, 0, len, NULL)) {
		fprintf(stderr, "%s: decode failed\n", name);
		exit(1);
	}
	sip_msg_check(msg, &prm, &v);
	mbuf_clear(mb);
	if (v.scode || sip_resp_build(mb, msg, &rp)) {
		fprintf(stderr, "%s: check %u / response failed\n", name, v.scode);
		exit(1);
	}
	out = mb->end;
	mem_deref(msg);
	return out;
}

/* One iteration: the work a P-CSCF does on a request it forwards. */
static size_t once(const char *name, void *mem, size_t len, struct mbuf *mb)
{
	static const char *const sup[] = {"path", "sec-agree", "100rel", "timer", NULL};
	struct sip_check_prm prm = {.supported = sup, .proxy = true};
	struct sip_msg *msg;
	struct sip_verdict v;
	size_t out;

	if (sip_msg_decode(&msg, mem, 0, len, NULL)) {
		fprintf(stderr, "%s: decode failed\n", name);
		exit(1);
	}
	parse_all(msg);
	sip_msg_check(msg, &prm, &v);
	struct sip_edit ed[] = {
		{.op = SIP_EDIT_REMOVE, .hdr = sip_msg_hdr(msg, SIP_HDR_ROUTE)},
		{.op = SIP_EDIT_ADD, .hdr = sip_msg_hdr(msg, SIP_HDR_FROM),
		 .name = PL("Record-Route"), .val = PL("<sip:pcscf.ims;lr>")},
	};
	struct sip_fwd_prm fp = {.via = PL("SIP/2.0/UDP pcscf.ims;branch=z9hG4bKpcscf1"),
				 .editv = ed, .editc = 2};
	mbuf_clear(mb);
	if (v.scode || sip_msg_forward(mb, msg, &fp)) {
		fprintf(stderr, "%s: check %u / forward failed\n", name, v.scode);
		exit(1);
	}
	out = mb->end;
	mem_deref(msg);
	return out;
}

static double cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Process CPU time (the machine is shared: wall time counts the other
 * jobs' turns too) over BENCH_ROUNDS rounds; the best round is the figure
 * least disturbed by them, the median shows the spread. */
#define BENCH_ROUNDS 20
typedef size_t(once_fn)(const char *name, void *mem, size_t len, struct mbuf *mb);

static double run(const char *name, const char *text, size_t len, long iters, once_fn *fn)
{
	void *mem = mem_zalloc(len, NULL);
	double r[BENCH_ROUNDS];
	long per = iters / BENCH_ROUNDS > 0 ? iters / BENCH_ROUNDS : 1;
	struct mbuf mb;
	size_t out = 0;

	if (!mem)
		exit(1);
	memcpy(mem, text, len);
	imsi_find(text, len);
	mbuf_init(&mb, 0);
	for (long i = 0; i < per; i++) { /* warm-up */
		imsi_set(mem, i);
		out = fn(name, mem, len, &mb);
	}
	for (int k = 0; k < BENCH_ROUNDS; k++) {
		double t0 = cpu_ns();

		for (long i = 0; i < per; i++) {
			imsi_set(mem, i + per * (k + 1));
			out = fn(name, mem, len, &mb);
		}
		r[k] = (cpu_ns() - t0) / (double)per;
	}
	qsort(r, BENCH_ROUNDS, sizeof(r[0]), cmp_dbl);
	printf("%-9s %5zu bytes  best %6.0f  median %6.0f ns/message CPU  (%d x %ld, %zu bytes out)\n",
	       name, len, r[0], r[BENCH_ROUNDS / 2], BENCH_ROUNDS, per, out);
	mbuf_reset(&mb);
	mem_deref(mem);
	return r[0];
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 200000;
	const char *only = argc > 2 ? argv[2] : "";
	char inv[4096];
	int n;

	if (iters <= 0)
		iters = 200000;
	n = snprintf(inv, sizeof(inv), "%sContent-Length: %zu\r\n\r\n%s", inv_head,
		     strlen(sdp), sdp);
	if (n < 0 || (size_t)n >= sizeof(inv))
		return 1;
	if (!*only || strcmp(only, "register") == 0)
		run("REGISTER", reg, strlen(reg), iters, once);
	if (!*only || strcmp(only, "invite") == 0)
		run("INVITE", inv, (size_t)n, iters, once);
	if (!*only || strcmp(only, "uas") == 0)
		run("UAS", reg, strlen(reg), iters, once_uas);
	return 0;
}
