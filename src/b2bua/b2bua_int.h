/*
 * b2bua_int — the b2bua's own structures, shared by its files:
 * b2bua.c (entry points, the call table), b2bua_ctx.c (a call's life:
 * creation, events, stop, linger), b2bua_fsm.c (the legs' state machine:
 * answers, ACK, CANCEL, timers), b2bua_dlg.c (requests inside the dialogs
 * relayed from one leg to the other), b2bua_echo.c (the echo service),
 * b2bua_info.c (calls as data), b2bua_msg.c (what goes in the
 * messages imsd builds), b2bua_timer.c and b2bua_st.c (session timers).
 */
#ifndef B2BUA_B2BUA_INT_H
#define B2BUA_B2BUA_INT_H

#include "b2bua/b2bua.h"
#include "core/mbuf.h"
#include "loop/loop.h"
#include "sip/sip_dialog.h"
#include "sip/sip_msg.h"

/* Client transactions a call has out at once (its INVITE branches, their
 * CANCELs, relayed requests). */
#define B2B_TX_MAX 24u
#define B2B_TAG_LEN 16u

enum b2b_side { B2B_A = 0, B2B_B = 1 };

/* How a failed SDP rewrite is answered. */
struct b2b_sdp_err {
	uint16_t scode;
	const char *reason;
	char text[128];
};

/* One branch towards a binding of the callee. */
struct b2b_leg {
	struct hss_user *user; /* borrowed from the HSS */
	uint32_t impu;	       /* the callee IMPU it was reached by */
	struct net_flow flow;  /* the binding's flow */
	struct sip_msg *inv;   /* owned: the INVITE as built (no Via) */
	uint64_t ict_id;       /* its INVITE client transaction */
	uint16_t scode;	       /* last status received, 0 none */
	bool done;	       /* final answer received (or gave up) */
	bool cancel;	       /* to be CANCELled (once a 1xx came) */
	bool cancelled;	       /* CANCEL sent */
	/* its early dialog (b2bua_early.c) */
	struct sip_dialog *ed; /* owned, NULL none */
	uint32_t ed_seq;       /* when it was last the newest (c->be: the newest) */
	uint32_t ed_rseq;      /* RSeq of its last reliable 1xx PRACKed */
	uint32_t rack_rseq, rack_cseq; /* PRACK held for the caller's answer */
	bool oa_done;	       /* an offer of its 1xx answered by PRACK */
	bool st_retried;       /* its INVITE sent again after a 422 (RFC 4028) */
	/* forking with the relay: the last SDP this branch sent before the
	 * answer and its o= line (b2b_sdp_origin), so that the relay's callee
	 * side, which the branches of one family share, is given back to the
	 * branch that answers (b2b_media_won) */
	char *sdp_last; /* owned (mem), NULL none */
	size_t sdp_last_len;
	uint64_t sdp_o;
};

/* A client transaction of the call, and what its answers go to. */
enum b2b_tx_kind {
	B2B_TX_NONE = 0,
	B2B_TX_INVITE,
	B2B_TX_CANCEL,
	B2B_TX_RELAY,
	B2B_TX_BYE,
	B2B_TX_OWN, /* imsd's own re-INVITE (b2bua_ctl.c) */
	B2B_TX_ST   /* imsd's session refresh (b2bua_st.c); to: the side */
};
struct b2b_tx {
	uint64_t id;	   /* sip_tsx_id */
	uint64_t srv_id;   /* RELAY: the server transaction it answers */
	uint8_t kind;	   /* enum b2b_tx_kind */
	uint8_t to;	   /* RELAY: the side it was sent to */
	uint8_t leg;	   /* INVITE, CANCEL: the leg */
	uint8_t meth;	   /* RELAY: enum sip_method */
	bool offer_in_req; /* RELAY: the request carried an SDP offer */
	bool final;	   /* RELAY: its final answer was relayed */
};

/* The 2xx of an INVITE (initial or re-INVITE) relayed to the side that
 * asked, waiting for its ACK (RFC 3261 §13.3.1.4: the UAS core sends the
 * 2xx again from T1 doubling to T2 until then; Timer H = 64*T1 ends it). */
