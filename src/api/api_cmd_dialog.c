/*
 * api_cmd_dialog — the calls' messages (manual §6.6): dialog_get,
 * dialog_set and mt_call, over the B2BUA (src/b2bua/b2bua.h, docs/calls.md).
 *
 * dialog_get: every dialog the B2BUA keeps (live, and stopped ones for
 * 30 s), or the one session_id names, as the manual's structure:
 * session_id, state, type, from, to, mt_dialog (a server dialog's
 * associated mt dialog) or mo_dialog (an mt dialog's server dialog), date,
 * duration, event_list and medias (type, qos, dir, rtp/rtcp address and
 * counters, from the relay; qos is "disabled": there is no Rx/N5 yet).
 * dialog_set: session_id (or "*": the latest dialog) and action: stop,
 * answer [code], hold [media], reinvite [sdp_file], downgrade [media],
 * media (rtp, rtcp).
 * mt_call: the callee by impi, impu or contact; sdp_file (or the deprecated
 * sip_file), caller, duration; the answer gives the new dialog's
 * session_id.
 *
 * The dialog event (§6.7): the B2BUA's watcher (b2bua_watch_set) is told
 * of a call once it is set up and at each change of its state; each of
 * the call's dialogs goes at once, as dialog_get lists it, to the clients
 * registered for "dialog" (read inside the change, so that every state is
 * seen even when two come in one loop iteration), and the users the call
 * involves get a users_update.
 */
#include "api/api_int.h"

#include <errno.h>
#include <string.h>

#include "b2bua/b2bua.h"
#include "media/media.h"
#include "net/net_addr.h"
#include "sdp/sdp.h"

static int b2bua_ready(const struct api *api, json_t *resp)
{
	return api->prm.b2bua ? 0 : api_error(resp, "Calls are not running");
}

static const char *event_type_name(uint8_t t)
{
	return t == B2BUA_EV_SEND ? "send" : t == B2BUA_EV_RECV ? "recv" : "state";
}

static json_t *events_json(const struct b2bua_dialog_info *di)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < di->nevents; i++) {
		const struct b2bua_event *e = &di->events[i];

		json_array_append_new(
		    a, json_pack("{s:s, s:f, s:s}", "type", event_type_name(e->type), "timestamp",
				 e->ms / 1000.0, "state",
				 b2bua_state_name((enum b2bua_state)e->state)));
	}
	return a;
}

static json_t *medias_json(const struct b2bua_dialog_info *di)
{
	json_t *a = json_array();
	size_t n = di->media ? media_session_stream_count(di->media) : 0;

	for (size_t i = 0; a && i < n; i++) {
		struct media_stream_info si;
		char rtp[NET_ADDR_STRLEN], rtcp[NET_ADDR_STRLEN];

		if (media_session_stream_info(di->media, (enum media_leg)di->media_leg, i, &si))
			continue;
		json_array_append_new(
		    a, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:I}", "type",
				 sdp_media_type_name(si.type), "qos", "disabled", "dir",
				 sdp_dir_name(si.dir), "rtp_addr",
				 net_addr_print(&si.rtp_addr, rtp, sizeof(rtp)), "rtp_recv_count",
				 (json_int_t)si.rtp_recv.pkts, "rtp_send_count",
				 (json_int_t)si.rtp_send.pkts, "rtcp_addr",
				 net_addr_print(&si.rtcp_addr, rtcp, sizeof(rtcp)),
				 "rtcp_recv_count", (json_int_t)si.rtcp_recv.pkts,
				 "rtcp_send_count", (json_int_t)si.rtcp_send.pkts));
	}
	return a;
}

static json_t *dialog_json(const struct b2bua_dialog_info *di)
{
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:f}", "session_id",
			      di->session_id, "state", b2bua_state_name(di->state), "type",
			      b2bua_type_name(di->type), "from", di->from ? di->from : "", "to",
			      di->to ? di->to : "", "date", (json_int_t)di->date, "duration",
			      di->duration);

	if (!d)
		return NULL;
	if (di->assoc && di->assoc[0])
		json_object_set_new(d, di->type == B2BUA_MT ? "mo_dialog" : "mt_dialog",
				    json_string(di->assoc));
	json_object_set_new(d, "event_list", events_json(di));
	json_object_set_new(d, "medias", medias_json(di));
	return d;
}

int api_cmd_dialog_get(struct api_ctx *ctx, json_t *resp)
{
	struct api *api = ctx->api;
	struct b2bua_cursor cur = {0};
	struct b2bua_dialog_info di;
	const char *sid = NULL;
	json_t *list;

	if (b2bua_ready(api, resp) ||
	    api_get_str(ctx->msg, "session_id", false, &sid, resp) == EINVAL)
		return EINVAL;
	list = json_array();
	if (!list)
		return ENOMEM;
	while (b2bua_dialog_next(api->prm.b2bua, &cur, &di)) {
		if (!sid || !strcmp(sid, di.session_id))
			json_array_append_new(list, dialog_json(&di));
	}
	json_object_set_new(resp, "dialogs", list);
	return 0;
}

