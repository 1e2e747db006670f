/* Fuzz target: dialogs made from received messages and from stored fields
 * (RFC 3261 §12): UAS creation from a request, UAC creation and
 * confirmation from a response, matching and delivery of an in-dialog
 * request (CSeq check, target refresh), request building with the route set
 * (loose and strict routing), and restore from the state file's fields
 * ("DLG\n" then Call-ID, local tag, remote tag, local URI, remote URI,
 * target, routes, one a line). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/sip_dialog.h"
#include "sip/sip_hdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char our_req[] = "INVITE sip:b@x SIP/2.0\r\n"
			      "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
			      "From: <sip:a@x>;tag=fz\r\nTo: <sip:b@x>\r\nCall-ID: c\r\n"
			      "CSeq: 1 INVITE\r\nContact: <sip:a@h>\r\n\r\n";

static void req_h(struct sip_dialog *dlg, struct sip_tsx *tsx, const struct sip_msg *req,
		  const struct net_flow *flow, void *arg)
{
	(void)tsx;
	(void)req;
	(void)flow;
	(void)arg;
	sip_dialog_end(dlg);
}

static void exercise(struct sip_dialog *d)
{
	struct sip_dialog_req_prm p = {.method = PL("NOTIFY"), .body = PL("b"),
				       .ctype = PL("text/plain")};
	struct mbuf mb;

	for (size_t i = 0; i <= sip_dialog_route_count(d); i++)
		(void)sip_dialog_route(d, i);
	mbuf_init(&mb, 1u << 20);
	(void)sip_dialog_req_build(d, &mb, &p);
	mbuf_reset(&mb);
}

static void from_state(const uint8_t *data, size_t size)
{
	struct pl f[7] = {0};
	const char *p = (const char *)data, *end = p + size;
	struct sip_dialog_state st = {.local_cseq = 7};
	struct sip_dialog *d = NULL;

	for (int i = 0; i < 7 && p <= end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		f[i] = (struct pl){p, nl ? (size_t)(nl - p) : (size_t)(end - p)};
		p = nl ? nl + 1 : end + 1;
	}
	st.callid = f[0];
	st.local_tag = f[1];
	st.remote_tag = f[2];
	st.local_uri = f[3];
	st.remote_uri = f[4];
	st.target = f[5];
	st.routes = f[6];
	if (!sip_dialog_restore(&d, &st))
		exercise(d);
	mem_deref(d);
}

static void from_msg(struct sip_msg *m, struct sip_dialogs *t)
{
	struct sip_dialog_owner o = {.req_h = req_h};
	struct sip_dialog *d = NULL;
	const struct sip_addr *to = sip_msg_to(m);
	uint16_t sc;

	if (m->req && to && !pl_isset(to->tag)) {
		struct sip_dialog_uas_prm up = {.req = m, .local_tag = PL("fz")};

		if (!sip_dialog_uas_alloc(&d, &up)) {
			(void)sip_dialogs_add(t, d, &o);
			(void)sip_dialog_target_refresh(d, m);
		}
	} else if (m->req) {
		(void)sip_dialogs_request(t, NULL, m, NULL, &sc);
		(void)sip_dialogs_ack(t, m, NULL);
	} else {
		struct sip_msg *req = NULL;

		if (!sip_msg_decode_copy(&req, our_req, sizeof(our_req) - 1, NULL)) {
			struct sip_dialog_uac_prm up = {.req = req, .resp = m};

			if (!sip_dialog_uac_alloc(&d, &up))
				(void)sip_dialog_confirm(d, m);
			(void)sip_dialogs_match(t, m);
		}
		mem_deref(req);
	}
	if (d) {
		exercise(d);
		sip_dialog_end(d);
		mem_deref(d);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_dialogs *t = NULL;
	struct sip_dialog *held = NULL;
	struct sip_dialog_owner o = {.req_h = req_h};
	struct sip_dialog_state st = {
	    .callid = PL("c"), .local_tag = PL("fz"), .remote_tag = PL("r"),
	    .local_uri = PL("<sip:a@x>"), .remote_uri = PL("<sip:b@x>"),
	    .target = PL("sip:b@h"), .remote_cseq = 5,
	};
	struct sip_msg *m = NULL;

	if (size >= 4 && !memcmp(data, "DLG\n", 4)) {
		from_state(data + 4, size - 4);
		return 0;
	}
	if (sip_dialogs_alloc(&t, 4))
		return 0;
	/* a dialog an in-dialog request with Call-ID c, To tag fz, From tag
	 * r can reach */
	if (!sip_dialog_restore(&held, &st))
		(void)sip_dialogs_add(t, held, &o);
	if (!sip_msg_decode_copy(&m, data, size, NULL))
		from_msg(m, t);
	mem_deref(m);
	sip_dialogs_free(t);
	mem_deref(held);
	return 0;
}
