/* app/app_options — the OPTIONS responder; see app_options.h. */
#include "app/app_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_uri.h"

#define APP_OPTIONS_HDRS_MAX 1024

struct app_options {
	struct sip_stack *stack;	  /* borrowed */
	char fixed[APP_OPTIONS_HDRS_MAX]; /* the header lines that never change */
	size_t fixed_len;
};

/* RFC 3261 §8.2.2.1: a UAS answers for the addresses it accepts requests
 * for; a user at another place is not ours to answer for. */
static bool options_for_us(const struct app_options *o, const struct sip_msg *req)
{
	struct sip_uri uri;

	if (sip_uri_decode(&uri, req->ruri))
		return false;
	if (uri.scheme != SIP_URI_SIP && uri.scheme != SIP_URI_SIPS)
		return false;
	if (!uri.user.l)
		return true;
	return sip_stack_host_is_local(o->stack, uri.host, uri.port);
}

static void options_h(const struct cscf_req *r, void *arg)
{
	struct sip_stack *stack = r->stack;
	struct sip_tsx *tsx = r->tsx;
	const struct sip_msg *req = r->req;
	struct app_options *o = arg;
	struct sip_tsx_reply_prm rp = {0};
	char hdrs[APP_OPTIONS_HDRS_MAX + SIP_STACK_ALLOW_HDR_MAX];
	const char *allow;
	size_t al;

	if (!options_for_us(o, req)) {
		sip_stack_reply(stack, tsx, 404, "Not Found", NULL);
		return;
	}
	/* Allow is read per request: services register after this one
	 * (copied, not printed: this runs for every OPTIONS). */
	allow = sip_stack_allow(stack);
	al = strlen(allow);
	if (7 + al + 2 + o->fixed_len > sizeof(hdrs)) {
		sip_stack_reply(stack, tsx, 500, "Server Internal Error", NULL);
		return;
	}
	/* a header block with its length (a pl), not a C string */
	memcpy(hdrs, "Allow: ", 7);	 // NOLINT(bugprone-not-null-terminated-result)
	memcpy(hdrs + 7, allow, al);
	memcpy(hdrs + 7 + al, "\r\n", 2); // NOLINT(bugprone-not-null-terminated-result)
	memcpy(hdrs + 9 + al, o->fixed, o->fixed_len);
	rp.hdrs = (struct pl){hdrs, 9 + al + o->fixed_len};
	sip_stack_reply(stack, tsx, 200, "OK", &rp);
}

static int options_fixed_build(struct app_options *o, const struct app_options_prm *prm)
{
	size_t n = 0;
	int w;

	w = snprintf(o->fixed, sizeof(o->fixed), "Accept: ");
	n += (size_t)w;
	for (size_t i = 0; i < prm->accept_count; i++) {
		w = snprintf(o->fixed + n, sizeof(o->fixed) - n, "%s%s", i ? ", " : "",
			     prm->accept[i]);
		if (w < 0 || (size_t)w >= sizeof(o->fixed) - n)
			return ENOSPC;
		n += (size_t)w;
	}
	/* No content coding and no languages are handled: identity, en. The
	 * option tags are the ones the server acts on: path (RFC 3327, the
	 * registrar's Path handling), 100rel and precondition (RFC 3262, RFC
	 * 3312: the calls, when the global setting has them on), timer (RFC
	 * 4028: the calls, with the global session_expires on) and sec-agree
	 * (RFC 3329) with IPsec. */
	w = snprintf(o->fixed + n, sizeof(o->fixed) - n,
		     "\r\nAccept-Encoding: identity\r\nAccept-Language: en\r\n"
		     "Supported: path%s%s%s%s\r\n",
		     prm->rel100 ? ", 100rel" : "", prm->precondition ? ", precondition" : "",
		     prm->timer ? ", timer" : "", prm->ipsec ? ", sec-agree" : "");
	if (w < 0 || (size_t)w >= sizeof(o->fixed) - n)
		return ENOSPC;
	o->fixed_len = n + (size_t)w;
	return 0;
}

int app_options_alloc(struct app_options **op, struct sip_stack *stack, struct cscf *cscf,
		      const struct app_options_prm *prm)
{
	struct cscf_service svc = {.name = "options",
				   .meth = SIP_METHOD_OPTIONS,
				   .target = CSCF_TARGET_ANY,
				   .h = options_h};
	struct app_options *o;
	int err;

	if (!op || !stack || !cscf || !prm || (prm->accept_count && !prm->accept))
		return EINVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return ENOMEM;
	o->stack = stack;
	err = options_fixed_build(o, prm);
	svc.arg = o;
	err = err ? err : cscf_service_add(cscf, &svc);
	if (err) {
		free(o);
		return err;
	}
	*op = o;
	return 0;
}

void app_options_free(struct app_options *o)
{
	free(o);
}
