/* Unit tests: sdp — decode (VoLTE offers, RFC 4566 examples, malformed and
 * unsupported input with their reasons, bounds), the accessors, encode
 * verbatim and rewritten for the relay (IPv4 ↔ IPv6, ports, a=rtcp, hold). */
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
#include "sdp/sdp.h"

static struct sdp_session sess;

static const char volte[] =
	"v=0\r\n"
	"o=SAMSUNG-IMS-UE 1234567890 0 IN IP4 10.45.0.2\r\n"
	"s=SS VOIP\r\n"
	"c=IN IP4 10.45.0.2\r\n"
	"t=0 0\r\n"
	"m=audio 1234 RTP/AVP 116 107 118 96 111 110\r\n"
	"b=AS:49\r\n"
	"a=rtpmap:116 AMR-WB/16000/1\r\n"
	"a=fmtp:116 mode-change-capability=2;max-red=0\r\n"
	"a=rtpmap:96 EVS/16000\r\n"
	"a=fmtp:96 br=5.9-24.4;bw=nb-swb;max-red=0\r\n"
	"a=rtpmap:111 telephone-event/16000\r\n"
	"a=curr:qos local none\r\n"
	"a=curr:qos remote none\r\n"
	"a=des:qos mandatory local sendrecv\r\n"
	"a=des:qos optional remote sendrecv\r\n"
	"a=sendrecv\r\n"
	"a=rtcp:1237\r\n"
	"a=ptime:20\r\n"
	"m=video 1236 RTP/AVPF 97\r\n"
	"a=rtpmap:97 H264/90000\r\n"
	"a=fmtp:97 profile-level-id=42C01F;packetization-mode=1\r\n"
	"a=rtcp-mux\r\n"
	"a=sendonly\r\n";

static int decode(const char *text, char *reason, size_t rsize)
{
	return sdp_decode(&sess, text, strlen(text), reason, rsize);
}

static void test_decode_volte(void **state)
{
	char reason[SDP_REASON_MAX];
	struct net_addr a;
	char buf[NET_ADDR_STRLEN];
	struct pl v;

	(void)state;
	assert_int_equal(decode(volte, reason, sizeof(reason)), 0);
	assert_int_equal(sess.media_count, 2);
	assert_true(pl_eq_str(sess.origin.username, "SAMSUNG-IMS-UE"));
	assert_true(pl_eq_str(sess.origin.sess_version, "0"));
	assert_int_equal(sess.media[0].type, SDP_MEDIA_AUDIO);
	assert_int_equal(sess.media[0].port, 1234);
	assert_true(sess.media[0].udp);
	assert_true(pl_eq_str(sess.media[0].fmts, "116 107 118 96 111 110"));
	assert_true(sess.media[0].rtcp_set);
	assert_int_equal(sess.media[0].rtcp_port, 1237);
	sdp_media_rtp_addr(&sess, 0, &a);
	assert_string_equal(net_addr_print(&a, buf, sizeof(buf)), "10.45.0.2:1234");
	sdp_media_rtcp_addr(&sess, 0, &a);
	assert_string_equal(net_addr_print(&a, buf, sizeof(buf)), "10.45.0.2:1237");
	assert_int_equal(sdp_media_dir(&sess, 0), SDP_DIR_SENDRECV);
	assert_int_equal(sess.media[1].type, SDP_MEDIA_VIDEO);
	assert_true(sess.media[1].rtcp_mux);
	assert_int_equal(sdp_media_dir(&sess, 1), SDP_DIR_SENDONLY);
	/* without a=rtcp, RTCP is the next port (RFC 3605 §1) */
	sdp_media_rtcp_addr(&sess, 1, &a);
	assert_int_equal(net_addr_port(&a), 1237);
	assert_int_equal(sdp_attr_get(&sess, 0, "des", &v), 0);
	assert_true(pl_eq_str(v, "qos mandatory local sendrecv"));
	assert_int_equal(sdp_attr_get(&sess, 1, "rtcp-mux", &v), 0);
	assert_int_equal(v.l, 0);
	assert_int_equal(sdp_attr_get(&sess, 1, "des", &v), ENOENT);
	assert_int_equal(sdp_attr_get(&sess, -1, "rtpmap", &v), ENOENT);
	assert_int_equal(sdp_attr_get(&sess, 5, "rtpmap", &v), ENOENT);
}

