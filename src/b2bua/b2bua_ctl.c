/*
 * b2bua_ctl — actions on a call from outside (manual §6 dialog_set, §7
 * `dialog_set dialog-index action`), for the monitor and the remote API:
 *
 *   answer   the final answer of an echo call whose caller IMPU has
 *            remote_control (b2bua_echo.c holds it at 180 until this, or
 *            until dialog_timeout): 200 with the echo SDP (code 0 or a
 *            2xx), or the status given (300-699) which ends the call
 *   media    rtp/rtcp forwarding of what each phone of the call sends
 *            (media_session_flags_set on both legs), as the IMPUs' `rtp`
 *            and `rtcp` options set them at the start
 *   hold     a re-INVITE from imsd with its last SDP to that phone, the
 *            held streams (every one, or one media type) on hold as
 *            RFC 3264 §8.4 says: sendrecv -> sendonly, recvonly ->
 *            inactive; again: their directions as before. The call is
 *            `hold` while a stream is held by imsd, `start` after.
 *   reinvite the same re-INVITE without a change of direction; on mt and
 *            echo calls with a new SDP (sdp_file) when one is given
 *   downgrade the same re-INVITE with the streams of one media type
 *            (video unless named) at port 0, and in every later one of
 *            imsd (RFC 3264 §8.2)
 *
 * The phone of an mt call (side B) or of an echo call (side A) gets the
 * re-INVITE; on a call between two phones both do, each with the SDP imsd
 * last sent it (c->sdp_to, kept by b2b_ctl_sdp_out), so each keeps seeing
 * the relay's ports and the other phone's codecs. Each phone's answer goes
 * to the relay (a phone that moves its media is followed) and gets imsd's
 * ACK. The o= version imsd writes is the base's plus the re-INVITEs imsd
 * sent that side; the SDPs relayed to that side afterwards get the same
 * offset, so the version a phone sees never goes down (§8).
 *
 * `stop` is b2bua_dialog_stop (b2bua_info.c). Nothing here formats text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b2bua/b2bua_int.h"
#include "core/log.h"
#include "media/media.h"

int b2bua_dialog_answer(struct b2bua *b, uint32_t index, uint16_t code)
{
	struct b2b_call *c = b2b_call_get(b, index);

	if (!c)
		return ENOENT;
	if (c->state == B2BUA_STOP || c->a_answered)
		return EALREADY;
	if (c->type != B2BUA_ECHO || (code && (code < 200 || code > 699)))
		return EINVAL;
	if (!code || code < 300) {
		b2b_echo_answer(c);
		return 0;
	}
	loop_timer_cancel(c->t_ring);
	loop_timer_cancel(c->t_answer);
	b2b_answer_a(c, code, code == 486 ? "Busy Here" : "Rejected", NULL, NULL);
	b2b_stop(c, "dialog_set answer with a failure");
	return 0;
}

int b2bua_dialog_media(struct b2bua *b, uint32_t index, bool rtp, bool rtcp)
{
	struct b2b_call *c = b2b_call_get(b, index);

	if (!c)
		return ENOENT;
	if (c->state == B2BUA_STOP)
		return EALREADY;
	if (!c->ms)
		return ENOTSUP; /* no relay: the media does not pass imsd */
	media_session_flags_set(c->ms, MEDIA_LEG_A, rtp, rtcp);
	media_session_flags_set(c->ms, MEDIA_LEG_B, rtp, rtcp);
	return 0;
}

static const char *const media_names[] = {"audio", "video", "text"};
static const char *const dir_names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
enum { DIR_SENDRECV = 0, DIR_SENDONLY, DIR_RECVONLY, DIR_INACTIVE };

/* The direction an a= line sets (RFC 4566 §6), -1 for another line. */
static int dir_of(struct pl l)
{
	for (int i = 0; i < 4; i++)
		if (l.l >= 10 && !strncmp(l.p, "a=", 2) && !strncmp(l.p + 2, dir_names[i], 8) &&
		    (l.l == 10 || l.p[10] == '\r' || l.p[10] == '\n'))
			return i;
	return -1;
}

