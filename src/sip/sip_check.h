/*
 * sip/sip_check — validation of received messages before any processing
 * (RFC 3261 §8.2 for a UAS, §16.3 for a proxy, §18.1.2 for responses) and
 * the error response that answers a faulty request.
 *
 * sip_msg_check() names the first fault found in a verdict: the status code
 * and a reason phrase saying what is wrong ("Missing Call-ID", "Bad CSeq",
 * "CSeq method mismatch", ...), which the transaction layer sends back with
 * sip_error_build(). Responses are never answered: a faulty response gets
 * verdict.drop.
 */
#ifndef SIP_SIP_CHECK_H
#define SIP_SIP_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mbuf.h"
#include "core/pl.h"
#include "sip/sip_msg.h"

#define SIP_CHECK_MAX_UNSUP 16u

struct sip_check_prm {
	size_t max_size;               /* 513 above this (0: no limit here) */
	const char *const *supported;  /* option tags we support, NULL-ended */
	/* Acting as a proxy (§16.3): Proxy-Require instead of Require, 483 on
	 * Max-Forwards 0, and 482 when a Via with our sent-by carries the loop
	 * value of this very request (sip_msg_loop_hash). */
	bool proxy;
	/* A UAS that is also the first proxy of the requests it serves (the
	 * P-CSCF and S-CSCF of one process): Proxy-Require is checked as well
	 * as Require. */
	bool proxy_require;
	struct pl via_host;            /* our sent-by host, for loop detection */
	uint16_t via_port;             /* 0 = 5060 */
	struct pl loop_hash;           /* this request's value, see below */
};

struct sip_verdict {
	uint16_t scode;      /* 0: acceptable */
	const char *reason;  /* static text naming the fault */
	bool drop;           /* a response (or ACK): discard, do not answer */
	size_t n_unsup;      /* 420: option tags we do not support */
	struct pl unsup[SIP_CHECK_MAX_UNSUP];
};

void sip_msg_check(const struct sip_msg *msg, const struct sip_check_prm *prm,
		   struct sip_verdict *v);
/* The error response for a request that failed sip_msg_check(); adds
 * Unsupported for 420 and the To tag. EINVAL for ACK or a response. */
int sip_error_build(struct mbuf *mb, const struct sip_msg *req,
		    const struct sip_verdict *v, struct pl to_tag);
/* Loop-detection value over the fields of RFC 3261 §16.6 step 8 (To tag,
 * From tag, Call-ID, CSeq number, Request-URI, top Via, Proxy-Require,
 * Proxy-Authorization, Route): 16 hex digits. A proxy appends "." and this
 * value to its branch; sip_msg_check() finds it again in a looped request. */
int sip_msg_loop_hash(const struct sip_msg *msg, char *out, size_t size);

#endif
