/*
 * sip/sip_dialog — SIP dialogs (RFC 3261 §12): the state two user agents
 * keep between them so that requests inside a session or a subscription
 * reach the right peer through the right proxies, in order.
 *
 * A dialog is created by its owner (a service: the reg event package, later
 * calls and SMS): as the UAS from a received request and the To tag of our
 * 1xx/2xx (§12.1.1), as the UAC from the request we sent and a 1xx/2xx with a
 * To tag (§12.1.2), or restored from the fields a service kept (the state
 * file). It holds Call-ID, local and remote tag, local and remote URI, remote
 * target, route set, local and remote CSeq, the secure flag and the flow to
 * reach the peer.
 *
 * The owner then uses it to build in-dialog requests (§12.2.1.1: Request-URI,
 * Route with loose or strict routing, CSeq + 1, From/To with tags). The
 * stack's dialog table (sip_stack_dialogs()) matches received in-dialog
 * requests (To tag set) and the ACK of a 2xx by Call-ID, local tag and remote
 * tag, checks them (§12.2.2: a lower CSeq gets 500, the remote CSeq moves
 * on, a target refresh request updates the remote target) and hands them to
 * the owner's handlers with the flow they came on.
 *
 * Ownership: a dialog is reference-counted (core/mem). The owner holds one
 * reference from sip_dialog_*_alloc; the table holds one while the dialog is
 * in it (sip_dialogs_add). The owner ends the dialog (sip_dialog_end: out of
 * the table, no further delivery) before it frees what owner.obj points at,
 * then drops its reference. Async completions keep sip_dialog_id() and find
 * the dialog again with sip_dialogs_lookup(), never a bare pointer.
 *
 * Errors: EINVAL (missing argument), EBADMSG (the message lacks what a
 * dialog needs or has it malformed), E2BIG (more than SIP_DIALOG_ROUTES_MAX
 * routes or a field over SIP_DIALOG_FIELD_MAX), ENOSPC (table full), EEXIST
 * (same Call-ID and tags already in the table), ENOMEM.
 *
 * Not thread-safe: dialogs belong to the loop thread.
 * Users' documentation: docs/sip-dialog.md.
 */
#ifndef SIP_SIP_DIALOG_H
#define SIP_SIP_DIALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mbuf.h"
#include "core/pl.h"
#include "net/net_flow.h"
#include "sip/sip_msg.h"
#include "sip/sip_tsx.h"

struct sip_dialog;
struct sip_dialogs;

/* Routes in a route set, at most (Record-Route entries kept). */
#define SIP_DIALOG_ROUTES_MAX 32u
/* One field (Call-ID, tag, URI, target, the joined route set), bytes. */
#define SIP_DIALOG_FIELD_MAX 8192u
/* Dialogs in a table when sip_dialogs_alloc gets max 0. */
#define SIP_DIALOGS_MAX_DEFAULT (1u << 20)

/* An in-dialog request other than ACK, already checked (§12.2.2). The owner
 * answers on tsx (sip_stack_reply) now or later (by sip_tsx_id). */
typedef void(sip_dialog_req_h)(struct sip_dialog *dlg, struct sip_tsx *tsx,
			       const struct sip_msg *req, const struct net_flow *flow,
			       void *arg);
/* The ACK of a 2xx to an INVITE of this dialog (§13.3.1.4). */
typedef void(sip_dialog_ack_h)(struct sip_dialog *dlg, const struct sip_msg *ack,
			       const struct net_flow *flow, void *arg);

struct sip_dialog_owner {
	sip_dialog_req_h *req_h; /* required */
	sip_dialog_ack_h *ack_h; /* NULL: the ACK ends here */
	void *arg;		 /* borrowed: the service, passed to both */
	void *obj;		 /* borrowed: the owner's object for this dialog */
};

/* UAS dialog from a request that creates one (INVITE, SUBSCRIBE...) and the
 * To tag our 1xx/2xx carries (§12.1.1): route set = Record-Route in order,
 * remote target = Contact, remote CSeq = the request's, local CSeq empty. */
