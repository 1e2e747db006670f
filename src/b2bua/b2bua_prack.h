/*
 * b2bua_prack — reliable provisional responses (RFC 3262) on the caller's
 * leg: imsd is the caller's UAS, so it takes part in 100rel itself, as the
 * caller negotiates it and whatever the callee does (per leg).
 *
 * Pure helpers here (unit-tested without a stack); the call side is in
 * b2bua_int.h (b2b_prack_*). Owned by b2bua_prack.c.
 */
#ifndef B2BUA_B2BUA_PRACK_H
#define B2BUA_B2BUA_PRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/pl.h"
#include "sip/sip_msg.h"

/* How an INVITE asks for reliable provisionals (RFC 3262 §4). */
enum b2b_rel_mode {
	B2B_REL_NONE = 0, /* neither Supported nor Require: 100rel */
	B2B_REL_SUPPORTED,
	B2B_REL_REQUIRED,
	B2B_REL_REJECT /* Require: 100rel while it is off: 420 */
};

/* enabled: the caller IMPU's `100rel` (manual §5.2.1, default global). */
enum b2b_rel_mode b2b_rel_mode(const struct sip_msg *inv, bool enabled);

/* RAck: "response-num CSeq-num Method" (RFC 3262 §7.2). 0 or EBADMSG. */
int b2b_rack_parse(struct pl v, uint32_t *rseq, uint32_t *cseq, struct pl *method);

/* The next retransmission interval of a reliable 1xx: T1 first, doubling
 * (RFC 3262 §3); 0 once waited_ms + it would pass 64*T1 (give up). */
uint32_t b2b_rel_next_ms(uint32_t cur_ms, uint32_t waited_ms, uint32_t t1_ms);

#endif