/* The dialog_set index of session_id ("*": the latest dialog); 0 none. */
static uint32_t dialog_index(const struct api *api, const char *sid)
{
	struct b2bua_cursor cur = {0};
	struct b2bua_dialog_info di;
	uint32_t found = 0;

	while (b2bua_dialog_next(api->prm.b2bua, &cur, &di)) {
		if (!strcmp(sid, "*") || !strcmp(sid, di.session_id))
			found = di.index;
	}
	return found;
}

static int dialog_err(json_t *resp, int err, const char *action)
{
	switch (err) {
	case 0:
		return 0;
	case ENOENT:
		return api_error(resp, "Dialog not found");
	case EALREADY:
		return api_error(resp, "Dialog %s: not answered yet, or already stopped", action);
	case EBUSY:
		return api_error(resp, "Dialog %s: an INVITE is in progress", action);
	case ENOTSUP:
		return api_error(resp, "Dialog %s: no media relay", action);
	case EIO:
		return api_error(resp, "Dialog %s: cannot read the SDP file", action);
	case EPROTO:
		return api_error(resp, "Dialog %s: the SDP file is refused", action);
	default:
		return api_error(resp, "Dialog %s: not for this kind of call", action);
	}
}

/* answer [code], media (rtp, rtcp), hold [media] and downgrade [media]:
 * their fields. */
static int dialog_set_args(struct api *api, const json_t *m, uint32_t idx, const char *action,
			   json_t *resp)
{
	const char *media = NULL;
	bool rtp = true, rtcp = true;
	uint64_t code = 0;

	if (!strcmp(action, "answer")) {
		if (api_get_uint(m, "code", 200, 699, &code, resp) == EINVAL)
			return EINVAL;
		return dialog_err(resp, b2bua_dialog_answer(api->prm.b2bua, idx, (uint16_t)code),
				  action);
	}
	if (!strcmp(action, "media")) {
		if (api_get_bool(m, "rtp", &rtp, resp) == EINVAL ||
		    api_get_bool(m, "rtcp", &rtcp, resp) == EINVAL)
			return EINVAL;
		return dialog_err(resp, b2bua_dialog_media(api->prm.b2bua, idx, rtp, rtcp),
				  action);
	}
	if (api_get_str(m, "media", false, &media, resp) == EINVAL)
		return EINVAL;
	if (media && strcmp(media, "audio") && strcmp(media, "video") && strcmp(media, "text"))
		return api_error(resp, "Field media: audio, video or text expected");
	if (!strcmp(action, "hold")) {
		struct b2bua_reinvite_prm p = {.hold = true, .media = media};

		return dialog_err(resp, b2bua_dialog_reinvite(api->prm.b2bua, idx, &p), action);
	}
	return dialog_err(resp, b2bua_dialog_downgrade(api->prm.b2bua, idx, media), action);
}

int api_cmd_dialog_set(struct api_ctx *ctx, json_t *resp)
{
	struct api *api = ctx->api;
	const char *sid = NULL, *action = NULL;
	uint32_t idx;

	if (b2bua_ready(api, resp) || api_get_str(ctx->msg, "session_id", true, &sid, resp) ||
	    api_get_str(ctx->msg, "action", true, &action, resp))
		return EINVAL;
	idx = dialog_index(api, sid);
	if (!idx)
		return api_error(resp, "Dialog not found");
	if (!strcmp(action, "stop")) {
		/* manual §6: code, reason, reason_protocol: the BYE's Reason */
		struct b2bua_stop_prm p = {0};
		uint64_t code = 0;
		int err;

		if (api_get_uint(ctx->msg, "code", 1, 65535, &code, resp) == EINVAL ||
		    api_get_str(ctx->msg, "reason", false, &p.reason, resp) == EINVAL ||
		    api_get_str(ctx->msg, "reason_protocol", false, &p.protocol, resp) == EINVAL)
			return EINVAL;
		p.code = (uint32_t)code;
		err = b2bua_dialog_stop_reason(api->prm.b2bua, idx, &p);
		if (err == EINVAL)
			return api_error(resp, "Fields reason, reason_protocol: a text of at "
					       "most 128 bytes, a token of at most 32");
		return dialog_err(resp, err, action);
	}
	if (!strcmp(action, "reinvite")) {
		struct b2bua_reinvite_prm p = {0};

		if (api_get_str(ctx->msg, "sdp_file", false, &p.sdp_file, resp) == EINVAL)
			return EINVAL;
		return dialog_err(resp, b2bua_dialog_reinvite(api->prm.b2bua, idx, &p), action);
	}
	if (!strcmp(action, "answer") || !strcmp(action, "media") ||
	    !strcmp(action, "downgrade") || !strcmp(action, "hold"))
		return dialog_set_args(api, ctx->msg, idx, action, resp);
	return api_error(resp, "Field action: stop, answer, hold, reinvite, downgrade or media "
			       "expected");
}

