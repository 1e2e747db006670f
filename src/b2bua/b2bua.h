/*
 * b2bua — voice and video calls: the back-to-back user agent that sits
 * between two registered UEs (RFC 3261 §12-§15 on each side, TS 24.229
 * §5.2 and §5.4 for what the P-CSCF and S-CSCF add on the way).
 *
 * A new INVITE from a registered UE (the CSCF stage names its user and
 * asserted identity) is answered here: imsd terminates the caller's dialog
 * (the "server" dialog, UAS) and originates one dialog towards each binding
 * of the callee (the associated "mt" dialog, UAC), forking in parallel:
 * the first 2xx wins and the other branches get CANCEL, a 6xx ends them
 * all. Provisional and final answers, re-INVITE, UPDATE, INFO and BYE are
 * relayed from one leg to the other, so imsd controls timers and teardown
 * of both. An INVITE to an `echo` IMPU is answered by imsd itself (type
 * "echo"). SDP passes through unchanged until the media relay (src/media)
 * is wired in: docs/calls.md says what that means.
 *
 * Every call keeps the state the manual's dialog_get describes (§6):
 * session id, state init/ringing/start/hold/stop, type, from, to, the
 * associated dialog, date, duration, events; a stopped call is kept
 * B2BUA_LINGER_MS so that it can still be read. The monitor (`dialog`,
 * `dialog_set`) and the remote API read it through b2bua_dialog_next();
 * nothing here formats text for them.
 *
 * Ownership: struct b2bua is refcounted (mem_deref ends every call without
 * sending anything and frees it). It borrows the stack, the HSS, the
 * registrar and the configuration, which must outlive it. Calls are
 * refcounted and found again by index, never by a bare pointer kept across
 * an asynchronous step. Loop thread only. Errors are errno values; SIP
 * status codes are data. Users' documentation: docs/calls.md.
 */
#ifndef B2BUA_B2BUA_H
#define B2BUA_B2BUA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config/ims_cfg.h"
#include "hss/hss.h"
#include "net/net_flow.h"
#include "sip/sip_stack.h"

struct b2bua;
struct media_relay;
struct media_session;
struct registrar;

/* RFC 3261 §16.6 step 11: Timer C, greater than 3 minutes. */
#define B2BUA_TIMER_C_MS 181000u
/* How long a stopped call stays readable (manual §6 dialog_get). */
#define B2BUA_LINGER_MS 30000u
/* Branches of one call (bindings of the callee over its multi_sim users). */
#define B2BUA_LEGS_MAX 16u
/* Users one callee IMPU names (multi_sim), at most. */
#define B2BUA_TERM_MAX 16u
/* Live calls at once (a new INVITE beyond gets 503). */
#define B2BUA_CALLS_MAX 100000u
/* Events kept per call (dialog_get event_list); older ones are dropped. */
#define B2BUA_EVENTS_MAX 32u

struct b2bua_prm {
	struct sip_stack *stack;
	struct hss *hss;
	struct registrar *reg; /* bindings of the callee; watched */
	const struct ims_cfg *cfg;
	/* The media relay every SDP goes through (docs/calls.md); NULL: SDP
	 * passes through unchanged and media flows between the UEs. */
	struct media_relay *relay;
	/* Zero: the defaults above (tests shorten them). */
	uint32_t timer_c_ms;
	uint32_t linger_ms;
	uint32_t calls_max;
};

int b2bua_alloc(struct b2bua **bp, const struct b2bua_prm *prm);

/* A new INVITE as the CSCF stage hands it on (everything borrowed for the
 * call). orig NULL: no registered UE sent it (the stage answered 403
 * already for a new one; an INVITE with a To tag that matched no dialog
 * comes here and gets 481). */
struct b2bua_invite {
	struct sip_tsx *tsx;
	const struct sip_msg *req;
	const struct net_flow *flow;
	struct hss_user *orig;
	uint32_t orig_impu;
	const char *asserted; /* the P-Asserted-Identity URI, "" without orig */
	bool in_dialog;
};
void b2bua_invite(struct b2bua *b, const struct b2bua_invite *inv);
/* BYE, UPDATE, INFO, PRACK... that matched no dialog (RFC 3261 §12.2.2):
 * 481. */
