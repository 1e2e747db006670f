/*
 * cscf_orig — the originating side of the CSCF stage (cscf.h):
 *
 *   who sent it   TS 24.229 §5.2.6.3.1: the P-CSCF serves a request from a
 *                 UE on the flow it registered over. The request names its
 *                 sender (P-Preferred-Identity, else From); the name is
 *                 believed only when that user holds a live binding made
 *                 over the request's flow (registrar_user_on_flow): From
 *                 alone proves nothing.
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

/* The user (and IMPU) uri names that is registered over flow. */
static bool user_of_uri(const struct cscf *c, struct pl uri, const struct net_flow *flow,
			struct hss_user **up, uint32_t *impu)
{
	struct hss_impu_match m[CSCF_TERM_MAX];
	size_t nm = hss_users_by_impu(c->hss, uri, m, CSCF_TERM_MAX);

	if (nm > CSCF_TERM_MAX)
		nm = CSCF_TERM_MAX;
	for (size_t i = 0; i < nm; i++) {
		if (registrar_user_on_flow(c->reg, m[i].user, flow)) {
			*up = m[i].user;
			*impu = m[i].impu;
			return true;
		}
	}
	return false;
}

/* The first value of header id that names a user registered over flow. */
static bool user_of_hdr(const struct cscf *c, const struct sip_msg *req,
			enum sip_hdr_id id, const struct net_flow *flow, struct hss_user **up,
			uint32_t *impu)
{
	for (const struct sip_hdr *h = sip_msg_hdr(req, id); h; h = sip_msg_hdr_next(req, h)) {
		struct sip_addr a;

		if (!sip_addr_decode(&a, h->val) && user_of_uri(c, a.uri, flow, up, impu))
			return true;
	}
	return false;
}

void cscf_orig_identify(const struct cscf *c, const struct sip_msg *req,
			const struct net_flow *flow, struct cscf_req *r, char *abuf)
{
	struct hss_user *u = NULL;
	uint32_t impu = HSS_IMPU_NONE;

	r->orig = NULL;
	r->orig_impu = HSS_IMPU_NONE;
	r->asserted = "";
	abuf[0] = '\0';
	route_scan(c, req, r);
	if (!c->reg || !flow)
		return;
	/* a P-Preferred-Identity of the sender's own is asserted as it is;
	 * else the user From names, with its default identity */
	if (!user_of_hdr(c, req, SIP_HDR_P_PREFERRED_IDENTITY, flow, &u, &impu)) {
		if (!user_of_hdr(c, req, SIP_HDR_FROM, flow, &u, &impu))
			return;
		impu = hss_user_asserted(u);
	}
	r->orig = u;
	r->orig_impu = impu;
	if (impu != HSS_IMPU_NONE && !hss_impu_uri(c->hss, u, impu, abuf, HSS_URI_MAX))
		r->asserted = abuf;
}
