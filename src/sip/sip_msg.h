/*
 * sip/sip_msg — SIP message decoding (RFC 3261 §7, §25) and stream framing.
 *
 * sip_msg_decode() splits a message held in a reference-counted buffer into
 * its start line and a list of header entries, each a view (struct pl) into
 * that buffer: nothing is copied. Header lines are split into one entry per
 * value for the list headers (Via, Contact, Route, Require, ...) on commas
 * outside quotes and <>, compact names are mapped to their header ids, folded
 * lines stay folded inside the value views (the typed parsers of sip_hdr.h
 * treat CRLF+WSP as white space). Header bodies are parsed only on demand.
 *
 * Everything that comes from the network is bounded: message size, number of
 * header entries, header line length, number of parameters. Malformed input
 * gives EBADMSG, never a crash; semantic checks (missing headers, CSeq
 * mismatch, ...) are sip_check.h's job, so that a 400 can still be answered.
 *
 * The transport and transaction layers keep a reference on a struct sip_msg
 * (mem_ref/mem_deref); the message keeps a reference on its buffer.
 */
#ifndef SIP_SIP_MSG_H
#define SIP_SIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pl.h"
#include "sip/sip_uri.h"

/* Bounds. A UDP datagram cannot exceed 65535 bytes; TCP defaults to 128 KiB. */
#define SIP_MSG_MAX_UDP 65535u
#define SIP_MSG_MAX_TCP (128u * 1024u)
#define SIP_MSG_MAX_HARD (1024u * 1024u) /* no setting may exceed this */
#define SIP_MAX_HDRS 256u                 /* header entries (values) per message */
#define SIP_MAX_LINE 16384u               /* one header line, folding included */
#define SIP_MAX_PARAMS 64u                /* parameters in one header value or URI */
/* Header entries held inside struct sip_msg; a message with more moves them
 * to one heap array (up to SIP_MAX_HDRS). Typical IMS requests hold 30-40. */
#define SIP_MSG_HDRS_INLINE 48u

enum sip_hdr_id {
	SIP_HDR_OTHER = 0,
	SIP_HDR_ACCEPT,
	SIP_HDR_ACCEPT_CONTACT,
	SIP_HDR_ACCEPT_ENCODING,
	SIP_HDR_ACCEPT_LANGUAGE,
	SIP_HDR_ALERT_INFO,
	SIP_HDR_ALLOW,
	SIP_HDR_ALLOW_EVENTS,
	SIP_HDR_AUTHENTICATION_INFO,
	SIP_HDR_AUTHORIZATION,
	SIP_HDR_CALL_ID,
	SIP_HDR_CALL_INFO,
	SIP_HDR_CONTACT,
	SIP_HDR_CONTENT_DISPOSITION,
	SIP_HDR_CONTENT_ENCODING,
	SIP_HDR_CONTENT_LANGUAGE,
	SIP_HDR_CONTENT_LENGTH,
	SIP_HDR_CONTENT_TYPE,
	SIP_HDR_CSEQ,
	SIP_HDR_DATE,
	SIP_HDR_ERROR_INFO,
	SIP_HDR_EVENT,
	SIP_HDR_EXPIRES,
	SIP_HDR_FROM,
	SIP_HDR_IDENTITY,
	SIP_HDR_IN_REPLY_TO,
	SIP_HDR_MAX_FORWARDS,
	SIP_HDR_MIME_VERSION,
	SIP_HDR_MIN_EXPIRES,
	SIP_HDR_MIN_SE,
	SIP_HDR_ORGANIZATION,
	SIP_HDR_P_ACCESS_NETWORK_INFO,
	SIP_HDR_P_ASSERTED_IDENTITY,
	SIP_HDR_P_ASSOCIATED_URI,
	SIP_HDR_P_CALLED_PARTY_ID,
	SIP_HDR_P_CHARGING_FUNCTION_ADDRESSES,
	SIP_HDR_P_CHARGING_VECTOR,
	SIP_HDR_P_PREFERRED_IDENTITY,
	SIP_HDR_P_VISITED_NETWORK_ID,
	SIP_HDR_PATH,
	SIP_HDR_PRIORITY,
	SIP_HDR_PRIVACY,
	SIP_HDR_PROXY_AUTHENTICATE,
	SIP_HDR_PROXY_AUTHORIZATION,
	SIP_HDR_PROXY_REQUIRE,
	SIP_HDR_RACK,
	SIP_HDR_REASON,
	SIP_HDR_RECORD_ROUTE,
	SIP_HDR_REFER_TO,
	SIP_HDR_REFERRED_BY,
	SIP_HDR_REJECT_CONTACT,
	SIP_HDR_REPLY_TO,
	SIP_HDR_REQUEST_DISPOSITION,
	SIP_HDR_REQUIRE,
	SIP_HDR_RETRY_AFTER,
	SIP_HDR_ROUTE,
	SIP_HDR_RSEQ,
	SIP_HDR_SECURITY_CLIENT,
	SIP_HDR_SECURITY_SERVER,
	SIP_HDR_SECURITY_VERIFY,
	SIP_HDR_SERVER,
	SIP_HDR_SERVICE_ROUTE,
	SIP_HDR_SESSION_EXPIRES,
	SIP_HDR_SUBJECT,
	SIP_HDR_SUBSCRIPTION_STATE,
	SIP_HDR_SUPPORTED,
	SIP_HDR_TIMESTAMP,
	SIP_HDR_TO,
	SIP_HDR_UNSUPPORTED,
	SIP_HDR_USER_AGENT,
	SIP_HDR_VIA,
	SIP_HDR_WARNING,
	SIP_HDR_WWW_AUTHENTICATE,
	SIP_HDR_COUNT
};

