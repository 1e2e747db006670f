/*
 * Fuzz target: the CSCF stage with the registrar behind it, as imsd wires
 * them. The input is one or more SIP requests separated by NUL bytes; each
 * is decoded and dispatched by cscf_dispatch from one of two flows (the
 * CSeq's parity picks the source port), so that registrations made from
 * one flow meet requests from the other. Besides the registrar's REGISTER
 * and reg SUBSCRIBE, a MESSAGE service asking for an originating user takes
 * the Route set, P-Preferred-Identity and asserted identity paths, and so
 * does an INVITE service (as the b2bua's) for a new call.
 * The users have callflow modifiers (cscf_cfm.c) on every filter.
 * Invariants: no crash or leak; every request gets exactly one final
 * answer (the stage's own, a modifier's or the service's); an asserted
 * identity is set exactly when a sender was identified.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "cscf/cscf.h"
#include "registrar/registrar.h"
#include "sip/sip_hdr.h"
#include "../registrar/fuzz_reg_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Callflow modifiers (docs/callflow_modifier.md) on the users, with every
 * filter and the request steps the stage answers (REGISTER, REGISTER.SOS,
 * SUBSCRIBE, MESSAGE, INVITE with a final or a provisional code), at user
 * and IMPU level; send_delay answers at once here (no stack to hold the
 * transaction with). They filter on an IMEI or a P-Access-Network-Info, so
 * the plain corpus flows are unchanged. */
static const char cfg_text[] =
    "{\"sip_addr\": \"127.0.0.1\", \"domain\": \"ims.test\", \"ue_db\": ["
    "{\"imsi\": \"001010000000003\", \"impi\": \"dave@ims.test\", \"authent_type\":"
    " \"none\", \"impu\": [\"sip:dave\", {\"impu\": \"tel:+334\", \"asserted\": true}],"
    " \"callflow_modifier\": ["
    " {\"method\": \"REGISTER\", \"imei\": \"35000000000009\", \"code\": 403, \"log\": \"b\","
    "  \"custom_headers\": [{\"name\": \"Warning\", \"value\": \"399 ims.test \\\"b\\\"\"}]},"
    " {\"method\": \"REGISTER.SOS\", \"code\": 380, \"tts\": 1},"
    " {\"method\": \"MESSAGE\", \"dir\": \"rx\", \"access_network\": \"lte,nr\", \"code\": 202, \"log\": \"m\","
    "  \"ttl\": 3},"
    " {\"method\": \"SUBSCRIBE\", \"access_network\": \"n3gpp\", \"code\": 489, \"log\": \"s\","
    "  \"send_delay\": 0.5, \"custom_headers\": [{\"name\": \"Allow-Events\"}]},"
    " {\"method\": \"INVITE\", \"dir\": \"rx\", \"access_network\": \"lte\", \"impu\": \"sip:erin\","
    "  \"code\": 486, \"log\": \"i486\"},"
    " {\"method\": \"INVITE\", \"dir\": \"rx\", \"access_network\": \"nr\", \"code\": 183, \"log\": \"i183\"},"
    " {\"method\": \"INVITE\", \"dir\": \"tx\", \"imei\": \"35000000000002\", \"code\": 480, \"log\": \"i480\"}]},"
    "{\"imsi\": \"001010000000004\", \"impi\": \"erin@ims.test\", \"authent_type\":"
    " \"none\", \"impu\": [\"sip:erin\"], \"callflow_modifier\": ["
    " {\"method\": \"MESSAGE\", \"imei\": \"35000000000001\", \"code\": 480, \"ttl\": 2},"
    " {\"access_network\": \"n3gpp\", \"code\": 503, \"log\": \"any\"}]},"
    "{\"imsi\": \"001010000000005\", \"sim_algo\": \"xor\", \"multi_sim\": true,"
    " \"K\": \"00112233445566778899aabbccddeeff\","
    " \"impu\": [{\"impu\": \"sip:sim\", \"imei\": \"35000000000001\", \"callflow_modifier\":"
    " {\"method\": \"REGISTER\", \"access_network\": \"lte\", \"code\": 403}}]},"
    "{\"imsi\": \"001010000000005\", \"sim_algo\": \"xor\", \"multi_sim\": true,"
    " \"K\": \"00112233445566778899aabbccddeeff\","
    " \"impu\": [{\"impu\": \"sip:sim\", \"imei\": \"35000000000002\"}]}"
    "]}";

