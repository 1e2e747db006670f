/*
 * sdp — the Session Description Protocol codec (RFC 4566), with the parts
 * of offer/answer (RFC 3264), RFC 3605 (a=rtcp) and RFC 5761 (rtcp-mux) a
 * media relay needs.
 *
 * Decoding fills a struct sdp_session of views (struct pl) into the
 * caller's buffer: nothing is copied, so the buffer must outlive the
 * session struct. Everything from outside is bounded: the text
 * (SDP_SIZE_MAX), the lines (SDP_LINES_MAX), the m= sections
 * (SDP_MEDIA_MAX). The struct is large (~10 KiB): keep one on the heap or
 * in a long-lived context rather than on deep stacks.
 *
 * Encoding writes the session back line by line, verbatim except what a
 * struct sdp_rewrite replaces: the address of o= and of every c= line, the
 * port of each m= line, the port (and address) of a=rtcp, and optionally
 * the direction attributes (reversed, for an answer made from an offer).
 * Codecs (rtpmap, fmtp), bandwidth, preconditions (a=curr/des/conf,
 * RFC 3312), a=rtcp-mux and every other line pass through untouched.
 * Output lines end in CRLF; input may use LF alone (RFC 4566 §5).
 *
 * Errors: EBADMSG for text that is not SDP (the reason says which line and
 * why, fit for a SIP Warning header: 399 text), ENOTSUP for valid SDP that
 * imsd cannot relay (a host name or multicast in c=, a port count "/n" on
 * m=), E2BIG past a bound, ENOMEM/ENOSPC from the output buffer.
 */
#ifndef SDP_SDP_H
#define SDP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pl.h"
#include "net/net_addr.h"

struct mbuf;

#define SDP_SIZE_MAX 32768u /* bytes of one description */
#define SDP_LINES_MAX 256u  /* lines of one description */
#define SDP_MEDIA_MAX 16u   /* m= sections */
#define SDP_REASON_MAX 128u /* a reason string, NUL included */

enum sdp_dir {
	SDP_DIR_SENDRECV = 0, /* also the default when no attribute says */
	SDP_DIR_SENDONLY,
	SDP_DIR_RECVONLY,
	SDP_DIR_INACTIVE,
};

enum sdp_media_type {
	SDP_MEDIA_AUDIO = 0,
	SDP_MEDIA_VIDEO,
	SDP_MEDIA_TEXT,
	SDP_MEDIA_OTHER, /* application, image, message, ... */
};

/* A c= line (RFC 4566 §5.7), unicast IP4 or IP6 with a numeric address. */
struct sdp_conn {
	bool set;
	struct net_addr addr; /* port 0; the any address for 0.0.0.0 hold */
};

/* One line "<type>=<value>". media: 0 at session level, i + 1 in the
 * section of m= line i. */
struct sdp_line {
	char type;
	uint8_t media;
	struct pl val; /* borrowed: without the "x=" and the line end */
};

/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address> */
struct sdp_origin {
	struct pl username, sess_id, sess_version, nettype, addrtype, addr;
};

/* One m= section. */
struct sdp_media {
	enum sdp_media_type type;
	struct pl media; /* "audio", "video", ... */
	uint16_t port;	 /* 0: stream disabled or rejected (RFC 3264 §5.1, §6) */
	struct pl proto; /* "RTP/AVP", "RTP/AVPF", "udptl", "TCP/MSRP", ... */
	struct pl fmts;	 /* the format list as written */
	bool udp;	 /* proto runs over UDP (a relay can carry it) */
	struct sdp_conn conn;  /* media-level c=, if any */
	bool dir_set;	       /* a direction attribute in this section */
	enum sdp_dir dir;      /* its value when dir_set */
	bool rtcp_mux;	       /* a=rtcp-mux (RFC 5761 §5.1.1) */
	bool rtcp_set;	       /* a=rtcp (RFC 3605 §2.1) */
	uint16_t rtcp_port;    /* its port */
	struct sdp_conn rtcp_conn; /* its address, if it has one */
	uint16_t line;	       /* index of the m= line in lines[] */
	uint16_t line_end;     /* one past the section's last line */
};

struct sdp_session {
	struct pl raw; /* borrowed: the decoded text */
	struct sdp_origin origin;
	struct sdp_conn conn; /* session-level c=, if any */
	bool dir_set;	      /* session-level direction attribute */
	enum sdp_dir dir;
	uint16_t line_count;
	uint16_t media_count;
	struct sdp_line lines[SDP_LINES_MAX];
	struct sdp_media media[SDP_MEDIA_MAX];
};

/* Decodes buf. On EBADMSG/ENOTSUP/E2BIG a reason ("line 7: m= port
 * out of range") is written to reason when it is not NULL. */
int sdp_decode(struct sdp_session *s, const char *buf, size_t len, char *reason,
	       size_t reason_size);

/* Effective values of m= section i (i < media_count). */
enum sdp_dir sdp_media_dir(const struct sdp_session *s, size_t i);
/* Media-level c=, else the session's; NULL if neither (cannot happen after
 * a successful decode: every section with a port has one). */
const struct sdp_conn *sdp_media_conn(const struct sdp_session *s, size_t i);
/* Where the UE wants RTP and RTCP (port 0 when the m= port is 0): RTCP
 * from a=rtcp (its address or the section's), else RTP port + 1 (RFC 3605
 * §2). rtcp-mux is not applied here: whether it is used depends on the
 * answer (RFC 5761 §5.1.1); when it is, RTCP simply arrives on the RTP
 * port, and a relay forwards it there. */
void sdp_media_rtp_addr(const struct sdp_session *s, size_t i, struct net_addr *a);
void sdp_media_rtcp_addr(const struct sdp_session *s, size_t i, struct net_addr *a);
/* The value of the first a=<name>[:value] of a section (media = -1: session
 * level); ENOENT when absent. value may be NULL. */
int sdp_attr_get(const struct sdp_session *s, int media, const char *name, struct pl *value);

const char *sdp_dir_name(enum sdp_dir dir); /* "sendrecv", ... */
enum sdp_dir sdp_dir_reverse(enum sdp_dir dir); /* sendonly <-> recvonly */
const char *sdp_media_type_name(enum sdp_media_type t); /* "audio", ... */

/* What sdp_encode replaces, per m= section. */
struct sdp_media_rw {
	uint16_t port;	    /* m= port; 0 rejects the stream (always 0 for a
			     * section without a c= of its own or the session's) */
	uint16_t rtcp_port; /* a=rtcp port, when the section has a=rtcp */
};

struct sdp_rewrite {
	const struct net_addr *addr;	 /* o= and c= address, borrowed */
	const struct sdp_media_rw *media; /* media_count entries, borrowed */
	size_t media_count;		 /* must equal the session's */
	bool reverse_dir;		 /* sendonly <-> recvonly (an answer to an offer) */
};

/* Appends the session to mb. rw NULL: the lines as decoded (CRLF ends).
 * A c= line holding the any address (0.0.0.0, the RFC 2543 hold) becomes
 * the any address of rw->addr's family; an a=rtcp address becomes
 * rw->addr. EINVAL when rw->media_count differs from the session's. */
int sdp_encode(struct mbuf *mb, const struct sdp_session *s, const struct sdp_rewrite *rw);

#endif
