/* Fuzz target: SDP decode, the accessors, and encode (verbatim and
 * rewritten to an IPv6 relay address); whatever decodes must encode into
 * text that decodes again to the same shape. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mbuf.h"
#include "sdp/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sdp_session s1, s2;

static void roundtrip(const struct sdp_rewrite *rw)
{
	struct mbuf mb;
	char reason[SDP_REASON_MAX];

	mbuf_init(&mb, 0);
	if (sdp_encode(&mb, &s1, rw) != 0)
		abort();
	if (sdp_decode(&s2, (const char *)mb.buf, mb.end, reason, sizeof(reason)) != 0)
		abort();
	if (s2.media_count != s1.media_count || s2.line_count != s1.line_count)
		abort();
	for (size_t i = 0; rw && i < s2.media_count; i++) {
		uint16_t want = sdp_media_conn(&s1, i) ? rw->media[i].port : 0;

		if (s2.media[i].port != want)
			abort();
	}
	mbuf_reset(&mb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdp_media_rw mrw[SDP_MEDIA_MAX];
	struct net_addr a, b;
	struct sdp_rewrite rw;
	char reason[SDP_REASON_MAX];
	struct pl v;

	if (sdp_decode(&s1, (const char *)data, size, reason, sizeof(reason)) != 0)
		return 0;
	for (size_t i = 0; i < s1.media_count; i++) {
		sdp_media_rtp_addr(&s1, i, &a);
		sdp_media_rtcp_addr(&s1, i, &b);
		(void)sdp_media_dir(&s1, i);
		(void)sdp_attr_get(&s1, (int)i, "rtpmap", &v);
		mrw[i].port = (uint16_t)(10000 + 2 * i);
		mrw[i].rtcp_port = (uint16_t)(10001 + 2 * i);
	}
	(void)sdp_attr_get(&s1, -1, "group", &v);
	roundtrip(NULL);
	if (net_addr_parse_str(&a, "2001:db8::7", 0) != 0)
		abort();
	rw = (struct sdp_rewrite){.addr = &a, .media = mrw, .media_count = s1.media_count,
				  .reverse_dir = size & 1};
	roundtrip(&rw);
	return 0;
}
