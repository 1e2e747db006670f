/*
 * smsc — SMS over IP (TS 24.341): imsd is the UE's IP-SM-GW and SMSC in
 * one. Phones send SMS in SIP MESSAGE requests carrying the RP layer
 * (TS 24.011 §7.3) with a TPDU inside (TS 23.040 §9.2); the service answers
 * them, keeps what must be delivered in a pending queue per user (the state
 * file keeps it across restarts) and delivers it in MESSAGE requests of its
 * own. docs/sms.md draws the flows.
 *
 *   MO   TS 24.341 §5.3.1.2 (phone side), §5.3.3 (SC side): a MESSAGE
 *        (application/vnd.3gpp.sms) from a registered UE is answered 202;
 *        RP-ACK, or RP-ERROR with its cause, goes back in a new MESSAGE
 *        (TS 24.011 §7.3.3/§7.3.4). An RP-DATA carrying an SMS-SUBMIT is
 *        queued as an SMS-DELIVER for its destination; the 202 and the
 *        RP-ACK leave only once the SMS is committed to the state file.
 *   MT   TS 24.341 §5.3.2: the SMS-DELIVER in RP-DATA (network to phone,
 *        RP-OA the SC address, RP-DA empty) in a MESSAGE to each binding
 *        of the destination whose Contact has +g.3gpp.smsip; the phone's
 *        RP-ACK (its own MESSAGE) ends the delivery; RP-ERROR, an error
 *        answer or no RP-ACK keeps it for a retry.
 *   queue every sms_retry_delay, at registration, on RP-SMMA, on
 *        `sms_flush`; expired after TP-VP, else sms_expires; sms_delay per
 *        IMPU; SMS-STATUS-REPORT to the sender when TP-SRR asks for it.
 *
 * Ownership: struct smsc is refcounted (mem_deref frees its queues; with a
 * state file, what changed is written first). It borrows cfg, hss,
 * registrar and stack, which must outlive it. Loop thread only.
 * Errors: errno ints: EINVAL bad argument, ENOENT no such user, ENOMEM,
 * ENOSPC a queue bound, E2BIG a text or TP-UD too long, EIO state file.
 */
#ifndef SMSC_SMSC_H
#define SMSC_SMSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/ims_cfg.h"
#include "hss/hss.h"
#include "net/net_flow.h"
#include "sip/sip_stack.h"

struct smsc;
struct registrar;
struct store;

/* Pending SMS per user, as destination and as sender (RP-ERROR 22 above,
 * TS 24.011 §8.2.5.4 "memory capacity exceeded"). */
#define SMSC_USER_PENDING_MAX 2048u
/* No RP-ACK this long after a MESSAGE went out: the attempt failed
 * (TS 24.011 TR1N is 35-40 s; a phone answers within seconds). */
#define SMSC_ACK_TIMEOUT_MS 30000u
/* Without sms_retry_delay, an attempt that failed is tried again at the
 * next registration, RP-SMMA or sms_flush only; but one that imsd itself
 * refused (no MESSAGE could leave: the transaction bound, an unproven
 * address's budget, a send error, each a 503 without a response) is tried
 * again after SMSC_LOCAL_RETRY_MS, doubling at each refusal in a row up to
 * SMSC_LOCAL_RETRY_MAX_MS (or after sms_retry_delay when that is sooner):
 * the phone is registered and has not failed. The delivery timer ticks
 * every second. */
#define SMSC_LOCAL_RETRY_MS 1000u
#define SMSC_LOCAL_RETRY_MAX_MS 32000u

/* What the SIP side goes through; NULL members: the stack (sip_stack_reply,
 * sip_stack_request, sip_tsx_lookup), loop_now_ms() and time(). Unit tests
 * replace them. */
struct smsc_ops {
	int (*reply)(struct sip_stack *stack, struct sip_tsx *tsx, uint16_t scode,
		     const char *reason, const struct sip_tsx_reply_prm *prm, void *arg);
	int (*request)(struct sip_stack *stack, const struct sip_stack_req_prm *prm,
		       void *arg);
	struct sip_tsx *(*tsx_find)(struct sip_stack *stack, uint64_t id, void *arg);
	uint64_t (*now_ms)(void *arg); /* monotonic */
	int64_t (*wall_s)(void *arg);  /* Unix seconds */
	void *arg;
};

struct smsc_prm {
	const struct ims_cfg *cfg; /* sms_* properties, domain */
	struct hss *hss;
	struct registrar *reg;		/* bindings to deliver to */
	struct sip_stack *stack;	/* may be NULL when ops replace it */
	const struct smsc_ops *ops;	/* NULL: the stack; copied */
	const char *host;		/* our "host[:port]"; NULL: the domain */
};

int smsc_alloc(struct smsc **sp, const struct smsc_prm *prm);

/* A MESSAGE for the service, as the CSCF stage identified it (cscf_sms.c);
 * everything borrowed for the call. */