/* The media type of an m= line (index in media_names, 3 another), -1 for
 * another line. */
static int media_of(struct pl l)
{
	if (l.l < 2 || strncmp(l.p, "m=", 2))
		return -1;
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(media_names[i]);

		if (l.l > n + 2 && !strncmp(l.p + 2, media_names[i], n) && l.p[2 + n] == ' ')
			return i;
	}
	return 3;
}

static int media_index(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(name, media_names[i]))
			return i;
	return -1;
}

/* What imsd changes in an SDP it sends. */
struct ctl_sdp {
	uint8_t held;	  /* media types on hold (bit i: media_names[i]) */
	uint8_t dropped;  /* media types at port 0 */
	bool dirs;	  /* write each stream's direction (imsd's own offers) */
	uint32_t ver_add; /* added to the o= version */
};

/* The streams of an SDP: type and direction (session level when the
 * stream has none, sendrecv when neither has, RFC 3264 §5.1). */
#define CTL_DIR_UNSET 0xffu
struct ctl_shape {
	size_t n;
	uint8_t type[SDP_MEDIA_MAX];
	uint8_t dir[SDP_MEDIA_MAX]; /* DIR_*, CTL_DIR_UNSET while parsing */
};

static struct pl next_line(struct pl sdp, size_t *i)
{
	const char *nl = memchr(sdp.p + *i, '\n', sdp.l - *i);
	size_t len = nl ? (size_t)(nl - (sdp.p + *i)) + 1 : sdp.l - *i;
	struct pl l = {sdp.p + *i, len};

	*i += len;
	return l;
}

static int sdp_shape(struct pl sdp, struct ctl_shape *sh)
{
	uint8_t sess = DIR_SENDRECV;

	memset(sh, 0, sizeof(*sh));
	for (size_t i = 0; i < sdp.l;) {
		struct pl l = next_line(sdp, &i);
		int t = media_of(l), d = dir_of(l);

		if (t >= 0) {
			if (sh->n == SDP_MEDIA_MAX)
				return E2BIG;
			sh->type[sh->n] = (uint8_t)t;
			sh->dir[sh->n++] = CTL_DIR_UNSET;
		} else if (d >= 0 && !sh->n) {
			sess = (uint8_t)d;
		} else if (d >= 0) {
			sh->dir[sh->n - 1] = (uint8_t)d;
		}
	}
	for (size_t k = 0; k < sh->n; k++)
		if (sh->dir[k] == CTL_DIR_UNSET)
			sh->dir[k] = sess;
	return 0;
}

/* o=<username> <sess-id> <sess-version> ... (RFC 4566 §5.2) with the
 * version plus add; false (nothing written) when it does not parse. */
static bool o_line(struct pl l, uint32_t add, struct mbuf *out, int *err)
{
	const char *end = l.p + l.l, *v = l.p + 2, *ve;
	unsigned long long ver = 0;

	for (int k = 0; k < 2 && v; k++) {
		v = memchr(v, ' ', (size_t)(end - v));
		v = v ? v + 1 : NULL;
	}
	ve = v ? memchr(v, ' ', (size_t)(end - v)) : NULL;
	if (!ve || ve == v || ve - v > 19)
		return false;
	for (const char *p = v; p < ve; p++) {
		if (*p < '0' || *p > '9')
			return false;
		ver = ver * 10 + (unsigned)(*p - '0');
	}
	*err = mbuf_printf(out, "%.*s%llu%.*s", (int)(v - l.p), l.p, ver + add, (int)(end - ve),
			   ve);
	return true;
}

/* The direction of stream k as imsd offers it: held streams as RFC 3264
 * §8.4 says (sendrecv and sendonly -> sendonly, recvonly and inactive ->
 * inactive), the others as they were. */
static const char *own_dir(const struct ctl_shape *sh, size_t k, uint8_t held)
{
	unsigned d;

	if (k >= sh->n || sh->dir[k] > DIR_INACTIVE)
		return dir_names[DIR_SENDRECV];
	d = sh->dir[k];
	if (sh->type[k] < 3 && (held & (1u << sh->type[k])))
		d = d == DIR_SENDRECV || d == DIR_SENDONLY ? DIR_SENDONLY : DIR_INACTIVE;
	return dir_names[d];
}

