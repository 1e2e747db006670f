/*
 * Fuzz target: the SMS service (smsc/) behind MESSAGE requests from two
 * registered phones, as the CSCF stage hands them over. The input is a
 * list of records, each [op][len][len octets]:
 *
 *   op & 3 == 0   a MESSAGE from alice (op & 4: bob) with those octets as
 *                 its application/vnd.3gpp.sms body
 *   op & 3 == 1   the phone answers the service's request number len
 *                 (modulo those sent) with 200 (op & 4: 480)
 *   op & 3 == 2   time passes (len seconds) and the service's timer runs
 *   op & 3 == 3   an operator SMS to bob with the octets as its text
 *
 * Invariants: no crash or leak; every MESSAGE gets exactly one answer;
 * every request the service sends carries an RP message that its own
 * codec decodes, of a network-to-phone type (RP-DATA n->ms with an empty
 * RP-DA, RP-ACK, RP-ERROR); the pending count stays within its bound.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "registrar/registrar.h"
#include "sip/sip_hdr.h"
#include "sms/sms_rp.h"
#include "smsc/smsc.h"
#include "../registrar/fuzz_reg_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_SENT_MAX 64

static const char cfg_text[] =
    "{\"sip_addr\": \"127.0.0.1\", \"domain\": \"ims.test\", \"sms_retry_delay\": 1,"
    " \"sms_expires\": 30,"
    " \"sms_centre_address\": {\"number\": \"+33699999999\"}, \"ue_db\": ["
    "{\"imsi\": \"001010000000001\", \"impi\": \"alice@ims.test\", \"authent_type\":"
    " \"none\", \"impu\": [\"sip:alice\", \"tel:+33600000001\"]},"
    "{\"imsi\": \"001010000000002\", \"impi\": \"bob@ims.test\", \"authent_type\":"
    " \"none\", \"impu\": [\"sip:bob\", {\"impu\": \"tel:+33600000002\","
    " \"sms_delay\": 2}]}]}";

static struct ims_cfg *cfg;
static struct hss *hss;
static unsigned answers;
static int64_t wall;
static struct {
	sip_tsx_resp_h *h;
	void *arg;
	bool done;
} sent[FZ_SENT_MAX];
static unsigned nsent;

static int fz_reply(struct sip_tsx *tsx, uint16_t scode, const char *reason,
		    const struct sip_tsx_reply_prm *prm, void *arg)
{
	(void)tsx;
	(void)reason;
	(void)prm;
	(void)arg;
	return 0;
}

static int fz_sms_reply(struct sip_stack *stack, struct sip_tsx *tsx, uint16_t scode,
			const char *reason, const struct sip_tsx_reply_prm *prm, void *arg)
{
	(void)stack;
	(void)tsx;
	(void)reason;
	(void)prm;
	(void)arg;
	assert(scode >= 200 && scode < 700);
	answers++;
	return 0;
}

/* What the service sends must be a well-formed RP message n->ms. */
static int fz_sms_request(struct sip_stack *stack, const struct sip_stack_req_prm *prm,
			  void *arg)
{
	struct sip_decode_prm dp = {.max_size = 65535};
	struct sip_msg *m = NULL;
	struct sms_rp rp;

	(void)stack;
	(void)arg;
	if (sip_msg_decode_copy(&m, prm->req.p, prm->req.l, &dp))
		abort();
	if (sms_rp_decode(&rp, (const uint8_t *)m->body.p, m->body.l, NULL) ||
	    sms_rp_dir(rp.mti) != SMS_DIR_MT || (rp.mti == SMS_RP_DATA_MT && rp.da.present))
		abort();
	mem_deref(m);
	if (nsent == FZ_SENT_MAX) /* never answered: the RP-ACK timeout's path */
		return 0;
	sent[nsent].h = prm->resp_h;
	sent[nsent].arg = prm->arg;
	sent[nsent].done = false;
	nsent++;
	return 0;
}

static int64_t fz_wall(void *arg)
{
	(void)arg;
	return wall;
}

static void fz_bind(struct registrar *reg, const char *user, const struct net_flow *f)
{
	struct sip_decode_prm dp = {.max_size = 65535};
	struct sip_msg *m = NULL;
	char buf[512];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "REGISTER sip:ims.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK%s"
		     "\r\nFrom: <sip:%s@ims.test>;tag=f\r\nTo: <sip:%s@ims.test>\r\n"
		     "Call-ID: r%s\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nContact: "
		     "<sip:%s@127.0.0.1:%u>;+g.3gpp.smsip\r\nContent-Length: 0\r\n\r\n",
		     user, user, user, user, user, net_addr_port(&f->peer));
	if (sip_msg_decode_copy(&m, buf, (size_t)n, &dp))
		abort();
	registrar_register_h(NULL, NULL, m, f, reg);
	mem_deref(m);
}

