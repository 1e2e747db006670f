/*
 * api_cmd_sms — the `sms` and `sms_flush` messages (manual §6.6) and the
 * `sms` event (§6.7), over the SMS service (src/smsc/smsc.h).
 *
 * sms: the destination by impi, else impu (the IMPU it names becomes the
 * SMS's To); `text` (split and encoded by smsc_send: GSM 7-bit or UCS2),
 * else `binary` (base64) or `binary_hex`, the TP-UD as given, with tp_udl,
 * tp_udhi_present, pid, dcs (default 4), sender and validity. TS 23.040
 * §9.2.3.16: a 7-bit dcs counts tp_udl in septets, else in octets.
 * sms_flush: smsc_flush, the answer says how many are pending.
 * The event: the service's "SMS received" hook (smsc_hook_set) sends it to
 * every client registered for `sms`; with sms_hook_only, an SMS is taken
 * (not relayed) only when at least one client got it, as the manual says.
 */
#include "api/api_int.h"

#include <errno.h>
#include <string.h>

#include "auth/auth_codec.h"
#include "core/pl.h"
#include "hss/hss.h"
#include "sms/sms_tpdu.h"
#include "smsc/smsc.h"

/* ---- parsing (no side effect; unit-tested) ---- */

static int sms_ud_parse(const json_t *m, struct api_sms_req *r, json_t *resp)
{
	const char *b64 = NULL, *hex = NULL;
	int e1 = api_get_str(m, "binary", false, &b64, resp);
	int e2 = api_get_str(m, "binary_hex", false, &hex, resp);
	size_t n = 0;

	if ((e1 && e1 != ENOENT) || (e2 && e2 != ENOENT))
		return EINVAL;
	if (!b64 && !hex)
		return api_error(resp, "Missing field: text (or binary, binary_hex)");
	if (b64 && auth_b64_decode(b64, strlen(b64), r->ud, sizeof(r->ud), &n))
		return api_error(resp, "Field binary: base64 of at most %u octets expected",
				 SMS_UD_OCTETS_MAX);
	if (!b64 && auth_hex_decode(hex, strlen(hex), r->ud, sizeof(r->ud), &n))
		return api_error(resp,
				 "Field binary_hex: hexadecimal of at most %u octets expected",
				 SMS_UD_OCTETS_MAX);
	r->prm.ud = r->ud;
	r->prm.ud_len = n;
	return 0;
}

/* pid, dcs, tp_udl, tp_udhi_present, validity, sender, sos. */
static int sms_opts_parse(const json_t *m, struct api_sms_req *r, json_t *resp)
{
	uint64_t v;
	bool b = false;
	int e;

	if ((e = api_get_uint(m, "pid", 0, 255, &v, resp)) == EINVAL)
		return e;
	r->prm.pid = e ? 0 : (uint8_t)v;
	if ((e = api_get_uint(m, "dcs", 0, 255, &v, resp)) == EINVAL)
		return e;
	/* manual: default 4 (8-bit data) for binary; text chooses its own */
	r->prm.dcs = e ? (r->prm.text ? -1 : 4) : (int)v;
	if ((e = api_get_uint(m, "tp_udl", 0, SMS_UD_SEPTETS_MAX, &v, resp)) == EINVAL)
		return e;
	r->prm.tp_udl = e ? -1 : (int)v;
	if ((e = api_get_bool(m, "tp_udhi_present", &b, resp)) == EINVAL)
		return e;
	r->prm.udhi = !e && b;
	if ((e = api_get_uint(m, "validity", 1, 63 * 7 * 86400, &v, resp)) == EINVAL)
		return e;
	r->prm.validity = e ? 86400 : (uint32_t)v;
	if ((e = api_get_str(m, "sender", false, &r->prm.sender, resp)) == EINVAL)
		return e;
	if (r->prm.sender && (!r->prm.sender[0] || strlen(r->prm.sender) > 20))
		return api_error(resp, "Field sender: 1 to 20 characters expected");
	b = false;
	if ((e = api_get_bool(m, "sos", &b, resp)) == EINVAL)
		return e;
	if (b) /* imsd has no emergency registrations (TS 23.167) to reach */
		return api_error(resp, "Field sos: emergency registration is not supported");
	return 0;
}

int api_sms_parse(const json_t *m, struct api_sms_req *r, json_t *resp)
{
	int e;

	memset(r, 0, sizeof(*r));
	r->prm.tp_udl = -1;
	r->prm.dcs = -1;
	if (api_get_str(m, "impi", false, &r->impi, resp) == EINVAL ||
	    api_get_str(m, "impu", false, &r->impu, resp) == EINVAL)
		return EINVAL;
	if (!r->impi && !r->impu)
		return api_error(resp, "Missing field: impi (or impu)");
	if ((e = api_get_str(m, "text", false, &r->prm.text, resp)) == EINVAL)
		return e;
	if (!r->prm.text && sms_ud_parse(m, r, resp))
		return EINVAL;
	if (r->prm.text && !api_utf8_valid((const uint8_t *)r->prm.text, strlen(r->prm.text)))
		return api_error(resp, "Field text: not valid UTF-8");
	return sms_opts_parse(m, r, resp);
}

