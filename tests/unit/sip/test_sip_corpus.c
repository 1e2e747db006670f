/*
 * Conformance: every message of RFC 4475 (SIP torture tests) and RFC 5118
 * (IPv6 torture tests), byte-exact copies in tests/unit/sip/data/, decoded
 * and validated; each must get the outcome the RFC asks for. Where the RFC
 * allows either outcome the choice and its reason are written next to it
 * (and in docs/sip.md).
 */
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

#define DECODE_FAIL 1 /* decoder refuses it: nothing can be answered */
#define DROP 2        /* decoded, a faulty response: discarded */

struct vec {
	const char *file;
	int expect; /* 0 accept, 4xx/5xx status, DECODE_FAIL, DROP */
	const char *why;
};

static const struct vec vecs[] = {
	/* 3.1.1 valid messages: must be accepted */
	{"rfc4475/wsinv.dat", 0, "3.1.1.1 white space and folding everywhere"},
	{"rfc4475/intmeth.dat", 0, "3.1.1.2 unusual but valid characters"},
	{"rfc4475/esc01.dat", 0, "3.1.1.3 valid % escaping"},
	{"rfc4475/escnull.dat", 0, "3.1.1.4 escaped NULs in URIs"},
	{"rfc4475/esc02.dat", 0, "3.1.1.5 % that is not an escape, outside URIs"},
	{"rfc4475/lwsdisp.dat", 0, "3.1.1.6 no LWS between display name and <"},
	{"rfc4475/longreq.dat", 0, "3.1.1.7 long values"},
	{"rfc4475/dblreq.dat", 0, "3.1.1.8 extra octets after Content-Length ignored"},
	{"rfc4475/semiuri.dat", 0, "3.1.1.9 ; in the user part"},
	{"rfc4475/transports.dat", 0, "3.1.1.10 unknown transports in Via"},
	{"rfc4475/mpart01.dat", 0, "3.1.1.11 multipart body"},
	{"rfc4475/unreason.dat", 0, "3.1.1.12 unusual reason phrase"},
	{"rfc4475/noreason.dat", 0, "3.1.1.13 empty reason phrase"},
	/* 3.1.2 invalid messages */
	{"rfc4475/badinv01.dat", 400, "3.1.2.1 empty Via/Contact parameters"},
	{"rfc4475/clerr.dat", 400, "3.1.2.2 Content-Length beyond the datagram"},
	{"rfc4475/ncl.dat", 400, "3.1.2.3 negative Content-Length"},
	{"rfc4475/scalar02.dat", 400, "3.1.2.4 CSeq over 32 bits"},
	{"rfc4475/scalarlg.dat", DROP, "3.1.2.5 response with overlarge CSeq: discarded"},
	/* 3.1.2.6 may be repaired or rejected: we reject, guessing where the
	 * quote should end could route the request somewhere unintended */
	{"rfc4475/quotbal.dat", 400, "3.1.2.6 unterminated quote"},
	{"rfc4475/ltgtruri.dat", 400, "3.1.2.7 <> around the Request-URI"},
	{"rfc4475/lwsruri.dat", 400, "3.1.2.8 LWS inside the Request-URI"},
	{"rfc4475/lwsstart.dat", 400, "3.1.2.9 several SP in the Request-Line"},
	/* 3.1.2.10 may be accepted: we reject, the ABNF has one SP and an IMS
	 * core should not paper over broken UEs silently */
	{"rfc4475/trws.dat", 400, "3.1.2.10 trailing SP on the Request-Line"},
	/* 3.1.2.11: headers are not allowed in a Request-URI (RFC 3261 §19.1.1) */
	{"rfc4475/escruri.dat", 400, "3.1.2.11 escaped headers in the Request-URI"},
	/* 3.1.2.12: Date is not used by imsd, so its time zone is not checked */
	{"rfc4475/baddate.dat", 0, "3.1.2.12 bad Date time zone ignored"},
	{"rfc4475/regbadct.dat", 400, "3.1.2.13 ? in an addr-spec without <>"},
	{"rfc4475/badaspec.dat", 400, "3.1.2.14 spaces inside <>"},
	{"rfc4475/baddn.dat", 400, "3.1.2.15 unquoted comma in display name"},
	{"rfc4475/badvers.dat", 505, "3.1.2.16 SIP/7.0"},
	{"rfc4475/mismatch01.dat", 400, "3.1.2.17 CSeq method mismatch"},
	{"rfc4475/mismatch02.dat", 400, "3.1.2.18 unknown method, CSeq mismatch"},
	{"rfc4475/bigcode.dat", DECODE_FAIL, "3.1.2.19 status code over 3 digits"},
	/* 3.2 transaction layer */
	{"rfc4475/badbranch.dat", 0, "3.2.1 branch without magic cookie (RFC 2543)"},
	/* 3.3 application layer */
	{"rfc4475/insuf.dat", 400, "3.3.1 missing Call-ID, From, To"},
	{"rfc4475/unkscm.dat", 416, "3.3.2 unknown Request-URI scheme"},
	{"rfc4475/novelsc.dat", 416, "3.3.3 soap.beep scheme not served"},
	{"rfc4475/unksm2.dat", 0, "3.3.4 unknown schemes in To/From/Contact"},
	{"rfc4475/bext01.dat", 420, "3.3.5 unsupported Require"},
	/* 3.3.6: 415 is the application's answer; the codec accepts it */
	{"rfc4475/invut.dat", 0, "3.3.6 unknown Content-Type (415 in the app)"},
	/* 3.3.7: the registrar challenges; the codec accepts it */
	{"rfc4475/regaut01.dat", 0, "3.3.7 unknown Authorization scheme"},
	{"rfc4475/multi01.dat", 400, "3.3.8 several values in single-value headers"},
	{"rfc4475/mcl01.dat", 400, "3.3.9 two Content-Length"},
	{"rfc4475/bcast.dat", 0, "3.3.10 broadcast Via in a 200"},
	{"rfc4475/zeromf.dat", 0, "3.3.11 Max-Forwards 0 to a UAS (483 as proxy)"},
	{"rfc4475/cparam01.dat", 0, "3.3.12 Contact parameter"},
	{"rfc4475/cparam02.dat", 0, "3.3.13 url-parameter in Contact"},
	{"rfc4475/regescrt.dat", 0, "3.3.14 escaped header in Contact URI"},
	/* 3.3.15: 406 is the application's answer; the codec accepts it */
	{"rfc4475/sdp01.dat", 0, "3.3.15 unacceptable Accept"},
	{"rfc4475/inv2543.dat", 0, "3.4.1 RFC 2543 syntax"},
	/* RFC 5118 */
	{"rfc5118/ipv6-good.dat", 0, "4.1 IPv6 reference"},
	{"rfc5118/port-ambiguous.dat", 0, "4.2 [2001:db8::10:5070] is an address"},
	{"rfc5118/port-unambiguous.dat", 0, "4.2 [2001:db8::10]:5070"},
	{"rfc5118/ipv6-bad.dat", 400, "4.3 IPv6 without brackets"},
	{"rfc5118/via-received-param-with-delim.dat", 0, "4.4 received=[IPv6]"},
	{"rfc5118/via-received-param-no-delim.dat", 0, "4.5 received=IPv6"},
	{"rfc5118/mult-ip-in-header.dat", 0, "4.6 several addresses"},
	{"rfc5118/mult-ip-in-sdp.dat", 0, "4.7 several addresses in SDP"},
	{"rfc5118/ipv4-mapped-ipv6.dat", 0, "4.8 IPv4-mapped IPv6"},
	{"rfc5118/ipv6-correct-abnf-2-colons.dat", 0, "4.9 ::192.0.2.1 form"},
	/* 4.9 either: we reject, 2001:db8:::192.0.2.1 is not an IPv6 address
	 * (RFC 4291 §2.2) and inet_pton() refuses it, so nothing could route it */
	{"rfc5118/ipv6-bug-abnf-3-colons.dat", 400, "4.9 three colons"},
	{"rfc5118/ipv6-in-sdp.dat", 0, "4.10 IPv6 in SDP"},
};

