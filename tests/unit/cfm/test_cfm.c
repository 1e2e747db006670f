/*
 * Unit tests: cfm — the callflow_modifier engine (manual §5.2.1,
 * docs/callflow_modifier.md): which modifier of a list applies (method /
 * step, REGISTER.SOS, dir, impu, imei, access_network, only those with a
 * code), the tts/ttl trigger counts, the RAT of P-Access-Network-Info, the
 * step of an INVITE's answer, custom_headers on a header block and the
 * content file's bound.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfm/cfm.h"
#include "core/mem.h"

static uint32_t counts[8];
static struct ims_cfg_cfm mods[8];
static struct ims_cfg_impu_opts opts;

static void list_set(size_t n)
{
	memset(counts, 0, sizeof(counts));
	for (size_t i = 0; i < n; i++) {
		if (!mods[i].dir)
			mods[i].dir = IMS_CFG_DIR_BOTH;
		mods[i].count = &counts[i];
	}
	opts.cfm = mods;
	opts.cfm_count = (uint32_t)n;
}

static int setup(void **state)
{
	(void)state;
	memset(mods, 0, sizeof(mods));
	memset(&opts, 0, sizeof(opts));
	return 0;
}

static void test_step_and_dir(void **state)
{
	struct cfm_match m = {.opts = &opts, .step = IMS_CFG_STEP_INVITE,
			      .dir = IMS_CFG_DIR_RX};

	(void)state;
	mods[0] = (struct ims_cfg_cfm){.step = IMS_CFG_STEP_MESSAGE, .code = 500};
	mods[1] = (struct ims_cfg_cfm){.step = IMS_CFG_STEP_INVITE, .dir = IMS_CFG_DIR_TX,
				       .code = 480};
	mods[2] = (struct ims_cfg_cfm){.step = IMS_CFG_STEP_INVITE, .code = 486};
	mods[3] = (struct ims_cfg_cfm){.step = IMS_CFG_STEP_ANY, .code = 503};
	list_set(4);
	assert_ptr_equal(cfm_find(&m), &mods[2]); /* rx: the tx one skipped */
	m.dir = IMS_CFG_DIR_TX;
	assert_ptr_equal(cfm_find(&m), &mods[1]);
	m.step = IMS_CFG_STEP_SUBSCRIBE; /* only the one without method */
	assert_ptr_equal(cfm_find(&m), &mods[3]);
	/* the 100 Trying: only a modifier naming INVITE.TRYING */
	m.step = IMS_CFG_STEP_INVITE_TRYING;
	assert_null(cfm_find(&m));
	mods[4] = (struct ims_cfg_cfm){.step = IMS_CFG_STEP_INVITE_TRYING};
	list_set(5);
	assert_ptr_equal(cfm_find(&m), &mods[4]);
	m.opts = NULL;
	assert_null(cfm_find(&m));
	assert_null(cfm_find(NULL));
}

static void test_register_sos(void **state)
{
	struct cfm_match m = {.opts = &opts, .step = IMS_CFG_STEP_REGISTER,
			      .dir = IMS_CFG_DIR_RX};

	(void)state;
	mods[0] = (struct ims_cfg_cfm){.step = IMS_CFG_STEP_REGISTER_SOS, .code = 380};
	mods[1] = (struct ims_cfg_cfm){.step = IMS_CFG_STEP_REGISTER, .code = 403};
	list_set(2);
	assert_ptr_equal(cfm_find(&m), &mods[1]); /* an ordinary REGISTER */
	m.sos = true;
	assert_ptr_equal(cfm_find(&m), &mods[0]);
	list_set(1);
	m.sos = false;
	assert_null(cfm_find(&m));
}

static void test_filters(void **state)
{
	struct cfm_match m = {.opts = &opts, .step = IMS_CFG_STEP_INVITE,
			      .dir = IMS_CFG_DIR_RX, .peer_impu = "sip:carol@ims.test",
			      .peer_imei = "35000000000001", .peer_rat = IMS_CFG_RAT_NR};

	(void)state;
	mods[0] = (struct ims_cfg_cfm){.impu = "sip:dave@ims.test", .code = 401};
	mods[1] = (struct ims_cfg_cfm){.imei = "35000000-000002-0", .code = 402};
	mods[2] = (struct ims_cfg_cfm){.access_network = IMS_CFG_RAT_LTE, .code = 403};
	mods[3] = (struct ims_cfg_cfm){.impu = "carol", .imei = "35000000-000001-0",
				       .access_network = IMS_CFG_RAT_LTE | IMS_CFG_RAT_NR,
				       .code = 404};
	list_set(4);
	assert_ptr_equal(cfm_find(&m), &mods[3]);
	/* unknown counterpart: a filter on it does not match */
	m.peer_imei = NULL;
	assert_null(cfm_find(&m));
	m.peer_imei = "35000000000002";
	assert_ptr_equal(cfm_find(&m), &mods[1]);
	/* only modifiers with a code */
	mods[1].code = 0;
	m.code = CFM_CODE_WITH;
	assert_null(cfm_find(&m));
	m.code = CFM_CODE_ANY;
	assert_ptr_equal(cfm_find(&m), &mods[1]);
	/* only those without: mods[1] (no code) but not mods[3] */
	m.code = CFM_CODE_WITHOUT;
	assert_ptr_equal(cfm_find(&m), &mods[1]);
	mods[1].code = 402;
	assert_null(cfm_find(&m));
}

