/*
 * cscf_b2bua — the call service's entries in the CSCF stage's table
 * (docs/calls.md): INVITE from a registered UE (orig: 403 otherwise, the
 * stage's answer; any Request-URI, since the b2bua itself tells an echo
 * IMPU, an unknown one (404) and an unregistered one (480) apart), and BYE,
 * UPDATE, INFO and PRACK (RFC 3262), which reach the stage only when no
 * dialog took them (RFC 3261 §12.2.2: 481).
 */
#include "b2bua/b2bua.h"
#include "cscf/cscf_int.h"

static void cscf_invite_h(const struct cscf_req *r, void *arg)
{
	struct b2bua_invite inv = {
	    .tsx = r->tsx,
	    .req = r->req,
	    .flow = r->flow,
	    .orig = r->orig,
	    .orig_impu = r->orig_impu,
	    .asserted = r->asserted,
	    .in_dialog = r->in_dialog,
	};

	b2bua_invite(arg, &inv);
}

static void cscf_no_dialog_h(const struct cscf_req *r, void *arg)
{
	b2bua_no_dialog(arg, r->tsx, r->req);
}

int cscf_b2bua_add(struct cscf *c, struct b2bua *b)
{
	const struct cscf_service svc[] = {
	    {.name = "call",
	     .meth = SIP_METHOD_INVITE,
	     .orig = true,
	     .h = cscf_invite_h,
	     .arg = b},
	    {.name = "call-bye", .meth = SIP_METHOD_BYE, .h = cscf_no_dialog_h, .arg = b},
	    {.name = "call-update",
	     .meth = SIP_METHOD_UPDATE,
	     .h = cscf_no_dialog_h,
	     .arg = b},
	    {.name = "call-info",
	     .meth = SIP_METHOD_INFO,
	     .h = cscf_no_dialog_h,
	     .arg = b},
	    {.name = "call-prack",
	     .meth = SIP_METHOD_PRACK,
	     .h = cscf_no_dialog_h,
	     .arg = b},
	};
	int err = 0;

	for (size_t i = 0; i < sizeof(svc) / sizeof(svc[0]) && !err; i++)
		err = cscf_service_add(c, &svc[i]);
	return err;
}