static int sdp_write(struct pl sdp, const struct ctl_sdp *cs, struct mbuf *out)
{
	struct ctl_shape sh;
	size_t k = 0;
	int err = sdp_shape(sdp, &sh);

	for (size_t i = 0; i < sdp.l && !err;) {
		struct pl l = next_line(sdp, &i);
		int t = media_of(l);

		if (cs->dirs && dir_of(l) >= 0)
			continue;
		if (t >= 0 && cs->dirs && k)
			err = mbuf_printf(out, "a=%s\r\n", own_dir(&sh, k - 1, cs->held));
		if (t >= 0)
			k++;
		if (err)
			break;
		if (t >= 0 && t < 3 && (cs->dropped & (1u << t))) {
			/* RFC 3264 §8.2: the stream is removed, the line stays */
			const char *sp = memchr(l.p + 2, ' ', l.l - 2);

			sp = sp ? memchr(sp + 1, ' ', (size_t)(l.p + l.l - sp - 1)) : NULL;
			if (sp) {
				err = mbuf_printf(out, "m=%s 0%.*s", media_names[t],
						  (int)(l.p + l.l - sp), sp);
				continue;
			}
		}
		if (l.l > 2 && !strncmp(l.p, "o=", 2) && o_line(l, cs->ver_add, out, &err))
			continue;
		err = mbuf_write_pl(out, l);
	}
	if (!err && cs->dirs && k)
		err = mbuf_printf(out, "a=%s\r\n", own_dir(&sh, k - 1, cs->held));
	return err;
}

void b2b_ctl_sdp_keep(struct b2b_call *c, enum b2b_side to, struct pl sdp)
{
	mbuf_clear(&c->sdp_to[to]);
	if (mbuf_write_pl(&c->sdp_to[to], sdp))
		mbuf_clear(&c->sdp_to[to]); /* too large: no base for imsd's offers */
}

void b2b_ctl_sdp_out(struct b2b_call *c, enum b2b_side to, struct mbuf *sdp)
{
	struct ctl_sdp cs = {.ver_add = c->ctl_ver[to]};
	struct pl in = {(const char *)sdp->buf, sdp->end};
	struct mbuf tmp;

	b2b_ctl_sdp_keep(c, to, in);
	if (!cs.ver_add || !in.l)
		return;
	mbuf_init(&tmp, SIP_MSG_MAX_HARD);
	if (!sdp_write(in, &cs, &tmp)) {
		mbuf_clear(sdp);
		if (mbuf_write(sdp, tmp.buf, tmp.end))
			mbuf_clear(sdp);
	}
	mbuf_reset(&tmp);
}

static struct sip_dialog *own_dlg(const struct b2b_call *c, enum b2b_side s)
{
	return s == B2B_A ? c->a : c->bd;
}

/* The phone's answer to imsd's offer goes to the relay: where it wants
 * media now, and its directions (RFC 3264 §8.3.1, §8.4). */
void b2b_ctl_answer_media(struct b2b_call *c, enum b2b_side s, const struct sip_msg *resp)
{
	struct media_sdp_prm mp = {0};
	char reason[128] = "";
	int err;

	if (!c->ms || !b2b_is_sdp(resp))
		return;
	mp.from = s == B2B_A ? MEDIA_LEG_A : MEDIA_LEG_B;
	mp.own_offer = true;
	mp.sdp = resp->body.p;
	mp.len = resp->body.l;
	mp.reason = reason;
	mp.reason_size = sizeof(reason);
	err = media_session_sdp(c->ms, &mp);
	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, c->callid_a,
			  "call %u: the answer to imsd's re-INVITE: %s%s%s", c->index,
			  strerror(err), reason[0] ? ": " : "", reason);
}

