/*
 * api_cmd_prov — run-time provisioning (manual §6.6): users_add, user_set,
 * impu_set, impu_add, impu_del.
 *
 * users_add: `users`, an array of ue_db entries (§5.2.1), read with every
 * check and default of the configuration file (ims_cfg_ue_from_json; an
 * unknown or deprecated property, a warning in the file, is refused here)
 * and added to the HSS (hss_users_add: duplicates refused, all or none).
 * docs/api.md says what an added user has (an SMS queue, its state in the
 * state file, like a configured user); docs/hss.md how the HSS keeps them.
 * user_set, impu_set, impu_add, impu_del: the user's entry changed through
 * hss_user_update (an IMPU read as the file reads one, another user's IMPU
 * refused). A registered user whose IMPUs change is de-registered by the
 * network (registrar_unregister, NOTIFY deactivated: the UE registers
 * again and learns its new set): before a removal, after an addition.
 * impi "echo": the global echo list (hss_echo_add / hss_echo_del).
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ims_cfg.h"
#include "hss/hss.h"
#include "registrar/registrar.h"

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

/* The answer waits for the state file (answered means committed). */
struct prov_saving {
	struct api *api;
	uint64_t conn_id;
	json_t *resp;	  /* referenced */
	const char *what; /* static: the message's name */
};

static int prov_saved_error(json_t *resp, const char *what, int err)
{
	if (!strcmp(what, "users_add"))
		return api_error(resp, "users_add: users added but not written to the state file "
				"(they will be missing after a restart): %s",
			  strerror(err));
	return api_error(resp, "%s: changed but not written to the state file (the change "
				"will be lost at a restart): %s",
			  what, strerror(err));
}

static void prov_saved_h(int err, void *arg)
{
	struct prov_saving *ps = arg;

	if (err)
		prov_saved_error(ps->resp, ps->what, err);
	api_answer_send(ps->api, ps->conn_id, ps->resp);
	free(ps);
}

/* What a users_add (users) or a change of an added user (u, c) or of the
 * echo list (neither) did, into the state file when there is one:
 * EINPROGRESS, answered by prov_saved_h. */
static int prov_save(struct api_ctx *ctx, const char *what, const json_t *users,
		     const struct hss_user *u, const struct hss_change *c, json_t *resp)
{
	struct hss *hss = ctx->api->prm.hss;
	struct prov_saving *ps = calloc(1, sizeof(*ps));
	char *text = users ? json_dumps(users, JSON_COMPACT) : NULL;
	int e = ENOMEM;

	if (ps && users && text)
		e = hss_store_save(hss, text, strlen(text), prov_saved_h, ps);
	else if (ps && u)
		e = hss_store_user_change(hss, u, c, prov_saved_h, ps);
	else if (ps && !users)
		e = hss_store_echo_save(hss, prov_saved_h, ps);
	free(text);
	if (e == EINPROGRESS) {
		ps->api = ctx->api;
		ps->conn_id = ctx->conn ? ctx->conn->id : 0;
		ps->resp = json_incref(resp);
		ps->what = what;
		return EINPROGRESS;
	}
	free(ps);
	if (!e || e == ENOENT) /* committed at once, or not kept (docs/api.md) */
		return 0;
	return prov_saved_error(resp, what, e);
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
	return prov_save(ctx, "users_add", users, NULL, NULL, resp);
}

/* ---- user_set, impu_add, impu_del ---- */

#define PROV_IMPU_MAX 1000u /* as the configuration file's impu lists */

static struct hss_user *prov_user(struct api *api, const json_t *m, json_t *resp)
{
	const char *impi = NULL;
	struct hss_user *u;

	if (!api->prm.hss || !api->prm.cfg) {
		api_error(resp, "The HSS is not running");
		return NULL;
	}
	if (api_get_str(m, "impi", true, &impi, resp))
		return NULL;
	u = hss_user_by_impi(api->prm.hss, pl_from_str(impi));
	if (!u)
		api_error(resp, "Field impi: unknown user %.128s", impi);
	return u;
}

static int prov_update(struct api *api, struct hss_user *u,
		       const struct hss_user_update_prm *p, struct ims_cfg *set, json_t *resp)
{
	char err[512] = "";
	int e = hss_user_update(api->prm.hss, u, p, set, err, sizeof(err));

	if (e) {
		ims_cfg_free(set);
		return api_error(resp, "Field impu: %s", err[0] ? err : strerror(e));
	}
	return 0;
}

/* The network de-registers u (its IMPUs change); not registered: nothing. */
static void prov_unregister(struct api *api, const struct hss_user *u)
{
	char id[HSS_URI_MAX];

	if (!api->prm.reg)
		return;
	if (hss_user_impi(u))
		snprintf(id, sizeof(id), "%s", hss_user_impi(u));
	else if (hss_impu_uri(api->prm.hss, u, 0, id, sizeof(id)))
		return;
	(void)registrar_unregister(api->prm.reg, id, REGISTRAR_DEACTIVATED);
}

