/* Fuzz target: a media session driven by a sequence of SDPs — offers and
 * answers from either leg, imsd's own answer and offer — with the legs'
 * media-type flags from the first byte. Whatever the sequence, nothing
 * crashes or leaks, every SDP handed out decodes, and releasing the
 * session frees every port pair.
 *
 * Input: flags byte, then SDPs separated by NUL bytes; each SDP's first
 * byte picks the operation (low 3 bits) and is not part of the SDP. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "loop/loop.h"
#include "media/media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct media_relay *relay;
static struct sdp_session check;

static void relay_init(void)
{
	struct media_relay_addr a[2];
	struct media_relay_prm prm = {.addrs = a, .addr_count = 2};

	char err[64];

	if (relay)
		return;
	/* the open/close lines would take most of the time */
	(void)log_options_apply("media.level=error", err, sizeof(err));
	if (loop_init() != 0)
		abort();
	memset(a, 0, sizeof(a));
	if (net_addr_parse_str(&a[0].addr, "127.0.0.1", 0) ||
	    net_addr_parse_str(&a[1].addr, "::1", 0))
		abort();
	a[0].port_min = a[1].port_min = 42000;
	a[0].port_max = a[1].port_max = 42127;
	if (media_relay_alloc(&relay, &prm))
		abort();
}

static void leg(struct media_leg_prm *l, const char *local, uint8_t flags)
{
	memset(l, 0, sizeof(*l));
	if (local && net_addr_parse_str(&l->local, local, 0))
		abort();
	l->audio = flags & 1;
	l->video = flags & 2;
	l->text = flags & 4;
	l->rtp = l->rtcp = true;
}

static void step(struct media_session *s, uint8_t op, const char *sdp, size_t len,
		 struct mbuf *out, const char *tmpl, size_t tmpl_len)
{
	char reason[128];
	struct media_sdp_prm p = {.from = op & 1 ? MEDIA_LEG_B : MEDIA_LEG_A, .offer = op & 2,
				  .sdp = sdp, .len = len, .out = out, .reason = reason,
				  .reason_size = sizeof(reason)};
	struct media_local_prm lp = {.leg = MEDIA_LEG_A, .sdp = sdp, .len = len, .out = out,
				     .reason = reason, .reason_size = sizeof(reason)};
	int err;

	mbuf_clear(out);
	if ((op & 7) == 6) {
		lp.tmpl = tmpl;
		lp.tmpl_len = tmpl_len;
		err = media_session_answer_local(s, &lp);
	} else if ((op & 7) == 7) {
		lp.tmpl = sdp;
		lp.tmpl_len = len;
		err = media_session_offer_local(s, &lp);
	} else {
		err = media_session_sdp(s, &p);
	}
	if (!err && out->end &&
	    sdp_decode(&check, (const char *)out->buf, out->end, NULL, 0) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct media_session_prm prm = {.id = "fuzz"};
	struct media_relay_stats st;
	struct media_session *s = NULL;
	const uint8_t *p = data + 1, *end = data + size, *prev = NULL;
	size_t prev_len = 0;
	struct mbuf out;

	if (size < 2)
		return 0;
	relay_init();
	leg(&prm.leg[0], "127.0.0.1", data[0]);
	leg(&prm.leg[1], data[0] & 8 ? NULL : "::1", data[0] >> 4);
	if (media_session_alloc(&s, relay, &prm))
		abort();
	mbuf_init(&out, 0);
	for (int n = 0; p < end && n < 8; n++) {
		const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
		size_t len = nul ? (size_t)(nul - p) : (size_t)(end - p);

		if (len >= 1)
			step(s, p[0], (const char *)p + 1, len - 1, &out, (const char *)prev,
			     prev_len);
		prev = p + 1;
		prev_len = len ? len - 1 : 0;
		p += len + 1;
	}
	mem_deref(s);
	mbuf_reset(&out);
	media_relay_stats(relay, &st);
	if (st.pairs_used != 0 || st.sessions != 0)
		abort();
	return 0;
}