struct b2b_ackwait {
	bool on;
	uint8_t from;	 /* the side whose ACK we wait for */
	uint64_t srv_id; /* its INVITE server transaction */
	uint32_t retx_ms, waited_ms;
	bool acked;	 /* the other side got its ACK */
	struct mbuf ack; /* the ACK sent to the other side (again on 2xx retx) */
	/* the 2xx as answered (the transaction builds it again from these) */
	struct mbuf rh, rct, rbody;
};

struct b2b_call {
	struct b2bua *b; /* borrowed */
	uint32_t index;	 /* in b->calls, dialog_set index */
	enum b2bua_state state;
	enum b2bua_type type;
	char sid_a[24], sid_b[24]; /* session ids of the server and mt dialogs */
	char *from, *to;	   /* owned: caller and callee IMPU */
	char *callid_a;		   /* owned: the caller's Call-ID */
	char *callid_b;		   /* owned: the mt dialog's Call-ID */
	time_t date;
	uint64_t t0_ms, start_ms, stop_ms;
	uint64_t last_ms; /* last signalling (dialog_timeout) */
	/* the caller's side */
	struct hss_user *orig; /* borrowed */
	uint32_t orig_impu;
	struct net_flow a_flow;
	struct sip_msg *a_inv; /* owned reference: the caller's INVITE */
	uint64_t a_tsx;	       /* its server transaction while unanswered */
	struct sip_dialog *a;  /* owned: the server dialog (UAS) */
	bool a_answered;       /* final sent to the caller's INVITE */
	/* the callee's side */
	struct b2b_leg leg[B2BUA_LEGS_MAX];
	size_t nlegs;
	int win;	       /* index of the leg that answered 2xx, -1 none */
	struct sip_dialog *bd; /* owned: the mt dialog (UAC) of the winner */
	uint16_t best;	       /* best final among the failed legs */
	char best_reason[64];
	struct b2b_tx tx[B2B_TX_MAX];
	struct b2b_ackwait aw;
	bool reinvite; /* a re-INVITE is being relayed (491 for another) */
	/* timers (loop_timer), owned */
	struct loop_timer *t_ring;   /* Timer C / dialog_timeout before answer */
	struct loop_timer *t_ack;    /* 2xx retransmission, Timer H */
	struct loop_timer *t_idle;   /* dialog_timeout once started */
	struct loop_timer *t_linger; /* stopped: freed after linger */
	struct loop_timer *t_answer; /* echo: answer_delay */
	struct loop_timer *t_retry;  /* branches' INVITEs again after a 422 */
	uint16_t retry_legs;	     /* those branches, a bit each */
	const char *bye_hdrs; /* borrowed, NULL: extra lines of imsd's BYEs now
			       * (dialog_set stop's Reason, RFC 3326) */
	char *cancel_hdrs;    /* owned, NULL none: the Reason lines of the
			       * CANCELs to the branches (RFC 3326 §2), set by
			       * the first cause to cancel them */
	struct b2bua_event ev[B2BUA_EVENTS_MAX];
	size_t nev;
	char icid[40]; /* P-Charging-Vector icid-value */
	/* media (b2bua_media.c) */
	struct media_session *ms; /* owned; NULL without the relay */
	bool a_offer;		  /* the caller's INVITE carried the offer */
	int sdp_state;	   /* the offer to the branches: 0 not yet, 1 made, -1 failed */
	struct mbuf sdp_b; /* the offer for the branches, rewritten */
	/* forking to bindings of both address families (b2bua_media.c): a
	 * second media session for the branches of the other family, with its
	 * offer; c->ms and sdp_b are always those of the branch last heard
	 * from (swapped), the winner's once it answers (the other released) */
	struct media_session *ms2; /* owned; NULL none */
	struct mbuf sdp_b2;
	uint8_t ms_af, ms2_af; /* imsd's address family toward their branches */
	/* reliable provisionals to the caller (b2bua_prack.c), owned; NULL
	 * when the caller does not use 100rel */
	struct b2b_prack *prack;
	/* the early dialog of the branch whose tagged 1xx or request came
	 * last (b2bua_early.c), borrowed from its leg (leg[].ed); NULL none */
	struct sip_dialog *be;
	int be_leg;	  /* its leg */
	uint32_t be_seq;  /* the last leg[].ed_seq given */
	bool em_gated;	  /* early_media off: forwarding held until the 2xx */
	/* mt_call (b2bua_mt.c) */
	char *mt_contact;      /* owned: the only binding to ring, NULL any */
	uint32_t mt_duration_s; /* BYE after, 0 never */
	/* dialog_set hold / reinvite / downgrade (b2bua_ctl.c) */
	uint8_t ctl_held;    /* held by imsd: 1 audio, 2 video, 4 text */
	uint8_t ctl_dropped; /* downgrade: 1 audio, 2 video, 4 text at port 0 */
	uint8_t ctl_pending; /* imsd's re-INVITEs without a final answer */
	uint32_t ctl_ver[2]; /* imsd's re-INVITEs so far to each side (o= version) */
	struct mbuf sdp_to[2]; /* the last SDP sent to each side (imsd's base) */
	/* the o= line of the callee's last SDP (b2b_sdp_origin) and the branch
	 * it came from: a 2xx repeating it is no new offer (RFC 3264 §8) */
	uint64_t o_b;
	int o_b_leg;
	/* session timers (b2bua_st.c), owned; NULL when off */
	struct b2b_st *st;
	/* callflow_modifier send_delay (b2bua_cfm.c): a provisional to the
	 * caller held until its timer, owned; NULL none */
	struct b2b_cfm_held *cfm_held;
	/* the modifier whose code b2b_answer_a is sending now (borrowed from
	 * the configuration for that call only), NULL otherwise */
	const struct ims_cfg_cfm *cfm_gen;
	/* the modifier whose custom_headers the INVITEs to the branches of
	 * the user b2b_fork is at get (cfm_invs[i], while it builds them) */
	const struct ims_cfg_cfm *cfm_inv;
	/* that modifier for each callee user term[i] b2b_fork gets (borrowed
	 * while it runs; NULL none): with multi_sim, each SIM's own */
	const struct ims_cfg_cfm **cfm_invs;
	/* a ring_only callee (borrowed from the HSS, as leg[].user): whose
	 * list applies to imsd's 180 and the CANCEL, with no branch; NULL */
	struct hss_user *callee;
	uint32_t callee_impu;
};