/* RFC 4566 §5 example, LF line ends, session-level direction. */
static void test_decode_rfc4566_lf(void **state)
{
	static const char text[] =
		"v=0\n"
		"o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\n"
		"s=SDP Seminar\n"
		"i=A Seminar on the session description protocol\n"
		"u=http://www.example.com/seminars/sdp.pdf\n"
		"e=j.doe@example.com (Jane Doe)\n"
		"c=IN IP4 10.47.16.5\n"
		"t=2873397496 2873404696\n"
		"a=recvonly\n"
		"m=audio 49170 RTP/AVP 0\n"
		"m=video 51372 RTP/AVP 99\n"
		"a=rtpmap:99 h263-1998/90000\n"
		"\n";
	struct mbuf mb;

	(void)state;
	assert_int_equal(decode(text, NULL, 0), 0);
	assert_int_equal(sess.media_count, 2);
	assert_int_equal(sdp_media_dir(&sess, 0), SDP_DIR_RECVONLY);
	assert_int_equal(sdp_media_dir(&sess, 1), SDP_DIR_RECVONLY);
	/* verbatim encode: the same lines with CRLF */
	mbuf_init(&mb, 0);
	assert_int_equal(sdp_encode(&mb, &sess, NULL), 0);
	assert_non_null(strstr(mbuf_str(&mb), "s=SDP Seminar\r\ni=A Seminar"));
	assert_int_equal(mb.end, strlen(text) - 1 + 12);
	mbuf_reset(&mb);
}

static void test_rewrite_v6(void **state)
{
	struct sdp_media_rw mrw[2] = {{20000, 20001}, {0, 0}};
	struct net_addr relay;
	struct sdp_rewrite rw = {.addr = &relay, .media = mrw, .media_count = 2};
	const char *out;
	struct mbuf mb;

	(void)state;
	/* a session struct reused (or fresh from malloc) holds garbage */
	memset(&sess, 0xa5, sizeof(sess));
	assert_int_equal(decode(volte, NULL, 0), 0);
	for (size_t i = 0; i < sess.line_count; i++)
		assert_true(sess.lines[i].media <= sess.media_count);
	assert_int_equal(sess.lines[0].media, 0);
	assert_int_equal(sess.lines[5].media, 1);
	assert_int_equal(net_addr_parse_str(&relay, "2001:db8::5", 0), 0);
	mbuf_init(&mb, 0);
	assert_int_equal(sdp_encode(&mb, &sess, &rw), 0);
	out = mbuf_str(&mb);
	assert_non_null(strstr(out, "o=SAMSUNG-IMS-UE 1234567890 0 IN IP6 2001:db8::5\r\n"));
	assert_non_null(strstr(out, "\r\nc=IN IP6 2001:db8::5\r\n"));
	assert_non_null(strstr(out, "\r\nm=audio 20000 RTP/AVP 116 107 118 96 111 110\r\n"));
	assert_non_null(strstr(out, "\r\na=rtcp:20001\r\n"));
	assert_non_null(strstr(out, "\r\nm=video 0 RTP/AVPF 97\r\n"));
	/* codecs, preconditions, mux, direction: untouched */
	assert_non_null(strstr(out, "\r\na=fmtp:96 br=5.9-24.4;bw=nb-swb;max-red=0\r\n"));
	assert_non_null(strstr(out, "\r\na=curr:qos local none\r\na=curr:qos remote none\r\n"));
	assert_non_null(strstr(out, "\r\na=des:qos mandatory local sendrecv\r\n"));
	assert_non_null(strstr(out, "\r\na=rtcp-mux\r\na=sendonly\r\n"));
	assert_null(strstr(out, "10.45.0.2"));
	assert_null(strstr(out, "audio 1234"));
	assert_null(strstr(out, "rtcp:1237"));
	/* what we wrote decodes and says what we meant */
	assert_int_equal(sdp_decode(&sess, out, mb.end, NULL, 0), 0);
	assert_int_equal(net_addr_af(&sdp_media_conn(&sess, 0)->addr), AF_INET6);
	assert_int_equal(sess.media[0].port, 20000);
	mbuf_reset(&mb);
}

static void test_rewrite_hold_reverse(void **state)
{
	static const char text[] = "v=0\r\n"
				   "o=- 1 1 IN IP6 ::1\r\n"
				   "s=-\r\n"
				   "c=IN IP6 ::\r\n"
				   "t=0 0\r\n"
				   "m=audio 4000 RTP/AVP 8\r\n"
				   "a=rtcp:4001 IN IP6 2001:db8::99\r\n"
				   "a=sendonly\r\n";
	struct sdp_media_rw mrw[1] = {{30000, 30001}};
	struct net_addr relay;
	struct sdp_rewrite rw = {.addr = &relay, .media = mrw, .media_count = 1,
				 .reverse_dir = true};
	struct net_addr a;
	const char *out;
	struct mbuf mb;

	(void)state;
	assert_int_equal(decode(text, NULL, 0), 0);
	sdp_media_rtcp_addr(&sess, 0, &a);
	assert_true(net_addr_af(&a) == AF_INET6 && net_addr_port(&a) == 4001);
	assert_false(net_addr_is_any(&a));
	assert_int_equal(net_addr_parse_str(&relay, "192.0.2.1", 0), 0);
	mbuf_init(&mb, 0);
	assert_int_equal(sdp_encode(&mb, &sess, &rw), 0);
	out = mbuf_str(&mb);
	/* the RFC 2543 hold form keeps its meaning in the other family */
	assert_non_null(strstr(out, "\r\nc=IN IP4 0.0.0.0\r\n"));
	assert_non_null(strstr(out, "\r\na=rtcp:30001 IN IP4 192.0.2.1\r\n"));
	assert_non_null(strstr(out, "\r\na=recvonly\r\n"));
	rw.media_count = 2;
	assert_int_equal(sdp_encode(&mb, &sess, &rw), EINVAL);
	mbuf_reset(&mb);
}

