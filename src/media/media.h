/*
 * media — the in-process RTP/RTCP relay (docs/media.md).
 *
 * One relay per process (struct media_relay), made from the sip_addr list:
 * each local address has a pool of even/odd port pairs (RTP on the even
 * port, RTCP on the next, RFC 3550 §11) taken from port_min..port_max. The
 * relay's sockets run on the event loop (the signalling thread, see
 * docs/media.md for why): packets are read 32 at a time with recvmmsg(2)
 * into one shared arena and written with sendmmsg(2) straight from it, so
 * a forwarded packet is never copied in user space (except when
 * media_delay holds it back).
 *
 * A call has one media session (struct media_session) with two legs,
 * MEDIA_LEG_A (the caller's side) and MEDIA_LEG_B (the callee's). Each leg
 * is one UE and imsd's local address toward it (that leg's sip_addr; the
 * legs may be of different families). Each m= line of the SDP is a stream;
 * a stream has a port pair on each leg. What a UE sends to its leg's pair
 * goes out of the other leg's pair to the other UE.
 *
 * The B2BUA passes every SDP a UE sends through media_session_sdp, which
 * records where that UE wants media and returns the SDP to send on: the
 * same lines with every address and port pointing at the relay's pair on
 * the receiving leg (ports allocated on first use, freed at release; a
 * freed pair stays bound, idle, for a later call after a rest: see
 * docs/media.md "Ports").
 *
 * Latching (symmetric RTP, RFC 4961): a leg accepts its first packet only
 * from the address the UE signalled, or from any port of its signalling IP
 * (a UE behind NAT); that source is then latched and packets from any
 * other source are dropped and counted. A new SDP from the UE with another
 * address unlatches.
 *
 * Ownership: the relay is a mem object the application owns; it must
 * outlive its sessions. A session is a mem object owned by its call;
 * mem_deref (or media_session_release) closes its sockets and frees its
 * ports. Strings in the parameter structs are copied.
 *
 * Errors (errno ints): ENOSPC when a local address has no free port pair
 * (the B2BUA answers 503; a log line is written), EADDRNOTAVAIL when a
 * leg's local address has no pool, EBADMSG/ENOTSUP/E2BIG for SDP that does
 * not decode or cannot be relayed (reason filled, answer 400/488), EPROTO
 * for an answer that does not match its offer (wrong m= count, RFC 3264
 * §6), EINVAL for programmer errors, ENOMEM.
 *
 * Single thread: every function runs on the loop thread.
 */
#ifndef MEDIA_MEDIA_H
#define MEDIA_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net_addr.h"
#include "sdp/sdp.h"

struct ims_cfg;
struct mbuf;
struct media_relay;
struct media_session;

enum media_leg {
	MEDIA_LEG_A = 0,
	MEDIA_LEG_B = 1,
};

#define MEDIA_PORT_MIN_DEFAULT 10000
#define MEDIA_PORT_MAX_DEFAULT 20000
#define MEDIA_ADDRS_MAX 32	      /* local addresses of one relay */
#define MEDIA_PKT_MAX 2048	      /* larger datagrams are dropped (counted) */
#define MEDIA_BATCH 32		      /* datagrams per recvmmsg/sendmmsg */
#define MEDIA_PPS_MAX 20000	      /* packets a socket forwards per second */
#define MEDIA_DELAY_BYTES_MAX 262144u /* bytes media_delay holds per stream and leg */
#define MEDIA_DELAY_MAX_MS 60000u     /* longest media_delay */
#define MEDIA_IDLE_MAX 4096	      /* idle bound pairs kept per address */
#define MEDIA_QUARANTINE_MS 500	      /* a freed pair rests this long */

/* ---- relay ---- */

/* One local address (one sip_addr). */
struct media_relay_addr {
	struct net_addr addr; /* advertised in SDP (port ignored) */
	struct net_addr bind; /* bound; unset (AF 0): addr */
	uint16_t port_min;    /* 0: MEDIA_PORT_MIN_DEFAULT */
	uint16_t port_max;    /* 0: MEDIA_PORT_MAX_DEFAULT */
};

