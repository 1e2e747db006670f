/* Fuzz target: decode a SIP message, frame it, parse every header on demand,
 * validate it, build the error response and forward it with edits. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/sip_build.h"
#include "sip/sip_check.h"
#include "sip/sip_hdr.h"
#include "sip/sip_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_hdr(const struct sip_hdr *h)
{
	union {
		struct sip_via via;
		struct sip_addr addr;
		struct sip_cseq cseq;
		struct sip_auth auth;
		struct sip_secmech sm;
		struct sip_ctype ct;
		struct sip_event ev;
		struct sip_substate ss;
		struct sip_pani pani;
		struct sip_rack rack;
		struct sip_sessexp se;
		struct sip_uri uri;
	} u;
	struct pl pl;
	uint32_t v;
	uint16_t q;
	char buf[64];

	switch (h->id) {
	case SIP_HDR_VIA:
		sip_via_decode(&u.via, h->val);
		break;
	case SIP_HDR_FROM: case SIP_HDR_TO: case SIP_HDR_CONTACT: case SIP_HDR_ROUTE:
	case SIP_HDR_RECORD_ROUTE: case SIP_HDR_PATH: case SIP_HDR_SERVICE_ROUTE:
	case SIP_HDR_P_ASSERTED_IDENTITY: case SIP_HDR_P_PREFERRED_IDENTITY:
	case SIP_HDR_P_ASSOCIATED_URI: case SIP_HDR_P_CALLED_PARTY_ID:
		if (sip_addr_decode(&u.addr, h->val) == 0) {
			sip_addr_expires(&u.addr, &v);
			sip_addr_q(&u.addr, &q);
			sip_addr_instance(&u.addr, &pl);
			sip_addr_regid(&u.addr, &v);
			sip_pl_unquote(u.addr.dname, buf, sizeof(buf));
			if (sip_uri_decode(&u.uri, u.addr.uri) == 0)
				sip_pl_unescape(u.uri.user, buf, sizeof(buf), NULL);
		}
		break;
	case SIP_HDR_CSEQ:
		sip_cseq_decode(&u.cseq, h->val);
		break;
	case SIP_HDR_CALL_ID:
		sip_callid_decode(h->val, &pl);
		break;
	case SIP_HDR_AUTHORIZATION: case SIP_HDR_PROXY_AUTHORIZATION:
	case SIP_HDR_WWW_AUTHENTICATE: case SIP_HDR_PROXY_AUTHENTICATE:
		if (sip_auth_decode(&u.auth, h->val) == 0)
			sip_auth_param_get(&u.auth, "x", &pl);
		break;
	case SIP_HDR_AUTHENTICATION_INFO:
		sip_authinfo_decode(&u.auth, h->val);
		break;
	case SIP_HDR_SECURITY_CLIENT: case SIP_HDR_SECURITY_SERVER: case SIP_HDR_SECURITY_VERIFY:
		sip_secmech_decode(&u.sm, h->val);
		break;
	case SIP_HDR_CONTENT_TYPE:
		sip_ctype_decode(&u.ct, h->val);
		break;
	case SIP_HDR_EVENT:
		sip_event_decode(&u.ev, h->val);
		break;
	case SIP_HDR_SUBSCRIPTION_STATE:
		sip_substate_decode(&u.ss, h->val);
		break;
	case SIP_HDR_P_ACCESS_NETWORK_INFO:
		sip_pani_decode(&u.pani, h->val);
		break;
	case SIP_HDR_RACK:
		sip_rack_decode(&u.rack, h->val);
		break;
	case SIP_HDR_SESSION_EXPIRES: case SIP_HDR_MIN_SE:
		sip_sessexp_decode(&u.se, h->val);
		break;
	case SIP_HDR_EXPIRES: case SIP_HDR_MIN_EXPIRES:
		sip_delta_decode(h->val, &v);
		break;
	case SIP_HDR_MAX_FORWARDS: case SIP_HDR_RSEQ: case SIP_HDR_CONTENT_LENGTH:
		sip_uint_decode(h->val, UINT32_MAX, &v);
		break;
	default:
		sip_token_decode(h->val, &pl);
		break;
	}
}

/* An address the memo gave (or NULL) against a fresh decode of the header. */
static void memo_addr_check(const struct sip_msg *msg, enum sip_hdr_id id,
			    const struct sip_addr *memo)
{
	const struct sip_hdr *h = sip_msg_hdr(msg, id);
	struct sip_addr a;
	bool want = h && !sip_addr_decode(&a, h->val);

	if (want != (memo != NULL) || (want && (!pl_eq(memo->uri, a.uri) ||
						!pl_eq(memo->tag, a.tag))))
		abort();
}