struct b2bua {
	struct b2bua_prm prm;
	struct b2b_call **calls; /* owned references, by index; NULL free */
	uint32_t ncalls_cap;
	uint32_t next_index;
	uint64_t sid_seq;
	struct b2bua_stats st;
	b2bua_watch_h *watch; /* b2bua_watch_set, NULL none */
	void *watch_arg;
};

/* b2bua_ctx.c */
int b2b_call_new(struct b2bua *b, struct b2b_call **callp);
struct b2b_call *b2b_call_get(const struct b2bua *b, uint32_t index);
void b2b_event(struct b2b_call *c, enum b2bua_event_type t, enum sip_method meth,
	       uint16_t scode);
void b2b_state(struct b2b_call *c, enum b2bua_state s);
/* Tells the watcher (b2bua_watch_set) that call c changed. */
void b2b_notify(const struct b2b_call *c);
/* Ends the call: nothing more is sent or taken; kept for the linger. */
void b2b_stop(struct b2b_call *c, const char *why);
/* b2bua_media.c: the status (and reason) an SDP the relay refused is
 * answered with: 503 no port free, 400 malformed, else 488. */
uint16_t b2b_media_err_scode(int err, const char **reason);
int b2b_tx_add(struct b2b_call *c, const struct sip_tsx *tsx, enum b2b_tx_kind kind,
	       uint8_t leg_or_side, uint64_t srv_id, enum sip_method meth);
struct b2b_tx *b2b_tx_find(struct b2b_call *c, const struct sip_tsx *tsx);
/* b2bua_dlg.c: a request of imsd's own in dialog d of c (its re-INVITE or
 * UPDATE, built from rq): sent, its transaction kept as kind and side with
 * meth, resp_h(arg c) getting its answers; the send counted. */
int b2b_dlg_own_request(struct b2b_call *c, struct sip_dialog *d,
			const struct sip_dialog_req_prm *rq, sip_tsx_resp_h *resp_h,
			enum b2b_tx_kind kind, uint8_t side, enum sip_method meth);
/* The ACK of a 2xx to imsd's own re-INVITE in dialog d (RFC 3261 §13.2.2.4). */
void b2b_dlg_own_ack(struct b2b_call *c, struct sip_dialog *d);
/* The entry a resent request's new transaction belongs to (the UDP retry
 * of a request refused over TCP), which then takes it; NULL if none. */
