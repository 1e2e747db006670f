/*
 * Fuzz target: calls through the b2bua as imsd wires it (the stack on
 * loopback, the registrar, the CSCF stage, the b2bua with its media relay),
 * between two phones that are plain UDP sockets registered without
 * authentication: alice (A) and bob (B).
 *
 * The input is a sequence of datagrams separated by NUL bytes; the first
 * byte of each says who sends it ('A' or 'B'; anything else: A) and the
 * rest is sent to imsd after these fields are filled from what that phone
 * last received, so that answers and in-dialog requests can match what
 * imsd sent (whose tags, branches and Call-IDs are random):
 *
 *   $VIA $FROM $TO $CALLID $CSEQ   the last request the phone received
 *   $RTO $RCALLID $RCONTACT        the last response the phone received
 *   $APORT $BPORT                  the phones' ports
 *
 * Between datagrams the loop runs for a few milliseconds and both phones
 * read what they got. Each input gets a fresh server (its timers then run
 * out with it). Invariants: no crash, no sanitizer report, no leak.
 */
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "b2bua/b2bua.h"
#include "config/ims_cfg.h"
#include "core/log.h"
#include "core/mem.h"
#include "cscf/cscf.h"
#include "hss/hss.h"
#include "loop/loop.h"
#include "media/media.h"
#include "registrar/registrar.h"
#include "sip/sip_hdr.h"
#include "sip/sip_stack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MSGS_MAX 24
#define FZ_FIELD 1024

/* cfg_fmt's %s: a file with an SDP, the callflow modifiers' content */
#define FZ_SDP "v=0\r\no=m 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" \
	       "m=audio 4002 RTP/AVP 0\r\n"

/*
 * Callflow modifiers (docs/callflow_modifier.md) on both phones, with every
 * filter (method, dir, impu, imei, access_network, tts/ttl) and every
 * action (code, provisional code, custom_headers, content and content:
 * null, send_delay, stop, log). Those that would change the corpus's plain
 * calls filter on a P-Access-Network-Info (lte, nr, n3gpp) or an IMEI the
 * phones did not register with (they register 35000000000001 and ..02):
 * an input reaches them with that header, or a REGISTER with another IMEI.
 */