/* The message's memo (sip_msg_via/from/to/cseq) answers as a fresh decode
 * of the same header does, the first time and the second. */
static void memo_check(const struct sip_msg *msg)
{
	const struct sip_hdr *h;
	struct sip_via via;
	struct sip_cseq cs;
	bool want;

	for (int round = 0; round < 2; round++) {
		h = sip_msg_hdr(msg, SIP_HDR_VIA);
		want = h && !sip_via_decode(&via, h->val);
		if (want != (sip_msg_via(msg) != NULL) ||
		    (want && !pl_eq(sip_msg_via(msg)->branch, via.branch)))
			abort();
		memo_addr_check(msg, SIP_HDR_FROM, sip_msg_from(msg));
		memo_addr_check(msg, SIP_HDR_TO, sip_msg_to(msg));
		h = sip_msg_hdr(msg, SIP_HDR_CSEQ);
		want = h && !sip_cseq_decode(&cs, h->val);
		if (want != (sip_msg_cseq(msg) != NULL) || (want && sip_msg_cseq(msg)->num != cs.num))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sup[] = {"path", "100rel", NULL};
	struct sip_check_prm prm = {.supported = sup, .proxy = size & 1,
				    .via_host = PL("proxy.ims"), .loop_hash = PL("0")};
	struct sip_decode_prm dp = {.stream = size & 2};
	struct sip_msg *msg = NULL;
	struct sip_frame fr;
	struct sip_verdict v;
	struct mbuf mb;

	sip_frame(data, size, 0, &fr);
	sip_is_keepalive(data, size);
	if (sip_msg_decode_copy(&msg, data, size, &dp))
		return 0;
	for (size_t i = 0; i < msg->hdrc; i++)
		parse_hdr(&msg->hdrv[i]);
	if (size & 4)
		memo_check(msg); /* before the check fills the memo, or after */
	sip_msg_check(msg, &prm, &v);
	memo_check(msg);
	mbuf_init(&mb, 0);
	if (v.scode && !v.drop)
		sip_error_build(&mb, msg, &v, PL("t"));
	if (msg->hdrc) {
		struct sip_edit ed[] = {
			{.op = SIP_EDIT_REMOVE, .hdr = &msg->hdrv[0]},
			{.op = SIP_EDIT_REPLACE, .hdr = &msg->hdrv[msg->hdrc - 1], .val = PL("x")},
			{.op = SIP_EDIT_ADD, .hdr = &msg->hdrv[msg->hdrc / 2], .name = PL("Path"),
			 .val = PL("<sip:p;lr>")},
		};
		struct sip_fwd_prm fp = {.ruri = PL("sip:x"), .via = PL("SIP/2.0/UDP p"),
					 .editv = ed, .editc = 3};
		struct sip_msg *out = NULL;

		mbuf_clear(&mb);
		if (sip_msg_forward(&mb, msg, &fp) == 0 &&
		    sip_msg_decode_copy(&out, mb.buf, mb.end, &(struct sip_decode_prm){.max_size = SIP_MSG_MAX_HARD}) == 0)
			mem_deref(out);
	}
	if (msg->req) {
		struct sip_resp_prm rp = {.scode = 180, .reason = PL("Ringing"), .to_tag = PL("x")};
		char hash[17];

		mbuf_clear(&mb);
		sip_resp_build(&mb, msg, &rp);
		sip_msg_loop_hash(msg, hash, sizeof(hash));
	}
	mbuf_reset(&mb);
	mem_deref(msg);
	return 0;
}