struct bad {
	const char *text;
	int err;
	const char *reason; /* a substring */
};

static void test_malformed(void **state)
{
	static const struct bad cases[] = {
		{"", EBADMSG, "empty"},
		{"\r\n", EBADMSG, "empty"},
		{"v=1\r\n", EBADMSG, "line 1: the first line is not v=0"},
		{"o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n", EBADMSG, "not v=0"},
		{"v=0\r\ns=-\r\nt=0 0\r\n", EBADMSG, "no o= line"},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nt=0 0\r\n", EBADMSG, "no s= line"},
		{"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\n", EBADMSG, "no t= line"},
		{"v=0\r\no=- 1 1 IN IP4\r\n", EBADMSG, "line 2: o= needs six fields"},
		{"v=0\r\no=- 1 1 IN IP4 a b\r\n", EBADMSG, "six fields"},
		{"v=0\r\no=- 1 1 IN IP4 a\r\no=- 1 1 IN IP4 a\r\n", EBADMSG, "second o="},
		{"v=0\r\nv=0\r\n", EBADMSG, "second v="},
		{"v=0\r\nx=1\r\n", EBADMSG, "unknown line type 'x'"},
		{"v=0\r\nhello\r\n", EBADMSG, "line 2: not <type>=<value>"},
		{"v=0\r\nA=1\r\n", EBADMSG, "not <type>"},
		{"v=0\r\n\r\ns=-\r\n", EBADMSG, "line 3: empty line before the end"},
		{"v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n", EBADMSG,
		 "m= line 1 has no c= line"},
		{"v=0\r\nm=audio 70000 RTP/AVP 0\r\n", EBADMSG, "line 2: m= port"},
		{"v=0\r\nm=audio -1 RTP/AVP 0\r\n", EBADMSG, "m= port"},
		{"v=0\r\nm=audio 1000 RTP/AVP\r\n", EBADMSG, "m= has no format"},
		{"v=0\r\nm=audio\r\n", EBADMSG, "m= needs"},
		{"v=0\r\nm=audio 1/x RTP/AVP 0\r\n", EBADMSG, "port count"},
		{"v=0\r\nm=audio 1 RTP/AVP 0\r\nt=0 0\r\n", EBADMSG,
		 "t= is not allowed in a media section"},
		{"v=0\r\nc=IN IP4\r\n", EBADMSG, "c= needs"},
		{"v=0\r\nc=IN IP4 1.2.3.4 5\r\n", EBADMSG, "more than three"},
		{"v=0\r\nc=ATM IP4 1.2.3.4\r\n", EBADMSG, "nettype"},
		{"v=0\r\nc=IN IP5 1.2.3.4\r\n", EBADMSG, "addrtype"},
		{"v=0\r\nc=IN IP4 ::1\r\n", EBADMSG, "does not match"},
		{"v=0\r\nc=IN IP6 1.2.3.4\r\n", EBADMSG, "does not match"},
		{"v=0\r\nc=IN IP4 1.2.3.4:5\r\n", EBADMSG, "does not match"},
		{"v=0\r\nc=IN IP4 1.2.3.4.5\r\n", EBADMSG, "does not match"},
		{"v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtcp:x\r\n", EBADMSG, "a=rtcp port"},
		{"v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtcp:5 IN IP4\r\n", EBADMSG, "a=rtcp address"},
		{"v=0\r\nm=audio 1 RTP/AVP 0\r\na=:x\r\n", EBADMSG, "no attribute name"},
		{"v=0\r\nc=IN IP4 224.2.1.1/127\r\n", ENOTSUP, "multicast"},
		{"v=0\r\nc=IN IP4 239.1.1.1\r\n", ENOTSUP, "multicast"},
		{"v=0\r\nc=IN IP6 ff02::1\r\n", ENOTSUP, "multicast"},
		{"v=0\r\nc=IN IP4 host.example.com\r\n", ENOTSUP, "host name"},
		{"v=0\r\nm=audio 4000/2 RTP/AVP 0\r\n", ENOTSUP, "port count 2"},
	};
	char reason[SDP_REASON_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err = decode(cases[i].text, reason, sizeof(reason));

		if (err != cases[i].err || !strstr(reason, cases[i].reason))
			fail_msg("case %zu: err %d reason \"%s\"", i, err, reason);
	}
	/* an embedded NUL */
	assert_int_equal(sdp_decode(&sess, "v=0\r\ns=a\0b\r\n", 11, reason, sizeof(reason)),
			 EBADMSG);
	assert_non_null(strstr(reason, "NUL"));
	/* a reason never overflows a small buffer */
	assert_int_equal(decode("v=0\r\nx=1\r\n", reason, 8), EBADMSG);
	assert_int_equal(strlen(reason), 7);
}

