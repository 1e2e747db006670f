/*
 * Fuzz target: the registrar's request handlers on outside input. The input
 * is one or more SIP requests separated by NUL bytes; each is decoded and
 * given to the REGISTER or SUBSCRIBE handler (by its method), then the
 * clock jumps and the expiry heap runs. Exercises the Contact/Expires/
 * Authorization/Event handling, user identification, challenges (AKA and
 * MD5), nonce checks, auts decoding, bindings, reginfo and NOTIFY building.
 * A request with an odd CSeq makes the NOTIFYs it causes fail at once
 * (told to the registrar after its call, as the stack does: fz_fail).
 * Invariants: no crash or leak; every request gets exactly one answer;
 * after the final expiry run nothing is left registered.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/ims_cfg.h"
#include "core/log.h"
#include "core/mem.h"
#include "hss/hss.h"
#include "loop/loop.h"
#include "registrar/registrar.h"
#include "sip/sip_build.h"
#include "sip/sip_hdr.h"
#include "fuzz_reg_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char cfg_text[] =
    "{\"sip_addr\": \"127.0.0.1\", \"domain\": \"ims.test\", \"ue_db\": ["
    "{\"imsi\": \"001010000000001\", \"impi\": \"alice@ims.test\","
    " \"K\": \"465b5ce8b199b49faa5f0a2ee238a6bc\","
    " \"opc\": \"cd63cb71954a9f4e48a5994e37a02baf\", \"authent_qop\": \"auth\","
    " \"impu\": [\"sip:alice\", \"tel:+331\"]},"
    "{\"imsi\": \"001010000000002\", \"impi\": \"carol@ims.test\", \"pwd\": \"pw\","
    " \"impu\": [\"sip:carol\"]},"
    "{\"imsi\": \"001010000000003\", \"authent_type\": \"none\", \"impu\": "
    "[\"sip:dave\"]},"
    "{\"imsi\": \"001010000000005\", \"sim_algo\": \"xor\", \"multi_sim\": true,"
    " \"K\": \"00112233445566778899aabbccddeeff\","
    " \"impu\": [{\"impu\": \"sip:sim\", \"imei\": \"35000000000001\"}]},"
    "{\"imsi\": \"001010000000005\", \"sim_algo\": \"xor\", \"multi_sim\": true,"
    " \"K\": \"00112233445566778899aabbccddeeff\","
    " \"impu\": [{\"impu\": \"sip:sim\", \"imei\": \"35000000000002\"}]}"
    "]}";

static struct ims_cfg *cfg;
static struct hss *hss;
static const struct sip_msg *cur;
static unsigned answers;

static int fz_reply(struct sip_tsx *tsx, uint16_t scode, const char *reason,
		    const struct sip_tsx_reply_prm *prm, void *arg)
{
	struct sip_resp_prm rp = {.scode = scode, .reason = pl_from_str(reason)};
	struct mbuf mb;

	(void)tsx;
	(void)arg;
	if (prm) {
		rp.hdrs = prm->hdrs;
		rp.to_tag = prm->to_tag;
	}
	mbuf_init(&mb, 0);
	sip_resp_build(&mb, cur, &rp);
	mbuf_reset(&mb);
	answers++;
	return 0;
}

/* The subscriber as the CSCF stage names it: the user From names, when it
 * holds a binding made over src. */
static struct hss_user *sub_sender(const struct registrar *reg, const struct hss *db,
				   const struct sip_msg *m, const struct net_flow *src)
{
	const struct sip_addr *from = sip_msg_from(m);
	struct hss_impu_match mt[16];
	size_t n = from ? hss_users_by_impu(db, from->uri, mt, 16) : 0;

	for (size_t i = 0; i < n && i < 16; i++) {
		if (registrar_user_on_flow(reg, mt[i].user, src))
			return mt[i].user;
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct registrar_ops ops = {
	    .reply = fz_reply, .request = fz_request, .now_ms = fz_now};
	struct registrar_prm prm = {.hss = NULL, .ops = &ops, .host = "127.0.0.1:5060"};
	struct sip_decode_prm dp = {.max_size = 65535};
	struct net_flow src;
	struct registrar *reg = NULL;
	size_t off = 0;

	if (!cfg)
		fz_reg_setup(cfg_text, &cfg, &hss);
	prm.cfg = cfg;
	prm.hss = hss;
	prm.min_expires = 2;
	fz_clock = 1000000;
	if (registrar_alloc(&reg, &prm))
		return 0;
	memset(&src, 0, sizeof(src));
	net_addr_parse_str(&src.peer, "127.0.0.1", 5070);
	while (off < size) {
		const uint8_t *end = memchr(data + off, 0, size - off);
		size_t len = end ? (size_t)(end - (data + off)) : size - off;
		struct sip_msg *m = NULL;

		if (!sip_msg_decode_copy(&m, data + off, len, &dp) && m->req) {
			const struct sip_cseq *cs = sip_msg_cseq(m);
			unsigned before = answers;

			/* odd CSeq: the NOTIFYs this request causes fail at once */
			fz_fail = cs && (cs->num & 1) ? 503 : 0;
			cur = m;
			if (m->meth == SIP_METHOD_SUBSCRIBE)
				registrar_subscribe(reg, NULL, m, &src,
				    sub_sender(reg, hss, m, &src));
			else
				registrar_register_h(NULL, NULL, m, &src, reg);
			assert(answers == before + 1);
			cur = NULL;
			fz_failures_tell(); /* as the loop would, after the call */
		}
		mem_deref(m);
		fz_fail = 0;
		off += len + 1;
		fz_clock += 1500;
		registrar_expire_run(reg);
	}
	fz_clock += 1000ull * 1000 * 1000;
	registrar_expire_run(reg);
	assert(registrar_binding_count(reg) == 0 && registrar_challenge_count(reg) == 0 &&
	       registrar_sub_count(reg) == 0);
	mem_deref(reg);
	return 0;
}