/* The callee of mt_call: impi, else impu, else contact. */
static int mt_callee(const json_t *m, const char **callee, json_t *resp)
{
	static const char *const f[] = {"impi", "impu", "contact"};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		int e = api_get_str(m, f[i], false, callee, resp);

		if (e != ENOENT)
			return e;
	}
	return api_error(resp, "Missing field: impi (or impu, contact)");
}

int api_cmd_mt_call(struct api_ctx *ctx, json_t *resp)
{
	struct api *api = ctx->api;
	struct b2bua_mt_prm p = {0};
	struct b2bua_cursor cur = {0};
	struct b2bua_dialog_info di;
	uint32_t idx = 0;
	uint16_t scode = 0;
	bool sos = false;
	double dur = 0;
	int e;

	if (b2bua_ready(api, resp) || mt_callee(ctx->msg, &p.callee, resp) ||
	    api_get_str(ctx->msg, "caller", false, &p.caller, resp) == EINVAL ||
	    api_get_num(ctx->msg, "duration", 0, 86400 * 7, &dur, resp) == EINVAL ||
	    api_get_bool(ctx->msg, "sos", &sos, resp) == EINVAL)
		return EINVAL;
	e = api_get_str(ctx->msg, "sdp_file", false, &p.sdp_file, resp);
	if (e == ENOENT)
		e = api_get_str(ctx->msg, "sip_file", false, &p.sdp_file, resp);
	if (e == EINVAL)
		return EINVAL;
	if (sos)
		return api_error(resp, "Field sos: no emergency registrations in imsd");
	p.duration_s = (uint32_t)dur;
	e = b2bua_mt_call(api->prm.b2bua, &p, &idx, &scode);
	switch (e) {
	case 0:
		break;
	case ENOENT:
		return api_error(resp, "No such user or contact: %s", p.callee);
	case ENOTCONN:
		return api_error(resp, "Not registered: %s", p.callee);
	case ENOSPC:
		return api_error(resp, "Too many calls");
	default:
		return scode ? api_error(resp, "Call not sent (%u)", scode)
			     : api_error(resp, "Cannot read the SDP file");
	}
	while (b2bua_dialog_next(api->prm.b2bua, &cur, &di)) {
		if (di.index == idx && di.type == B2BUA_MT)
			json_object_set_new(resp, "session_id", json_string(di.session_id));
	}
	return 0;
}

/* ---- the dialog event, users' dialogs ---- */

static void dialog_watch_h(uint32_t index, void *arg)
{
	struct api *api = arg;
	struct b2bua_cursor cur = {.next = index};
	struct b2bua_call_users cu;
	struct b2bua_dialog_info di;

	if (!b2bua_call_users(api->prm.b2bua, index, &cu)) {
		api_users_note(api, cu.orig);
		for (size_t i = 0; i < cu.ncallee; i++)
			api_users_note(api, cu.callee[i]);
	}
	if (!api_event_listened(api, API_EV_DIALOG))
		return;
	while (b2bua_dialog_next(api->prm.b2bua, &cur, &di) && di.index == index) {
		json_t *m = json_pack("{s:s, s:o*}", "message", "dialog", "dialog",
				      dialog_json(&di));

		if (m)
			api_event_send(api, API_EV_DIALOG, m);
		json_decref(m);
	}
}

void api_dialog_watch_start(struct api *api)
{
	if (api->prm.b2bua)
		b2bua_watch_set(api->prm.b2bua, dialog_watch_h, api);
}

void api_dialog_watch_stop(struct api *api)
{
	if (api->prm.b2bua)
		b2bua_watch_set(api->prm.b2bua, NULL, NULL);
}

struct user_dlg_arg {
	struct api *api;
	const struct hss_user *u;
	json_t *arr;
};

/* The other party of di for user u: its IMPI when it is one of our users,
 * else its IMPU (an echo IMPU, imsd's own mt_call). */
static void user_dialog_h(const struct b2bua_dialog_info *di, void *arg)
{
	struct user_dlg_arg *a = arg;
	struct b2bua_call_users cu = {0};
	const struct hss_user *r = NULL;
	const char *remote;

	(void)b2bua_call_users(a->api->prm.b2bua, di->index, &cu);
	if (di->type == B2BUA_MT)
		r = cu.orig;
	else if (cu.ncallee)
		r = cu.callee[0];
	remote = r ? hss_user_impi(r) : NULL;
	if (!remote)
		remote = di->type == B2BUA_MT ? di->from : di->to;
	json_array_append_new(a->arr,
			      json_pack("{s:s, s:s, s:s}", "remote", remote, "session_id",
					di->session_id, "state", b2bua_state_name(di->state)));
}

json_t *api_user_dialogs_json(struct api *api, const struct hss_user *u)
{
	struct user_dlg_arg a = {.api = api, .u = u, .arr = json_array()};
	struct b2bua_stats st;

	if (!a.arr || !api->prm.b2bua)
		return a.arr;
	b2bua_stats_get(api->prm.b2bua, &st);
	if (st.live + st.kept) /* it walks every call */
		(void)b2bua_user_dialogs(api->prm.b2bua, u, user_dialog_h, &a);
	return a.arr;
}