static const char *const supported[] = {"path", "100rel", "timer", "gruu", "outbound",
					"sec-agree", NULL};

static void *load(const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	void *mem = NULL;
	long n;

	snprintf(path, sizeof(path), "%s/tests/unit/sip/data/%s", SRCDIR, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	mem = mem_zalloc((size_t)n, NULL);
	assert_non_null(mem);
	assert_int_equal(fread(mem, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return mem;
}

static int outcome(const char *file, const struct sip_check_prm *prm, uint16_t *scode)
{
	struct sip_decode_prm dp = {.max_size = SIP_MSG_MAX_UDP};
	struct sip_msg *msg = NULL;
	struct sip_verdict v;
	size_t len;
	void *mem = load(file, &len);
	int err = sip_msg_decode(&msg, mem, 0, len, &dp);
	int res;

	mem_deref(mem);
	if (err)
		return DECODE_FAIL;
	sip_msg_check(msg, prm, &v);
	*scode = v.scode;
	res = v.drop ? DROP : v.scode;
	if (v.scode && !v.drop) {
		/* the error response must be buildable and decodable */
		struct mbuf mb;
		struct sip_msg *resp = NULL;

		mbuf_init(&mb, 0);
		assert_int_equal(sip_error_build(&mb, msg, &v, PL("errtag")), 0);
		assert_int_equal(sip_msg_decode_copy(&resp, mb.buf, mb.end, NULL), 0);
		assert_int_equal(resp->scode, v.scode);
		mem_deref(resp);
		mbuf_reset(&mb);
	}
	mem_deref(msg);
	return res;
}

static void test_corpus(void **state)
{
	struct sip_check_prm prm = {.max_size = SIP_MSG_MAX_UDP, .supported = supported};
	unsigned bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		uint16_t scode = 0;
		int got = outcome(vecs[i].file, &prm, &scode);

		if (got != vecs[i].expect) {
			print_message("%s (%s): expected %d, got %d\n", vecs[i].file, vecs[i].why,
				      vecs[i].expect, got);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void test_corpus_details(void **state)
{
	struct sip_check_prm prm = {.supported = supported, .proxy = true};
	struct sip_decode_prm dp = {0};
	struct sip_msg *msg = NULL;
	struct sip_verdict v;
	uint16_t scode = 0;
	size_t len;
	void *mem;

	(void)state;
	/* zeromf as a proxy: 483 */
	assert_int_equal(outcome("rfc4475/zeromf.dat", &prm, &scode), 483);
	/* bext01 as a proxy: Proxy-Require gives the Unsupported list */
	assert_int_equal(outcome("rfc4475/bext01.dat", &prm, &scode), 420);
	prm.proxy = false;
	mem = load("rfc4475/bext01.dat", &len);
	assert_int_equal(sip_msg_decode(&msg, mem, 0, len, &dp), 0);
	sip_msg_check(msg, &prm, &v);
	assert_int_equal(v.n_unsup, 2);
	assert_true(pl_eq_str(v.unsup[0], "nothingSupportsThis"));
	assert_true(pl_eq_str(v.unsup[1], "nothingSupportsThisEither"));
	msg = mem_deref(msg);
	mem = mem_deref(mem);
	/* dblreq: only the REGISTER, the INVITE after it is dropped */
	mem = load("rfc4475/dblreq.dat", &len);
	assert_int_equal(sip_msg_decode(&msg, mem, 0, len, &dp), 0);
	assert_int_equal(msg->meth, SIP_METHOD_REGISTER);
	assert_int_equal(msg->body.l, 0);
	msg = mem_deref(msg);
	mem = mem_deref(mem);
	/* insuf names the first missing header */
	mem = load("rfc4475/insuf.dat", &len);
	assert_int_equal(sip_msg_decode(&msg, mem, 0, len, &dp), 0);
	sip_msg_check(msg, &prm, &v);
	assert_string_equal(v.reason, "Missing Call-ID");
	msg = mem_deref(msg);
	mem = mem_deref(mem);
	/* mismatch01 names its fault */
	mem = load("rfc4475/mismatch01.dat", &len);
	assert_int_equal(sip_msg_decode(&msg, mem, 0, len, &dp), 0);
	sip_msg_check(msg, &prm, &v);
	assert_string_equal(v.reason, "CSeq method mismatch");
	msg = mem_deref(msg);
	mem_deref(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_corpus_details),
	};

	return cmocka_run_group_tests_name("sip_corpus", tests, NULL, NULL);
}