#define FZ_WARN "[{\"name\": \"Warning\", \"value\": \"399 ims.test \\\"lab\\\"\"}]"
static const char cfg_fmt[] =
    "{\"sip_addr\": \"127.0.0.1\", \"domain\": \"ims.test\", \"timer_t1\": 0.02,"
    " \"timer_t2\": 0.1, \"dialog_timeout\": 1, \"echo\": \"sip:echo\", \"ue_db\": ["
    "{\"imsi\": \"001010000000001\", \"impi\": \"alice@ims.test\", \"authent_type\":"
    " \"none\", \"impu\": [\"sip:alice\"], \"callflow_modifier\": ["
    " {\"method\": \"INVITE\", \"dir\": \"tx\", \"impu\": \"tel:+332\", \"code\": 404, \"log\": \"mt 404\","
    "  \"tts\": 2},"
    " {\"method\": \"INVITE\", \"dir\": \"tx\", \"imei\": \"35000000000002\","
    "  \"custom_headers\": [{\"name\": \"X-Mt\", \"value\": \"a\"}]},"
    " {\"method\": \"INVITE.RINGING\", \"dir\": \"rx\", \"access_network\": \"n3gpp\","
    "  \"code\": 486},"
    " {\"method\": \"INVITE.RINGING\", \"dir\": \"rx\", \"access_network\": \"nr\","
    "  \"send_delay\": 0.002, \"custom_headers\": [{\"name\": \"X-Late\", \"value\": \"1\"}]},"
    " {\"method\": \"INVITE.SESSION_PROGRESS\", \"dir\": \"rx\", \"access_network\": \"lte\","
    "  \"code\": 480, \"log\": \"183 replaced\"},"
    " {\"method\": \"INVITE.OK\", \"dir\": \"rx\", \"access_network\": \"nr\", \"code\": 500},"
    " {\"method\": \"INVITE.OK\", \"dir\": \"rx\", \"imei\": \"35000000000009\", \"code\": 503},"
    " {\"method\": \"INVITE.OK\", \"dir\": \"rx\", \"impu\": \"sip:echo\", \"code\": 486,"
    "  \"tts\": 1, \"ttl\": 1},"
    " {\"method\": \"UPDATE\", \"dir\": \"tx\", \"access_network\": \"lte\", \"code\": 488}]},"
    "{\"imsi\": \"001010000000002\", \"impi\": \"bob@ims.test\", \"authent_type\":"
    " \"none\", \"impu\": [\"sip:bob\", {\"impu\": \"tel:+332\", \"ring_only\": true}],"
    " \"callflow_modifier\": ["
    " {\"method\": \"INVITE\", \"dir\": \"rx\", \"impu\": \"sip:alice@ims.test\","
    "  \"access_network\": \"lte\", \"code\": 486, \"log\": \"bob busy on lte\", \"tts\": 1,"
    "  \"ttl\": 2, \"custom_headers\": [{\"name\": \"Warning\", \"value\": \"399 ims.test"
    " \\\"lab\\\"\"}, {\"name\": \"Allow\", \"replace\": true}]},"
    " {\"method\": \"INVITE\", \"access_network\": \"nr\", \"imei\": \"35000000000001\","
    "  \"code\": 183, \"log\": \"early\", \"content\": \"%s\", \"content_type\": \"application/sdp\"},"
    " {\"method\": \"INVITE\", \"access_network\": \"n3gpp\", \"code\": 480,"
    "  \"send_delay\": 0.005, \"log\": \"wifi 480\"},"
    " {\"method\": \"INVITE\", \"log\": \"bob rung\","
    "  \"custom_headers\": [{\"name\": \"Alert-Info\", \"value\": \"<urn:alert:service:x>\"}]},"
    " {\"method\": \"INVITE.TRYING\", \"log\": \"trying\","
    "  \"custom_headers\": [{\"name\": \"X-Trying\", \"value\": \"lab\"}]},"
    " {\"method\": \"INVITE.RINGING\", \"dir\": \"tx\", \"access_network\": \"lte,nr\","
    "  \"send_delay\": 0.004, \"custom_headers\": [{\"name\": \"X-Ring\", \"value\": \"1\"}]},"
    " {\"method\": \"INVITE.SESSION_PROGRESS\", \"imei\": \"35000000000001\","
    "  \"content\": null, \"content_type\": \"application/sdp\"},"
    " {\"method\": \"INVITE.OK\", \"access_network\": \"n3gpp\", \"content\": \"%s\","
    "  \"content_type\": \"application/sdp\","
    "  \"custom_headers\": [{\"name\": \"X-Ok\", \"value\": \"1\"}]},"
    " {\"method\": \"REINVITE\", \"access_network\": \"lte\", \"code\": 488, \"stop\": false, \"log\": \"re\"},"
    " {\"method\": \"REINVITE\", \"access_network\": \"nr\", \"code\": 500},"
    " {\"method\": \"UPDATE\", \"access_network\": \"nr\", \"code\": 503},"
    " {\"method\": \"PRACK\", \"log\": \"prack\"},"
    " {\"method\": \"CANCEL\", \"access_network\": \"lte\", \"code\": 481, \"stop\": false, \"log\": \"c\","
    "  \"ttl\": 1},"
    " {\"method\": \"CANCEL\", \"access_network\": \"nr\", \"code\": 486},"
    " {\"method\": \"REGISTER\", \"imei\": \"35000000000009\", \"code\": 403, \"log\": \"barred\","
    "  \"custom_headers\": " FZ_WARN "},"
    " {\"method\": \"REGISTER.SOS\", \"code\": 380, \"log\": \"sos\"},"
    " {\"method\": \"SUBSCRIBE\", \"access_network\": \"n3gpp\", \"code\": 489, \"log\": \"sub\","
    "  \"send_delay\": 0.003},"
    " {\"method\": \"MESSAGE\", \"dir\": \"rx\", \"access_network\": \"lte\", \"code\": 202, \"log\": \"sms\"}]}"
    "]}";

struct fz_ue {
	int fd;
	uint16_t port;
	char via[FZ_FIELD], from[FZ_FIELD], to[FZ_FIELD], callid[FZ_FIELD],
	    cseq[FZ_FIELD];
	char rto[FZ_FIELD], rcallid[FZ_FIELD], rcontact[FZ_FIELD];
};

static struct {
	struct ims_cfg *cfg;
	struct hss *hss;
	struct sip_stack *stack;
	struct registrar *reg;
	struct cscf *cscf;
	struct b2bua *b2b;
	struct media_relay *relay;
	uint16_t port;
	struct fz_ue ue[2];
} F;

static void once_h(void *arg)
{
	(void)arg;
	loop_stop();
}

static void run_ms(unsigned ms)
{
	struct loop_timer *t = loop_timer_alloc();

	if (!t)
		abort();
	loop_timer_start(t, ms, once_h, NULL);
	(void)loop_run();
	loop_timer_free(t);
}

static void field(const struct sip_msg *m, enum sip_hdr_id id, char *out)
{
	const struct sip_hdr *h = sip_msg_hdr(m, id);

	snprintf(out, FZ_FIELD, "%.*s", h ? (int)h->val.l : 0, h ? h->val.p : "");
}

