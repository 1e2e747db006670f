/* media — the relay's internal types, shared by media_relay.c (pools,
 * sockets), media_session.c (SDP, streams) and media_rtp.c (packets). */
#ifndef MEDIA_MEDIA_INT_H
#define MEDIA_MEDIA_INT_H

#include <sys/socket.h>

#include "media/media.h"

struct loop_timer;

struct media_relay;
struct media_endpoint;
struct media_pool;

/* A bound pair: its two sockets stay open and watched by the loop from
 * the first call that binds it until the pool closes it, so that taking
 * and giving it back costs no system call. The loop's handler argument is
 * the pair (stable); an idle pair drains what arrives and counts it. */
struct media_pair {
	struct media_pair *next;   /* idle FIFO link */
	struct media_pool *pool;   /* borrowed: the pool owning it */
	struct media_endpoint *ep; /* borrowed: its user, NULL while idle */
	uint64_t idle_ms;	   /* loop_now_ms() when it was given back */
	uint32_t idx;		   /* pair index in the pool */
	int fd[2];		   /* [enum media_kind] */
};

/* Port pairs of one local address. */
struct media_pool {
	struct media_relay *relay; /* borrowed: the relay embedding it */
	struct net_addr addr;	   /* advertised, port 0 */
	struct net_addr bind;	   /* bound, port 0 */
	uint16_t first;		   /* first RTP port (even) */
	uint32_t npairs;
	uint32_t used;	 /* pairs given to endpoints */
	uint32_t nidle;	 /* bound pairs kept for the next calls */
	uint32_t next;	 /* where the next bind search starts */
	uint64_t *bits;	 /* owned: one bit per pair, 1 = bound by us */
	struct media_pair *idle, **idle_tail; /* owned FIFO, oldest first */
};

enum media_kind {
	MEDIA_RTP = 0,
	MEDIA_RTCP = 1,
};

struct media_endpoint;

/* One UDP socket of a pair; the endpoint embeds it. */
struct media_sock {
	int fd;			   /* -1 when closed */
	uint8_t kind;		   /* enum media_kind */
	struct media_endpoint *ep; /* borrowed: the endpoint embedding it */
	uint64_t sec;		   /* flood window: loop_now_ms() / 1000 */
	uint32_t sec_pkts;
};

/* A packet held back by media_delay. */
struct media_held {
	struct media_held *next;
	uint64_t due_ms;
	uint8_t sock;	/* enum media_kind of the socket it leaves from */
	uint8_t rtcp;	/* counted as RTCP */
	uint16_t len;
	uint8_t data[];
};

/* One stream on one leg: imsd's pair toward one UE and what we know of
 * that UE's side. */
struct media_endpoint {
	struct media_stream *st; /* borrowed: the stream embedding it */
	uint8_t leg;
	struct media_sock sock[2]; /* [enum media_kind] */
	struct media_pool *pool;   /* borrowed from the relay; NULL: no pair */
	struct media_pair *pr;	   /* borrowed from the pool; NULL: no pair */
	uint32_t pair;
	struct net_addr sig[2];	   /* signalled RTP / RTCP address, unset if none */
	struct net_addr latch[2];  /* latched source, unset before */
	enum sdp_dir dir;	   /* as this UE's last SDP says */
	struct media_count recv[2], send[2]; /* [enum media_kind of the packet] */
	uint64_t dropped;
	/* media_delay: packets to this UE wait here (owned list) */
	struct media_held *held, **held_tail;
	size_t held_bytes;
	struct loop_timer *timer; /* owned, allocated on first use */
};

struct media_stream {
	struct media_session *sess; /* borrowed */
	enum sdp_media_type type;
	bool rejected; /* port 0 both ways */
	struct media_endpoint ep[2];
};

#define MEDIA_ID_MAX 64
#define MEDIA_OFFER_NONE 255

struct media_session {
	struct media_relay *relay; /* borrowed: outlives the session */
	char id[MEDIA_ID_MAX];
	struct media_leg_prm leg[2];
	struct media_stream *st[SDP_MEDIA_MAX]; /* owned (mem objects) */
	size_t nst;
	uint8_t offer_to;    /* leg an offer went to, MEDIA_OFFER_NONE */
	uint8_t answer_from; /* leg that answered last, MEDIA_OFFER_NONE */
	bool released;
	bool listed; /* counted in the relay's sessions */
	uint64_t last_rx_ms;
};

struct media_relay {
	struct media_pool pool[MEDIA_ADDRS_MAX];
	size_t npool;
	size_t sessions;
	uint32_t pps_max;
	uint32_t idle_max;     /* idle pairs kept per pool */
	uint32_t quarantine_ms; /* an idle pair rests this long before reuse */
	struct media_relay_stats st;
	struct sdp_session *sdp[2]; /* owned scratch: a UE's SDP, a template */
	/* the receive arena shared by every socket (one thread) */
	uint8_t *rxbuf; /* owned: MEDIA_BATCH slots of MEDIA_PKT_MAX */
	struct mmsghdr rmsg[MEDIA_BATCH];
	struct iovec riov[MEDIA_BATCH];
	struct sockaddr_storage rsrc[MEDIA_BATCH];
	struct mmsghdr smsg[MEDIA_BATCH];
	struct iovec siov[MEDIA_BATCH];
	uint8_t skind[MEDIA_BATCH]; /* RTP/RTCP of each queued send */
	struct media_held *sheld[MEDIA_BATCH];
};

/* media_relay.c */
struct media_pool *media_pool_find(struct media_relay *r, const struct net_addr *local);
/* Gives ep a pair of the pool: an idle one that has rested, else a newly
 * bound one. ENOSPC when none is free (logged, counted). */
int media_pair_open(struct media_relay *r, struct media_pool *p, struct media_endpoint *ep,
		    const char *id, enum sdp_media_type type);
void media_pair_close(struct media_relay *r, struct media_endpoint *ep);
void media_pool_close(struct media_pool *p); /* closes every idle pair */
void media_ep_local(const struct media_endpoint *ep, enum media_kind k, struct net_addr *a);

/* media_rtp.c */
void media_sock_h(int fd, int events, void *arg);
void media_held_flush(struct media_endpoint *ep); /* frees every held packet */
void media_ep_log_close(const struct media_endpoint *ep);

#endif