struct b2b_tx *b2b_tx_adopt(struct b2b_call *c, const struct sip_tsx *tsx,
			    const struct sip_msg *resp, enum b2b_tx_kind kind);
void b2b_touch(struct b2b_call *c);
uint32_t b2b_t1(const struct b2b_call *c);

/* b2bua_fsm.c */
int b2b_fork(struct b2b_call *c, const struct hss_impu_match *term, size_t nterm,
	     uint16_t *scode, const char **reason);
void b2b_invite_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
		       void *arg);
void b2b_cancel_legs(struct b2b_call *c);
/* The Reason header lines ("Reason: ...\r\n", at most
 * B2B_CANCEL_HDRS_MAX bytes: lines past it are left out) of the CANCELs
 * b2b_cancel_legs sends from now on, also those it defers until a branch's
 * first provisional; the first call wins. ENOMEM, or EALREADY. */
#define B2B_CANCEL_HDRS_MAX 1024u
int b2b_cancel_hdrs_set(struct b2b_call *c, struct pl hdrs);
/* RFC 3326 §2: the other branches of a call answered on one. */
#define B2B_REASON_ELSEWHERE "Reason: SIP;cause=200;text=\"Call completed elsewhere\"\r\n"
/* sdp: the body to send instead of resp's (rewritten); NULL: resp's. */
/* callflow_modifier on the answer imsd sends the caller (b2bua_cfm.c):
 * the modifier's header lines into hdrs and rp->hdrs, its content (read
 * into body) as rp's body; returns its send_delay in ms (0 none). */
struct sip_tsx_reply_prm;
uint32_t b2b_cfm_answer(struct b2b_call *c, uint16_t scode, const struct sip_msg *resp,
			struct mbuf *hdrs, struct mbuf *body, struct sip_tsx_reply_prm *rp);
/* The provisional or 2xx of b2b_answer_a held delay_ms (send_delay), rp
 * copied; ENOMEM: not held (the caller sends it now). A later answer with
 * a delay replaces a held provisional. A held 2xx goes when its delay is
 * over and then waits for its ACK (b2b_ack_wait_start); one dropped
 * because the call ended first becomes a 487 to the caller. */
int b2b_cfm_hold(struct b2b_call *c, uint16_t scode, const char *reason,
		 const struct sip_tsx_reply_prm *rp, uint32_t delay_ms);
/* Drops the held answer (a final answer went, the call ends). */
void b2b_cfm_drop(struct b2b_call *c);
/* Whether a 2xx to the caller is held (send_delay on INVITE.OK). */
bool b2b_cfm_2xx_held(const struct b2b_call *c);
/* A REINVITE, UPDATE, PRACK or CANCEL received from side from, met by a
 * modifier with a code: answered with it and, with stop, the call ended;
 * true when so (the request goes no further: a CANCEL cancels nothing).
 * A modifier without a code is logged and given in *relay (NULL: none)
 * for the request imsd relays: b2b_cfm_req_hdrs, b2b_cfm_cancel_hdrs. */
bool b2b_cfm_dlg_request(struct b2b_call *c, enum b2b_side from, struct sip_tsx *tsx,
			 const struct sip_msg *req, const struct ims_cfg_cfm **relay);
/* cm's custom_headers on the headers hdrs of a relayed REINVITE or UPDATE
 * (a rule with replace or without a value removes lines of that name). */
void b2b_cfm_req_hdrs(const struct b2b_call *c, const struct ims_cfg_cfm *cm,
		      struct mbuf *hdrs);
/* cm's custom_headers on the CANCELs imsd sends the branches (after the
 * caller's Reason lines, c->cancel_hdrs), at most B2B_CANCEL_HDRS_MAX. */
void b2b_cfm_cancel_hdrs(struct b2b_call *c, const struct ims_cfg_cfm *cm);
/* The modifier with a code met by the callee's answer scode from leg
 * (NULL: the winner or first): INVITE.OK for a final, INVITE.RINGING /
 * INVITE.SESSION_PROGRESS for a 180 / 183; logged. The caller gets its code
 * in place of scode (b2bua_fsm.c). NULL none. */