/* A modifier without method and a 1xx/2xx code (a 200 meant for MESSAGE)
 * is not sent where it would open or change a session: the INVITE, its
 * answers, REINVITE, UPDATE, PRACK; MESSAGE and the rest still get it. */
static void test_session_steps_skip_low_codes(void **state)
{
	static const uint8_t session[] = {
	    IMS_CFG_STEP_INVITE,	 IMS_CFG_STEP_INVITE_OK,	IMS_CFG_STEP_INVITE_RINGING,
	    IMS_CFG_STEP_INVITE_SESSION_PROGRESS, IMS_CFG_STEP_REINVITE, IMS_CFG_STEP_UPDATE,
	    IMS_CFG_STEP_PRACK};
	struct cfm_match m = {.opts = &opts, .dir = IMS_CFG_DIR_RX, .code = CFM_CODE_WITH};

	(void)state;
	mods[0] = (struct ims_cfg_cfm){.code = 200};
	list_set(1);
	for (size_t i = 0; i < sizeof(session); i++) {
		m.step = session[i];
		assert_null(cfm_find(&m));
	}
	m.step = IMS_CFG_STEP_MESSAGE;
	assert_ptr_equal(cfm_find(&m), &mods[0]);
	mods[0].code = 486; /* a failure code still applies everywhere */
	m.step = IMS_CFG_STEP_REINVITE;
	assert_ptr_equal(cfm_find(&m), &mods[0]);
}

static void test_impu_eq(void **state)
{
	(void)state;
	assert_true(cfm_impu_eq("sip:carol@ims.test", "sip:carol@ims.test"));
	assert_true(cfm_impu_eq("sip:carol@IMS.test", "<sip:carol@ims.test>"));
	assert_true(cfm_impu_eq("carol", "sip:carol@ims.test"));
	assert_true(cfm_impu_eq("sip:carol", "sip:carol@ims.test;user=phone"));
	assert_true(cfm_impu_eq("tel:+33600000001", "tel:+33600000001"));
	assert_true(cfm_impu_eq("+33600000001", "sip:+33600000001@ims.test;user=phone"));
	assert_false(cfm_impu_eq("carol", "sip:caroline@ims.test"));
	assert_false(cfm_impu_eq("sip:carol@other.test", "sip:carol@ims.test"));
}

/* tts: the first tts triggers do nothing; then ttl applications; a
 * triggered modifier that does not apply lets the next one be found. */
static void test_tts_ttl(void **state)
{
	struct cfm_match m = {.opts = &opts, .step = IMS_CFG_STEP_MESSAGE,
			      .dir = IMS_CFG_DIR_RX};
	const struct ims_cfg_cfm *got[6];

	(void)state;
	mods[0] = (struct ims_cfg_cfm){.step = IMS_CFG_STEP_MESSAGE, .code = 500, .tts = 2,
				       .ttl = 2};
	mods[1] = (struct ims_cfg_cfm){.step = IMS_CFG_STEP_MESSAGE, .code = 503};
	list_set(2);
	for (size_t i = 0; i < 6; i++)
		got[i] = cfm_find(&m);
	assert_ptr_equal(got[0], &mods[1]);
	assert_ptr_equal(got[1], &mods[1]);
	assert_ptr_equal(got[2], &mods[0]);
	assert_ptr_equal(got[3], &mods[0]);
	assert_ptr_equal(got[4], &mods[1]);
	assert_ptr_equal(got[5], &mods[1]);
	assert_int_equal(counts[0], 6);
	/* a filter that does not match does not count */
	m.dir = IMS_CFG_DIR_TX;
	mods[0].dir = IMS_CFG_DIR_RX;
	mods[1].dir = IMS_CFG_DIR_RX;
	assert_null(cfm_find(&m));
	assert_int_equal(counts[0], 6);
}

static void test_step_of_resp(void **state)
{
	(void)state;
	assert_int_equal(cfm_step_of_invite_resp(100), IMS_CFG_STEP_INVITE_TRYING);
	assert_int_equal(cfm_step_of_invite_resp(180), IMS_CFG_STEP_INVITE_RINGING);
	assert_int_equal(cfm_step_of_invite_resp(183), IMS_CFG_STEP_INVITE_SESSION_PROGRESS);
	assert_int_equal(cfm_step_of_invite_resp(181), IMS_CFG_STEP_ANY);
	assert_int_equal(cfm_step_of_invite_resp(200), IMS_CFG_STEP_INVITE_OK);
	assert_int_equal(cfm_step_of_invite_resp(486), IMS_CFG_STEP_INVITE_OK);
}