struct media_relay_prm {
	const struct media_relay_addr *addrs; /* borrowed, copied */
	size_t addr_count;		      /* 1..MEDIA_ADDRS_MAX */
	uint32_t pps_max;		      /* per socket; 0: MEDIA_PPS_MAX */
	uint32_t idle_max;		      /* per address; 0: MEDIA_IDLE_MAX */
	uint32_t quarantine_ms;		      /* 0: MEDIA_QUARANTINE_MS */
};

/* EINVAL: no address, port_min > port_max, fewer than one pair. Two entries
 * with the same IP share the first one's pool. */
int media_relay_alloc(struct media_relay **rp, const struct media_relay_prm *prm);
/* The same from the configuration: one address per sip_addr (addr,
 * bind_addr, port_min, port_max). EBADMSG for an address that is not
 * numeric. */
int media_relay_alloc_cfg(struct media_relay **rp, const struct ims_cfg *cfg);

/* Relay-wide counts. */
struct media_relay_stats {
	uint64_t sessions;	 /* live */
	uint64_t pairs_used;	 /* port pairs in use, all addresses */
	uint64_t pairs_total;	 /* port pairs in all pools */
	uint64_t pairs_idle;	 /* bound and kept for the next calls */
	uint64_t exhausted;	 /* allocations refused for want of a pair */
	uint64_t rx_pkts, tx_pkts; /* datagrams read, written */
	uint64_t rx_reads;	 /* recvmmsg calls that read >= 1 */
	uint64_t tx_writes;	 /* sendmmsg calls that wrote >= 1 */
	uint64_t drop_source;	 /* not the latched / signalled source */
	uint64_t drop_invalid;	 /* not RTP/RTCP, too short, too long */
	uint64_t drop_flood;	 /* over MEDIA_PPS_MAX */
	uint64_t drop_blocked;	 /* rtp/rtcp off, hold, no destination yet */
	uint64_t drop_send;	 /* sendmmsg refused */
	uint64_t drop_idle;	 /* arrived on an idle (kept) pair */
	size_t mem_bytes;	 /* the relay and every live session */
};
void media_relay_stats(const struct media_relay *r, struct media_relay_stats *st);

/* ---- sessions ---- */

/* One leg's settings (the IMPU of that side; manual §5.2.1). */
struct media_leg_prm {
	struct net_addr local;	  /* imsd's address toward the UE (its sip_addr) */
	struct net_addr sig_peer; /* the UE's signalling address (NAT latching) */
	bool audio, video, text;  /* false: that media is rejected (port 0) */
	bool rtp, rtcp;		  /* false: what this UE sends is not forwarded */
	uint32_t delay_ms;	  /* media_delay: hold what is sent to this UE */
	bool echo;		  /* what this UE sends goes back to it */
};

struct media_session_prm {
	const char *id; /* SIP dialog id for the log (§8.3), copied, may be NULL */
	struct media_leg_prm leg[2];
};

/* Nothing is allocated on the network until the first SDP. */
int media_session_alloc(struct media_session **sp, struct media_relay *r,
			const struct media_session_prm *prm);
/* Closes every socket and frees every port now; the object stays valid
 * (counters readable) until mem_deref. Idempotent. */
void media_session_release(struct media_session *s);

/* Replaces one leg's settings (the callee's IMPU once its binding is
 * known, the monitor's dialog_set media). The local address cannot change
 * once ports are allocated on it: then every other setting is taken, the
 * address is kept, and EBUSY says so. */
int media_session_leg_set(struct media_session *s, enum media_leg leg,
			  const struct media_leg_prm *prm);

/* An SDP received from leg `from`'s UE. */
struct media_sdp_prm {
	enum media_leg from;
	bool offer;	  /* RFC 3264 offer (true) or answer (false) */
	const char *sdp;  /* borrowed */
	size_t len;
	struct mbuf *out; /* the SDP for the other leg; NULL: record only */
	char *reason;	  /* filled on SDP errors, may be NULL */
	size_t reason_size;
	bool own_offer; /* an answer to an offer imsd made this UE itself (its
			 * re-INVITE, with the relay's ports on this leg) */
};