const struct ims_cfg_cfm *b2b_cfm_final(struct b2b_call *c, const struct b2b_leg *leg,
					uint16_t scode, const struct sip_msg *resp);
/* The modifier without a code for the INVITE to each callee user term[i]
 * (its list, then the caller's) into out[i] (NULL none; an unregistered
 * user none), logged. */
void b2b_cfm_invite(struct b2b_call *c, const struct hss_impu_match *term, size_t n,
		    const struct ims_cfg_cfm **out);
/* A 180/183 from a branch met by a modifier with a code: the caller gets
 * that code in its place (with the modifier's headers and content), the
 * branches are cancelled and the call ends; true when so. */
struct b2b_leg;
bool b2b_cfm_provisional(struct b2b_call *c, const struct b2b_leg *leg,
			 const struct sip_msg *resp);
/* imsd's own answer scode for the callee (the 180 to a ring_only callee or
 * of an echo call, the echo's 200) met by a modifier with a code: the
 * caller gets that code in its place and the call ends; true when so. */
bool b2b_cfm_own(struct b2b_call *c, uint16_t scode);
/* INVITE.TRYING: the modifier without a code (the callee's list, then the
 * caller's) met by a new call: a 100 Trying with its headers sent to the
 * caller at once; nothing when none, or an answer went already. */
void b2b_cfm_trying(struct b2b_call *c, const struct hss_impu_match *term, size_t n);
/* The caller gets cm's answer (its code, headers and content, built by
 * b2b_answer_a) in place of scode, the callee's 180/183/final: the
 * branches are cancelled and the call ends. */
void b2b_cfm_in_place(struct b2b_call *c, const struct ims_cfg_cfm *cm, uint16_t scode);
void b2b_answer_a(struct b2b_call *c, uint16_t scode, const char *reason,
		  const struct sip_msg *resp, const struct mbuf *sdp);
void b2b_ack_wait_start(struct b2b_call *c, enum b2b_side from, uint64_t srv_id);
/* Keeps what a 2xx to an INVITE carried, for its retransmissions. */
void b2b_2xx_keep(struct b2b_call *c, const struct sip_tsx_reply_prm *rp);
void b2b_end_both(struct b2b_call *c, const char *why);
void b2b_ring_timer_start(struct b2b_call *c);

/* b2bua_dlg.c */
extern const struct sip_dialog_owner b2b_owner_tmpl;
void b2b_dlg_req_h(struct sip_dialog *dlg, struct sip_tsx *tsx, const struct sip_msg *req,
		   const struct net_flow *flow, void *arg);
void b2b_dlg_ack_h(struct sip_dialog *dlg, const struct sip_msg *ack,
		   const struct net_flow *flow, void *arg);
int b2b_bye(struct b2b_call *c, enum b2b_side side);
void b2b_relay_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
		      void *arg);

/* b2bua_media.c */
bool b2b_is_sdp(const struct sip_msg *m);
int b2b_media_start(struct b2b_call *c);
/* c->ms for leg's branch (its session), and leg B's settings from it; once
 * a branch won, the other family's session is released. */
void b2b_media_leg_b(struct b2b_call *c, const struct b2b_leg *leg);
/* The offer for a new branch into c->sdp_b: the first branch's through
 * c->ms (imsd's own for mt calls), a branch of the other address family's
 * through a second session (RFC 4566 §5.7: its phone gets imsd's address of
 * its family). 0, or an errno with e filled (the branch is not called; the
 * first branch's failure ends the fork). */
int b2b_media_branch(struct b2b_call *c, const struct b2b_leg *leg, struct b2b_sdp_err *e);
/* c->ms: the session of leg's branch. */
void b2b_media_pick(struct b2b_call *c, const struct b2b_leg *leg);
/* The SDP of m (from that side's UE) rewritten for the other side into
 * out: 0; ENOENT (no relay, or no SDP: use the body as it is); another
 * errno with e filled (the status to answer). */
int b2b_media_sdp(struct b2b_call *c, enum b2b_side from, bool offer,
		  const struct sip_msg *m, struct mbuf *out, struct b2b_sdp_err *e);
/* A hash of the o= line of an SDP body (RFC 4566 §5.2: username, session
 * id and version, address), 0 when it has none. */
