/*
 * registrar_app — wiring the registrar into imsd: one call from imsd.c once
 * the SIP stack and the HSS exist. Kept apart so that the registrar itself
 * stays testable without a stack.
 */
#include <errno.h>

#include "core/log.h"
#include "core/mem.h"
#include "registrar/registrar.h"

static int registrar_app_request(struct sip_stack *stack,
				 const struct sip_stack_req_prm *prm, void *arg)
{
	(void)arg;
	return sip_stack_request(stack, prm, NULL);
}

static struct sip_tsx *registrar_app_tsx_find(struct sip_stack *stack, uint64_t id,
					      void *arg)
{
	(void)arg;
	return sip_tsx_lookup(sip_stack_tsx(stack), id);
}

int registrar_app_start(struct sip_stack *stack, const struct ims_cfg *cfg,
			struct hss *hss, struct store *st, struct registrar **regp)
{
	static const struct registrar_ops ops = {.request = registrar_app_request,
						 .tsx_find = registrar_app_tsx_find};
	struct registrar_prm prm = {.cfg = cfg, .hss = hss, .stack = stack, .ops = &ops};
	struct registrar *reg = NULL;
	int err;

	if (!stack || !cfg || !hss || !regp)
		return EINVAL;
	if (sip_stack_sock_count(stack))
		prm.host = sip_stack_local_uri_host(stack, 0);
	err = registrar_alloc(&reg, &prm);
	if (err)
		return err;
	if (st) {
		char why[512];

		err = registrar_store_attach(reg, st, why, sizeof(why));
		if (err) {
			log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
				  "store: %s", why);
			mem_deref(reg);
			return err;
		}
	}
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "registrar: %u user(s)",
		  hss_user_count(hss));
	*regp = reg;
	return 0;
}