struct sip_dialog_uas_prm {
	const struct sip_msg *req;
	struct pl local_tag;
	const struct net_flow *flow; /* where it came from; NULL: none */
	bool tls;		     /* it came over TLS (secure with a sips R-URI) */
	bool early;		     /* from a 1xx: confirmed by sip_dialog_confirm */
};
int sip_dialog_uas_alloc(struct sip_dialog **dlgp, const struct sip_dialog_uas_prm *prm);

/* UAC dialog from the request we sent and a 1xx/2xx with a To tag
 * (§12.1.2): route set = Record-Route of the response reversed, remote
 * target = its Contact, local CSeq = the request's, remote CSeq empty. A 1xx
 * makes an early dialog. */
struct sip_dialog_uac_prm {
	const struct sip_msg *req;  /* as sent */
	const struct sip_msg *resp; /* 101..299 with a To tag */
	const struct net_flow *flow;
	bool tls;
};
int sip_dialog_uac_alloc(struct sip_dialog **dlgp, const struct sip_dialog_uac_prm *prm);

/* A dialog from the fields a service kept (the state file); routes is the
 * route set as one list ("<sip:a;lr>, <sip:b;lr>"), local_uri and
 * remote_uri the From/To values without tag. */
struct sip_dialog_state {
	bool uac;
	struct pl callid, local_tag, remote_tag, local_uri, remote_uri, target, routes;
	uint32_t local_cseq;  /* 0: empty */
	uint32_t remote_cseq; /* 0: empty */
	bool secure;
	const struct net_flow *flow; /* NULL: none */
};
int sip_dialog_restore(struct sip_dialog **dlgp, const struct sip_dialog_state *st);

/* An early dialog confirmed by a 2xx. UAC (§12.1.2, §13.2.2.4): the route
 * set is recomputed from the peer's 2xx and its Contact is the remote
 * target. UAS: our 2xx changes nothing but the state. EBADMSG: not a 2xx,
 * or one the dialog cannot take. */
int sip_dialog_confirm(struct sip_dialog *dlg, const struct sip_msg *resp);

/* Out of its table (if in one) and no longer delivered to; idempotent. */
void sip_dialog_end(struct sip_dialog *dlg);

uint64_t sip_dialog_id(const struct sip_dialog *dlg); /* 0 until added */
bool sip_dialog_is_uac(const struct sip_dialog *dlg);
bool sip_dialog_is_early(const struct sip_dialog *dlg);
bool sip_dialog_secure(const struct sip_dialog *dlg);
/* NUL-terminated, owned by the dialog; valid until it changes (target:
 * the next target refresh) or is freed. */
const char *sip_dialog_callid(const struct sip_dialog *dlg);
const char *sip_dialog_local_tag(const struct sip_dialog *dlg);
const char *sip_dialog_remote_tag(const struct sip_dialog *dlg);
const char *sip_dialog_local_uri(const struct sip_dialog *dlg);
const char *sip_dialog_remote_uri(const struct sip_dialog *dlg);
const char *sip_dialog_target(const struct sip_dialog *dlg);
const char *sip_dialog_routes(const struct sip_dialog *dlg); /* "" when none */
size_t sip_dialog_route_count(const struct sip_dialog *dlg);
struct pl sip_dialog_route(const struct sip_dialog *dlg, size_t i);
uint32_t sip_dialog_local_cseq(const struct sip_dialog *dlg);  /* 0: empty */
uint32_t sip_dialog_remote_cseq(const struct sip_dialog *dlg); /* 0: empty */
void sip_dialog_cseq_set(struct sip_dialog *dlg, uint32_t local, uint32_t remote);
const struct net_flow *sip_dialog_flow(const struct sip_dialog *dlg); /* NULL: none */
void sip_dialog_flow_set(struct sip_dialog *dlg, const struct net_flow *flow);
const struct sip_dialog_owner *sip_dialog_owner(const struct sip_dialog *dlg);
/* Bytes the dialog holds, its strings and 16 bytes of allocator overhead
 * per allocation included (memory estimates of its owners). */