static void test_bounds(void **state)
{
	char reason[SDP_REASON_MAX];
	struct mbuf mb;
	size_t i;

	(void)state;
	mbuf_init(&mb, 0);
	mbuf_write_str(&mb, "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n");
	for (i = 0; i < SDP_MEDIA_MAX; i++)
		mbuf_printf(&mb, "m=audio %zu RTP/AVP 0\r\n", 1000 + 2 * i);
	assert_int_equal(sdp_decode(&sess, (char *)mb.buf, mb.end, reason, sizeof(reason)), 0);
	assert_int_equal(sess.media_count, SDP_MEDIA_MAX);
	mbuf_write_str(&mb, "m=audio 9 RTP/AVP 0\r\n");
	assert_int_equal(sdp_decode(&sess, (char *)mb.buf, mb.end, reason, sizeof(reason)), E2BIG);
	assert_non_null(strstr(reason, "m= lines"));

	mbuf_clear(&mb);
	mbuf_write_str(&mb, "v=0\r\n");
	for (i = 1; i < SDP_LINES_MAX; i++)
		mbuf_write_str(&mb, "a=x\r\n");
	assert_int_equal(sdp_decode(&sess, (char *)mb.buf, mb.end, reason, sizeof(reason)),
			 EBADMSG); /* no o= yet: but every line was taken */
	mbuf_write_str(&mb, "a=x\r\n");
	assert_int_equal(sdp_decode(&sess, (char *)mb.buf, mb.end, reason, sizeof(reason)), E2BIG);
	assert_non_null(strstr(reason, "lines"));

	mbuf_clear(&mb);
	mbuf_write_str(&mb, "v=0\r\n");
	while (mb.end <= SDP_SIZE_MAX)
		mbuf_write_str(&mb, "i=0123456789012345678901234567890123456789\r\n");
	assert_int_equal(sdp_decode(&sess, (char *)mb.buf, mb.end, reason, sizeof(reason)), E2BIG);
	assert_non_null(strstr(reason, "bytes"));
	mbuf_reset(&mb);
}

static void test_media_kinds(void **state)
{
	static const char text[] = "v=0\r\n"
				   "o=- 1 1 IN IP4 192.0.2.10\r\n"
				   "s=-\r\n"
				   "t=0 0\r\n"
				   "m=text 49180 RTP/AVP 98\r\n"
				   "c=IN IP4 192.0.2.10\r\n"
				   "m=application 9 TCP/MSRP *\r\n"
				   "c=IN IP4 192.0.2.10\r\n"
				   "m=image 5000 udptl t38\r\n"
				   "c=IN IP4 192.0.2.10\r\n"
				   "m=audio 0 RTP/SAVP 0\r\n"
				   "m=video 5002 UDP/TLS/RTP/SAVPF 96\r\n"
				   "c=IN IP4 192.0.2.10\r\n";
	struct net_addr a;

	(void)state;
	assert_int_equal(decode(text, NULL, 0), 0);
	assert_int_equal(sess.media_count, 5);
	assert_int_equal(sess.media[0].type, SDP_MEDIA_TEXT);
	assert_true(sess.media[0].udp);
	assert_int_equal(sess.media[1].type, SDP_MEDIA_OTHER);
	assert_false(sess.media[1].udp);
	assert_true(sess.media[2].udp);
	assert_int_equal(sess.media[3].port, 0); /* no c= needed for a rejected one */
	sdp_media_rtcp_addr(&sess, 3, &a);
	assert_int_equal(net_addr_af(&a), 0);
	assert_true(sess.media[4].udp);
	assert_string_equal(sdp_media_type_name(sess.media[0].type), "text");
	assert_string_equal(sdp_dir_name(SDP_DIR_INACTIVE), "inactive");
	assert_int_equal(sdp_dir_reverse(SDP_DIR_INACTIVE), SDP_DIR_INACTIVE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_volte),
		cmocka_unit_test(test_decode_rfc4566_lf),
		cmocka_unit_test(test_rewrite_v6),
		cmocka_unit_test(test_rewrite_hold_reverse),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_media_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
