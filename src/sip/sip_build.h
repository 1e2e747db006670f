/*
 * sip/sip_build — serializing SIP messages into an mbuf.
 *
 * Requests and responses are built from parameter structs; a response is
 * built from the request it answers, copying Via, From, To (adding the tag),
 * Call-ID and CSeq as received (RFC 3261 §8.2.6.2). A received message is
 * forwarded with edits (sip_msg_forward) by copying the byte ranges of every
 * header line that is not edited, so that untouched headers reach the next
 * hop exactly as they came. Content-Length is always written by the
 * serializer, from the body actually sent.
 */
#ifndef SIP_SIP_BUILD_H
#define SIP_SIP_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mbuf.h"
#include "core/pl.h"
#include "sip/sip_msg.h"

/* A new request. Unset views are left out; hdrs is zero or more complete
 * header lines ("Name: value\r\n"). */
struct sip_req_prm {
	struct pl method;
	struct pl ruri;
	struct pl via;     /* Via value, branch included */
	struct pl from;    /* From value (with tag) */
	struct pl to;      /* To value */
	struct pl call_id;
	uint32_t cseq;
	uint32_t max_forwards; /* 0 = 70 (RFC 3261 §8.1.1.6) */
	struct pl contact;
	struct pl hdrs;
	struct pl ctype;   /* Content-Type, when there is a body */
	struct pl body;
};
int sip_req_build(struct mbuf *mb, const struct sip_req_prm *prm);

struct sip_resp_prm {
	uint16_t scode;
	struct pl reason;
	struct pl to_tag; /* added to To if it has none and scode > 100 */
	struct pl hdrs;   /* extra header lines */
	struct pl ctype;
	struct pl body;
	/* Set: the value of the top Via entry in the response instead of the
	 * request's (received/rport added by the transport, RFC 3261
	 * §18.2.1, RFC 3581), so the request need not be rewritten. */
	struct pl via_top;
};
/* EINVAL if req is not a request or scode is outside 100..699. */
int sip_resp_build(struct mbuf *mb, const struct sip_msg *req,
		   const struct sip_resp_prm *prm);

enum sip_edit_op {
	SIP_EDIT_REMOVE,  /* drop entry hdr */
	SIP_EDIT_REPLACE, /* entry hdr gets value val */
	SIP_EDIT_ADD,     /* new "name: val" line before hdr's line (NULL: last) */
};
struct sip_edit {
	enum sip_edit_op op;
	const struct sip_hdr *hdr; /* an entry of the forwarded message */
	struct pl name;            /* SIP_EDIT_ADD */
	struct pl val;             /* SIP_EDIT_REPLACE, SIP_EDIT_ADD */
};
struct sip_fwd_prm {
	struct pl ruri; /* new Request-URI; unset keeps it */
	struct pl via;  /* Via value to put on top; unset adds none */
	const struct sip_edit *editv;
	size_t editc;
	bool body_set;  /* replace the body with `body` */
	struct pl body;
};
/* Edits of Content-Length entries are ignored: it is always recomputed. */
int sip_msg_forward(struct mbuf *mb, const struct sip_msg *msg,
		    const struct sip_fwd_prm *prm);

#endif