size_t sip_dialog_mem(const struct sip_dialog *dlg);

/* A target refresh (§12.2.2 UAS side, §12.2.1.2 UAC side): the Contact of
 * msg becomes the remote target. ENOENT without a Contact, EBADMSG, E2BIG. */
int sip_dialog_target_refresh(struct sip_dialog *dlg, const struct sip_msg *msg);

/* §12.2.2 for a received in-dialog request other than ACK and CANCEL: 0
 * and the remote CSeq takes the request's, or 500 (CSeq lower than the
 * remote CSeq: out of order) with the dialog left as it was. */
uint16_t sip_dialog_rx_check(struct sip_dialog *dlg, const struct sip_msg *req);

/* A request inside the dialog (§12.2.1.1), without Via (the stack adds it).
 * The local CSeq goes up by one first (ACK takes the current one: the
 * INVITE's). With a loose first route (;lr) the Request-URI is the remote
 * target and Route the route set; with a strict one the Request-URI is that
 * route's URI (without the parameters a Request-URI may not carry) and
 * Route the rest followed by the remote target. */
struct sip_dialog_req_prm {
	struct pl method;
	struct pl contact; /* Contact value; unset: none */
	struct pl hdrs;	   /* extra complete header lines */
	struct pl ctype;
	struct pl body;
};
int sip_dialog_req_build(struct sip_dialog *dlg, struct mbuf *mb,
			 const struct sip_dialog_req_prm *prm);

/* ---- the table ---- */

/* max: dialogs at once, 0 = SIP_DIALOGS_MAX_DEFAULT. */
int sip_dialogs_alloc(struct sip_dialogs **tp, size_t max);
/* Ends every dialog in it (owners keep their references), then frees. */
void sip_dialogs_free(struct sip_dialogs *t);
size_t sip_dialogs_count(const struct sip_dialogs *t);
size_t sip_dialogs_max(const struct sip_dialogs *t);

/* Puts dlg in the table with its owner; it gets its id. EINVAL (already in
 * a table, or no req_h), ENOSPC (full), EEXIST. */
int sip_dialogs_add(struct sip_dialogs *t, struct sip_dialog *dlg,
		    const struct sip_dialog_owner *owner);
/* By Call-ID and tags (§12.2.2); NULL if none. Borrowed. */
struct sip_dialog *sip_dialogs_find(const struct sip_dialogs *t, struct pl callid,
				    struct pl local_tag, struct pl remote_tag);
/* By id (async completions); NULL once ended. Borrowed. */
struct sip_dialog *sip_dialogs_lookup(const struct sip_dialogs *t, uint64_t id);
/* The dialog of a received request or response: Call-ID with To tag as the
 * local tag and From tag as the remote tag for a request, the reverse for a
 * response to our request. NULL if none, or the message lacks them. */
struct sip_dialog *sip_dialogs_match(const struct sip_dialogs *t,
				     const struct sip_msg *msg);

/* Delivers a received request with a To tag (tsx set, not ACK): ENOENT when
 * no dialog matches (the caller goes on as for a request outside any
 * dialog); else 0 with *scode 0 when the owner got it, or the status the
 * caller answers with (500 out of order; sip_dialog_reason). A target refresh
 * request (INVITE, UPDATE, SUBSCRIBE, NOTIFY, REFER: RFC 3261 §12.2,
 * RFC 3311, RFC 6665 §4.1.2.1, §4.2.1, RFC 3515) updates the target first. */
int sip_dialogs_request(struct sip_dialogs *t, struct sip_tsx *tsx,
			const struct sip_msg *req, const struct net_flow *flow,
			uint16_t *scode);
/* The reason phrase for a status sip_dialogs_request asks to answer. */
const char *sip_dialog_reason(uint16_t scode);
/* Delivers the ACK of a 2xx: ENOENT when no dialog matches, else 0. */
int sip_dialogs_ack(struct sip_dialogs *t, const struct sip_msg *ack,
		    const struct net_flow *flow);

#endif
