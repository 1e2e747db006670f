/* Shared by the registrar's fuzz targets (fuzz_reg_common.h). */
#include <assert.h>
#include <stdlib.h>

#include <jansson.h>

#include "core/log.h"
#include "loop/loop.h"
#include "fuzz_reg_common.h"

uint64_t fz_clock;

void fz_reg_setup(const char *cfg_text, struct ims_cfg **cfg, struct hss **hss)
{
	json_t *root = json_loads(cfg_text, 0, NULL);

	if (!root || ims_cfg_from_json(root, NULL, cfg, NULL) ||
	    hss_alloc(hss, *cfg, NULL, 0) || loop_init())
		abort();
	json_decref(root);
	/* warnings about forged credentials and bad rows would flood the output */
	log_options_apply("ims.level=error", NULL, 0);
}

int fz_request(struct sip_stack *stack, const struct sip_stack_req_prm *prm, void *arg)
{
	(void)stack;
	(void)arg;
	assert(prm->dst && prm->req.l > 0);
	return 0;
}

uint64_t fz_now(void *arg)
{
	(void)arg;
	return fz_clock;
}
