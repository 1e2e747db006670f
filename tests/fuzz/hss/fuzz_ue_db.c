/*
 * Fuzz target: a configuration file's user database, end to end as imsd
 * loads it: the configuration language (cfg_lang_load_buf, includes
 * forbidden) -> the typed configuration (ims_cfg_from_json: ue_db entries,
 * hex keys, AMF/SQN, IMPU strings and objects, imei, per-IMPU options) ->
 * the HSS indexes (hss_alloc: duplicate and conflict checks). Invariants:
 * no crash, leak or over-read; an error always has a message; every IMPU of
 * a loaded user, written out in full (hss_impu_uri), finds a user again.
 */
#include <stdint.h>
#include <stdlib.h>

#include "config/cfg_lang.h"
#include "core/mem.h"
#include "config/ims_cfg.h"
#include "hss/hss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_users(const struct hss *hss)
{
	char uri[HSS_URI_MAX];

	for (uint32_t i = 0; i < hss_user_count(hss); i++) {
		const struct hss_user *u = hss_user_at(hss, i);

		for (uint32_t j = 0; j < hss_user_impu_count(u); j++) {
			if (hss_impu_uri(hss, u, j, uri, sizeof(uri)))
				continue; /* longer than any URI we would write */
			if (!hss_user_by_impu(hss, pl_from_str(uri), NULL))
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[512], err[512];
	struct cfg_diag diag = {msg, sizeof(msg), NULL, NULL};
	struct cfg_lang_err lerr;
	struct ims_cfg *cfg = NULL;
	struct hss *hss = NULL;
	json_t *root = NULL;

	if (size > 65536)
		return 0;
	if (cfg_lang_load_buf((const char *)data, size, "fuzz.cfg", NULL, &root, &lerr))
		return 0;
	msg[0] = '\0';
	if (ims_cfg_from_json(root, NULL, &cfg, &diag)) {
		if (!msg[0])
			abort();
		json_decref(root);
		return 0;
	}
	json_decref(root);
	err[0] = '\0';
	if (hss_alloc(&hss, cfg, err, sizeof(err))) {
		if (!err[0])
			abort();
	} else {
		check_users(hss);
		mem_deref(hss);
	}
	ims_cfg_free(cfg);
	return 0;
}
