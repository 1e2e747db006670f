/* Shared by the registrar's fuzz targets (fuzz_reg_common.h). */
#include <assert.h>
#include <stdlib.h>

#include <jansson.h>

#include "core/log.h"
#include "core/mem.h"
#include "loop/loop.h"
#include "sip/sip_msg.h"
#include "fuzz_reg_common.h"

uint64_t fz_clock;
uint16_t fz_fail;

static struct fz_failed {
	struct sip_msg *req; /* owned */
	sip_tsx_resp_h *resp_h;
	void *arg;
} failed[32];
static size_t nfailed;

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
	struct sip_decode_prm dp = {.max_size = 65535};
	struct fz_failed *f = &failed[nfailed];

	(void)stack;
	(void)arg;
	assert(prm->dst && prm->req.l > 0);
	if (!fz_fail || nfailed == sizeof(failed) / sizeof(failed[0]))
		return 0;
	/* what the registrar built must decode: it reads it back for the match */
	f->req = NULL;
	assert(!sip_msg_decode_copy(&f->req, prm->req.p, prm->req.l, &dp));
	f->resp_h = prm->resp_h;
	f->arg = prm->arg;
	nfailed++;
	return 0;
}

void fz_failures_tell(void)
{
	for (size_t i = 0; i < nfailed; i++) {
		failed[i].resp_h(NULL, failed[i].req, fz_fail, failed[i].arg);
		mem_deref(failed[i].req);
	}
	nfailed = 0;
}

uint64_t fz_now(void *arg)
{
	(void)arg;
	return fz_clock;
}
