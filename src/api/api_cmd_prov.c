/*
 * api_cmd_prov — run-time provisioning (manual §6.6): users_add.
 *
 * users_add: `users`, an array of ue_db entries (§5.2.1), read with every
 * check and default of the configuration file (ims_cfg_ue_from_json; an
 * unknown or deprecated property, a warning in the file, is refused here)
 * and added to the HSS (hss_users_add: duplicates refused, all or none).
 * docs/api.md says what an added user has (no SMS queue, not in the state
 * file); docs/hss.md how the HSS keeps them.
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/ims_cfg.h"
#include "hss/hss.h"

struct prov_warn {
	char text[256];
	bool any;
};

static void prov_warn_h(const char *path, const char *msg, void *arg)
{
	struct prov_warn *w = arg;

	if (w->any)
		return;
	w->any = true;
	snprintf(w->text, sizeof(w->text), "%s: %s", path, msg);
}

int api_cmd_users_add(struct api_ctx *ctx, json_t *resp)
{
	struct api *api = ctx->api;
	const json_t *users = json_object_get(ctx->msg, "users");
	struct prov_warn w = {.any = false};
	char err[512] = "";
	struct cfg_diag d = {err, sizeof(err), prov_warn_h, &w};
	struct ims_cfg *set = NULL;
	uint32_t first;
	int e;

	if (!api->prm.hss || !api->prm.cfg)
		return api_error(resp, "users_add: the HSS is not running");
	if (!users)
		return api_error(resp, "Missing field: users");
	if (!json_is_array(users) || json_array_size(users) > HSS_ADD_MAX)
		return api_error(resp, "Field users: array of at most %u users expected",
				 HSS_ADD_MAX);
	e = ims_cfg_ue_from_json(api->prm.cfg, users, &set, &d);
	if (e == ENOMEM)
		return api_error(resp, "users_add: out of memory");
	if (e)
		return api_error(resp, "Field %s", err);
	if (w.any) {
		ims_cfg_free(set);
		return api_error(resp, "Field %s", w.text);
	}
	first = hss_user_count(api->prm.hss);
	e = hss_users_add(api->prm.hss, set, err, sizeof(err));
	if (e) {
		ims_cfg_free(set);
		return api_error(resp, "Field users: %s",
				 err[0] ? err : strerror(e));
	}
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "api: users_add from %s: %zu user(s) added (ue_db[%u]..)",
		  ctx->conn ? ctx->conn->peer : "sim_events", json_array_size(users), first);
	json_object_set_new(resp, "count", json_integer((json_int_t)json_array_size(users)));
	return 0;
}
