/*
 * smsc internals shared by smsc*.c. Not a public header.
 *
 * Memory per pending SMS: one struct smsc_msg (88 bytes on x86-64) with the
 * TPDU to deliver in its tail, one allocation (bench/sms: 160 B of heap per
 * pending SMS with a 50-octet TPDU); per user with SMS (as
 * destination or sender) one struct smsc_user, made on first use.
 */
#ifndef SMSC_SMSC_INT_H
#define SMSC_SMSC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "loop/loop.h"
#include "smsc/smsc.h"
#include "sms/sms_rp.h"
#include "sms/sms_tpdu.h"

enum smsc_kind {
	SMSC_KIND_DELIVER = 0, /* an SMS-DELIVER */
	SMSC_KIND_REPORT = 1,  /* an SMS-STATUS-REPORT for a sender */
};

/* One pending SMS. The TPDU to deliver is built once, at reception
 * (TP-SCTS is when the SC received it), and kept as bytes. */
struct smsc_msg {
	struct smsc_msg *next; /* in its destination's queue, oldest first */
	uint64_t id;	       /* its row in the state file; unique, > 0 */
	int64_t created;       /* Unix s: received (TP-SCTS) */
	int64_t expires;       /* Unix s: TP-VP, else sms_expires */
	int64_t not_before;    /* Unix s: sms_delay of the destination IMPU */
	uint32_t uidx;	       /* destination user (hss index) */
	uint32_t dst_impu;     /* destination IMPU (To, P-Called-Party-ID) */
	/* the sender to report to (TP-SRR), borrowed from the HSS, or NULL */
	struct hss_user *orig;
	uint32_t orig_impu;
	uint8_t kind;	   /* enum smsc_kind */
	uint8_t submit_mr; /* TP-MR of the SMS-SUBMIT (status report) */
	bool srr;	   /* a status report is wanted */
	bool saved;	   /* its row is committed (or there is no state file) */
	char ra[SMS_ADDR_DIGITS_MAX + 2]; /* TP-DA of the submit, "+digits" */
	uint16_t tpdu_len;
	uint8_t tpdu[]; /* owned */
};

/* One attempt's MESSAGE in flight (an entry per binding sent to); the
 * response handler's argument, so that nothing bare is kept by the stack.
 * All are on the service's list and freed with it. */
struct smsc_try {
	struct smsc_try *next, *prev;
	struct smsc *s;
	uint32_t uidx;	 /* destination user (hss index) */
	uint64_t msg_id; /* 0 for an RP answer to a phone */
	uint32_t gen;	 /* the attempt it belongs to */
};

/* A user's SMS state; made when it first has one. */
struct smsc_user {
	struct hss_user *u; /* borrowed */
	struct smsc_msg *head, **tail;
	uint32_t npending;  /* as destination */
	uint32_t nsent;	    /* pending SMS it sent (bound) */
	/* the attempt in flight: the head, sent with rp_mr; gen tells its
	 * responses from an older attempt's */
	struct smsc_msg *inflight;
	uint8_t rp_mr;	   /* next RP-MR for network-originated RP-DATA */
	uint8_t rp_mr_cur; /* of the attempt in flight */
	uint32_t gen;
	uint32_t tries_live;  /* its MESSAGEs without a final answer */
	bool tries_ok;	      /* one was answered 2xx */
	bool tries_remote;    /* one failed at the phone (not imsd's 503) */
	uint8_t local_fails;  /* attempts refused by imsd itself in a row */
	uint64_t ack_due;     /* monotonic ms: no RP-ACK by then = failed */
	uint64_t retry_at;    /* monotonic ms: next attempt (0 = now) */
	bool waiting;	      /* no binding took SMS last time: look each tick */
	bool kicked;	      /* a binding came: try at the kick timer */
	int64_t exp_min;      /* Unix s: no SMS of the queue expires before */
	/* its last SMS-SUBMIT (duplicates, smsc_mo.c) */
	int64_t last_at;
	uint32_t last_da; /* hash of TP-DA */
	uint8_t last_mr;
	struct smsc_user *act_next, *act_prev; /* on the active list */
	bool active;
};

/* An answer held until the SMS it acknowledges is committed: the SIP
 * answer to the MESSAGE and the RP answer in a new MESSAGE. */
struct smsc_held {
	struct smsc_held *next;
	uint64_t tsx_id;
	uint32_t uidx;	      /* the phone's user */
	struct net_flow flow; /* to send the RP answer over */
	uint8_t rp_len;
	uint8_t rp[16]; /* RP-ACK (a few octets) */
	uint64_t *ids;	/* the SMS it acknowledges: dropped if not saved */
	uint32_t nids;
};

struct smsc_store;

#define SMSC_RND_POOL 1024u

