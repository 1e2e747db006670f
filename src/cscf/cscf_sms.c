/*
 * cscf_sms — the SMS service's entry in the CSCF stage's table (TS 24.341
 * §5.3.1: SMS over IP travels in MESSAGE). Any Request-URI: a phone
 * addresses its MO SMS to the SC (its PSI or number, TS 24.341 §5.3.1.2),
 * not to the destination, which is inside the TPDU. The sender must be a
 * registered UE (originating side): the stage answers 403 otherwise.
 */
#include "cscf/cscf_int.h"
#include "smsc/smsc.h"

static void cscf_message_h(const struct cscf_req *r, void *arg)
{
	const struct smsc_req sr = {
	    .stack = r->stack,
	    .tsx = r->tsx,
	    .req = r->req,
	    .flow = r->flow,
	    .orig = r->orig,
	    .orig_impu = r->orig_impu,
	};

	smsc_message(arg, &sr);
}

int cscf_sms_add(struct cscf *c, struct smsc *s)
{
	const struct cscf_service svc = {
	    .name = "sms",
	    .meth = SIP_METHOD_MESSAGE,
	    .target = CSCF_TARGET_ANY,
	    .orig = true,
	    .h = cscf_message_h,
	    .arg = s,
	};

	return cscf_service_add(c, &svc);
}