/* Reads what a phone got and keeps the fields of the last request and
 * response. */
static void ue_drain(struct fz_ue *u)
{
	struct sip_decode_prm dp = {.max_size = 65535};
	static char buf[65536];

	for (;;) {
		struct pollfd p = {.fd = u->fd, .events = POLLIN};
		struct sip_msg *m = NULL;
		ssize_t n;

		if (poll(&p, 1, 0) != 1)
			return;
		n = recv(u->fd, buf, sizeof(buf), 0);
		if (n <= 0 || sip_msg_decode_copy(&m, buf, (size_t)n, &dp))
			continue;
		if (m->req) {
			field(m, SIP_HDR_VIA, u->via);
			field(m, SIP_HDR_FROM, u->from);
			field(m, SIP_HDR_TO, u->to);
			field(m, SIP_HDR_CALL_ID, u->callid);
			field(m, SIP_HDR_CSEQ, u->cseq);
		} else {
			const struct sip_addr *ct = NULL;
			const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_CONTACT);
			struct sip_addr a;

			field(m, SIP_HDR_TO, u->rto);
			field(m, SIP_HDR_CALL_ID, u->rcallid);
			if (h && !sip_addr_decode(&a, h->val))
				ct = &a;
			if (ct)
				snprintf(u->rcontact, FZ_FIELD, "%.*s", (int)ct->uri.l,
					 ct->uri.p);
		}
		mem_deref(m);
	}
}

static void ue_send(const struct fz_ue *u, const char *text, size_t len)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(F.port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	(void)sendto(u->fd, text, len, 0, (struct sockaddr *)&a, sizeof(a));
}

/* text with the $ fields of u filled in, into out (bounded). */
static size_t expand(const struct fz_ue *u, const char *text, size_t len, char *out,
		     size_t size)
{
	char ap[8], bp[8];
	const struct {
		const char *name;
		const char *val;
	} v[] = {
	    {"$VIA", u->via},	      {"$FROM", u->from},	  {"$TO", u->to},
	    {"$CALLID", u->callid},   {"$CSEQ", u->cseq},	  {"$RTO", u->rto},
	    {"$RCALLID", u->rcallid}, {"$RCONTACT", u->rcontact}, {"$APORT", ap},
	    {"$BPORT", bp},
	};
	size_t n = 0;

	snprintf(ap, sizeof(ap), "%u", F.ue[0].port);
	snprintf(bp, sizeof(bp), "%u", F.ue[1].port);
	for (size_t i = 0; i < len && n + 1 < size;) {
		size_t k, vl;

		for (k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
			size_t nl = strlen(v[k].name);

			if (len - i >= nl && !memcmp(text + i, v[k].name, nl))
				break;
		}
		if (k == sizeof(v) / sizeof(v[0])) {
			out[n++] = text[i++];
			continue;
		}
		vl = strlen(v[k].val);
		if (n + vl >= size)
			break;
		memcpy(out + n, v[k].val, vl);
		n += vl;
		i += strlen(v[k].name);
	}
	return n;
}

static int ue_open(struct fz_ue *u)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);

	memset(u, 0, sizeof(*u));
	u->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (u->fd < 0 || bind(u->fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(u->fd, (struct sockaddr *)&a, &l))
		return -1;
	u->port = ntohs(a.sin_port);
	return 0;
}

/* Registers name with an IMEI (+sip.instance): the modifiers' imei filter
 * has one to match. */
static void ue_register(struct fz_ue *u, const char *name, unsigned imei)
{
	char r[1024];
	int n;

	n = snprintf(r, sizeof(r),
		     "REGISTER sip:ims.test SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKreg%u;rport\r\n"
		     "Max-Forwards: 70\r\nFrom: <sip:%s@ims.test>;tag=r%u\r\n"
		     "To: <sip:%s@ims.test>\r\nCall-ID: reg-%u@f\r\nCSeq: 1 REGISTER\r\n"
		     "Contact: <sip:%s@127.0.0.1:%u>;+sip.instance="
		     "\"<urn:gsma:imei:35000000-%06u-0>\"\r\nExpires: 600\r\n"
		     "Content-Length: 0\r\n\r\n",
		     u->port, u->port, name, u->port, name, u->port, name, u->port, imei);
	ue_send(u, r, (size_t)n);
	run_ms(2);
	ue_drain(u);
}

static char sdp_path[] = "/tmp/fuzz-b2bua-sdp-XXXXXX";

static void sdp_unlink(void)
{
	unlink(sdp_path);
}