void b2bua_no_dialog(struct b2bua *b, struct sip_tsx *tsx, const struct sip_msg *req);

/* ---- the calls as data (monitor `dialog`, remote API dialog_get) ---- */

enum b2bua_state {
	B2BUA_INIT = 0,
	B2BUA_RINGING,
	B2BUA_START,
	B2BUA_HOLD,
	B2BUA_STOP,
};
enum b2bua_type {
	B2BUA_SERVER = 0, /* the caller's dialog, imsd the UAS */
	B2BUA_ECHO,	  /* answered by imsd itself */
	B2BUA_MT,	  /* towards the callee, imsd the UAC */
};
enum b2bua_event_type {
	B2BUA_EV_STATE = 0,
	B2BUA_EV_SEND,
	B2BUA_EV_RECV,
};
struct b2bua_event {
	uint8_t type;	/* enum b2bua_event_type */
	uint8_t state;	/* enum b2bua_state then */
	uint16_t scode; /* send/recv: the status, 0 for a request */
	uint8_t meth;	/* send/recv: enum sip_method of the request */
	uint32_t ms;	/* since the dialog was created */
};

/* One dialog as seen from outside; views valid until the next call into
 * the b2bua. */
struct b2bua_dialog_info {
	uint32_t index; /* dialog_set's index */
	const char *session_id;
	enum b2bua_state state;
	enum b2bua_type type;
	const char *from, *to; /* caller and callee IMPU */
	const char *assoc;     /* session id of the associated dialog, "" none */
	const char *callid;    /* the SIP log's id of this dialog */
	time_t date;	       /* creation, seconds since 1970 */
	double duration;       /* seconds since it started (0 before) */
	const struct b2bua_event *events;
	size_t nevents;
	/* The call's media session (media_session_stream_info with media_leg:
	 * MEDIA_LEG_A for a server or echo dialog, MEDIA_LEG_B for an mt one);
	 * NULL without the relay. Borrowed. */
	const struct media_session *media;
	int media_leg;
};
/* A place in the list of dialogs; start from {0}. */
struct b2bua_cursor {
	uint32_t next;
	bool mt; /* the call's mt dialog is next */
};
bool b2bua_dialog_next(const struct b2bua *b, struct b2bua_cursor *c,
		       struct b2bua_dialog_info *out);
/* The dialogs user u takes part in (as the caller, or as a callee one of
 * whose bindings was reached), live and lingering; returns how many. It
 * walks every call: for one user at a time (the monitor's `users X`). */
typedef void(b2bua_dialog_h)(const struct b2bua_dialog_info *di, void *arg);
size_t b2bua_user_dialogs(const struct b2bua *b, const struct hss_user *u,
			  b2bua_dialog_h *h, void *arg);
/* dialog_set index stop: BYE (or CANCEL/487 before the answer) on every
 * leg. ENOENT: no such dialog; EALREADY: already stopped. */
int b2bua_dialog_stop(struct b2bua *b, uint32_t index);
/* dialog_set index stop with code, reason, reason_protocol (manual §6): a
 * Reason header (RFC 3326) on the BYEs (or CANCELs), `Reason: PROTOCOL;cause=CODE;
 * text="REASON"` (PROTOCOL "SIP" unless given; no header when all three
 * are unset). EINVAL: a protocol that is not a token (at most 32
 * characters), a reason over 128 bytes or with control characters, a code
 * over 65535; else as b2bua_dialog_stop. */
struct b2bua_stop_prm {
	uint32_t code;	      /* the protocol cause, 0 none */
	const char *reason;   /* its text, NULL none */
	const char *protocol; /* NULL: "SIP" */
};
int b2bua_dialog_stop_reason(struct b2bua *b, uint32_t index, const struct b2bua_stop_prm *p);
/* mt_call (manual §7, §6): imsd calls callee (an IMPU, an IMPI or a
 * registered contact URI; docs/calls.md "MT calls"); what the phone sends
 * is echoed. 0 and *index the call's dialog_set index: the INVITE is out
 * (the call may still fail: read it with b2bua_dialog_next). ENOENT: no
 * such callee; ENOTCONN: not registered (*scode 480); EIO: not sent
 * (*scode the status a caller would have got: 503, 488), or with *scode 0
 * the SDP file could not be read (logged); ENOSPC: too many calls. */