/* ---- handlers ---- */

static struct hss_user *sms_user(struct api *api, const struct api_sms_req *r,
				 uint32_t *impu, json_t *resp)
{
	struct hss_user *u = NULL;

	*impu = HSS_IMPU_NONE;
	if (r->impi)
		u = hss_user_by_impi(api->prm.hss, pl_from_str(r->impi));
	else
		u = hss_user_by_impu(api->prm.hss, pl_from_str(r->impu), impu);
	if (!u)
		api_error(resp, "Unknown user: %.128s", r->impi ? r->impi : r->impu);
	return u;
}

static int sms_ready(const struct api *api, json_t *resp)
{
	if (api->prm.sms && api->prm.hss)
		return 0;
	return api_error(resp, "The SMS service is not running");
}

int api_cmd_sms(struct api_ctx *ctx, json_t *resp)
{
	struct api *api = ctx->api;
	struct api_sms_req r;
	struct hss_user *u;
	unsigned parts = 0;
	uint32_t impu;
	int err;

	if (sms_ready(api, resp) || api_sms_parse(ctx->msg, &r, resp))
		return EINVAL;
	u = sms_user(api, &r, &impu, resp);
	if (!u)
		return EINVAL;
	err = smsc_send(api->prm.sms, u, impu, &r.prm, &parts);
	switch (err) {
	case 0:
		break;
	case ENOSPC:
		return api_error(resp, "SMS not queued: too many pending SMS for this user");
	case E2BIG:
		return api_error(resp, "SMS not queued: %s too long",
				 r.prm.text ? "text" : "binary data");
	case EILSEQ:
		return api_error(resp, "Field text: not valid UTF-8");
	case EINVAL:
		return api_error(resp, "Field tp_udl: does not match the binary data");
	case ENOENT: /* the service's table could not grow to the user */
		return api_error(resp, "SMS not queued: no SMS queue for this user (out of memory)");
	default:
		return api_error(resp, "SMS not queued: %s", strerror(err));
	}
	json_object_set_new(resp, "parts", json_integer(parts));
	json_object_set_new(resp, "pending", json_integer(smsc_pending_count(api->prm.sms, u)));
	return 0;
}

int api_cmd_sms_flush(struct api_ctx *ctx, json_t *resp)
{
	struct api *api = ctx->api;
	struct api_sms_req r = {0};
	struct hss_user *u;
	uint32_t impu, n = 0;

	if (sms_ready(api, resp) || api_get_str(ctx->msg, "impi", true, &r.impi, resp))
		return EINVAL;
	u = sms_user(api, &r, &impu, resp);
	if (!u)
		return EINVAL;
	(void)smsc_flush(api->prm.sms, u, &n); /* ENOENT: nothing pending, n = 0 */
	json_object_set_new(resp, "pending", json_integer(n));
	return 0;
}

/* ---- the sms event ---- */

static bool sms_hook(const struct smsc_event *ev, void *arg)
{
	struct api *api = arg;
	char b64[AUTH_B64_SIZE(SMS_UD_OCTETS_MAX)];
	bool any = false;
	json_t *msg;

	for (const struct api_conn *c = api->conns; c && !any; c = c->next)
		any = !c->dead && c->authed && (c->events & API_EV_SMS);
	if (!any)
		return false; /* processed here, even with sms_hook_only */
	msg = json_object();
	if (!msg)
		return false;
	json_object_set_new(msg, "message", json_string("sms"));
	json_object_set_new(msg, "sender", json_string(ev->sender ? ev->sender : ""));
	json_object_set_new(msg, "destination",
			    json_string(ev->destination ? ev->destination : ""));
	if (ev->text) {
		json_object_set_new(msg, "text", json_string(ev->text));
	} else {
		size_t n = ev->binary_len <= SMS_UD_OCTETS_MAX ? ev->binary_len : 0;

		auth_b64_encode(ev->binary, n, b64);
		json_object_set_new(msg, "binary", json_stringn(b64, AUTH_B64_SIZE(n) - 1));
	}
	json_object_set_new(msg, "dcs", json_integer(ev->dcs));
	json_object_set_new(msg, "date", json_integer(ev->date));
	api_event_send(api, API_EV_SMS, msg);
	json_decref(msg);
	return true;
}

/* A user's pending SMS changed: users_update (its "sms" count). */
static void sms_change_h(const struct hss_user *u, void *arg)
{
	api_users_note(arg, u);
}

void api_sms_hook_start(struct api *api)
{
	if (!api->prm.sms)
		return;
	smsc_hook_set(api->prm.sms, sms_hook, api);
	smsc_watch_set(api->prm.sms, sms_change_h, api);
}

void api_sms_hook_stop(struct api *api)
{
	if (!api->prm.sms)
		return;
	smsc_hook_set(api->prm.sms, NULL, NULL);
	smsc_watch_set(api->prm.sms, NULL, NULL);
}