struct smsc {
	const struct ims_cfg *cfg;
	struct hss *hss;
	struct registrar *reg;
	struct sip_stack *stack;
	struct smsc_ops ops;
	char host[256];	     /* our host for Call-ID, From */
	char sc_uri[320];    /* the SC as a URI (From, P-Asserted-Identity) */
	struct sms_addr sc;  /* RP-OA of MT RP-DATA */
	struct smsc_user **users; /* per hss index, NULL until used */
	uint32_t nusers;
	struct smsc_user *act_head; /* users with pending SMS */
	struct smsc_try *tries;	    /* MESSAGEs in flight */
	struct loop_timer *tick;
	struct loop_timer *kick; /* 0 ms: after a registration's 200 */
	uint64_t next_id;
	uint16_t concat_ref;
	smsc_recv_h *hook;
	void *hook_arg;
	smsc_change_h *watch; /* smsc_watch_set */
	void *watch_arg;
	struct smsc_stats stats;
	struct smsc_store *ss; /* NULL without a state file */
	/* Random bytes for tags and Call-IDs, drawn SMSC_RND_POOL at a time:
	 * one RAND_bytes costs about 6,600 instructions whatever its size
	 * (bench/RESULTS.md, sms profile). Uniqueness only, not secrecy. */
	uint8_t rnd[SMSC_RND_POOL];
	size_t rnd_left;
};

/* smsc.c */
uint64_t smsc_now(const struct smsc *s);
int64_t smsc_wall(const struct smsc *s);
struct smsc_user *smsc_user_get(struct smsc *s, const struct hss_user *u);
struct smsc_user *smsc_user_at(const struct smsc *s, uint32_t idx);
void smsc_active_set(struct smsc *s, struct smsc_user *su);
void smsc_timer_arm(struct smsc *s);
/* A new SMS for su's queue (copied TPDU); not saved yet unless there is no
 * state file. NULL: ENOMEM. */
struct smsc_msg *smsc_msg_new(struct smsc *s, const uint8_t *tpdu, size_t len);
void smsc_msg_enqueue(struct smsc *s, struct smsc_user *su, struct smsc_msg *m);
/* Takes m off su's queue and frees it; its row is deleted. */
void smsc_msg_remove(struct smsc *s, struct smsc_user *su, struct smsc_msg *m);
struct smsc_msg *smsc_msg_find(struct smsc *s, uint64_t id, struct smsc_user **sup);
/* The expiry of an SMS-SUBMIT received now. */
int64_t smsc_expiry(const struct smsc *s, const struct sms_tpdu *sub, int64_t now);
/* The sms_delay of u's IMPU i, in s. */
int64_t smsc_delay_s(const struct hss_user *u, uint32_t impu);
/* An RP message in a new MESSAGE to the phone over flow (the RP answers to
 * its MO messages). */
int smsc_rp_send(struct smsc *s, struct smsc_user *su, const struct net_flow *flow,
		 const uint8_t *rp, size_t len);
/* A status report for m to its sender (st: SMS_ST_*). */
void smsc_report(struct smsc *s, const struct smsc_msg *m, uint8_t st);

/* smsc_mt.c */
/* Starts the next delivery of su if it can (registered, nothing in flight). */
void smsc_mt_try(struct smsc *s, struct smsc_user *su);
/* The phone's RP-ACK / RP-ERROR for the delivery in flight (rp_mr). */
void smsc_mt_ack(struct smsc *s, struct smsc_user *su, uint8_t mr, bool ok, uint8_t cause);
/* Retries, expiries and RP-ACK timeouts of su. */
void smsc_mt_due(struct smsc *s, struct smsc_user *su, uint64_t now, int64_t wall);
/* The MESSAGE text: request line, headers and body (mb). */
struct mbuf;
struct smsc_hdrs {
	struct pl ruri;	    /* the contact URI */
	const char *to;	    /* the destination IMPU as a URI */
	const char *pcpi;   /* P-Called-Party-ID, NULL: none */
	/* callflow_modifier whose custom_headers it carries (smsc_mt.c),
	 * borrowed for the call; NULL none */
	const struct ims_cfg_cfm *cfm;
};
int smsc_message_build(struct smsc *s, struct mbuf *mb, const struct smsc_hdrs *h,
		       const uint8_t *body, size_t len);
void smsc_try_free(struct smsc *s, struct smsc_try *t);
struct smsc_try *smsc_try_new(struct smsc *s, uint32_t uidx, uint64_t msg_id, uint32_t gen);

/* smsc_mo.c: an SMS-SUBMIT with the TP-MR and TP-DA of the sender's
 * previous one, this many seconds after it, is that one again. */
#define SMSC_DUP_WINDOW_S 60

/* smsc_store.c */
/* The row of m goes in the next transaction (new), or its deletion. */
void smsc_store_put(struct smsc *s, struct smsc_msg *m);
void smsc_store_del(struct smsc *s, uint64_t id);
/* Holds h until the SMS put before it are committed; false: no state file
 * (send now). */
bool smsc_store_hold(struct smsc *s, struct smsc_held *h);
void smsc_store_detach(struct smsc *s);
/* Sends a held answer: 202 + RP answer if result is 0, else 500. */
void smsc_held_release(struct smsc *s, struct smsc_held *h, int result);

#endif