static void fz_message(struct smsc *s, struct hss_user *u, const struct net_flow *f,
		       const uint8_t *body, size_t len)
{
	struct sip_decode_prm dp = {.max_size = 65535};
	struct sip_msg *m = NULL;
	char buf[512];
	struct smsc_req r = {.flow = f, .orig = u, .orig_impu = hss_user_asserted(u)};
	int n = snprintf(buf, sizeof(buf),
			 "MESSAGE sip:smsc@ims.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;"
			 "branch=z9hG4bKm\r\nFrom: <sip:x@ims.test>;tag=f\r\nTo: "
			 "<sip:smsc@ims.test>\r\nCall-ID: m\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: "
			 "70\r\nContent-Type: application/vnd.3gpp.sms\r\nContent-Length: %zu"
			 "\r\n\r\n",
			 len);
	unsigned before = answers;
	char *all = malloc((size_t)n + len + 1);

	if (!all)
		return;
	memcpy(all, buf, (size_t)n);
	if (len)
		memcpy(all + n, body, len);
	if (!sip_msg_decode_copy(&m, all, (size_t)n + len, &dp)) {
		r.req = m;
		smsc_message(s, &r);
		assert(answers == before + 1);
	}
	mem_deref(m);
	free(all);
}

static void fz_op(struct smsc *s, struct hss_user *const *u, const struct net_flow *f,
		  uint8_t op, const uint8_t *p, size_t len)
{
	struct smsc_send_prm sp = {.tp_udl = -1, .dcs = -1};
	char text[256];
	int who = (op & 4) ? 1 : 0;

	switch (op & 3) {
	case 0:
		fz_message(s, u[who], &f[who], p, len);
		break;
	case 1:
		if (nsent && !sent[len % nsent].done) {
			sent[len % nsent].done = true;
			sent[len % nsent].h(NULL, NULL, who ? 480 : 200, sent[len % nsent].arg);
		}
		break;
	case 2:
		wall += (int64_t)len;
		fz_clock += (uint64_t)len * 1000;
		smsc_tick(s);
		break;
	default:
		memcpy(text, p, len);
		text[len] = '\0';
		sp.text = text;
		(void)smsc_send(s, u[1], HSS_IMPU_NONE, &sp, NULL);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct registrar_ops rops = {.reply = fz_reply, .now_ms = fz_now};
	static const struct smsc_ops sops = {.reply = fz_sms_reply,
					     .request = fz_sms_request,
					     .now_ms = fz_now,
					     .wall_s = fz_wall};
	struct registrar_prm prm = {.ops = &rops, .host = "127.0.0.1:5060"};
	struct smsc_prm sp = {.ops = &sops, .host = "127.0.0.1:5060"};
	struct registrar *reg = NULL;
	struct smsc *s = NULL;
	struct hss_user *u[2];
	struct net_flow f[2];
	struct smsc_stats st;
	size_t off = 0;

	if (!cfg)
		fz_reg_setup(cfg_text, &cfg, &hss);
	prm.cfg = sp.cfg = cfg;
	prm.hss = sp.hss = hss;
	fz_clock = 1000000;
	wall = 1800000000;
	nsent = 0;
	if (registrar_alloc(&reg, &prm))
		return 0;
	sp.reg = reg;
	if (smsc_alloc(&s, &sp))
		abort();
	memset(f, 0, sizeof(f));
	net_addr_parse_str(&f[0].peer, "127.0.0.1", 5070);
	net_addr_parse_str(&f[1].peer, "127.0.0.1", 5071);
	fz_bind(reg, "alice", &f[0]);
	fz_bind(reg, "bob", &f[1]);
	u[0] = hss_user_at(hss, 0);
	u[1] = hss_user_at(hss, 1);
	while (off + 2 <= size) {
		uint8_t op = data[off];
		size_t len = data[off + 1];

		off += 2;
		if (len > size - off)
			len = size - off;
		fz_op(s, u, f, op, data + off, len);
		off += len;
		smsc_stats_get(s, &st);
		assert(st.pending <= 2 * SMSC_USER_PENDING_MAX + 2 * 64);
	}
	mem_deref(s);
	mem_deref(reg);
	return 0;
}
