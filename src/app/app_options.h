/*
 * app/app_options — the OPTIONS responder (RFC 3261 §11): answers an OPTIONS
 * addressed to the server with 200 and what the server handles (Allow),
 * takes (Accept, Accept-Encoding, Accept-Language) and supports
 * (Supported). Health checks, load balancers and peers use it as a ping.
 *
 * Addressed to the server: a Request-URI without a user part (sip:ims.test,
 * sip:192.0.2.1:5060), or whose host is one of our sip_addr addresses
 * (sip:ping@192.0.2.1). Anything else (sip:alice@ims.test, tel:...) names a
 * user: 404 until the CSCF routes requests to UEs. docs/sip-stack.md.
 */
#ifndef APP_APP_OPTIONS_H
#define APP_APP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "cscf/cscf.h"
#include "sip/sip_stack.h"

struct app_options;

struct app_options_prm {
	bool ipsec;		   /* Supported: sec-agree (RFC 3329) */
	bool rel100;		   /* Supported: 100rel (RFC 3262, the calls) */
	bool precondition;	   /* Supported: precondition (RFC 3312) */
	bool timer;		   /* Supported: timer (RFC 4028) */
	const char *const *accept; /* body types the services take */
	size_t accept_count;
};

/* Adds the OPTIONS service to the CSCF stage (stack and cscf borrowed;
 * the stage must be freed before the responder: it holds it as its arg). */
int app_options_alloc(struct app_options **op, struct sip_stack *stack, struct cscf *cscf,
		      const struct app_options_prm *prm);
/* Frees. */
void app_options_free(struct app_options *o);

#endif