static void own_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
		       void *arg)
{
	struct b2b_call *c = arg;
	struct b2b_tx *x = b2b_tx_find(c, tsx);
	struct sip_dialog *d;
	enum b2b_side s;

	if (!x || x->kind != B2B_TX_OWN || scode < 200)
		return;
	s = (enum b2b_side)x->to;
	d = own_dlg(c, s);
	if (x->final) { /* a retransmitted 2xx (RFC 6026 §8.4): ACK again */
		if (scode < 300 && d && c->state != B2BUA_STOP)
			b2b_dlg_own_ack(c, d);
		return;
	}
	x->final = true;
	b2b_event(c, B2BUA_EV_RECV, SIP_METHOD_OTHER, scode);
	if (c->ctl_pending)
		c->ctl_pending--;
	if (!c->ctl_pending)
		c->reinvite = false;
	if (scode >= 300 || !resp || !d || c->state == B2BUA_STOP) {
		if (scode == 408 || scode == 481)
			b2b_end_both(c, "the phone lost the dialog (re-INVITE)");
		return;
	}
	b2b_dlg_own_ack(c, d);
	b2b_ctl_answer_media(c, s, resp);
	if (!c->ctl_pending)
		b2b_state(c, c->ctl_held ? B2BUA_HOLD : B2BUA_START);
	b2b_st_refreshed(c); /* a re-INVITE refreshes the session (RFC 4028) */
}

/* imsd's re-INVITE to side s with base as its SDP, changed as the call's
 * hold and downgrade say. */
static int own_send(struct b2b_call *c, enum b2b_side s, struct pl base)
{
	struct sip_dialog *d = own_dlg(c, s);
	struct ctl_sdp cs = {.held = c->ctl_held, .dropped = c->ctl_dropped, .dirs = true,
			     .ver_add = c->ctl_ver[s] + 1};
	struct sip_dialog_req_prm rq = {.method = PL("INVITE")};
	char contact[NET_ADDR_STRLEN + 64], allow[256];
	struct mbuf sdp;
	int err;

	if (!d || !base.l)
		return EALREADY; /* no dialog, or no SDP yet to base an offer on */
	mbuf_init(&sdp, SIP_MSG_MAX_HARD);
	err = sdp_write(base, &cs, &sdp);
	err = err ? err : b2b_contact(c->b, sip_dialog_flow(d), contact, sizeof(contact));
	if (!err) {
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", sip_stack_allow(c->b->prm.stack));
		rq.contact = pl_from_str(contact);
		rq.hdrs = pl_from_str(allow);
		rq.ctype = PL("application/sdp");
		rq.body = (struct pl){(const char *)sdp.buf, sdp.end};
		err = b2b_dlg_own_request(c, d, &rq, own_resp_h, B2B_TX_OWN, (uint8_t)s,
					  SIP_METHOD_INVITE);
	}
	if (!err) {
		c->ctl_ver[s]++;
		c->ctl_pending++;
	}
	mbuf_reset(&sdp);
	return err;
}

/* The SDP imsd bases its offers to side s on: the last one it sent that
 * phone (a call between phones; a new sdp_file), else its own offer (mt)
 * or its answer (echo). */
static struct pl own_base(const struct b2b_call *c, enum b2b_side s)
{
	const struct mbuf *m = &c->sdp_to[s];

	if (!m->end && c->type == B2BUA_MT)
		m = c->sdp_b.end ? &c->sdp_b : NULL;
	else if (!m->end && c->type == B2BUA_ECHO)
		m = &c->aw.rbody;
	if (!m)
		return c->a_inv ? c->a_inv->body : (struct pl){NULL, 0};
	return (struct pl){(const char *)m->buf, m->end};
}

int b2b_ctl_refresh_sdp(struct b2b_call *c, enum b2b_side s, struct mbuf *out)
{
	/* the session as the phone has it: imsd's hold and downgrade, the
	 * version it last saw (RFC 3264 §8: unchanged, the same version) */
	struct ctl_sdp cs = {.held = c->ctl_held, .dropped = c->ctl_dropped,
			     .dirs = c->ctl_held != 0, .ver_add = c->ctl_ver[s]};
	struct pl base = own_base(c, s);

	if (!base.l)
		return ENOENT;
	mbuf_clear(out);
	return sdp_write(base, &cs, out);
}