enum sip_method {
	SIP_METHOD_OTHER = 0,
	SIP_METHOD_ACK,
	SIP_METHOD_BYE,
	SIP_METHOD_CANCEL,
	SIP_METHOD_INFO,
	SIP_METHOD_INVITE,
	SIP_METHOD_MESSAGE,
	SIP_METHOD_NOTIFY,
	SIP_METHOD_OPTIONS,
	SIP_METHOD_PRACK,
	SIP_METHOD_PUBLISH,
	SIP_METHOD_REFER,
	SIP_METHOD_REGISTER,
	SIP_METHOD_SUBSCRIBE,
	SIP_METHOD_UPDATE,
};

/* One header value. Several entries share one `line` when a list header
 * carried several comma-separated values on one line. */
struct sip_hdr {
	struct pl name; /* as received (may be compact) */
	struct pl val;  /* this value, trimmed; may contain folding */
	struct pl line; /* the whole source line(s) including the final CRLF */
	enum sip_hdr_id id;
	uint16_t line_no; /* index of the source line, for the serializer */
	int16_t next;     /* index of the next entry with this id, or -1 */
};

/*
 * Typed forms of the headers every message has (decoders in sip_hdr.h).
 */
struct sip_via {
	struct pl proto;     /* "SIP" */
	struct pl version;   /* "2.0" */
	struct pl transport; /* "UDP", "TCP", "TLS", "SCTP", or any token */
	struct pl sentby;    /* host[:port] as received */
	struct pl host;      /* IPv6 without brackets */
	enum sip_host_type host_type;
	uint16_t port;       /* 0 if absent */
	struct pl params;
	struct pl branch;    /* empty if absent (RFC 2543 peers) */
	struct pl received;  /* RFC 3261 §18.2.1; IPv6 with or without [] */
	struct pl maddr;
	bool rport;          /* RFC 3581: present, with or without a value */
	uint16_t rport_val;  /* 0 if present without a value */
	bool ttl_set;
	uint8_t ttl;
};

/* name-addr / addr-spec with header parameters: From, To, Contact, Route,
 * Record-Route, Path, Service-Route, Reply-To, P-Asserted-Identity,
 * P-Preferred-Identity, P-Associated-URI, P-Called-Party-ID, Refer-To. */
struct sip_addr {
	struct pl dname;   /* quoted content (escapes kept) or token words */
	bool dname_quoted;
	bool angle;        /* URI was in <> (name-addr) */
	bool star;         /* Contact: * */
	struct pl uri;     /* the URI text, checked by sip_uri_decode() */
	struct pl params;
	struct pl tag;     /* empty if none */
};

struct sip_cseq {
	uint32_t num; /* < 2**31 (RFC 3261 §8.1.1.5) */
	struct pl method;
	enum sip_method meth;
};