uint64_t b2b_sdp_origin(struct pl body);
/* A callee's 2xx of branch i whose SDP repeats that branch's session
 * description the caller already has (the offer/answer of the early
 * dialog done, RFC 3261 §13.2.1, RFC 3264 §8: same o= version): true, and
 * out is what the caller last got (empty: none kept). */
bool b2b_media_repeat(struct b2b_call *c, size_t i, const struct sip_msg *resp,
		      struct mbuf *out);
/* Forking: branch i answers 2xx, but the relay's callee side has another
 * branch's SDP (the one that spoke last): true, the relay given branch i's
 * session again (the 2xx's SDP when it repeats the branch's own, else the
 * branch's last one) and out its SDP for the caller. false: the 2xx goes
 * through the relay as any (its SDP new, or the relay already the
 * branch's). */
bool b2b_media_won(struct b2b_call *c, size_t i, const struct sip_msg *resp,
		   struct mbuf *out);
/* imsd answers the caller's offer itself (echo); tmpl: sdp_file or empty. */
int b2b_media_echo(struct b2b_call *c, struct pl offer, struct pl tmpl, struct mbuf *out);
void b2b_idle_start(struct b2b_call *c);
struct media_leg_prm;
/* A UE leg's media settings from its IMPU and flow. */
void b2b_media_leg_prm(const struct b2bua *b, struct media_leg_prm *lp,
		       const struct hss_user *u, uint32_t impu, const struct net_flow *flow);

/* b2bua_echo.c */
void b2b_echo_start(struct b2b_call *c);
void b2b_echo_request(struct b2b_call *c, struct sip_tsx *tsx, const struct sip_msg *req);
/* The 200 now (answer_delay over, or dialog_set answer). */
void b2b_echo_answer(struct b2b_call *c);

/* b2bua_mt.c */
/* An SDP file (sdp_file, mt_call_sdp_file) into out; NULL or "": the
 * relay's default offer. An errno when it cannot be read, is empty or is
 * over 16 KiB. */
int b2b_sdp_file_read(const char *file, struct mbuf *out);
bool b2b_mt_binding_ok(const struct b2b_call *c, struct pl uri);
/* imsd's offer to the branches into c->sdp_b (ENOENT: no relay, the
 * template as it is). */
int b2b_mt_offer(struct b2b_call *c, const struct b2b_leg *leg, struct b2b_sdp_err *e);
/* The callee's 2xx (c->bd made): ACK, echo, duration. */
void b2b_mt_won(struct b2b_call *c, const struct sip_msg *resp);
void b2b_mt_request(struct b2b_call *c, struct sip_tsx *tsx, const struct sip_msg *req);

/* b2bua_ctl.c */
/* The SDP about to go to side `to` (rewritten by the relay): kept as the
 * base of imsd's own offers, and its o= version moved past imsd's. */
void b2b_ctl_sdp_out(struct b2b_call *c, enum b2b_side to, struct mbuf *sdp);
void b2b_ctl_sdp_keep(struct b2b_call *c, enum b2b_side to, struct pl sdp);
/* The SDP of imsd's re-INVITE refresh to side s (RFC 4028 §10): the
 * session as that phone has it, unchanged (RFC 3264 §8). ENOENT: none. */
int b2b_ctl_refresh_sdp(struct b2b_call *c, enum b2b_side s, struct mbuf *out);
/* The phone's answer to imsd's re-INVITE (dialog_set, a refresh) to the
 * relay: where it wants media now, and its directions. */
void b2b_ctl_answer_media(struct b2b_call *c, enum b2b_side s, const struct sip_msg *resp);

/* b2bua_timer.c */
/* 422 (and the Min-SE line in hdr) when req's Session-Expires is below
 * se's minimum (RFC 4028 §8.1); 0 otherwise (se NULL or off too). */
uint16_t b2b_se_check(const struct ims_cfg_session_expires *se, const struct sip_msg *req,
		      char *hdr, size_t size);
/* A new INVITE from a registered caller: true when it was answered 422
 * (checked against the caller IMPU's session_expires). */
bool b2b_se_reject(struct b2bua *b, const struct b2bua_invite *inv);