/* The configuration, with the content file written once per process. */
static json_t *cfg_json(void)
{
	static char *text;
	json_error_t je;

	if (!text) {
		int fd = mkstemp(sdp_path);
		size_t n = strlen(cfg_fmt) + 2 * sizeof(sdp_path);

		if (fd < 0 || write(fd, FZ_SDP, sizeof(FZ_SDP) - 1) != sizeof(FZ_SDP) - 1)
			abort();
		close(fd);
		atexit(sdp_unlink);
		text = malloc(n);
		if (!text)
			abort();
		snprintf(text, n, cfg_fmt, sdp_path, sdp_path);
	}
	return json_loads(text, 0, &je);
}

static int setup(void)
{
	struct sip_stack_listen ls = {.addr = "127.0.0.1:0"};
	struct sip_stack_prm sp;
	struct cscf_prm cp = {0};
	struct b2bua_prm bp = {0};
	struct media_relay_addr ra = {.port_min = 36000, .port_max = 36999};
	struct media_relay_prm rp = {.addrs = &ra, .addr_count = 1};
	char e[512] = "";
	struct cfg_diag d = {e, sizeof(e), NULL, NULL};
	json_t *root = cfg_json();
	struct net_addr a;
	int err;

	memset(&F, 0, sizeof(F));
	F.ue[0].fd = F.ue[1].fd = -1;
	if (!root || loop_init())
		abort();
	err = ims_cfg_from_json(root, NULL, &F.cfg, &d);
	json_decref(root);
	if (err) {
		fprintf(stderr, "fuzz_b2bua: configuration: %s\n", e);
		abort();
	}
	err = err ? err : hss_alloc(&F.hss, F.cfg, NULL, 0);
	sip_stack_prm_init(&sp);
	sp.listen = &ls;
	sp.listen_count = 1;
	sp.t1_ms = 20;
	sp.t2_ms = 100;
	sp.t4_ms = 100;
	err = err ? err : sip_stack_alloc(&F.stack, &sp);
	err = err ? err : net_addr_parse_str(&a, sip_stack_local_uri_host(F.stack, 0), 0);
	if (err)
		abort();
	F.port = net_addr_port(&a);
	err = registrar_app_start(F.stack, F.cfg, F.hss, NULL, &F.reg);
	cp.stack = F.stack;
	cp.hss = F.hss;
	cp.reg = F.reg;
	err = err ? err : cscf_alloc(&F.cscf, &cp);
	err = err ? err : cscf_registrar_add(F.cscf, F.reg);
	(void)net_addr_parse_str(&ra.addr, "127.0.0.1", 0);
	if (!err && media_relay_alloc(&F.relay, &rp))
		F.relay = NULL; /* the b2bua then passes SDP through */
	bp.stack = F.stack;
	bp.hss = F.hss;
	bp.reg = F.reg;
	bp.cfg = F.cfg;
	bp.relay = F.relay;
	bp.timer_c_ms = 200;
	bp.linger_ms = 10;
	err = err ? err : b2bua_alloc(&F.b2b, &bp);
	err = err ? err : cscf_b2bua_add(F.cscf, F.b2b);
	if (err || ue_open(&F.ue[0]) || ue_open(&F.ue[1]))
		abort();
	ue_register(&F.ue[0], "alice", 1);
	ue_register(&F.ue[1], "bob", 2);
	return 0;
}

static void teardown(void)
{
	mem_deref(F.cscf);
	mem_deref(F.b2b);
	mem_deref(F.relay);
	mem_deref(F.reg);
	sip_stack_free(F.stack);
	mem_deref(F.hss);
	ims_cfg_free(F.cfg);
	for (int i = 0; i < 2; i++)
		if (F.ue[i].fd >= 0)
			close(F.ue[i].fd);
	loop_close();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[16384];
	size_t i = 0, msgs = 0;
	static bool quiet;

	if (!quiet) { /* the log is not what is fuzzed (FUZZ_B2BUA_LOG shows it) */
		char e[128];

		(void)log_options_apply(getenv("FUZZ_B2BUA_LOG") ? "all.level=info"
								 : "all.level=error",
					e, sizeof(e));
		quiet = true;
	}
	setup();
	while (i < size && msgs++ < FZ_MSGS_MAX) {
		const uint8_t *end = memchr(data + i, 0, size - i);
		size_t len = end ? (size_t)(end - (data + i)) : size - i;
		struct fz_ue *u = len && data[i] == 'B' ? &F.ue[1] : &F.ue[0];

		if (len > 1) {
			size_t n = expand(u, (const char *)data + i + 1, len - 1, out,
					  sizeof(out));

			ue_send(u, out, n);
		}
		run_ms(3);
		ue_drain(&F.ue[0]);
		ue_drain(&F.ue[1]);
		i += len + 1;
	}
	run_ms(5);
	teardown();
	return 0;
}