/* reinvite sdp_file (mt and echo calls, manual §6 dialog_set): the file's
 * SDP with the relay's pair on the phone's leg becomes imsd's base. EIO:
 * the file cannot be read; EPROTO: the relay refuses it (fewer m= lines
 * than the session, RFC 3264 §8). */
static int own_new_sdp(struct b2b_call *c, enum b2b_side s, const char *file)
{
	struct media_local_prm lp = {0};
	char reason[128] = "";
	struct mbuf f, out;
	int err;

	mbuf_init(&f, SIP_MSG_MAX_HARD);
	mbuf_init(&out, SIP_MSG_MAX_HARD);
	err = b2b_sdp_file_read(file, &f) ? EIO : 0;
	if (!err && !c->ms) {
		err = mbuf_write(&out, f.buf, f.end);
	} else if (!err) {
		lp.leg = s == B2B_A ? MEDIA_LEG_A : MEDIA_LEG_B;
		lp.tmpl = (const char *)f.buf;
		lp.tmpl_len = f.end;
		lp.out = &out;
		lp.reason = reason;
		lp.reason_size = sizeof(reason);
		err = media_session_offer_local(c->ms, &lp) ? EPROTO : 0;
		if (err)
			log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, c->callid_a,
				  "call %u: reinvite sdp_file %s: %s", c->index, file, reason);
	}
	if (!err)
		b2b_ctl_sdp_keep(c, s, (struct pl){(const char *)out.buf, out.end});
	mbuf_reset(&out);
	mbuf_reset(&f);
	return err;
}

/* hold, reinvite, downgrade: imsd's re-INVITE to the call's phone(s). */
static int own_reinvite(struct b2b_call *c, const struct b2bua_reinvite_prm *p)
{
	enum b2b_side sides[2] = {B2B_A, B2B_B};
	size_t n = c->type == B2BUA_SERVER ? 2 : 1, sent = 0;
	uint8_t was = c->ctl_held;
	int m = p->media ? media_index(p->media) : -1;
	int err = 0;

	if (c->type == B2BUA_MT)
		sides[0] = B2B_B;
	if (p->media && m < 0)
		return EINVAL;
	if (c->state != B2BUA_START && c->state != B2BUA_HOLD)
		return EALREADY;
	if (c->reinvite || c->aw.on || c->ctl_pending)
		return EBUSY; /* RFC 3261 §14.1: one INVITE at a time */
	if (p->sdp_file && c->type == B2BUA_SERVER)
		return EINVAL; /* manual §6: sdp_file applies to MT calls */
	if (p->sdp_file) {
		err = own_new_sdp(c, sides[0], p->sdp_file);
		if (err)
			return err;
	}
	if (p->hold && m >= 0)
		c->ctl_held ^= (uint8_t)(1u << m);
	else if (p->hold)
		c->ctl_held = c->ctl_held ? 0 : 7;
	for (size_t i = 0; i < n; i++) {
		int e = own_send(c, sides[i], own_base(c, sides[i]));

		if (!e)
			sent++;
		else if (!err)
			err = e;
		if (e && i)
			log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, c->callid_a,
				  "call %u: re-INVITE to the callee: %s", c->index, strerror(e));
	}
	if (!sent) {
		c->ctl_held = was;
		return err;
	}
	c->reinvite = true;
	return 0;
}

int b2bua_dialog_reinvite(struct b2bua *b, uint32_t index, const struct b2bua_reinvite_prm *p)
{
	struct b2b_call *c = b2b_call_get(b, index);
	struct b2bua_reinvite_prm none = {0};

	return c ? own_reinvite(c, p ? p : &none) : ENOENT;
}

int b2bua_dialog_downgrade(struct b2bua *b, uint32_t index, const char *media)
{
	struct b2b_call *c = b2b_call_get(b, index);
	struct b2bua_reinvite_prm p = {0};
	int i = media_index(media ? media : "video");
	uint8_t was;
	int err;

	if (!c)
		return ENOENT;
	if (i < 0)
		return EINVAL;
	was = c->ctl_dropped;
	c->ctl_dropped |= (uint8_t)(1u << i);
	err = own_reinvite(c, &p);
	if (err)
		c->ctl_dropped = was;
	return err;
}