struct smsc_req {
	struct sip_stack *stack;
	struct sip_tsx *tsx;
	const struct sip_msg *req;
	const struct net_flow *flow;
	struct hss_user *orig; /* the registered UE that sent it, or NULL */
	uint32_t orig_impu;    /* its asserted IMPU */
};
/* Answers it: 403 without orig, 415 for another content type, else 202
 * (or 200 for RP-ACK / RP-ERROR) and the RP answer. */
void smsc_message(struct smsc *s, const struct smsc_req *r);

/* Delivery now for u's pending SMS (a registration, sms_flush). */
void smsc_user_kick(struct smsc *s, const struct hss_user *u);
/* A binding of u added or refreshed (the service watches the registrar
 * for these, registrar_watch_add): u's queue is tried right after. */
void smsc_binding_up(struct smsc *s, const struct hss_user *u);

/* ---- operator SMS (monitor `sms`, remote API `sms`, manual §6/§7) ---- */

struct smsc_send_prm {
	const char *text;    /* UTF-8; NULL: binary */
	const uint8_t *ud;   /* binary TP-UD (with its UDH when udhi) */
	size_t ud_len;
	/* -1: computed. With a GSM 7-bit dcs, ud is packed septets and tp_udl
	 * their count (header included, TS 23.040 §9.2.3.16); else octets,
	 * and a tp_udl other than ud_len is refused (EINVAL) */
	int tp_udl;
	bool udhi;	     /* tp_udhi_present */
	uint8_t pid;	     /* default 0 */
	int dcs;	     /* -1: chosen for text (0 GSM 7-bit, 8 UCS2), 4 binary */
	const char *sender;  /* TP-OA text; NULL: the SC address */
	uint32_t validity;   /* s, 0: 86400 */
};
/*
 * Queues an SMS for user u (IMPU index impu, HSS_IMPU_NONE: its asserted
 * one). A text longer than one SMS is split into parts with a concatenation
 * UDH (TS 23.040 §9.2.3.24.1), GSM 7-bit when it fits the alphabet, else
 * UCS2. *parts (may be NULL) receives the number queued.
 */
int smsc_send(struct smsc *s, struct hss_user *u, uint32_t impu,
	      const struct smsc_send_prm *prm, unsigned *parts);
/* Tries u's pending SMS now (manual §7 `sms_flush`); *n: how many are
 * pending. ENOENT: none. */
int smsc_flush(struct smsc *s, const struct hss_user *u, uint32_t *n);
/* Pending SMS whose destination is u. */
uint32_t smsc_pending_count(const struct smsc *s, const struct hss_user *u);

/* ---- "SMS received" hook (manual §6 `sms` event) ---- */

struct smsc_event {
	const char *sender;	 /* TP-OA as text ("+336...") */
	const char *destination; /* TP-DA as text */
	const char *text;	 /* UTF-8, NULL when binary */
	const uint8_t *binary;	 /* TP-UD when text is NULL */
	size_t binary_len;
	uint8_t dcs;
	int64_t date; /* Unix seconds of reception */
};
/* True: the SMS was taken (with sms_hook_only, not relayed here). */
typedef bool(smsc_recv_h)(const struct smsc_event *ev, void *arg);
void smsc_hook_set(struct smsc *s, smsc_recv_h *h, void *arg);
/* A watcher of the pending queues (the API's users_update, manual §6.7):
 * h(u) after u's count of pending SMS changed, inside the change (read
 * only). One watcher; h NULL removes it. */
typedef void(smsc_change_h)(const struct hss_user *u, void *arg);
void smsc_watch_set(struct smsc *s, smsc_change_h *h, void *arg);

/* ---- counters ---- */

struct smsc_stats {
	uint64_t mo;	     /* RP-DATA received */
	uint64_t mo_refused; /* of those, answered RP-ERROR */
	uint64_t attempts;   /* MT MESSAGE requests sent */
	uint64_t delivered;  /* RP-ACK from the destination */
	uint64_t failed;     /* attempts that ended without an RP-ACK */
	uint64_t expired;
	uint64_t reports;    /* status reports queued */
	uint64_t cfm;	     /* callflow_modifier modifiers applied to MT MESSAGEs */
	uint32_t pending;    /* SMS in the queues now */
};
void smsc_stats_get(const struct smsc *s, struct smsc_stats *out);

/* Runs what is due (retries, expiries, RP-ACK timeouts); the service's
 * timer calls it, tests with an injected clock call it directly. */
void smsc_tick(struct smsc *s);

/* ---- state file (smsc_store.c) ---- */

/* Restores the pending SMS kept in st and keeps st up to date from then on
 * (one transaction before the loop sleeps, on the worker). Takes a
 * reference to st. */
int smsc_store_attach(struct smsc *s, struct store *st, char *err, size_t errlen);
/* Writes what changed now and waits for it (tests, shutdown). */
int smsc_store_flush(struct smsc *s);

/* The wiring for imsd: allocates the service on the stack and attaches the
 * state file when st is not NULL. */
int smsc_app_start(struct sip_stack *stack, const struct ims_cfg *cfg, struct hss *hss,
		   struct registrar *reg, struct store *st, struct smsc **sp);

#endif