/* b2bua_st.c (RFC 4028 session timers on both legs) */
/* What a leg's messages say of its session timer. */
struct b2b_st_nego {
	bool on;	     /* a timer on the leg */
	bool peer_timer;     /* its phone supports timer */
	bool peer_refreshes; /* its phone is the refresher, else imsd */
	uint32_t interval;   /* seconds */
	uint32_t min_se;     /* the Min-SE imsd sends (in, for leg B) */
};
/* tag in the comma lists of m's id headers (Supported, Require). */
bool b2b_st_has_tag(const struct sip_msg *m, enum sip_hdr_id id, const char *tag);
/* RFC 4028 §10: the time after a refresh at which the refresher's session
 * has expired, in ms. */
uint32_t b2b_st_expiry_ms(uint32_t interval);
/* Leg A from the caller's INVITE (§9); ENOENT: timers off. */
int b2b_st_leg_a(const struct ims_cfg_session_expires *se, const struct sip_msg *inv,
		 struct b2b_st_nego *n);
/* Leg B from the callee's 2xx (§7.2); offered: our INVITE asked for a
 * timer; n->min_se in. ENOENT: timers off. */
int b2b_st_leg_b(const struct ims_cfg_session_expires *se, bool offered,
		 const struct sip_msg *resp, struct b2b_st_nego *n);
/* A new server or echo call (c->a_inv, c->orig set): c->st from the caller
 * IMPU's settings (NULL: off). ENOMEM. An mt call's is made at its first
 * branch's INVITE. */
int b2b_st_init(struct b2b_call *c);
void b2b_st_free(struct b2b_call *c);
size_t b2b_st_mem(const struct b2b_call *c);
/* imsd writes the legs' Session-Expires and Min-SE: the phones' are not
 * passed on. */
bool b2b_st_on(const struct b2b_call *c);
/* The refresher that side s's phone names in the Session-Expires of its
 * refresh m (a re-INVITE or UPDATE) is that leg's from now on (RFC 4028
 * §9: imsd, the UAS, takes the parameter; §10). The 2xx of a refresh
 * only copies the request's (§9), so it moves nothing. */
void b2b_st_named(struct b2b_call *c, enum b2b_side s, const struct sip_msg *m);
/* Supported, Session-Expires, Min-SE of the INVITE to a branch. */
int b2b_st_invite_hdrs(struct b2b_call *c, const struct b2b_leg *leg, struct mbuf *h);
/* A branch's 422 to imsd's INVITE (RFC 4028 §7.4): 0 when imsd tries
 * again (the call's interval and Min-SE raised to the 422's Min-SE);
 * ENOENT not. */
int b2b_st_retry_422(struct b2b_call *c, const struct sip_msg *resp);
/* The Session-Expires and Min-SE lines of the INVITE to a branch. */
int b2b_st_se_lines(const struct b2b_call *c, struct mbuf *h);
/* The callee's 2xx to the INVITE: leg B's timer. */
void b2b_st_answered(struct b2b_call *c, const struct sip_msg *resp);
/* Supported (unless copied, from copied's), Require, Session-Expires of
 * a 2xx to side s's INVITE or UPDATE. */
int b2b_st_resp_hdrs(struct b2b_call *c, enum b2b_side s, const struct sip_msg *copied,
		     struct mbuf *h);
/* Supported (unless req's has timer), Session-Expires, Min-SE of req
 * (an INVITE or UPDATE) as imsd relays it to side to. */
int b2b_st_req_hdrs(struct b2b_call *c, enum b2b_side to, const struct sip_msg *req,
		    struct mbuf *h);
/* The call is up, or a refresh passed: both legs' timers from now. */
void b2b_st_start(struct b2b_call *c);
void b2b_st_refreshed(struct b2b_call *c);
void b2b_st_stop(struct b2b_call *c);
/* 200 from imsd to a request of side s's phone that imsd takes itself (mt,
 * echo: UPDATE, INFO...); an UPDATE is a refresh. */
void b2b_st_taken(struct b2b_call *c, enum b2b_side s, struct sip_tsx *tsx,
		  const struct sip_msg *req);

/* b2bua_prack.c (RFC 3262 on the caller's leg) */
enum b2b_rel_mode;
/* 420 answered (EPROTO) when the INVITE requires 100rel and it is off. */
int b2b_prack_check(struct b2bua *b, const struct b2bua_invite *inv,
		    enum b2b_rel_mode *mode);