int api_cmd_user_set(struct api_ctx *ctx, json_t *resp)
{
	struct hss_user *u = prov_user(ctx->api, ctx->msg, resp);
	const struct ims_cfg_ue *ue;
	bool sg;
	int e;

	if (!u)
		return EINVAL;
	ue = hss_user_cfg(u);
	sg = ue->force_sms_over_sg;
	e = api_get_bool(ctx->msg, "force_sms_over_sg", &sg, resp);
	if (e == EINVAL)
		return e;
	if (prov_update(ctx->api, u, &(struct hss_user_update_prm){ue->impu, ue->impu_count, sg},
			NULL, resp))
		return EINVAL;
	return prov_save(ctx, "user_set", NULL, u,
			 &(struct hss_change){.op = HSS_CHANGE_USER_SET, .force_sms_over_sg = sg},
			 resp);
}

/* The IMPU authentication rule of the configuration file (cfg_ue.c,
 * docs/security.md): a user's IMPUs all authenticate or none does. skip:
 * the IMPU add replaces, or HSS_IMPU_NONE. */
static int prov_auth_mix(const struct ims_cfg_ue *ue, const struct ims_cfg_impu *add,
			 uint32_t skip, json_t *resp)
{
	uint32_t j = skip == 0 ? 1 : 0;

	if (ue->authent_type == IMS_CFG_AUTH_NONE || j >= ue->impu_count)
		return 0;
	if (ue->impu[j].opts->authentication == add->opts->authentication)
		return 0;
	return api_error(resp,
			 "Field impu: authentication %s differs from the user's other IMPUs "
			 "(registering one would register all)",
			 add->opts->authentication ? "true" : "false");
}

/* impi "echo" (manual §6.6): the global echo list. true: it was. */
static bool prov_echo(struct api_ctx *ctx, bool add, int *ret, json_t *resp)
{
	const json_t *v = json_object_get(ctx->msg, "impi");
	const json_t *impu = json_object_get(ctx->msg, "impu");
	char err[512] = "";
	int e;

	if (!json_is_string(v) || strcmp(json_string_value(v), "echo") || !ctx->api->prm.hss)
		return false;
	if (json_is_object(impu)) /* an IMPU configuration: its impu member */
		impu = json_object_get(impu, "impu");
	if (!json_is_string(impu)) {
		*ret = api_error(resp, impu ? "Field impu: string or object expected"
					    : "Missing field: impu");
		return true;
	}
	e = add ? hss_echo_add(ctx->api->prm.hss, json_string_value(impu), err, sizeof(err))
		: hss_echo_del(ctx->api->prm.hss, json_string_value(impu));
	if (e == ENOENT)
		*ret = api_error(resp, "Field impu: %.128s is not in the echo list",
				 json_string_value(impu));
	else if (e)
		*ret = api_error(resp, "Field impu: %s", err[0] ? err : strerror(e));
	else
		*ret = prov_save(ctx, add ? "impu_add" : "impu_del", NULL, NULL, NULL, resp);
	return true;
}

int api_cmd_impu_add(struct api_ctx *ctx, json_t *resp)
{
	struct api *api = ctx->api;
	const json_t *impu = json_object_get(ctx->msg, "impu");
	struct ims_cfg_impu arr[PROV_IMPU_MAX];
	const struct ims_cfg_impu *add = NULL;
	const struct ims_cfg_ue *ue;
	struct ims_cfg *set = NULL;
	char err[512] = "";
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	struct hss_user *u;
	json_t *list;
	uint32_t n = 0;
	int e;

	if (prov_echo(ctx, true, &e, resp))
		return e;
	u = prov_user(api, ctx->msg, resp);
	if (!u)
		return EINVAL;
	if (!impu)
		return api_error(resp, "Missing field: impu");
	if (!json_is_string(impu) && !json_is_object(impu))
		return api_error(resp, "Field impu: string or object expected");
	ue = hss_user_cfg(u);
	if (ue->impu_count >= PROV_IMPU_MAX)
		return api_error(resp, "Field impu: the user has %u IMPUs already", PROV_IMPU_MAX);
	list = json_pack("[O]", impu);
	if (!list)
		return api_error(resp, "impu_add: out of memory");
	e = ims_cfg_impu_from_json(api->prm.cfg, ue->opts, list, &set, &add, &n, &d);
	json_decref(list);
	if (e)
		return api_error(resp, "Field %s", err[0] ? err : strerror(e));
	if (n != 1 || prov_auth_mix(ue, add, HSS_IMPU_NONE, resp)) {
		ims_cfg_free(set);
		return EINVAL;
	}
	memcpy(arr, ue->impu, ue->impu_count * sizeof(arr[0]));
	arr[ue->impu_count] = add[0];
	if (prov_update(api, u,
			&(struct hss_user_update_prm){arr, ue->impu_count + 1,
						      ue->force_sms_over_sg},
			set, resp))
		return EINVAL;
	prov_unregister(api, u);
	return prov_save(ctx, "impu_add", NULL, u,
			 &(struct hss_change){.op = HSS_CHANGE_IMPU_ADD, .impu = impu}, resp);
}

