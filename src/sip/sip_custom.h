/*
 * sip/sip_custom — custom_headers (manual §5.2): header lines added to,
 * replaced in or removed from the messages imsd sends, by method and by
 * response code.
 *
 * A rule applies to a request when its method is listed (or "*", or no
 * method is listed) and the rule lists no code; to a response when it
 * lists the response's code (or 0) and the method of its CSeq ("if codes
 * is set, the custom headers will be applied to the responses of the
 * associated request"). With a value the line "name: value" is added;
 * with `replace` every line of that name (long or compact form) is
 * removed first; without a value the lines are only removed.
 *
 * The rule set is applied once per message, when the message is built and
 * before its first send: the transaction layer keeps the rewritten bytes
 * and retransmits them as they are (sip_tsx_env.rewrite), and the stack
 * applies it to what it sends outside a transaction (a stateless answer,
 * the ACK of a 2xx). So it reaches every request and response imsd sends,
 * its own and the ones it relays. Rules are checked at sip_custom_alloc
 * (token names, values without control characters, bounded lengths, and
 * never a header that frames or matches the message: Via, From, To,
 * Call-ID, CSeq, Content-Length), so a rule cannot inject lines.
 *
 * Cost per message: no allocation; a request is matched on its method, a
 * response on its code, and its CSeq is read only when a rule taking that
 * code lists methods. Lengths and long header names are computed once.
 *
 * Ownership: struct sip_custom is one allocation holding copies of the
 * rules; the caller's arrays are not kept. Its size is bounded
 * (SIP_CUSTOM_BYTES_MAX, counted by sip_custom_hdr_size), so a set of 1000
 * rules of 1000 methods each is refused rather than copied. Functions
 * return 0 or errno.
 */
#ifndef SIP_SIP_CUSTOM_H
#define SIP_SIP_CUSTOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mbuf.h"

#define SIP_CUSTOM_MAX 1000u	    /* rules */
#define SIP_CUSTOM_NAME_MAX 64u	    /* bytes of a name */
#define SIP_CUSTOM_VALUE_MAX 1024u  /* bytes of a value */
#define SIP_CUSTOM_LIST_MAX 1000u   /* codes or methods of one rule */
/* Bytes all the rules of a set may take, as sip_custom_hdr_size counts
 * them (names, values, codes, methods and bookkeeping). */
#define SIP_CUSTOM_BYTES_MAX (256u * 1024u)

struct sip_custom_hdr {
	const char *name;
	const char *value;	    /* NULL: only remove (replace forced) */
	const uint16_t *codes;	    /* 0 = every code */
	const char *const *methods; /* "*" = every method */
	uint16_t code_count;
	uint16_t method_count;
	bool replace;
};

struct sip_custom;

/* Whether a rule may be used; when not, why (a static string). */
bool sip_custom_hdr_ok(const struct sip_custom_hdr *h, const char **why);
/* Bytes one rule takes in a set (against SIP_CUSTOM_BYTES_MAX). */
size_t sip_custom_hdr_size(const struct sip_custom_hdr *h);
/* Copies n rules (n may be 0: *cp is NULL, nothing to apply). EINVAL when
 * one is refused by sip_custom_hdr_ok or n is over SIP_CUSTOM_MAX; E2BIG
 * when they take more than SIP_CUSTOM_BYTES_MAX. */
int sip_custom_alloc(struct sip_custom **cp, const struct sip_custom_hdr *v, size_t n);
void sip_custom_free(struct sip_custom *c);
/* Bytes the rules can add to one message at most (the stack's size
 * estimate against tcp_threshold). */
size_t sip_custom_added_max(const struct sip_custom *c);
/*
 * Writes the serialized message msg, with the rules that apply to it, into
 * mb (empty on entry). ENOENT: no rule applies (mb untouched, send msg as
 * it is); EBADMSG: not a message it can read; ENOSPC: over mb's bound.
 */
int sip_custom_apply(const struct sip_custom *c, const char *msg, size_t len,
		     struct mbuf *mb);

#endif