static struct ims_cfg *cfg;
static struct hss *hss;
static unsigned answers;

static int fz_reply(struct sip_tsx *tsx, uint16_t scode, const char *reason,
		    const struct sip_tsx_reply_prm *prm, void *arg)
{
	(void)tsx;
	(void)reason;
	(void)prm;
	(void)arg;
	assert(scode >= 100 && scode < 700);
	if (scode >= 200) /* a modifier's provisional goes before the final */
		answers++;
	return 0;
}

static int fz_stage_reply(struct sip_stack *stack, struct sip_tsx *tsx, uint16_t scode,
			  const char *reason, const struct sip_tsx_reply_prm *prm, void *arg)
{
	(void)stack;
	return fz_reply(tsx, scode, reason, prm, arg);
}

static void fz_message_h(const struct cscf_req *r, void *arg)
{
	(void)arg;
	assert(r->in_dialog || r->orig);
	assert((r->orig != NULL) == (r->asserted[0] != '\0'));
	assert(!r->route_next.l || (r->route_next.p >= r->req->raw.p &&
				    r->route_next.p + r->route_next.l <=
					r->req->raw.p + r->req->raw.l));
	answers++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct registrar_ops ops = {
	    .reply = fz_reply, .request = fz_request, .now_ms = fz_now};
	struct registrar_prm prm = {.ops = &ops, .host = "127.0.0.1:5060"};
	struct cscf_service msg = {.name = "message",
				   .meth = SIP_METHOD_MESSAGE,
				   .target = CSCF_TARGET_USER,
				   .orig = true,
				   .h = fz_message_h};
	/* as the b2bua takes calls: callflow modifiers on a new INVITE */
	struct cscf_service inv = {.name = "invite",
				   .meth = SIP_METHOD_INVITE,
				   .target = CSCF_TARGET_USER,
				   .orig = true,
				   .h = fz_message_h};
	struct sip_decode_prm dp = {.max_size = 65535};
	struct cscf_prm cp = {.reply = fz_stage_reply};
	struct registrar *reg = NULL;
	struct cscf *cscf = NULL;
	struct net_flow src[2];
	size_t off = 0;

	if (!cfg)
		fz_reg_setup(cfg_text, &cfg, &hss);
	prm.cfg = cfg;
	prm.hss = hss;
	fz_clock = 1000000;
	if (registrar_alloc(&reg, &prm))
		return 0;
	cp.hss = hss;
	cp.reg = reg;
	if (cscf_alloc(&cscf, &cp) || cscf_registrar_add(cscf, reg) ||
	    cscf_service_add(cscf, &msg) || cscf_service_add(cscf, &inv))
		abort();
	memset(src, 0, sizeof(src));
	net_addr_parse_str(&src[0].peer, "127.0.0.1", 5070);
	net_addr_parse_str(&src[1].peer, "127.0.0.1", 5071);
	while (off < size) {
		const uint8_t *end = memchr(data + off, 0, size - off);
		size_t len = end ? (size_t)(end - (data + off)) : size - off;
		struct sip_msg *m = NULL;

		if (!sip_msg_decode_copy(&m, data + off, len, &dp) && m->req &&
		    m->meth != SIP_METHOD_ACK && m->meth != SIP_METHOD_CANCEL) {
			const struct sip_cseq *cs = sip_msg_cseq(m);
			unsigned before = answers;

			cscf_dispatch(cscf, NULL, NULL, m, &src[cs ? cs->num & 1 : 0]);
			assert(answers == before + 1);
			fz_failures_tell();
		}
		mem_deref(m);
		off += len + 1;
		fz_clock += 1500;
		registrar_expire_run(reg);
	}
	mem_deref(cscf);
	mem_deref(reg);
	return 0;
}
