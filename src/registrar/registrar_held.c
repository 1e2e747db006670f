/*
 * registrar_held — answers held until the state they acknowledge is
 * committed to the state file ("answered means committed", store/store.h,
 * docs/registrar.md "State file").
 *
 * With a state file, the 200 of a REGISTER (registration, refresh,
 * de-registration, fetch) and of a reg SUBSCRIBE that creates or refreshes a
 * subscription does not go out when the request is processed: the answer
 * (status, reason, header lines, To tag, body: copied) and the id of its
 * server transaction are kept here, and reg_store_hold() attaches them to
 * the next transaction of the state file, the one that carries the user's
 * rows (marked at the same time). Many answers ride on one commit (group
 * commit). When that commit's outcome is applied on the loop thread:
 *
 *   committed  each answer goes to its transaction, looked up again by id
 *              (it may have gone: the stack stopped, or a send failed);
 *   failed     each gets 500 with Retry-After instead (RFC 3261 §21.5.1,
 *              §20.33): the state stays in memory and is written again a
 *              second later, but the UE is not told that it is saved; a
 *              REGISTER sent again refreshes it.
 *
 * Meanwhile a retransmission of the request is absorbed by its server
 * transaction, still in Trying (RFC 3261 §17.2.2), and is not processed a
 * second time. An answer may carry a follow-up (`then`, e.g. the first
 * NOTIFY of a new subscription, which must not arrive before its 200) run
 * right after it is sent, whatever the outcome.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "registrar/registrar_int.h"

/* Retry-After of a 500 for a commit that failed: the write is tried again
 * a second later (registrar_store.c). */
#define REG_HELD_500_HDRS "Retry-After: 1\r\n"

static struct reg_held *held_alloc(struct sip_tsx *tsx, uint16_t scode,
				   const char *reason,
				   const struct sip_tsx_reply_prm *prm,
				   reg_held_then_h *then, struct pl key)
{
	struct sip_tsx_reply_prm none = {0};
	const struct sip_tsx_reply_prm *p = prm ? prm : &none;
	size_t rl = strlen(reason);
	struct reg_held *h;
	char *d;

	if (rl > UINT16_MAX || p->to_tag.l > UINT16_MAX || p->ctype.l > UINT16_MAX ||
	    key.l > UINT16_MAX || p->hdrs.l > UINT32_MAX || p->body.l > UINT32_MAX)
		return NULL;
	h = malloc(sizeof(*h) + rl + 1 + p->to_tag.l + p->hdrs.l + p->ctype.l +
		   p->body.l + key.l);
	if (!h)
		return NULL;
	memset(h, 0, sizeof(*h));
	h->tsx_id = tsx ? sip_tsx_id(tsx) : 0;
	h->scode = scode;
	h->stateless = p->stateless;
	h->then = then;
	h->reason_len = (uint16_t)rl;
	h->to_tag_len = (uint16_t)p->to_tag.l;
	h->ctype_len = (uint16_t)p->ctype.l;
	h->key_len = (uint16_t)key.l;
	h->hdrs_len = (uint32_t)p->hdrs.l;
	h->body_len = (uint32_t)p->body.l;
	d = h->data;
	memcpy(d, reason, rl + 1);
	d += rl + 1;
	/* a pl of length 0 may have a NULL p: memcpy must not see it */
	if (p->to_tag.l)
		memcpy(d, p->to_tag.p, p->to_tag.l);
	d += p->to_tag.l;
	if (p->hdrs.l)
		memcpy(d, p->hdrs.p, p->hdrs.l);
	d += p->hdrs.l;
	if (p->ctype.l)
		memcpy(d, p->ctype.p, p->ctype.l);
	d += p->ctype.l;
	if (p->body.l)
		memcpy(d, p->body.p, p->body.l);
	d += p->body.l;
	if (key.l)
		memcpy(d, key.p, key.l);
	return h;
}

bool reg_reply_held(struct registrar *reg, struct sip_tsx *tsx, const struct hss_user *u,
		    uint16_t scode, const char *reason,
		    const struct sip_tsx_reply_prm *prm, reg_held_then_h *then,
		    struct pl key)
{
	struct sip_tsx_reply_prm busy = {.hdrs = PL(REG_HELD_500_HDRS)};
	struct reg_held *h;

	if (!reg->rs) {
		reg_reply(reg, tsx, scode, reason, prm);
		return false;
	}
	h = held_alloc(tsx, scode, reason, prm, then, key);
	if (h && reg_store_hold(reg, u, h))
		return true;
	free(h);
	/* the state is changed in memory but cannot be tied to its commit:
	 * not claimed as saved */
	log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
		  "registrar: cannot hold a %u answer until its state is saved (%s): "
		  "answered 500",
		  scode, h ? "user not in the state file" : "out of memory");
	reg_reply(reg, tsx, 500, "Server Internal Error", &busy);
	return false;
}

/* One answer: scode as held if result is 0, else 500. */
static void held_send(struct registrar *reg, const struct reg_held *h, int result)
{
	struct sip_tsx_reply_prm rp, busy = {.hdrs = PL(REG_HELD_500_HDRS)};
	const char *d = h->data + h->reason_len + 1;
	struct sip_tsx *tsx = NULL;

	if (reg->ops.tsx_find)
		tsx = reg->ops.tsx_find(reg->stack, h->tsx_id, reg->ops.arg);
	if (!tsx) {
		/* the transaction ended meanwhile: nobody to answer */
		log_write(LOG_IMS, LOG_LVL_DEBUG, LOG_DIR_NONE, NULL,
			  "registrar: a held %u answer found its transaction gone",
			  h->scode);
		return;
	}
	if (result) {
		reg_reply(reg, tsx, 500, "Server Internal Error", &busy);
		return;
	}
	memset(&rp, 0, sizeof(rp));
	rp.to_tag = (struct pl){d, h->to_tag_len};
	d += h->to_tag_len;
	rp.hdrs = (struct pl){d, h->hdrs_len};
	d += h->hdrs_len;
	rp.ctype = (struct pl){d, h->ctype_len};
	d += h->ctype_len;
	rp.body = (struct pl){d, h->body_len};
	rp.stateless = h->stateless;
	reg_reply(reg, tsx, h->scode, h->data, &rp);
}

void reg_held_release(struct registrar *reg, struct reg_held *list, int result)
{
	unsigned n = 0;

	for (const struct reg_held *h = list; h; h = h->next)
		n++;
	if (result && n)
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "registrar: the state file was not written (%s): %u answer(s) "
			  "500 instead of 200, written again in a second",
			  strerror(result), n);
	while (list) {
		struct reg_held *h = list;

		list = h->next;
		held_send(reg, h, result);
		if (h->then)
			h->then(reg,
				(struct pl){h->data + h->reason_len + 1 + h->to_tag_len +
						h->hdrs_len + h->ctype_len + h->body_len,
					    h->key_len});
		free(h);
	}
}