static uint8_t rat_of(const char *pani)
{
	struct sip_decode_prm dp = {.max_size = 65535};
	struct sip_msg *msg = NULL;
	char text[512];
	uint8_t rat;

	snprintf(text, sizeof(text),
		 "MESSAGE sip:a@ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
		 "From: <sip:b@ims.test>;tag=1\r\nTo: <sip:a@ims.test>\r\n"
		 "Call-ID: c1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n%s"
		 "Content-Length: 0\r\n\r\n",
		 pani);
	assert_int_equal(sip_msg_decode_copy(&msg, text, strlen(text), &dp), 0);
	rat = cfm_rat_of(msg);
	mem_deref(msg);
	return rat;
}

static void test_rat(void **state)
{
	(void)state;
	assert_int_equal(rat_of("P-Access-Network-Info: 3GPP-E-UTRAN-FDD; "
				"utran-cell-id-3gpp=00101000100000001\r\n"),
			 IMS_CFG_RAT_LTE);
	assert_int_equal(rat_of("P-Access-Network-Info: 3GPP-NR-TDD\r\n"), IMS_CFG_RAT_NR);
	assert_int_equal(rat_of("P-Access-Network-Info: IEEE-802.11a\r\n"), IMS_CFG_RAT_N3GPP);
	assert_int_equal(rat_of("P-Access-Network-Info: 3GPP-UTRAN-FDD\r\n"), 0);
	assert_int_equal(rat_of(""), 0);
	assert_int_equal(cfm_rat_of(NULL), 0);
}

static void test_hdrs_apply(void **state)
{
	const struct ims_cfg_hdr h[3] = {
	    {.name = "X-Add", .value = "1"},
	    {.name = "Allow", .value = "INVITE", .replace = true},
	    {.name = "warning"},
	};
	struct ims_cfg_cfm cm = {.hdrs = h, .hdr_count = 3};
	static const char in[] = "Allow: INVITE, BYE,\r\n ACK\r\nContact: <sip:a@h>\r\n"
				 "Warning: 399 x \"y\"\r\n";
	struct mbuf mb;

	(void)state;
	mbuf_init(&mb, 4096);
	assert_int_equal(mbuf_write(&mb, in, strlen(in)), 0);
	assert_int_equal(cfm_hdrs_apply(&cm, &mb), 0);
	assert_int_equal(mb.end, strlen("Contact: <sip:a@h>\r\nX-Add: 1\r\nAllow: INVITE\r\n"));
	assert_memory_equal(mb.buf, "Contact: <sip:a@h>\r\nX-Add: 1\r\nAllow: INVITE\r\n",
			    mb.end);
	mbuf_reset(&mb);
	/* over the block's bound */
	mbuf_init(&mb, 8);
	assert_int_equal(cfm_hdrs_apply(&cm, &mb), ENOSPC);
	mbuf_reset(&mb);
}

static void test_content(void **state)
{
	char path[] = "/tmp/test_cfm_XXXXXX";
	struct ims_cfg_cfm cm = {0};
	static char big[CFM_CONTENT_MAX + 1];
	struct mbuf body;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "v=0\r\n", 5), 5);
	close(fd);
	mbuf_init(&body, CFM_CONTENT_MAX);
	assert_int_equal(cfm_content_read(&cm, &body), ENOENT);
	cm.content = path;
	assert_int_equal(cfm_content_read(&cm, &body), 0);
	assert_int_equal(body.end, 5);
	assert_memory_equal(body.buf, "v=0\r\n", 5);
	/* over CFM_CONTENT_MAX: refused, body left empty */
	memset(big, 'a', sizeof(big));
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	close(fd);
	assert_int_equal(cfm_content_read(&cm, &body), EFBIG);
	assert_int_equal(body.end, 0);
	unlink(path);
	assert_int_equal(cfm_content_read(&cm, &body), ENOENT);
	mbuf_reset(&body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_step_and_dir, setup),
	    cmocka_unit_test_setup(test_register_sos, setup),
	    cmocka_unit_test_setup(test_filters, setup),
	    cmocka_unit_test_setup(test_session_steps_skip_low_codes, setup),
	    cmocka_unit_test(test_impu_eq),
	    cmocka_unit_test_setup(test_tts_ttl, setup),
	    cmocka_unit_test(test_step_of_resp),
	    cmocka_unit_test(test_rat),
	    cmocka_unit_test(test_hdrs_apply),
	    cmocka_unit_test(test_content),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
