/*
 * cscf — the CSCF stage: every new request the SIP stack takes passes
 * through here, between the stack (transactions) and the services
 * (registrar, reg event; next calls, echo, SMS). imsd is the UE's P-CSCF
 * and its S-CSCF at once, so the stage does both sides' work once:
 *
 *   originating (TS 24.229 §5.2.6.3, §5.4.3.2): which registered UE sent
 *     the request — the user whose live binding was made over the
 *     request's flow (transport, peer address and port; over TCP the
 *     connection's remote end), not what its From says; the asserted
 *     identity (P-Preferred-Identity, when it names one of that user's
 *     IMPUs, becomes the P-Asserted-Identity; else the user's asserted
 *     IMPU, manual §5.2.1 `asserted`); the Route set: our own entries (the
 *     P-CSCF's and the Service-Route "orig" one) are consumed, anything
 *     else is kept for services that forward (RFC 3261 §16.4);
 *   terminating (TS 24.229 §5.4.3.3): the users whose IMPU is the
 *     Request-URI (several with multi_sim);
 *   dispatch: to the service the table names for the method (and, for
 *     SUBSCRIBE, the Event package), with the request context passed as an
 *     argument (struct cscf_req). A method without a service never reaches
 *     the stage (the stack answers 405/501); an event package without one
 *     gets 489 Bad Event with Allow-Events (RFC 6665 §8.2.2).
 *
 * In-dialog requests (a To tag) carry no new identity: they are dispatched
 * without the terminating lookup (the dialog layer delivers those that
 * match a dialog before they get here).
 *
 * Ownership: struct cscf is refcounted (mem_deref unregisters its methods
 * from the stack). It borrows the stack, the HSS and the registrar, which
 * must outlive it. Loop thread only. docs/cscf.md.
 */
#ifndef CSCF_CSCF_H
#define CSCF_CSCF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hss/hss.h"
#include "net/net_flow.h"
#include "sip/sip_stack.h"

struct cscf;
struct registrar;

#define CSCF_TERM_MAX 16     /* multi_sim entries one IMPU can name */
#define CSCF_SERVICES_MAX 32 /* entries of the dispatch table */

/* What a service learns of a request; everything borrowed for the call. */
struct cscf_req {
	struct sip_stack *stack;
	struct sip_tsx *tsx;
	const struct sip_msg *req;
	const struct net_flow *flow; /* where it came from */
	bool in_dialog;		     /* To tag present */
	/* Originating: the served user whose registered flow sent it, NULL
	 * when it did not come from a registered UE. */
	struct hss_user *orig;
	uint32_t orig_impu; /* its asserted IMPU, HSS_IMPU_NONE without orig */
	/* That IMPU as a URI ("sip:alice@ims.test"), "" without orig: the
	 * P-Asserted-Identity a forwarded request carries. */
	const char *asserted;
	bool orig_route; /* our Service-Route ("orig" user part) was in Route */
	/* The first Route entry that is not ours (RFC 3261 §16.4: where a
	 * proxy would send it next), empty when none. */
	struct pl route_next;
	/* Terminating (CSCF_TARGET_USER): the users the Request-URI names. */
	struct hss_impu_match term[CSCF_TERM_MAX];
	size_t nterm;
};

typedef void(cscf_service_h)(const struct cscf_req *r, void *arg);

enum cscf_target {
	CSCF_TARGET_ANY = 0, /* whatever the Request-URI (REGISTER, OPTIONS) */
	CSCF_TARGET_USER,    /* an IMPU of ours, else 404 (out of dialog) */
};

/* One entry of the dispatch table. Strings borrowed (static). */
struct cscf_service {
	const char *name;      /* for the log: "registrar", "reg-event" */
	enum sip_method meth;  /* not ACK or CANCEL: the stack keeps those */
	const char *event;     /* SUBSCRIBE/PUBLISH: Event package, NULL any */
	enum cscf_target target;
	/* Originating: identify the sender (cscf_req.orig) and refuse a new
	 * request (out of dialog) that no registered flow sent with 403.
	 * False for REGISTER (the registrar identifies by credentials) and
	 * OPTIONS (anyone may ping). */
	bool orig;
	cscf_service_h *h;
	void *arg;
};

/* The stage's own answers (404, 403, 489, 405). NULL: sip_stack_reply
 * (Server header), or sip_tsx_reply without a stack; unit tests replace it. */
typedef int(cscf_reply_h)(struct sip_stack *stack, struct sip_tsx *tsx, uint16_t scode,
			  const char *reason, const struct sip_tsx_reply_prm *prm, void *arg);

struct cscf_prm {
	struct sip_stack *stack;    /* may be NULL (unit tests drive cscf_dispatch) */
	struct hss *hss;
	struct registrar *reg;	    /* who registered which flow */
	cscf_reply_h *reply;
	void *reply_arg;
};

int cscf_alloc(struct cscf **cp, const struct cscf_prm *prm);
/* Adds svc (copied) to the table and takes its method from the stack.
 * EEXIST: the same method and event already have a service; ENOSPC: the
 * table is full. */
int cscf_service_add(struct cscf *c, const struct cscf_service *svc);

/* The stage itself, as the stack's handler calls it (tests call it
 * directly, with stack NULL). */
void cscf_dispatch(struct cscf *c, struct sip_stack *stack, struct sip_tsx *tsx,
		   const struct sip_msg *req, const struct net_flow *flow);

/* Originating identification alone (cscf_orig.c): fills r->orig,
 * r->orig_impu, r->asserted (into abuf, HSS_URI_MAX bytes). */
void cscf_orig_identify(const struct cscf *c, const struct sip_msg *req,
			const struct net_flow *flow, struct cscf_req *r, char *abuf);

/* The registrar's services (cscf_registrar.c): REGISTER and the reg event
 * package's SUBSCRIBE. */
int cscf_registrar_add(struct cscf *c, struct registrar *reg);
/* The SMS service (cscf_sms.c): MESSAGE, from a registered UE. */
struct smsc;
int cscf_sms_add(struct cscf *c, struct smsc *s);
/* The call service (cscf_b2bua.c): INVITE, and BYE/UPDATE/INFO in no
 * dialog (481). */
struct b2bua;
int cscf_b2bua_add(struct cscf *c, struct b2bua *b);

/* Counters (monitor, tests). */
struct cscf_stats {
	uint64_t dispatched;   /* handed to a service */
	uint64_t orig;	       /* of those, from a registered flow */
	uint64_t not_found;    /* 404: Request-URI not one of ours */
	uint64_t not_orig;     /* 403: not from a registered flow */
	uint64_t bad_event;    /* 489 */
	uint64_t cfm;	       /* a callflow_modifier applied (cscf_cfm.c) */
};
void cscf_stats_get(const struct cscf *c, struct cscf_stats *st);

#endif
