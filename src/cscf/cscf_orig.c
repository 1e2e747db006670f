/*
 * cscf_orig — the originating side of the CSCF stage (cscf.h):
 *
 *   who sent it   TS 24.229 §5.2.6.3.1: the P-CSCF serves a request from a
 *                 UE on the flow it registered over; the registrar's flow
 *                 index (registrar_users_by_flow) names the user(s). The
 *                 From header is the UE's word and is not trusted.
 *   identity      TS 24.229 §5.2.6.3.1 and RFC 3325 §9.2: a
 *                 P-Preferred-Identity naming one of that user's IMPUs is
 *                 asserted; otherwise the user's default (manual §5.2.1
 *                 `asserted`, else its first IMPU).
 *   Route         RFC 3261 §16.4, TS 24.229 §5.4.3.2: our own entries (the
 *                 P-CSCF's, the Service-Route "orig" one we handed out at
 *                 registration) are consumed; the first other entry is
 *                 where a forwarding service would send the request.
 */
#include <string.h>

#include "cscf/cscf_int.h"
#include "registrar/registrar.h"
#include "sip/sip_hdr.h"
#include "sip/sip_uri.h"

/* The Route set: ours consumed, the first foreign entry kept. */
static void route_scan(const struct cscf *c, const struct sip_msg *req, struct cscf_req *r)
{
	struct sip_stack *stack = c->stack;

	for (const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_ROUTE); h;
	     h = sip_msg_hdr_next(req, h)) {
		struct sip_addr a;
		struct sip_uri u;

		if (sip_addr_decode(&a, h->val) || sip_uri_decode(&u, a.uri) ||
		    !sip_stack_host_is_local(stack, u.host, u.port)) {
			r->route_next = h->val;
			return;
		}
		if (pl_eq_str(u.user, "orig"))
			r->orig_route = true;
	}
}

/* Which of users (all registered over the request's flow) the
 * identity uri names, and as which IMPU. */
static bool user_of_uri(const struct cscf *c, struct pl uri, struct hss_user *const *users,
			size_t n, struct hss_user **up, uint32_t *impu)
{
	struct hss_impu_match m[CSCF_TERM_MAX];
	size_t nm = hss_users_by_impu(c->hss, uri, m, CSCF_TERM_MAX);

	if (nm > CSCF_TERM_MAX)
		nm = CSCF_TERM_MAX;
	for (size_t i = 0; i < nm; i++) {
		for (size_t k = 0; k < n; k++) {
			if (m[i].user == users[k]) {
				*up = users[k];
				*impu = m[i].impu;
				return true;
			}
		}
	}
	return false;
}

/* The identity in the first header id among h's values that names one of
 * users. */
static bool user_of_hdr(const struct cscf *c, const struct sip_msg *req,
			enum sip_hdr_id id, struct hss_user *const *users, size_t n,
			struct hss_user **up, uint32_t *impu)
{
	for (const struct sip_hdr *h = sip_msg_hdr(req, id); h; h = sip_msg_hdr_next(req, h)) {
		struct sip_addr a;

		if (!sip_addr_decode(&a, h->val) && user_of_uri(c, a.uri, users, n, up, impu))
			return true;
	}
	return false;
}

void cscf_orig_identify(const struct cscf *c, const struct sip_msg *req,
			const struct net_flow *flow, struct cscf_req *r, char *abuf)
{
	struct hss_user *users[CSCF_TERM_MAX];
	struct hss_user *u = NULL;
	uint32_t impu = HSS_IMPU_NONE;
	bool preferred;
	size_t n;

	r->orig = NULL;
	r->orig_impu = HSS_IMPU_NONE;
	r->asserted = "";
	abuf[0] = '\0';
	route_scan(c, req, r);
	n = registrar_users_by_flow(c->reg, flow, users, CSCF_TERM_MAX);
	if (!n)
		return;
	if (n > CSCF_TERM_MAX)
		n = CSCF_TERM_MAX;
	preferred = user_of_hdr(c, req, SIP_HDR_P_PREFERRED_IDENTITY, users, n, &u, &impu);
	/* Several users registered over one flow (a UE with two ISIMs
	 * behind one port): the one its From names, else the first. */
	if (!preferred && !(n > 1 && user_of_hdr(c, req, SIP_HDR_FROM, users, n, &u, &impu)))
		u = users[0];
	if (!preferred)
		impu = hss_user_asserted(u);
	r->orig = u;
	r->orig_impu = impu;
	if (impu != HSS_IMPU_NONE && !hss_impu_uri(c->hss, u, impu, abuf, HSS_URI_MAX))
		r->asserted = abuf;
}
