/*
 * cscf internals shared by cscf.c (table, dispatch), cscf_orig.c
 * (originating side) and cscf_registrar.c. Not a public header.
 */
#ifndef CSCF_CSCF_INT_H
#define CSCF_CSCF_INT_H

#include "cscf/cscf.h"

/* callflow_modifier on a received request (cscf_cfm.c): true when a
 * modifier answered it (its service must not see it). */
struct cscf_req;
bool cscf_cfm_request(struct cscf *c, const struct cscf_req *r);
/* The answers held for their send_delay, freed unsent (cscf_destroy). */
void cscf_cfm_held_free_all(struct cscf *c);
struct cscf_cfm_held;

struct cscf {
	struct sip_stack *stack; /* borrowed, NULL in unit tests */
	struct hss *hss;	 /* borrowed */
	struct registrar *reg;	 /* borrowed, may be NULL */
	cscf_reply_h *reply;
	void *reply_arg;
	struct cscf_service svc[CSCF_SERVICES_MAX];
	size_t nsvc;
	struct cscf_stats stats;
	struct cscf_cfm_held *cfm_held; /* owned: answers held (cscf_cfm.c) */
};

#endif