struct b2bua_mt_prm {
	const char *callee;
	const char *caller;   /* From and, if the HSS knows it, P-Asserted-
			       * Identity; NULL: sip:imsd@domain */
	const char *sdp_file; /* the offer; NULL: the callee user's
			       * mt_call_sdp_file, else the relay's default */
	uint32_t duration_s;  /* imsd sends BYE after; 0: never */
};
int b2bua_mt_call(struct b2bua *b, const struct b2bua_mt_prm *p, uint32_t *index,
		  uint16_t *scode);
/* dialog_set index answer [code] (b2bua_ctl.c): an echo call held by its
 * caller IMPU's remote_control gets 200 (code 0 or 2xx) or code (300-699,
 * the call ends). EINVAL: not an echo call, or a bad code; EALREADY:
 * already answered or stopped; ENOENT: no such dialog. */
int b2bua_dialog_answer(struct b2bua *b, uint32_t index, uint16_t code);
/* dialog_set index media: forwarding of the RTP / RTCP both phones send
 * (false blocks it, true lets it through again). ENOTSUP without the
 * relay. */
int b2bua_dialog_media(struct b2bua *b, uint32_t index, bool rtp, bool rtcp);
/* dialog_set index hold / reinvite: imsd's re-INVITE to the phone of an
 * mt or echo call, or to both phones of a call between two, with the SDP
 * imsd last sent each (manual §6 dialog_set). */
struct b2bua_reinvite_prm {
	bool hold;	      /* toggle hold: the streams go a=sendonly (or
			       * a=inactive from recvonly, RFC 3264 §8.4), and
			       * back; state hold / start once answered */
	const char *media;    /* hold: only "audio", "video" or "text"; NULL every */
	const char *sdp_file; /* mt and echo calls: a new offer from this file */
};
/* EBUSY: an INVITE is already in progress; EALREADY: not answered yet, or
 * stopped; EINVAL: a bad media name, or sdp_file on a call between two
 * phones; EIO: sdp_file cannot be read; EPROTO: the relay refuses it. */
int b2bua_dialog_reinvite(struct b2bua *b, uint32_t index, const struct b2bua_reinvite_prm *p);
/* dialog_set index downgrade [media]: the same
 * re-INVITE with the streams of that type ("audio", "video", "text";
 * NULL: video) at port 0, in this one and every later one. EINVAL: another
 * name; the errors of b2bua_dialog_reinvite. */
int b2bua_dialog_downgrade(struct b2bua *b, uint32_t index, const char *media);
/* The users a call involves: the caller (NULL for mt_call) and the
 * callees its branches reached (the one that answered, once answered).
 * ENOENT: no such call. */
struct b2bua_call_users {
	const struct hss_user *orig;
	const struct hss_user *callee[B2BUA_LEGS_MAX];
	size_t ncallee;
};
int b2bua_call_users(const struct b2bua *b, uint32_t index, struct b2bua_call_users *out);
/* A watcher of the calls (the remote API's dialog and users_update
 * events, manual §6.7): h(index) once a call is set up and after each
 * change of its state, inside the change: h may read the call
 * (b2bua_dialog_next from {index}, b2bua_call_users) and nothing else
 * here. One watcher; h NULL removes it. */
typedef void(b2bua_watch_h)(uint32_t index, void *arg);
void b2bua_watch_set(struct b2bua *b, b2bua_watch_h *h, void *arg);
const char *b2bua_state_name(enum b2bua_state s);
const char *b2bua_type_name(enum b2bua_type t);

struct b2bua_stats {
	uint64_t calls;	   /* INVITEs taken as new calls */
	uint64_t answered; /* reached start */
	uint64_t live;	   /* not stopped */
	uint64_t kept;	   /* stopped, still readable */
	uint64_t cfm;	   /* callflow_modifier modifiers applied (b2bua_cfm.c) */
	/* Heap bytes of the calls (live and kept): each call with its
	 * strings, the caller's INVITE it holds, its dialogs, the branches'
	 * INVITEs, buffers and media session, 16 bytes of allocator overhead
	 * per allocation, and the call table. */
	size_t mem_bytes;
};
void b2bua_stats_get(const struct b2bua *b, struct b2bua_stats *st);

#endif