int b2b_prack_init(struct b2b_call *c, enum b2b_rel_mode mode);
void b2b_prack_free(struct b2b_call *c);
size_t b2b_prack_mem(const struct b2b_call *c);
/* A 1xx (not 100) to the caller sent reliably, or kept until the PRACK of
 * the one out; c->prack set. */
int b2b_prack_1xx(struct b2b_call *c, struct sip_tsx *tsx, uint16_t scode,
		  const char *reason, const struct sip_tsx_reply_prm *rp);
void b2b_prack_final(struct b2b_call *c);
/* A 2xx to the caller while the reliable 1xx out has SDP: true, kept (the
 * caller's 2xx is in c->aw), sent at that 1xx's PRACK (RFC 3262 §3). */
bool b2b_prack_hold_2xx(struct b2b_call *c, uint16_t scode);
bool b2b_prack_2xx_held(const struct b2b_call *c);
/* The caller's CANCEL while its 2xx waits for a PRACK: 487 to the caller,
 * the callee's 2xx ACKed and BYEd, the call stopped; false if none held. */
bool b2b_prack_cancel_held(struct b2b_call *c);
void b2b_prack_request(struct b2b_call *c, bool from_a, struct sip_tsx *tsx,
		       const struct sip_msg *req);

/* b2bua_early.c (the callee's early dialog: PRACK, UPDATE before 2xx) */
/* A tagged 1xx of leg i: its early dialog, its PRACK. true: a reliable
 * 1xx already seen (same RSeq), to be dropped (RFC 3262 §4). */
bool b2b_early_1xx(struct b2b_call *c, size_t i, const struct sip_msg *resp);
/* Leg i won: bd (allocated, not in the table yet) takes its early
 * dialog's CSeq; every early dialog ends. */
void b2b_early_won(struct b2b_call *c, size_t i);
/* Every early dialog ends. */
void b2b_early_drop(struct b2b_call *c);
/* Leg i's early dialog ends (the leg failed); c->be the newest other. */
void b2b_early_leg_end(struct b2b_call *c, size_t i);
/* A request came in early dialog d: its branch is the one the caller's
 * requests go to from now on. */
void b2b_early_current(struct b2b_call *c, const struct sip_dialog *d);
/* The caller's PRACK (RFC 3262 §5): its SDP, the answer to the offer in a
 * callee's reliable 1xx, goes to that callee in imsd's PRACK, held until
 * now. */
void b2b_early_prack_answer(struct b2b_call *c, const struct sip_msg *prack);
/* early_media off: no forwarding before the answer; open at the 2xx. */
void b2b_early_media_gate(struct b2b_call *c, const struct b2b_leg *leg);
void b2b_early_media_open(struct b2b_call *c, const struct b2b_leg *leg);
/* 420 answered (EPROTO) when the INVITE requires precondition and the
 * caller IMPU's `precondition` is off. */
int b2b_precond_check(struct b2bua *b, const struct b2bua_invite *inv);

/* b2bua_msg.c */
/* "host:port[;transport=tcp]" of ours that the flow reaches us on. */
void b2b_our_host(const struct b2bua *b, const struct net_flow *flow, char *buf,
		  size_t size);
void b2b_our_addr(const struct b2bua *b, const struct net_flow *flow, struct net_addr *a);
int b2b_contact(const struct b2bua *b, const struct net_flow *flow, char *buf,
		size_t size);
/* The headers of msg worth passing on to the other leg (a fixed list),
 * appended to mb as complete lines. */
int b2b_hdrs_copy(struct mbuf *mb, const struct sip_msg *msg, bool response);
/* The same, without Session-Expires, Min-SE and timer in Require, and
 * with timer in the first Supported, when own_se (imsd writes them per
 * leg, b2bua_st.c). */
int b2b_hdrs_copy_se(struct mbuf *mb, const struct sip_msg *msg, bool response,
		     bool own_se);
int b2b_invite_build(struct b2b_call *c, struct b2b_leg *leg, struct mbuf *mb,
		     struct pl ruri, const char *callid);
/* PAI, Contact, Allow... of an answer to the caller. */
int b2b_resp_hdrs(struct b2b_call *c, const struct b2b_leg *leg,
		  const struct sip_msg *resp, struct mbuf *mb);
/* n (<= 16) unpredictable hex digits and a NUL into buf. */
void b2b_rand_hex(const struct b2bua *b, char *buf, size_t n);

#endif