int api_cmd_impu_del(struct api_ctx *ctx, json_t *resp)
{
	struct api *api = ctx->api;
	const json_t *impu = json_object_get(ctx->msg, "impu");
	struct ims_cfg_impu arr[PROV_IMPU_MAX];
	const struct ims_cfg_ue *ue;
	uint32_t idx = HSS_IMPU_NONE, k = 0;
	struct hss_user *u;
	int e;

	if (prov_echo(ctx, false, &e, resp))
		return e;
	u = prov_user(api, ctx->msg, resp);
	if (!u)
		return EINVAL;
	if (json_is_object(impu)) /* an IMPU configuration: its impu member */
		impu = json_object_get(impu, "impu");
	if (!impu)
		return api_error(resp, "Missing field: impu");
	if (!json_is_string(impu))
		return api_error(resp, "Field impu: string or object expected");
	if (hss_user_by_impu(api->prm.hss, pl_from_str(json_string_value(impu)), &idx) != u)
		return api_error(resp, "Field impu: %.128s is not an IMPU of this user",
				 json_string_value(impu));
	ue = hss_user_cfg(u);
	for (uint32_t j = 0; j < ue->impu_count && k < PROV_IMPU_MAX; j++) {
		if (j != idx)
			arr[k++] = ue->impu[j];
	}
	prov_unregister(api, u);
	if (prov_update(api, u, &(struct hss_user_update_prm){arr, k, ue->force_sms_over_sg},
			NULL, resp))
		return EINVAL;
	return prov_save(ctx, "impu_del", NULL, u,
			 &(struct hss_change){.op = HSS_CHANGE_IMPU_DEL, .idx = idx}, resp);
}

/* impu_set: the message's members but the common ones (§6.1) are an IMPU
 * configuration object; the IMPU's present options are the defaults. */
static json_t *impu_set_obj(const json_t *m)
{
	static const char *const common[] = {"message", "message_id", "start_time",
					     "absolute_time", "loop_count", "loop_delay",
					     "standalone"};
	json_t *o = json_deep_copy(m);

	for (size_t i = 0; o && i < sizeof(common) / sizeof(common[0]); i++)
		json_object_del(o, common[i]);
	return o;
}

int api_cmd_impu_set(struct api_ctx *ctx, json_t *resp)
{
	struct api *api = ctx->api;
	const char *impu = NULL;
	struct ims_cfg_impu arr[PROV_IMPU_MAX];
	const struct ims_cfg_impu *add = NULL;
	const struct ims_cfg_ue *ue;
	struct ims_cfg *set = NULL;
	char err[512] = "";
	struct prov_warn w = {.any = false};
	struct cfg_diag d = {err, sizeof(err), prov_warn_h, &w};
	struct hss_user *u;
	uint32_t idx = HSS_IMPU_NONE, n = 0;
	json_t *list;
	int e;

	if (!api->prm.hss || !api->prm.cfg)
		return api_error(resp, "The HSS is not running");
	if (api_get_str(ctx->msg, "impu", true, &impu, resp))
		return EINVAL;
	u = hss_user_by_impu(api->prm.hss, pl_from_str(impu), &idx);
	if (!u)
		return api_error(resp, "Field impu: unknown IMPU %.128s", impu);
	ue = hss_user_cfg(u);
	list = json_array();
	if (!list || json_array_append_new(list, impu_set_obj(ctx->msg))) {
		json_decref(list);
		return api_error(resp, "impu_set: out of memory");
	}
	/* the written form stays as configured (the lookup matched it) */
	json_object_set_new(json_array_get(list, 0), "impu", json_string(ue->impu[idx].impu));
	e = ims_cfg_impu_from_json(api->prm.cfg, hss_impu_opts(u, idx), list, &set, &add, &n,
				   &d);
	if (!e && (w.any || n != 1 || prov_auth_mix(ue, add, idx, resp))) {
		ims_cfg_free(set);
		e = w.any ? api_error(resp, "Field %s", w.text) : EINVAL;
	} else if (e) {
		e = api_error(resp, "Field %s", err[0] ? err : strerror(e));
	} else {
		memcpy(arr, ue->impu, ue->impu_count * sizeof(arr[0]));
		arr[idx] = add[0];
		e = prov_update(api, u,
				&(struct hss_user_update_prm){arr, ue->impu_count,
							      ue->force_sms_over_sg},
				set, resp);
	}
	if (!e) /* the members set, as the state file keeps them */
		e = prov_save(ctx, "impu_set", NULL, u,
			      &(struct hss_change){.op = HSS_CHANGE_IMPU_SET, .idx = idx,
						   .impu = json_array_get(list, 0)},
			      resp);
	json_decref(list);
	return e;
}