/* Records the UE's addresses, allocates pairs on the other leg for each
 * stream that both legs accept, and writes the rewritten SDP: rejected
 * streams (a type either leg refuses, a non-UDP proto, port 0) get port 0
 * in this SDP and in the matching answer. An answer must have as many m=
 * lines as the offer (EPROTO); a later offer may add lines, never remove
 * (RFC 3264 §8). Direction attributes are kept, and forwarding follows
 * them (hold: a=sendonly/inactive stops the held direction). On error the
 * session is unchanged. */
int media_session_sdp(struct media_session *s, const struct media_sdp_prm *prm);

/* imsd itself answers leg `leg`'s offer (the echo service): out gets the
 * offer's lines with the relay's pair on that leg and the directions
 * reversed, or, when tmpl is set (sdp_file), tmpl rewritten the same way
 * (its m= count must match the offer's, EPROTO). The leg is put in echo. */
struct media_local_prm {
	enum media_leg leg;
	const char *sdp; /* the UE's offer (answer_local) or NULL (offer_local) */
	size_t len;
	const char *tmpl; /* template SDP, may be NULL for answer_local */
	size_t tmpl_len;
	struct mbuf *out;
	char *reason;
	size_t reason_size;
};
int media_session_answer_local(struct media_session *s, const struct media_local_prm *prm);
/* imsd offers to leg `leg` (mt_call): out gets tmpl (required) with the
 * relay's pair on that leg; the UE's answer then goes through
 * media_session_sdp (from = leg, offer = false, out = NULL). The leg is put
 * in echo. */
int media_session_offer_local(struct media_session *s, const struct media_local_prm *prm);

/* The offer imsd makes when no sdp_file / mt_call_sdp_file is set: one
 * audio stream, AMR-WB (octet-aligned and bandwidth-efficient), AMR,
 * telephone-event, ptime 20. Its address and port are placeholders that
 * media_session_offer_local rewrites. */
extern const char media_sdp_default_offer[];

/* Echo on or off for one leg (see media_leg_prm.echo). */
void media_session_echo_set(struct media_session *s, enum media_leg leg, bool on);
/* rtp/rtcp forwarding of what leg's UE sends (dialog_set media). */
void media_session_flags_set(struct media_session *s, enum media_leg leg, bool rtp, bool rtcp);

/* ---- reading a session (dialog_get medias, the monitor) ---- */

struct media_count {
	uint64_t pkts, bytes;
};

/* One stream as one leg sees it. "recv" is what that leg's UE sent to the
 * relay, "send" what the relay sent to it. */
struct media_stream_info {
	enum sdp_media_type type;
	enum sdp_dir dir;	  /* as that UE's last SDP put it */
	bool active;		  /* ports allocated, stream not rejected */
	bool latched;
	struct net_addr local_rtp; /* relay side, port 0 if none */
	struct net_addr rtp_addr;  /* where RTP goes: latched, else signalled */
	struct net_addr rtcp_addr;
	struct media_count rtp_recv, rtp_send, rtcp_recv, rtcp_send;
	uint64_t dropped; /* from other sources, invalid, flood, blocked */
};

size_t media_session_stream_count(const struct media_session *s);
/* EINVAL when idx >= stream count. */
int media_session_stream_info(const struct media_session *s, enum media_leg leg, size_t idx,
			      struct media_stream_info *info);
/* loop_now_ms() of the last packet accepted from either UE; 0 if none
 * (dialog_timeout counts from max(this, last signalling)). */
uint64_t media_session_last_rx_ms(const struct media_session *s);
/* Heap bytes of this session (its streams, sockets' state, held delayed
 * packets); the kernel's socket buffers are not counted. */
size_t media_session_mem(const struct media_session *s);
/* Heap bytes one stream (one m= line, both legs) adds to a session, not
 * counting packets held by media_delay. */
size_t media_stream_mem(void);

#endif
