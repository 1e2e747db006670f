/*
 * cscf_registrar — the registrar's entries in the CSCF stage's table:
 * REGISTER (any Request-URI: it names the home domain, TS 24.229
 * §5.1.1.2.1) and SUBSCRIBE for the reg event package (RFC 3680), whose
 * Request-URI is the watched IMPU and whose sender must be a registered UE
 * (the registrar then checks it watches itself, RFC 3680 §6).
 */
#include "cscf/cscf_int.h"
#include "registrar/registrar.h"

static void cscf_register_h(const struct cscf_req *r, void *arg)
{
	registrar_register_h(r->stack, r->tsx, r->req, r->flow, arg);
}

static void cscf_reg_subscribe_h(const struct cscf_req *r, void *arg)
{
	registrar_subscribe(arg, r->tsx, r->req, r->flow, r->orig);
}

int cscf_registrar_add(struct cscf *c, struct registrar *reg)
{
	const struct cscf_service svc[] = {
	    {.name = "registrar",
	     .meth = SIP_METHOD_REGISTER,
	     .target = CSCF_TARGET_ANY,
	     .h = cscf_register_h,
	     .arg = reg},
	    {.name = "reg-event",
	     .meth = SIP_METHOD_SUBSCRIBE,
	     .event = "reg",
	     .target = CSCF_TARGET_USER,
	     .orig = true,
	     .h = cscf_reg_subscribe_h,
	     .arg = reg},
	};
	int err = 0;

	for (size_t i = 0; i < sizeof(svc) / sizeof(svc[0]) && !err; i++)
		err = cscf_service_add(c, &svc[i]);
	return err;
}