struct sip_msg {
	/* owned: one reference on the mem-allocated buffer that holds the bytes,
	 * or NULL when they follow the struct (sip_msg_decode_copy) */
	void *mem;
	struct pl raw;   /* the whole message (start line to end of body) */
	struct pl start; /* start line without CRLF */
	bool req;
	/* request */
	struct pl method;
	enum sip_method meth;
	struct pl ruri;
	bool bad_start; /* extra white space in the Request-Line (answer 400) */
	/* request and response */
	struct pl ver; /* "SIP/2.0" as received */
	unsigned ver_major, ver_minor;
	/* response */
	uint16_t scode;
	struct pl reason;
	/* headers: hdrc entries in message order; hdrv points at hdr_inline
	 * or at an owned heap array when there are more */
	struct sip_hdr *hdrv;
	size_t hdrc;
	uint16_t nlines; /* header lines in the message */
	struct pl hdrs;  /* header section: first header line to last CRLF */
	int16_t first[SIP_HDR_COUNT]; /* index of first entry of each id, or -1 */
	uint16_t count[SIP_HDR_COUNT]; /* entries of each id */
	struct pl body;
	/* Content-Length as decoded. clen_err: 0, EBADMSG (unparsable or
	 * negative), ERANGE (larger than the bytes that followed: datagram) or
	 * EPROTO (several different values). */
	bool clen_set;
	uint32_t clen;
	int clen_err;
	/* Memo of sip_msg_via/from/to/cseq (sip_hdr.h): 0 not decoded yet,
	 * 1 decoded into the field below, -1 absent or malformed. The
	 * message never changes after decoding, so these are a cache of pure
	 * functions of it, filled on first use behind the const accessors. */
	int8_t memo_via, memo_from, memo_to, memo_cseq;
	struct sip_hdr hdr_inline[SIP_MSG_HDRS_INLINE]; /* storage, see hdrv */
	/* not zeroed at decode: valid only where the memo flag is 1 */
	struct sip_via via;
	struct sip_addr from, to;
	struct sip_cseq cseq;
};

struct sip_decode_prm {
	size_t max_size; /* 0 = SIP_MSG_MAX_UDP */
	/* Stream transport: the bytes given are exactly one framed message
	 * (sip_frame()). Datagram: bytes past Content-Length are dropped
	 * (RFC 3261 §18.3) and a missing Content-Length means "to the end". */
	bool stream;
};

/* Decodes len bytes at offset off of `mem` (allocated with mem_zalloc; the
 * message takes its own reference). EBADMSG if malformed, EMSGSIZE beyond
 * max_size, E2BIG beyond a count bound, ENOMEM. */
int sip_msg_decode(struct sip_msg **msgp, void *mem, size_t off, size_t len,
		   const struct sip_decode_prm *prm);
/* Same, over a private copy of data. */
int sip_msg_decode_copy(struct sip_msg **msgp, const void *data, size_t len,
			const struct sip_decode_prm *prm);

const struct sip_hdr *sip_msg_hdr(const struct sip_msg *msg, enum sip_hdr_id id);
const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *msg,
				       const struct sip_hdr *prev);
/* Any header by (full or compact) name, case-insensitive; NULL if absent. */
const struct sip_hdr *sip_msg_hdr_name(const struct sip_msg *msg, struct pl name);
size_t sip_msg_hdr_count(const struct sip_msg *msg, enum sip_hdr_id id);
/* Number of distinct source lines carrying header id (RFC 4475 §3.3.8). */
size_t sip_msg_hdr_lines(const struct sip_msg *msg, enum sip_hdr_id id);

/* Header id of a (full or compact) header name; SIP_HDR_OTHER if unknown. */
enum sip_hdr_id sip_hdr_id_from_name(struct pl name);
/* Canonical full name of a known header id. */
const char *sip_hdr_name(enum sip_hdr_id id);
/* Whether the header's grammar is a comma-separated list (RFC 3261 §7.3.1). */
bool sip_hdr_is_list(enum sip_hdr_id id);
enum sip_method sip_method_from_pl(struct pl m);
const char *sip_method_name(enum sip_method m);

/*
 * Stream framing (TCP, TLS). Given the bytes received so far:
 *   ENODATA  not a whole message yet (or a lone CRLF that may start a ping),
 *   EBADMSG  garbage, a header section over SIP_MAX_HDRS*SIP_MAX_LINE or max,
 *            missing or malformed Content-Length,
 *   EMSGSIZE header section complete but the message would exceed max
 *            (frame->len: its whole length as Content-Length announces it,
 *            so that the transport can answer 513 and skip it),
 *   0        frame->len bytes form one message, ping or pong (frame->kind).
 * Keep-alives (RFC 5626 §3.5.1): "\r\n\r\n" is a ping (answer "\r\n"), a
 * "\r\n" not followed by another is a pong.
 */
enum sip_frame_kind { SIP_FRAME_MSG, SIP_FRAME_PING, SIP_FRAME_PONG };
struct sip_frame {
	size_t len;
	enum sip_frame_kind kind;
};
int sip_frame(const void *buf, size_t len, size_t max, struct sip_frame *frame);
/* A datagram that is only CRLFs (RFC 5626 keep-alive over UDP). */
bool sip_is_keepalive(const void *buf, size_t len);

#endif
