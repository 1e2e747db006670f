/* Unit tests: config/ims_cfg (typed configuration, manual §5.2, §5.2.1). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/ims_cfg.h"

struct warns {
	char text[8192];
	int count;
};

static void warn_h(const char *path, const char *msg, void *arg)
{
	struct warns *w = arg;
	size_t o = strlen(w->text);

	snprintf(w->text + o, sizeof(w->text) - o, "%s: %s\n", path, msg);
	w->count++;
}

static char err[512];
static struct warns warned;

/* Test texts use ' for " to stay readable. */
static json_t *parse(const char *text)
{
	char *t = strdup(text);
	json_error_t je;
	json_t *root;

	assert_non_null(t);
	for (char *p = t; *p; p++) {
		if (*p == '\'')
			*p = '"';
	}
	root = json_loads(t, 0, &je);
	if (!root)
		fail_msg("bad test JSON: %s (%s)", je.text, t);
	free(t);
	return root;
}

static int load_text(const char *text, struct ims_cfg **cfg)
{
	struct cfg_diag d = {err, sizeof(err), warn_h, &warned};
	json_t *root = parse(text);
	int e;

	memset(&warned, 0, sizeof(warned));
	e = ims_cfg_from_json(root, "/etc/imsd", cfg, &d);
	json_decref(root);
	return e;
}

/* A configuration with a sip_addr and `extra` properties. */
static int load(const char *extra, struct ims_cfg **cfg)
{
	char buf[16384];

	snprintf(buf, sizeof(buf), "{'sip_addr': '127.0.0.1'%s%s}", extra[0] ? ", " : "",
		 extra);
	return load_text(buf, cfg);
}

static struct ims_cfg *load_ok(const char *extra)
{
	struct ims_cfg *cfg = NULL;
	int e = load(extra, &cfg);

	if (e)
		fail_msg("unexpected error %d: %s (config: %s)", e, err, extra);
	assert_non_null(cfg);
	return cfg;
}

static void expect_err(const char *extra, const char *msg)
{
	struct ims_cfg *cfg = NULL;
	int e = load(extra, &cfg);

	if (e != EINVAL)
		fail_msg("expected error \"%s\", got %d for %s", msg, e, extra);
	assert_null(cfg);
	assert_string_equal(err, msg);
}

#define UE_MIL                                                                           \
	"'imsi': '001010000000001', 'K': '00112233445566778899aabbccddeeff', "           \
	"'opc': '000102030405060708090a0b0c0d0e0f'"

/* --- defaults --- */

static void test_defaults(void **state)
{
	struct ims_cfg *cfg = load_ok("");

	(void)state;
	assert_int_equal(warned.count, 0);
	assert_null(cfg->log_filename);
	assert_null(cfg->log_options);
	assert_false(cfg->log_sync);
	assert_int_equal(cfg->sip_addr_count, 1);
	assert_string_equal(cfg->sip_addr[0].addr.host, "127.0.0.1");
	assert_int_equal(cfg->sip_addr[0].addr.port, 5060);
	assert_null(cfg->sip_addr[0].bind_addr.host);
	assert_int_equal(cfg->sip_addr[0].port_min, 10000);
	assert_int_equal(cfg->sip_addr[0].port_max, 20000);
	assert_false(cfg->sip_addr[0].trunk);
	assert_null(cfg->sctp_addr.host);
	assert_null(cfg->cx_server_addr.host);
	assert_null(cfg->rx_server_addr.host);
	assert_string_equal(cfg->cx_origin_realm, "amarisoft.com");
	assert_string_equal(cfg->cx_origin_host, "ims.amarisoft.com");
	assert_string_equal(cfg->rx_origin_realm, "amarisoft.com");
	assert_string_equal(cfg->rx_origin_host, "ims.amarisoft.com");
	assert_int_equal(cfg->cx_watchdog_duration, 0);
	assert_int_equal(cfg->rx_watchdog_duration, 0);
	assert_false(cfg->use_n5);
	assert_int_equal(cfg->n5.transaction_timeout, 4000);
	assert_null(cfg->domain);
	assert_int_equal(cfg->tcp_threshold, 1300);
	assert_int_equal(cfg->tcp_keepalive, 900);
	assert_int_equal(cfg->tcp_keepcount, 2);
	assert_int_equal(cfg->session_expires.duration, 1800);
	assert_int_equal(cfg->session_expires.min, 90);
	assert_int_equal(cfg->session_expires.refresher, IMS_CFG_REFRESHER_UAC);
	assert_int_equal(cfg->session_expires.method, IMS_CFG_SE_METHOD_UPDATE);
	assert_true(cfg->session_expires.force);
	assert_true(cfg->rel100);
	assert_int_equal(cfg->precondition, IMS_CFG_PRECOND_ON);
	assert_false(cfg->p_called_party_id);
	assert_true(cfg->ipsec);
	assert_string_equal(cfg->ipsec_tun_setup_script_filename,
			    "/tmp/.ipsec_tun_setup_script");
	assert_int_equal(cfg->ipsec_aalg_mask, (1u << IMS_CFG_AALG_COUNT) - 1);
	assert_int_equal(cfg->ipsec_ealg_mask, (1u << IMS_CFG_EALG_COUNT) - 1);
	assert_int_equal(cfg->ipsec_mtu, 1400);
	assert_null(cfg->ipsec_ifname);
	assert_int_equal(cfg->dialog_timeout, 30);
	assert_true(cfg->auth_on_register_only);
	assert_null(cfg->trunk.addr.host);
	assert_null(cfg->com_addr.host);
	assert_string_equal(cfg->com_name, "IMS");
	assert_false(cfg->com_ssl_peer_verify);
	assert_false(cfg->com_log_lock);
	assert_false(cfg->com_log_us);
	assert_false(cfg->com_auth_set);
	assert_int_equal(cfg->com_log_count, 8192);
	assert_null(cfg->sim_events);
	assert_int_equal(cfg->sim_events_loop_count, -1);
	assert_null(cfg->license_server.server_addr);
	assert_int_equal(cfg->sms_expires, 86400);
	assert_false(cfg->sms_hook_only);
	assert_int_equal(cfg->binding_expires, 3600);
	assert_int_equal(cfg->subscribe_expires, 0);
	assert_true(strncmp(cfg->user_agent, "imsd-", 5) == 0);
	assert_true(cfg->force_user_agent);
	assert_true(cfg->early_media);
	assert_string_equal(cfg->path, "sip:ims.mnc001.mcc001.3gppnetwork.org");
	assert_int_equal(cfg->timer_t1_ms, 2000);
	assert_int_equal(cfg->timer_t2_ms, 16000);
	assert_int_equal(cfg->timer_t4_ms, 17000);
	assert_int_equal(cfg->custom_header_count, 0);
	assert_null(cfg->sms_centre_address.number);
	assert_int_equal(cfg->sms_retry_delay, 0);
	assert_int_equal(cfg->echo_count, 0);
	for (int i = 0; i < IMS_CFG_SMS_MSG_COUNT; i++)
		assert_int_equal(cfg->sms_message_filter[i], IMS_CFG_SMS_TREAT);
	assert_int_equal(cfg->sms_forced_cp_cause, 0);
	assert_int_equal(cfg->sms_forced_rp_cause, 0);
	assert_null(cfg->mms_server_bind_addr.host);
	assert_int_equal(cfg->mms_expires, 86400);
	assert_null(cfg->ue_db_filename);
	assert_int_equal(cfg->ue_count, 0);
	assert_non_null(cfg->ue_opts_default);
	ims_cfg_free(cfg);
}

static void test_sip_addr_required(void **state)
{
	struct ims_cfg *cfg = NULL;

	(void)state;
	assert_int_equal(load_text("{'domain': 'x'}", &cfg), EINVAL);
	assert_string_equal(err, "sip_addr: required");
	assert_int_equal(load_text("[1]", &cfg), EINVAL);
	assert_string_equal(err, "configuration: expected object");
}

/* --- type conversions --- */

static void test_bool(void **state)
{
	struct ims_cfg *cfg;

	(void)state;
	cfg = load_ok(
	    "'log_sync': true, 'ipsec': false, 'com_log_us': 1, 'early_media': 0, "
	    "'100rel': 0.0, 'sms_hook_only': 1.0");
	assert_true(cfg->log_sync);
	assert_false(cfg->ipsec);
	assert_true(cfg->com_log_us);
	assert_false(cfg->early_media);
	assert_false(cfg->rel100);
	assert_true(cfg->sms_hook_only);
	ims_cfg_free(cfg);
	expect_err("'log_sync': 2", "log_sync: expected boolean");
	expect_err("'log_sync': 'true'", "log_sync: expected boolean");
	expect_err("'ipsec': 0.5", "ipsec: expected boolean");
	expect_err("'ipsec': null", "ipsec: expected boolean");
}

static void test_int(void **state)
{
	struct ims_cfg *cfg;

	(void)state;
	cfg = load_ok("'binding_expires': 7200.0, 'subscribe_expires': 864000, "
		      "'com_log_count': 4096, 'cx_watchdog_duration': 36000000");
	assert_int_equal(cfg->binding_expires, 7200);
	assert_int_equal(cfg->subscribe_expires, 864000);
	assert_int_equal(cfg->com_log_count, 4096);
	assert_int_equal(cfg->cx_watchdog_duration, 36000000);
	ims_cfg_free(cfg);
	expect_err("'binding_expires': 900000",
		   "binding_expires: 900000 out of range (0..864000)");
	expect_err("'binding_expires': -1",
		   "binding_expires: -1 out of range (0..864000)");
	expect_err("'binding_expires': 3600.5", "binding_expires: expected integer");
	expect_err("'binding_expires': '3600'", "binding_expires: expected integer");
	expect_err("'binding_expires': true", "binding_expires: expected integer");
	expect_err("'com_log_count': 4095",
		   "com_log_count: 4095 out of range (4096..2097152)");
	expect_err("'com_log_count': 2097153",
		   "com_log_count: 2097153 out of range (4096..2097152)");
	expect_err("'ipsec_mtu': 67", "ipsec_mtu: 67 out of range (68..65535)");
	expect_err("'sms_forced_cp_cause': 256",
		   "sms_forced_cp_cause: 256 out of range (0..255)");
	expect_err("'n5': {'transaction_timeout': 0}",
		   "n5.transaction_timeout: 0 out of range (1..15000)");
	expect_err("'binding_expires': 1e300", "binding_expires: expected integer");
}

static void test_number_string_enum(void **state)
{
	struct ims_cfg *cfg;

	(void)state;
	cfg =
	    load_ok("'timer_t1': 0.5, 'timer_t2': 4, 'timer_t4': 5.25, "
		    "'precondition': 'Silent', 'domain': 'ims.example.org', 'path': ''");
	assert_int_equal(cfg->timer_t1_ms, 500);
	assert_int_equal(cfg->timer_t2_ms, 4000);
	assert_int_equal(cfg->timer_t4_ms, 5250);
	assert_int_equal(cfg->precondition, IMS_CFG_PRECOND_SILENT);
	assert_string_equal(cfg->domain, "ims.example.org");
	assert_string_equal(cfg->path, "");
	ims_cfg_free(cfg);
	expect_err("'timer_t1': 'x'", "timer_t1: expected number");
	expect_err("'timer_t1': 0", "timer_t1: 0 out of range (0.001..3600)");
	expect_err("'timer_t1': 20", "timer_t2: below timer_t1");
	expect_err("'domain': 5", "domain: expected string");
	expect_err("'domain': ['a']", "domain: expected string");
	expect_err("'precondition': 'maybe'",
		   "precondition: \"maybe\" is not one of \"on\", \"off\", \"silent\"");
	expect_err("'sim_events_loop_delay': 0.01",
		   "sim_events_loop_delay: 0.01 out of range (0.1..86400)");
}

/* Lists have a bound; the item past it is an error naming it. */
static void test_list_bounds(void **state)
{
	static char buf[32768];
	struct ims_cfg *cfg = NULL;
	size_t o;

	(void)state;
	/* sip_addr: 1024 */
	o = (size_t)snprintf(buf, sizeof(buf), "{'sip_addr': [");
	for (int i = 0; i < 1025; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s'127.0.0.1:%d'", i ? "," : "",
				      10000 + i);
	snprintf(buf + o, sizeof(buf) - o, "]}");
	assert_int_equal(load_text(buf, &cfg), EINVAL);
	assert_string_equal(err, "sip_addr: too many items (max 1024)");
	/* a user's impu list: 1000 */
	o = (size_t)snprintf(buf, sizeof(buf), "'ue_db': [{" UE_MIL ", 'impu': [");
	for (int i = 0; i < 1001; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s'u%d'", i ? "," : "", i);
	snprintf(buf + o, sizeof(buf) - o, "]}]");
	expect_err(buf, "ue_db[0].impu: too many items (max 1000)");
	/* custom_headers: 1000 */
	o = (size_t)snprintf(buf, sizeof(buf), "'custom_headers': [");
	for (int i = 0; i < 1001; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s{}", i ? "," : "");
	snprintf(buf + o, sizeof(buf) - o, "]");
	expect_err(buf, "custom_headers: too many items (max 1000)");
}

static void test_complex(void **state)
{
	(void)state;
	expect_err("'binding_expires': {'__complex__': [1, 2]}",
		   "binding_expires: cannot be a complex number");
	expect_err("'log_sync': {'__complex__': [1, 0]}",
		   "log_sync: cannot be a complex number");
	expect_err("'domain': {'__complex__': [0, 1]}",
		   "domain: cannot be a complex number");
	expect_err("'n5': {'__complex__': [0, 1]}", "n5: cannot be a complex number");
	expect_err("'session_expires': {'__complex__': [0, 1]}",
		   "session_expires: cannot be a complex number");
	expect_err("'timer_t1': {'__complex__': [1, 1]}",
		   "timer_t1: cannot be a complex number");
	expect_err("'ue_db': [{" UE_MIL ", 'impu': [{'impu': 'a', 'display_name': "
		   "{'__complex__': [1, 2]}}]}]",
		   "ue_db[0].impu[0].display_name: cannot be a complex number");
}

static void test_files_relative(void **state)
{
	struct ims_cfg *cfg;

	(void)state;
	cfg =
	    load_ok("'log_filename': 'ims.log', 'ue_db_filename': '/var/lib/imsd/state', "
		    "'mt_call_sdp_file': 'sdp/mt.sdp'");
	assert_string_equal(cfg->log_filename, "/etc/imsd/ims.log");
	assert_string_equal(cfg->ue_db_filename, "/var/lib/imsd/state");
	assert_string_equal(cfg->mt_call_sdp_file, "/etc/imsd/sdp/mt.sdp");
	ims_cfg_free(cfg);
}

/* --- helpers --- */

static void test_addr_parse(void **state)
{
	char host[64];
	uint16_t port;

	(void)state;
	assert_int_equal(ims_cfg_addr_parse("10.0.0.1", 5060, host, sizeof(host), &port),
			 0);
	assert_string_equal(host, "10.0.0.1");
	assert_int_equal(port, 5060);
	assert_int_equal(
	    ims_cfg_addr_parse("10.0.0.1:5070", 5060, host, sizeof(host), &port), 0);
	assert_int_equal(port, 5070);
	assert_int_equal(
	    ims_cfg_addr_parse("[::1]:5061", 5060, host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 5061);
	assert_int_equal(ims_cfg_addr_parse("[fe80::1]", 3868, host, sizeof(host), &port),
			 0);
	assert_string_equal(host, "fe80::1");
	assert_int_equal(port, 3868);
	assert_int_equal(
	    ims_cfg_addr_parse("2001:db8::5", 9003, host, sizeof(host), &port), 0);
	assert_string_equal(host, "2001:db8::5");
	assert_int_equal(port, 9003);
	assert_int_equal(
	    ims_cfg_addr_parse("ims.local:65535", 1, host, sizeof(host), &port), 0);
	assert_string_equal(host, "ims.local");
	assert_int_equal(port, 65535);
	assert_int_equal(ims_cfg_addr_parse("h:0", 1, host, sizeof(host), &port), EINVAL);
	assert_int_equal(ims_cfg_addr_parse("h:65536", 1, host, sizeof(host), &port),
			 EINVAL);
	assert_int_equal(ims_cfg_addr_parse("h:", 1, host, sizeof(host), &port), EINVAL);
	assert_int_equal(ims_cfg_addr_parse("h:12a", 1, host, sizeof(host), &port),
			 EINVAL);
	assert_int_equal(ims_cfg_addr_parse(":5060", 1, host, sizeof(host), &port),
			 EINVAL);
	assert_int_equal(ims_cfg_addr_parse("", 1, host, sizeof(host), &port), EINVAL);
	assert_int_equal(ims_cfg_addr_parse("[::1", 1, host, sizeof(host), &port),
			 EINVAL);
	assert_int_equal(ims_cfg_addr_parse("[]:1", 1, host, sizeof(host), &port),
			 EINVAL);
	assert_int_equal(ims_cfg_addr_parse("[::1]x", 1, host, sizeof(host), &port),
			 EINVAL);
	assert_int_equal(ims_cfg_addr_parse("a b", 1, host, sizeof(host), &port), EINVAL);
	assert_int_equal(ims_cfg_addr_parse("abcdefgh", 1, host, 8, &port), ENAMETOOLONG);
	assert_int_equal(ims_cfg_addr_parse("abcdefg", 1, host, 8, &port), 0);
}

static void test_hex_decode(void **state)
{
	uint8_t b[4];

	(void)state;
	assert_int_equal(ims_cfg_hex_decode("0aFf10e9", b, 4), 0);
	assert_int_equal(b[0], 0x0a);
	assert_int_equal(b[1], 0xff);
	assert_int_equal(b[2], 0x10);
	assert_int_equal(b[3], 0xe9);
	assert_int_equal(ims_cfg_hex_decode("0aFf10e", b, 4), EINVAL);
	assert_int_equal(ims_cfg_hex_decode("0aFf10e9a0", b, 4), EINVAL);
	assert_int_equal(ims_cfg_hex_decode("0aFf10g9", b, 4), EINVAL);
	assert_int_equal(ims_cfg_hex_decode("", b, 0), 0);
	assert_string_equal(ims_cfg_aalg_name(IMS_CFG_AALG_HMAC_SHA1_96),
			    "hmac-sha-1-96");
	assert_string_equal(ims_cfg_ealg_name(IMS_CFG_EALG_DES_EDE3_CBC), "des-ede3-cbc");
}

/* --- structured and legacy forms --- */

static void test_sip_addr_forms(void **state)
{
	struct ims_cfg *cfg = NULL;

	(void)state;
	assert_int_equal(
	    load_text("{'sip_addr': {'addr': '10.0.0.1:5070', 'port_min': 2000, "
		      "'port_max': 3000, 'trunk': true, 'bind_addr': '0.0.0.0'}}",
		      &cfg),
	    0);
	assert_int_equal(cfg->sip_addr_count, 1);
	assert_int_equal(cfg->sip_addr[0].addr.port, 5070);
	assert_string_equal(cfg->sip_addr[0].bind_addr.host, "0.0.0.0");
	assert_int_equal(cfg->sip_addr[0].bind_addr.port, 5070);
	assert_int_equal(cfg->sip_addr[0].port_min, 2000);
	assert_int_equal(cfg->sip_addr[0].port_max, 3000);
	assert_true(cfg->sip_addr[0].trunk);
	ims_cfg_free(cfg);
	assert_int_equal(load_text("{'sip_addr': ['10.0.0.1', {'addr': '[::1]:5062', "
				   "'bind_addr': '[::]:6000'}]}",
				   &cfg),
			 0);
	assert_int_equal(cfg->sip_addr_count, 2);
	assert_string_equal(cfg->sip_addr[1].addr.host, "::1");
	assert_int_equal(cfg->sip_addr[1].addr.port, 5062);
	assert_int_equal(cfg->sip_addr[1].bind_addr.port, 6000);
	ims_cfg_free(cfg);
	assert_int_equal(load_text("{'sip_addr': [{'bind_addr': '1.1.1.1'}]}", &cfg),
			 EINVAL);
	assert_string_equal(err, "sip_addr[0].addr: required");
	assert_int_equal(load_text("{'sip_addr': ['1.1.1.1', '1.1.1.1:99999']}", &cfg),
			 EINVAL);
	assert_string_equal(err, "sip_addr[1]: invalid address \"1.1.1.1:99999\"");
	assert_int_equal(load_text("{'sip_addr': {'addr': '1.1.1.1', 'port_min': 5, "
				   "'port_max': 4}}",
				   &cfg),
			 EINVAL);
	assert_string_equal(err, "sip_addr: port_min 5 above port_max 4");
	assert_int_equal(load_text("{'sip_addr': 5}", &cfg), EINVAL);
	assert_string_equal(err, "sip_addr: expected array, object or string");
}

static void test_fallbacks(void **state)
{
	struct ims_cfg *cfg;

	(void)state;
	cfg = load_ok("'sctp_addr': '10.0.0.9', 'cx_server_addr': '10.0.0.2'");
	assert_int_equal(cfg->sctp_addr.port, 29118);
	assert_string_equal(cfg->cx_server_addr.host, "10.0.0.2");
	assert_int_equal(cfg->cx_server_addr.port, 3868);
	assert_string_equal(cfg->rx_server_addr.host, "10.0.0.2");
	assert_int_equal(cfg->rx_server_addr.port, 3868);
	assert_string_equal(cfg->cx_bind_addr.host, "10.0.0.9");
	assert_int_equal(cfg->cx_bind_addr.port, 0);
	assert_string_equal(cfg->rx_bind_addr.host, "10.0.0.9");
	assert_string_equal(cfg->n5.bind_addr.host, "10.0.0.9");
	ims_cfg_free(cfg);
	cfg = load_ok("'cx_server_addr': '10.0.0.2:3870', 'rx_server_addr': '10.0.0.3', "
		      "'cx_bind_addr': '10.0.0.4:4000', 'n5': {'bind_addr': '10.0.0.5'}");
	assert_string_equal(cfg->rx_server_addr.host, "10.0.0.3");
	assert_int_equal(cfg->rx_server_addr.port, 3868);
	assert_string_equal(cfg->rx_bind_addr.host, "10.0.0.4");
	assert_int_equal(cfg->rx_bind_addr.port, 4000);
	assert_string_equal(cfg->n5.bind_addr.host, "10.0.0.5");
	ims_cfg_free(cfg);
}

static void test_session_expires(void **state)
{
	struct ims_cfg *cfg;

	(void)state;
	cfg = load_ok("'session_expires': 600");
	assert_int_equal(cfg->session_expires.duration, 600);
	assert_int_equal(cfg->session_expires.min, 90);
	assert_true(cfg->session_expires.force);
	ims_cfg_free(cfg);
	cfg = load_ok("'session_expires': {'min': 120, 'refresher': 'uas', "
		      "'method': 'invite', 'force': false}");
	assert_int_equal(cfg->session_expires.duration, 1800);
	assert_int_equal(cfg->session_expires.min, 120);
	assert_int_equal(cfg->session_expires.refresher, IMS_CFG_REFRESHER_UAS);
	assert_int_equal(cfg->session_expires.method, IMS_CFG_SE_METHOD_INVITE);
	assert_false(cfg->session_expires.force);
	ims_cfg_free(cfg);
	expect_err("'session_expires': {'duration': 60}",
		   "session_expires: duration 60 below min 90");
	expect_err("'session_expires': 30", "session_expires: duration 30 below min 90");
	expect_err("'session_expires': {'min': 10}",
		   "session_expires.min: 10 out of range (90..86400)");
	expect_err("'session_expires': 'long'",
		   "session_expires: expected object or integer");
	expect_err("'session_expires': 1.5", "session_expires: expected integer");
}

static void test_custom_headers(void **state)
{
	struct ims_cfg *cfg;

	(void)state;
	cfg = load_ok("'custom_headers': [{'name': 'X-A', 'value': '1', 'codes': 200, "
		      "'methods': 'INVITE'}, {'name': 'X-B', 'codes': [0, 180, 183], "
		      "'methods': ['*', 'MESSAGE'], 'value': 'v', 'replace': true}, "
		      "{'name': 'Warning'}]");
	assert_int_equal(cfg->custom_header_count, 3);
	assert_string_equal(cfg->custom_headers[0].name, "X-A");
	assert_int_equal(cfg->custom_headers[0].code_count, 1);
	assert_int_equal(cfg->custom_headers[0].codes[0], 200);
	assert_int_equal(cfg->custom_headers[0].method_count, 1);
	assert_string_equal(cfg->custom_headers[0].methods[0], "INVITE");
	assert_false(cfg->custom_headers[0].replace);
	assert_int_equal(cfg->custom_headers[1].code_count, 3);
	assert_int_equal(cfg->custom_headers[1].codes[2], 183);
	assert_string_equal(cfg->custom_headers[1].methods[1], "MESSAGE");
	assert_true(cfg->custom_headers[1].replace);
	assert_null(cfg->custom_headers[2].value);
	assert_true(cfg->custom_headers[2].replace); /* forced without value */
	ims_cfg_free(cfg);
	expect_err("'custom_headers': [{'value': 'x'}]",
		   "custom_headers[0].name: required");
	/* the SIP stack's checks (sip_custom_hdr_ok): no framing header, no
	 * control character, bounded */
	expect_err("'custom_headers': [{'name': 'Via', 'value': 'x'}]",
		   "custom_headers[0]: Via, From, To, Call-ID, CSeq and Content-Length cannot "
		   "be changed");
	expect_err("'custom_headers': [{'name': 'l'}]",
		   "custom_headers[0]: Via, From, To, Call-ID, CSeq and Content-Length cannot "
		   "be changed");
	expect_err("'custom_headers': [{'name': 'X', 'value': 'a\\u0001b'}]",
		   "custom_headers[0]: the value contains a control character");
	expect_err("'custom_headers': [{'name': 'X', 'methods': 'A B'}]",
		   "custom_headers[0]: a method is not a token");
	expect_err("'custom_headers': [{'name': 'A', 'codes': [200, 50]}]",
		   "custom_headers[0].codes[1]: 50 out of range (0 or 100..699)");
	expect_err("'custom_headers': [{'name': 'A', 'codes': 700}]",
		   "custom_headers[0].codes: 700 out of range (0..699)");
	expect_err("'custom_headers': [{'name': 'A', 'methods': [1]}]",
		   "custom_headers[0].methods[0]: expected string");
	expect_err("'custom_headers': [{'name': 'A B'}]",
		   "custom_headers[0].name: invalid header name \"A B\"");
	expect_err("'custom_headers': {'name': 'A'}", "custom_headers: expected array");
}

/* The size of the whole set is bounded (SIP_CUSTOM_BYTES_MAX): 1000 rules
 * of 1000 methods each would have the stack copy tens of megabytes. */
static void test_custom_headers_total(void **state)
{
	static char buf[512 * 1024];
	struct ims_cfg *cfg = NULL;
	size_t o, rules = 0;

	(void)state;
	o = (size_t)snprintf(buf, sizeof(buf), "{'custom_headers': [");
	for (int i = 0; i < 20; i++) {
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s{'name': 'X', 'methods': [",
				      i ? "," : "");
		for (int j = 0; j < 1000; j++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s'SUBSCRIBE'",
					      j ? "," : "");
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "]}");
	}
	snprintf(buf + o, sizeof(buf) - o, "]}");
	assert_int_equal(load_text(buf, &cfg), EINVAL);
	assert_null(cfg);
	assert_non_null(strstr(err, "]: the rules up to this one take more than 262144 bytes "
				    "(names, values, codes and methods)"));
	assert_int_equal(strncmp(err, "custom_headers[", 15), 0);
	/* refused at the rule that crosses the bound, not later */
	assert_true(sscanf(err, "custom_headers[%zu]", &rules) == 1);
	assert_true(rules >= 10 && rules < 20);
}

static void test_objects_misc(void **state)
{
	struct ims_cfg *cfg;

	(void)state;
	cfg = load_ok(
	    "'trunk': {'addr': '10.1.1.1:5080', 'name': 'acct'}, "
	    "'com_addr': '[::]', 'com_auth': {'password': 'secret'}, "
	    "'license_server': {'server_addr': '192.168.0.20', 'name': 'L', 'tag': 't'}, "
	    "'sms_centre_address': {'number': '+33612345678', "
	    "'type_of_number': 'international', 'numbering_plan': 'private'}, "
	    "'sms_message_filter': {'cp_data': 'ignore', 'rp_ack': 'reject'}, "
	    "'echo': 'tel:600', 'ipsec_aalg_list': ['null', 'hmac-sha-1-96'], "
	    "'ipsec_ealg_list': ['aes-cbc']");
	assert_string_equal(cfg->trunk.addr.host, "10.1.1.1");
	assert_int_equal(cfg->trunk.addr.port, 5080);
	assert_string_equal(cfg->trunk.domain, "10.1.1.1");
	assert_string_equal(cfg->trunk.name, "acct");
	assert_string_equal(cfg->com_addr.host, "::");
	assert_int_equal(cfg->com_addr.port, 9003);
	assert_true(cfg->com_auth_set);
	assert_string_equal(cfg->com_auth.password, "secret");
	assert_false(cfg->com_auth.unsecure);
	assert_string_equal(cfg->license_server.tag, "t");
	assert_string_equal(cfg->sms_centre_address.number, "+33612345678");
	assert_int_equal(cfg->sms_centre_address.type_of_number,
			 IMS_CFG_TON_INTERNATIONAL);
	assert_int_equal(cfg->sms_centre_address.numbering_plan, IMS_CFG_NPI_PRIVATE);
	assert_int_equal(cfg->sms_message_filter[IMS_CFG_SMS_CP_DATA],
			 IMS_CFG_SMS_IGNORE);
	assert_int_equal(cfg->sms_message_filter[IMS_CFG_SMS_CP_ACK], IMS_CFG_SMS_TREAT);
	assert_int_equal(cfg->sms_message_filter[IMS_CFG_SMS_RP_ACK], IMS_CFG_SMS_REJECT);
	assert_int_equal(cfg->echo_count, 1);
	assert_string_equal(cfg->echo[0], "tel:600");
	assert_int_equal(cfg->ipsec_aalg_mask,
			 (1u << IMS_CFG_AALG_NULL) | (1u << IMS_CFG_AALG_HMAC_SHA1_96));
	assert_int_equal(cfg->ipsec_ealg_mask, 1u << IMS_CFG_EALG_AES_CBC);
	ims_cfg_free(cfg);
	expect_err("'trunk': {'name': 'x'}", "trunk.addr: required");
	expect_err("'com_auth': {'unsecure': true}",
		   "com_auth: passfile or password required");
	expect_err("'com_auth': {'password': 'a', 'passfile': 'b'}",
		   "com_auth: passfile and password are both set");
	expect_err("'license_server': {'name': 'x'}",
		   "license_server.server_addr: required");
	expect_err("'sms_centre_address': {'number': '+123456789012345678901'}",
		   "sms_centre_address.number: expected '+' and up to 20 digits");
	expect_err(
	    "'sms_message_filter': {'rp_data': 'drop'}",
	    "sms_message_filter.rp_data: \"drop\" is not one of \"treat\", \"ignore\", "
	    "\"reject\"");
	expect_err(
	    "'ipsec_ealg_list': ['aes-cbc', 'rot13']",
	    "ipsec_ealg_list[1]: \"rot13\" is not one of \"null\", \"aes-cbc\", "
	    "\"des-cbc\", \"des-ede3-cbc\", \"blowfish\", \"aes-ctr\", \"aes-gcm\"");
	expect_err("'ipsec_aalg_list': []", "ipsec_aalg_list: empty list");
	expect_err("'ipsec_ifname': 'tun1'",
		   "ipsec_netns: required when ipsec_ifname is set");
	expect_err("'com_ssl_certificate': 'c.pem'",
		   "com_ssl_key: required when com_ssl_certificate is set");
	expect_err("'sim_events': [{'message': 'x'}]", "sim_events[0].event: required");
	expect_err("'sim_events_loop_count': 3",
		   "sim_events_loop_delay: required when sim_events_loop_count is set");
	expect_err("'echo': [1]", "echo[0]: expected string");
}

static void test_unknown_and_deprecated(void **state)
{
	struct ims_cfg *cfg;

	(void)state;
	cfg = load_ok("'foo': 1, 'n5': {'bar': 2}, 'com_logs_lock': true, "
		      "'ue_db': [{" UE_MIL ", 'impu': ['a', {'impu': 'b', 'zzz': 1}], "
		      "'colour': 'red'}]");
	assert_true(cfg->com_log_lock);
	assert_int_equal(warned.count, 5);
	assert_non_null(strstr(warned.text, "foo: unknown property\n"));
	assert_non_null(strstr(warned.text, "n5.bar: unknown property\n"));
	assert_non_null(
	    strstr(warned.text, "com_logs_lock: deprecated, use com_log_lock\n"));
	assert_non_null(strstr(warned.text, "ue_db[0].impu[1].zzz: unknown property\n"));
	assert_non_null(strstr(warned.text, "ue_db[0].colour: unknown property\n"));
	ims_cfg_free(cfg);
}

/* --- ue_db --- */

static void test_ue_milenage(void **state)
{
	struct ims_cfg *cfg;
	const struct ims_cfg_ue *ue;

	(void)state;
	cfg = load_ok("'ue_db': [{" UE_MIL ", 'impi': '001010000000001@ims.example', "
		      "'amf': 36865, 'sqn': '00000000001f', 'impu': ['001010000000001', "
		      "'tel:0600000001']}, {'imsi': '001010000000002', "
		      "'K': '00112233445566778899AABBCCDDEEFF', 'op': "
		      "'cdc202d5123e20f62b6d676ac72cb318', 'amf': '0x9001', 'sqn': 4096, "
		      "'res_len': 4}]");
	assert_int_equal(cfg->ue_count, 2);
	ue = &cfg->ue[0];
	assert_string_equal(ue->imsi, "001010000000001");
	assert_string_equal(ue->impi, "001010000000001@ims.example");
	assert_int_equal(ue->isim.algo, IMS_CFG_SIM_MILENAGE);
	assert_int_equal(ue->isim.k_len, 16);
	assert_int_equal(ue->isim.k[0], 0x00);
	assert_int_equal(ue->isim.k[15], 0xff);
	assert_int_equal(ue->isim.op_kind, IMS_CFG_OP_OPC);
	assert_int_equal(ue->isim.op[15], 0x0f);
	assert_int_equal(ue->isim.amf, 0x9001);
	assert_int_equal(ue->isim.sqn, 0x1f);
	assert_int_equal(ue->isim.res_len, 8);
	assert_int_equal(ue->authent_type, IMS_CFG_AUTH_AKAV1);
	assert_int_equal(ue->authent_qop, IMS_CFG_QOP_NONE);
	assert_true(ue->auth_on_register_only);
	assert_int_equal(ue->impu_count, 2);
	assert_string_equal(ue->impu[1].impu, "tel:0600000001");
	assert_ptr_equal(ue->opts, cfg->ue_opts_default);
	assert_ptr_equal(ue->impu[0].opts, cfg->ue_opts_default);
	ue = &cfg->ue[1];
	assert_int_equal(ue->isim.op_kind, IMS_CFG_OP_OP);
	assert_int_equal(ue->isim.op[0], 0xcd);
	assert_int_equal(ue->isim.k[10], 0xaa);
	assert_int_equal(ue->isim.amf, 0x9001);
	assert_int_equal(ue->isim.sqn, 4096);
	assert_int_equal(ue->isim.res_len, 4);
	assert_int_equal(ue->impu_count, 0);
	ims_cfg_free(cfg);

	/* default AMF and SQN */
	cfg = load_ok("'ue_db': [{" UE_MIL "}]");
	assert_int_equal(cfg->ue[0].isim.amf, 0x8000);
	assert_int_equal(cfg->ue[0].isim.sqn, 0);
	ims_cfg_free(cfg);
}

static void test_ue_cred_errors(void **state)
{
	(void)state;
	expect_err("'ue_db': [{" UE_MIL "}, {'imsi': '001010000000002', "
		   "'K': '0011223344556677', 'opc': '000102030405060708090a0b0c0d0e0f'}]",
		   "ue_db[1].K: expected 32 hex digits (128 bits)");
	expect_err("'ue_db': [{" UE_MIL ", 'op': '000102030405060708090a0b0c0d0e0f'}]",
		   "ue_db[0]: op and opc are both set");
	expect_err("'ue_db': [{'imsi': '001010000000001', "
		   "'K': '00112233445566778899aabbccddeeff'}]",
		   "ue_db[0]: op or opc required with sim_algo milenage");
	expect_err("'ue_db': [{'imsi': '001010000000001', "
		   "'K': '00112233445566778899aabbccddeeff', 'opc': '0102'}]",
		   "ue_db[0].opc: expected 32 hex digits (128 bits)");
	expect_err("'ue_db': [{'imsi': '001010000000001'}]",
		   "ue_db[0].K: required for AKA authentication");
	expect_err(
	    "'ue_db': [{'K': '00112233445566778899aabbccddeeff', 'sim_algo': 'xor'}]",
	    "ue_db[0]: imsi or nai required");
	expect_err("'ue_db': [{'imsi': '0010a', 'authent_type': 'none'}]",
		   "ue_db[0].imsi: expected 5 to 15 digits");
	expect_err("'ue_db': [{" UE_MIL ", 'multi_sim': true}]",
		   "ue_db[0].multi_sim: only allowed with sim_algo xor");
	expect_err("'ue_db': [{" UE_MIL ", 'amf': 65536}]",
		   "ue_db[0].amf: 65536 out of range (0..65535)");
	expect_err("'ue_db': [{" UE_MIL ", 'amf': '80001'}]",
		   "ue_db[0].amf: expected 16-bit number or 4 hex digits");
	expect_err("'ue_db': [{" UE_MIL ", 'sqn': '0000000000'}]",
		   "ue_db[0].sqn: expected 12 hex digits (48 bits)");
	expect_err("'ue_db': [{" UE_MIL ", 'sqn': 281474976710656}]",
		   "ue_db[0].sqn: 281474976710656 out of range (0..281474976710655)");
	expect_err("'ue_db': [{" UE_MIL ", 'res_len': 16}]",
		   "ue_db[0].res_len: 16 out of range (4..8)");
	expect_err("'ue_db': [{" UE_MIL ", 'mac_len': 16}]",
		   "ue_db[0].mac_len: only used with sim_algo tuak");
	expect_err(
	    "'ue_db': [{" UE_MIL ", 'sim_algo': 'aes'}]",
	    "ue_db[0].sim_algo: \"aes\" is not one of \"xor\", \"milenage\", \"tuak\"");
	expect_err("'ue_db': [{'imsi': '001010000000001', 'K': "
		   "'00112233445566778899aabbccddeeff', 'topc': "
		   "'000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f'}]",
		   "ue_db[0].topc: only used with sim_algo tuak");
	expect_err("'ue_db': [{" UE_MIL ", 'K': 5}]", "ue_db[0].K: expected string");
	expect_err("'ue_db': [{'imsi': '001010000000001', 'authent_type': 'MD5'}]",
		   "ue_db[0].pwd: required with authent_type MD5");
	expect_err("'ue_db': {'imsi': '001010000000001'}", "ue_db: expected array");
	expect_err("'ue_db': [5]", "ue_db[0]: expected object");
}

static void test_ue_xor_tuak(void **state)
{
	struct ims_cfg *cfg;
	const struct ims_cfg_isim *c;

	(void)state;
	cfg = load_ok(
	    "'ue_db': [{'sim_algo': 'xor', 'imsi': '001010123456789', 'amf': 36865, "
	    "'K': '00112233445566778899aabbccddeeff', 'multi_sim': true, "
	    "'res_len': 16, 'opc': '000102030405060708090a0b0c0d0e0f'}]");
	c = &cfg->ue[0].isim;
	assert_int_equal(c->algo, IMS_CFG_SIM_XOR);
	assert_true(cfg->ue[0].multi_sim);
	assert_int_equal(c->res_len, 16);
	assert_int_equal(c->op_kind, IMS_CFG_OP_NONE);
	assert_non_null(strstr(warned.text, "ue_db[0].opc: ignored with sim_algo xor"));
	ims_cfg_free(cfg);

	/* TUAK: 256-bit K, TOPc, every length */
	cfg = load_ok(
	    "'ue_db': [{'sim_algo': 'tuak', 'imsi': '001010000000003', "
	    "'K': 'abababababababababababababababababababababababababababababababab', "
	    "'topc': 'bd04d9530e87513c5d837ac2ad954623a8e2330c115305a73eb45d1f40cccbff', "
	    "'mac_len': 16, 'res_len': 32, 'ck_len': 32, 'ik_len': 32, "
	    "'keccak_iterations': 3}, "
	    "{'sim_algo': 'tuak', 'nai': 'user@example.org', "
	    "'K': '00112233445566778899aabbccddeeff', "
	    "'top': "
	    "'5555555555555555555555555555555555555555555555555555555555555555'}]");
	c = &cfg->ue[0].isim;
	assert_int_equal(c->algo, IMS_CFG_SIM_TUAK);
	assert_int_equal(c->k_len, 32);
	assert_int_equal(c->k[31], 0xab);
	assert_int_equal(c->op_kind, IMS_CFG_OP_OPC);
	assert_int_equal(c->op[0], 0xbd);
	assert_int_equal(c->op[31], 0xff);
	assert_int_equal(c->mac_len, 16);
	assert_int_equal(c->res_len, 32);
	assert_int_equal(c->ck_len, 32);
	assert_int_equal(c->ik_len, 32);
	assert_int_equal(c->keccak_iterations, 3);
	c = &cfg->ue[1].isim;
	assert_null(cfg->ue[1].imsi);
	assert_string_equal(cfg->ue[1].nai, "user@example.org");
	assert_int_equal(c->k_len, 16);
	assert_int_equal(c->op_kind, IMS_CFG_OP_OP);
	assert_int_equal(c->mac_len, 8);
	assert_int_equal(c->res_len, 8);
	assert_int_equal(c->ck_len, 16);
	assert_int_equal(c->ik_len, 16);
	assert_int_equal(c->keccak_iterations, 1);
	ims_cfg_free(cfg);

	/* op/opc spelled with 256 bits are TOP/TOPc under TUAK */
	cfg = load_ok(
	    "'ue_db': [{'sim_algo': 'tuak', 'imsi': '001010000000003', "
	    "'K': '00112233445566778899aabbccddeeff', "
	    "'opc': "
	    "'0000000000000000000000000000000000000000000000000000000000000001'}]");
	assert_int_equal(cfg->ue[0].isim.op_kind, IMS_CFG_OP_OPC);
	assert_int_equal(cfg->ue[0].isim.op[31], 1);
	ims_cfg_free(cfg);

	expect_err("'ue_db': [{'sim_algo': 'tuak', 'imsi': '001010000000003', "
		   "'K': '00112233445566778899aabbccddeeff00'}]",
		   "ue_db[0].K: expected 32 or 64 hex digits (128 or 256 bits)");
	expect_err("'ue_db': [{'sim_algo': 'tuak', 'imsi': '001010000000003', "
		   "'K': '00112233445566778899aabbccddeeff'}]",
		   "ue_db[0]: top or topc required with sim_algo tuak");
	expect_err("'ue_db': [{'sim_algo': 'tuak', 'imsi': '001010000000003', "
		   "'K': '00112233445566778899aabbccddeeff', "
		   "'topc': '000102030405060708090a0b0c0d0e0f'}]",
		   "ue_db[0].topc: expected 64 hex digits (256 bits)");
	expect_err("'ue_db': [{'sim_algo': 'tuak', 'imsi': '001010000000003', "
		   "'K': '00112233445566778899aabbccddeeff', 'mac_len': 12, "
		   "'topc': "
		   "'000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f'}]",
		   "ue_db[0].mac_len: 12 is not an allowed length (bytes)");
	expect_err("'ue_db': [{'sim_algo': 'tuak', 'imsi': '001010000000003', "
		   "'K': '00112233445566778899aabbccddeeff', 'keccak_iterations': 0, "
		   "'topc': "
		   "'000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f'}]",
		   "ue_db[0].keccak_iterations: 0 out of range (1..255)");
	expect_err("'ue_db': [{'sim_algo': 'xor', 'imsi': '001010000000003', "
		   "'K': '00112233445566778899aabbccddeeff', 'res_len': 17}]",
		   "ue_db[0].res_len: 17 out of range (4..16)");
}

static void test_ue_md5_and_auth(void **state)
{
	struct ims_cfg *cfg;

	(void)state;
	cfg =
	    load_ok("'auth_on_register_only': false, 'mt_call_sdp_file': '/g.sdp', "
		    "'ue_db': [{'imsi': '001010000000009', 'impi': 'username', "
		    "'pwd': 'amarisoft', 'authent_qop': 'auth', 'impu': ['sip:user']}, "
		    "{'imsi': '001010000000008', 'authent_type': 'AKAv2-SHA-256', " UE_MIL
		    ", 'auth_on_register_only': true, 'force_sms_over_sg': 1, "
		    "'mt_call_sdp_file': 'u.sdp'}, "
		    "{'imsi': '001010000000007', 'authent_type': 'none'}, "
		    "{'imsi': '001010000000006', 'authentication': false}]");
	assert_int_equal(cfg->ue[0].authent_type, IMS_CFG_AUTH_MD5);
	assert_int_equal(cfg->ue[0].authent_qop, IMS_CFG_QOP_AUTH);
	assert_string_equal(cfg->ue[0].pwd, "amarisoft");
	assert_int_equal(cfg->ue[0].isim.k_len, 0);
	assert_false(cfg->ue[0].auth_on_register_only);
	assert_string_equal(cfg->ue[0].mt_call_sdp_file, "/g.sdp");
	assert_int_equal(cfg->ue[1].authent_type, IMS_CFG_AUTH_AKAV2_SHA256);
	assert_true(cfg->ue[1].auth_on_register_only);
	assert_true(cfg->ue[1].force_sms_over_sg);
	assert_string_equal(cfg->ue[1].mt_call_sdp_file, "/etc/imsd/u.sdp");
	assert_int_equal(cfg->ue[2].authent_type, IMS_CFG_AUTH_NONE);
	assert_false(cfg->ue[3].opts->authentication);
	ims_cfg_free(cfg);
	expect_err("'ue_db': [{" UE_MIL ", 'authent_type': 'AKAv3'}]",
		   "ue_db[0].authent_type: \"AKAv3\" is not one of \"none\", \"MD5\", "
		   "\"AKAv1\", "
		   "\"AKAv2\", \"AKAv2-SHA-256\"");
}

/* A user's IMPUs all authenticate or none does: with authentication: false
 * on some only, a registration without credentials through one of those
 * would get the others too (security review finding 5). */
static void test_impu_auth_mix(void **state)
{
	struct ims_cfg *cfg;

	(void)state;
	expect_err("'ue_db': [{" UE_MIL ", 'impu': ['sip:me', "
		   "{'impu': 'sip:guest', 'authentication': false}]}]",
		   "ue_db[0].impu: 'sip:guest' has authentication: false, 'sip:me' does "
		   "not: registering the first without credentials would register both; "
		   "give IMPUs without authentication a ue_db entry of their own");
	expect_err("'ue_db': [{'imsi': '001010000000006', 'authentication': false, "
		   "'impu': ['sip:a', {'impu': 'sip:b', 'authentication': true}]}]",
		   "ue_db[0].impu: 'sip:a' has authentication: false, 'sip:b' does not: "
		   "registering the first without credentials would register both; give "
		   "IMPUs without authentication a ue_db entry of their own");
	/* all without, or authent_type none whatever the IMPUs say: fine */
	cfg = load_ok("'ue_db': [{" UE_MIL ", 'authentication': false, 'impu': ['sip:a', "
		      "{'impu': 'sip:b', 'authentication': false}]}, "
		      "{'imsi': '001010000000005', 'authent_type': 'none', 'impu': ['sip:c', "
		      "{'impu': 'sip:d', 'authentication': false}]}]");
	ims_cfg_free(cfg);
}

static void test_impu_options(void **state)
{
	struct ims_cfg *cfg;
	const struct ims_cfg_ue *ue;
	const struct ims_cfg_impu_opts *o;

	(void)state;
	cfg = load_ok(
	    "'domain': 'g.org', '100rel': false, 'precondition': 'off', "
	    "'session_expires': {'duration': 1000, 'min': 100}, "
	    "'ue_db': [{" UE_MIL ", 'display_name': 'Alice', 'domain': 'u.org', "
	    "'early_media': false, 'answer_delay': 1.5, 'multi_sim': false, "
	    "'impu': ['a', {'impu': 'tel:600', 'imei': '35000000000000', "
	    "'display_name': 'Bob', 'precondition': 'silent', '100rel': true, "
	    "'session_expires': {'min': 200, 'duration': 2000}, 'anonymous': true, "
	    "'anonymous_callback': 30, 'ring_only': 1, 'preferred': true, "
	    "'asserted': true, 'associated': false, 'p_called_party_id': 'sip:x', "
	    "'sms_delay': 2, 'media_delay': 0.25, 'remote_control': true, "
	    "'sdp_file': 'e.sdp', 'bitrate_factor': 1.5, 'audio': false, "
	    "'video': false, 'text': false, 'rtp': false, 'rtcp': false}, "
	    "{'impu': 'b'}]}, {" UE_MIL "}]");
	ue = &cfg->ue[0];
	assert_non_null(ue->opts);
	assert_ptr_not_equal(ue->opts, cfg->ue_opts_default);
	assert_string_equal(ue->opts->display_name, "Alice");
	assert_string_equal(ue->opts->domain, "u.org");
	assert_false(ue->opts->early_media);
	assert_false(ue->opts->rel100); /* from global */
	assert_int_equal(ue->opts->precondition, IMS_CFG_PRECOND_OFF);
	assert_int_equal(ue->opts->own, 0); /* both follow the global values */
	assert_true(ue->opts->answer_delay == 1.5);
	assert_true(ue->opts->sms_delay == IMS_CFG_DELAY_UNSET);
	assert_ptr_equal(ue->opts->session_expires, &cfg->session_expires);
	assert_int_equal(ue->impu_count, 3);
	assert_ptr_equal(ue->impu[0].opts, ue->opts); /* shared */
	assert_ptr_equal(ue->impu[2].opts, ue->opts); /* object, no options */
	assert_null(ue->impu[2].imei);
	o = ue->impu[1].opts;
	assert_string_equal(ue->impu[1].imei, "35000000000000");
	assert_string_equal(o->display_name, "Bob");
	assert_string_equal(o->domain, "u.org"); /* inherited from user */
	assert_false(o->early_media);		 /* inherited from user */
	assert_true(o->answer_delay == 1.5);
	assert_int_equal(o->precondition, IMS_CFG_PRECOND_SILENT);
	assert_true(o->rel100);
	assert_int_equal(o->own, IMS_CFG_OWN_PRECOND | IMS_CFG_OWN_REL100); /* set here */
	assert_int_equal(o->session_expires->duration, 2000);
	assert_int_equal(o->session_expires->min, 200);
	assert_true(o->session_expires->force);
	assert_true(o->anonymous);
	assert_true(o->anonymous_callback == 30);
	assert_true(o->ring_only);
	assert_true(o->preferred);
	assert_true(o->asserted);
	assert_false(o->associated);
	assert_string_equal(o->p_called_party_id, "sip:x");
	assert_true(o->sms_delay == 2);
	assert_true(o->media_delay == 0.25);
	assert_true(o->remote_control);
	assert_string_equal(o->sdp_file, "/etc/imsd/e.sdp");
	assert_true(o->bitrate_factor == 1.5);
	assert_false(o->audio || o->video || o->text || o->rtp || o->rtcp);
	/* second user: global defaults, shared block */
	ue = &cfg->ue[1];
	assert_ptr_equal(ue->opts, cfg->ue_opts_default);
	assert_string_equal(ue->opts->domain, "g.org");
	assert_false(ue->opts->rel100);
	assert_true(ue->opts->early_media);
	assert_true(ue->opts->authentication);
	assert_true(ue->opts->associated);
	assert_true(ue->opts->bitrate_factor == 1);
	ims_cfg_free(cfg);

	expect_err("'ue_db': [{" UE_MIL ", 'impu': [{'impu': 'a', 'display_name': 3}]}]",
		   "ue_db[0].impu[0].display_name: expected string");
	expect_err("'ue_db': [{" UE_MIL "}, {" UE_MIL "}, {" UE_MIL "}, {" UE_MIL
		   ", 'impu': [{'impu': 'a', 'display_name': 3}]}]",
		   "ue_db[3].impu[0].display_name: expected string");
	expect_err("'ue_db': [{" UE_MIL ", 'impu': [{'imei': '1'}]}]",
		   "ue_db[0].impu[0].impu: required");
	expect_err(
	    "'ue_db': [{" UE_MIL ", 'impu': [{'impu': 'a', 'imei': 'not-an-imei'}]}]",
	    "ue_db[0].impu[0].imei: invalid IMEI \"not-an-imei\" (14 to 16 digits, "
	    "dashes allowed, e.g. \"35000000-000001-0\")");
	expect_err(
	    "'ue_db': [{" UE_MIL ", 'impu': [{'impu': 'a', 'imei': '3500000000000'}]}]",
	    "ue_db[0].impu[0].imei: invalid IMEI \"3500000000000\" (14 to 16 digits, "
	    "dashes allowed, e.g. \"35000000-000001-0\")");
	/* a domain is written as the host of URIs: it must be one */
	expect_err("'domain': '?ms.example'",
		   "domain: invalid host \"?ms.example\" (a domain name, IPv4 address or "
		   "[IPv6] address)");
	expect_err(
	    "'ue_db': [{" UE_MIL ", 'domain': 'a b'}]",
	    "ue_db[0].domain: invalid host \"a b\" (a domain name, IPv4 address or "
	    "[IPv6] address)");
	expect_err(
	    "'ue_db': [{" UE_MIL ", 'impu': [{'impu': 'x', 'domain': 'a@b'}]}]",
	    "ue_db[0].impu[0].domain: invalid host \"a@b\" (a domain name, IPv4 address "
	    "or [IPv6] address)");
	expect_err("'ue_db': [{" UE_MIL ", 'impu': ['a b']}]",
		   "ue_db[0].impu[0]: invalid IMPU \"a b\"");
	expect_err("'ue_db': [{" UE_MIL ", 'impu': [5]}]",
		   "ue_db[0].impu[0]: expected string or object");
	expect_err("'ue_db': [{" UE_MIL ", 'impu': 'a'}]",
		   "ue_db[0].impu: expected array");
	expect_err("'ue_db': [{" UE_MIL ", 'bitrate_factor': -1}]",
		   "ue_db[0].bitrate_factor: -1 out of range (0..1000)");
	expect_err("'ue_db': [{" UE_MIL ", 'impu': [{'impu': 'a', 'session_expires': "
		   "{'duration': 80}}]}]",
		   "ue_db[0].impu[0].session_expires: duration 80 below min 90");
}

static void test_callflow_modifier(void **state)
{
	struct ims_cfg *cfg;
	const struct ims_cfg_cfm *m;
	const struct ims_cfg_impu_opts *o;

	(void)state;
	cfg = load_ok(
	    "'ue_db': [{" UE_MIL ", 'impu': [{'impu': '001010123456789', "
	    "'callflow_modifier': [{'method': 'REGISTER', 'code': 403, 'stop': true, "
	    "'log': 'Forbidden User', 'custom_headers': [{'name': 'Warning', "
	    "'value': '403 User barred', 'replace': true}]}, "
	    "{'method': 'INVITE.RINGING', 'dir': 'tx', 'transparent': true, "
	    "'content': 'r.sdp', 'content_type': 'application/sdp', "
	    "'access_network': 'lte, nr', 'impu': 'tel:1', 'imei': '3500', 'ttl': 2, "
	    "'tts': 1, 'send_delay': 0.5, 'stop': false}, {'code': 503}, "
	    "{'content': null, 'content_type': 'application/sdp'}]}, "
	    "{'impu': 'x', 'callflow_modifier': [{'method': 'MESSAGE', 'code': 488}, "
	    "{'method': 'INVITE.TRYING', 'custom_headers': [{'name': 'X', 'value': '1'}]}]}]}]");
	o = cfg->ue[0].impu[0].opts;
	assert_int_equal(o->cfm_count, 4);
	m = &o->cfm[0];
	assert_int_equal(m->step, IMS_CFG_STEP_REGISTER);
	assert_string_equal(m->method, "REGISTER");
	assert_int_equal(m->code, 403);
	assert_true(m->stop);
	assert_string_equal(m->log, "Forbidden User");
	assert_int_equal(m->hdr_count, 1);
	assert_string_equal(m->hdrs[0].value, "403 User barred");
	assert_int_equal(m->dir, IMS_CFG_DIR_BOTH);
	m = &o->cfm[1];
	assert_int_equal(m->step, IMS_CFG_STEP_INVITE_RINGING);
	assert_int_equal(m->dir, IMS_CFG_DIR_TX);
	assert_true(m->transparent);
	assert_false(m->stop);
	assert_string_equal(m->content, "/etc/imsd/r.sdp");
	assert_string_equal(m->content_type, "application/sdp");
	assert_int_equal(m->access_network, IMS_CFG_RAT_LTE | IMS_CFG_RAT_NR);
	assert_string_equal(m->impu, "tel:1");
	assert_string_equal(m->imei, "3500");
	assert_int_equal(m->ttl, 2);
	assert_int_equal(m->tts, 1);
	assert_true(m->send_delay == 0.5);
	assert_int_equal(o->cfm[2].code, 503);
	assert_int_equal(o->cfm[2].step, IMS_CFG_STEP_ANY);
	assert_true(o->cfm[3].content_remove);
	assert_null(o->cfm[3].content);
	/* one trigger counter each, from 0 */
	for (uint32_t i = 0; i < o->cfm_count; i++) {
		assert_non_null(o->cfm[i].count);
		assert_int_equal(*o->cfm[i].count, 0);
	}
	assert_ptr_not_equal(o->cfm[0].count, o->cfm[1].count);
	o = cfg->ue[0].impu[1].opts;
	assert_int_equal(o->cfm_count, 2);
	assert_int_equal(o->cfm[0].step, IMS_CFG_STEP_MESSAGE);
	assert_int_equal(o->cfm[0].code, 488);
	assert_int_equal(o->cfm[1].step, IMS_CFG_STEP_INVITE_TRYING); /* headers on a 100 */
	assert_int_equal(o->cfm[1].hdr_count, 1);
	ims_cfg_free(cfg);

	expect_err(
	    "'ue_db': [{" UE_MIL ", 'callflow_modifier': {'code': 99}}]",
	    "ue_db[0].callflow_modifier.code: 99 out of range (100..699, -1 or -2)");
	expect_err("'ue_db': [{" UE_MIL ", 'callflow_modifier': [{'code': -3}]}]",
		   "ue_db[0].callflow_modifier[0].code: -3 out of range (-2..699)");
	expect_err(
	    "'ue_db': [{" UE_MIL ", 'callflow_modifier': [{'method': 'BYE'}]}]",
	    "ue_db[0].callflow_modifier[0].method: \"BYE\" is not one of \"INVITE.OK\", "
	    "\"INVITE.TRYING\", \"INVITE.RINGING\", \"INVITE.SESSION_PROGRESS\", "
	    "\"INVITE\", \"SUBSCRIBE\", \"REGISTER\", \"UPDATE\", \"CANCEL\", \"PRACK\", "
	    "\"MESSAGE\", \"REGISTER.SOS\", \"REINVITE\"");
	expect_err(
	    "'ue_db': [{" UE_MIL ", 'callflow_modifier': [{'content': 'a.sdp'}]}]",
	    "ue_db[0].callflow_modifier[0].content_type: required when content is set");
	expect_err("'ue_db': [{" UE_MIL ", 'callflow_modifier': [{'send_delay': 61}]}]",
		   "ue_db[0].callflow_modifier[0].send_delay: 61 out of range (0..60)");
	expect_err("'ue_db': [{" UE_MIL ", 'callflow_modifier': [{'ttl': 0}]}]",
		   "ue_db[0].callflow_modifier[0].ttl: 0 out of range (1..2147483647)");
	expect_err("'ue_db': [{" UE_MIL
		   ", 'callflow_modifier': [{'access_network': 'wifi'}]}]",
		   "ue_db[0].callflow_modifier[0].access_network: \"wifi\" is not one of "
		   "\"lte\", \"nr\", \"n3gpp\"");
	expect_err(
	    "'ue_db': [{" UE_MIL ", 'callflow_modifier': [{'dir': 'up'}]}]",
	    "ue_db[0].callflow_modifier[0].dir: \"up\" is not one of \"both\", \"tx\", "
	    "\"rx\"");
	expect_err("'ue_db': [{" UE_MIL ", 'callflow_modifier': 5}]",
		   "ue_db[0].callflow_modifier: expected array");
}

#define CFM_ERR(obj) "'ue_db': [{" UE_MIL ", 'callflow_modifier': [" obj "]}]"
#define NOT_YET " (not applied by imsd yet: docs/callflow_modifier.md)"

/* What the call-flow engine does not apply is refused, never kept to do
 * nothing (docs/callflow_modifier.md "Not applied yet"). */
static void test_callflow_modifier_not_applied(void **state)
{
	(void)state;
	expect_err(CFM_ERR("{'method': 'CANCEL', 'code': 200}"),
		   "ue_db[0].callflow_modifier[0].code: a 2xx to a CANCEL is what imsd answers "
		   "anyway (docs/callflow_modifier.md)");
	expect_err(CFM_ERR("{'method': 'REINVITE', 'code': 200}"),
		   "ue_db[0].callflow_modifier[0].code: a 2xx on \"REINVITE\" would need a "
		   "session change imsd does not make (docs/callflow_modifier.md)");
	/* headers on a relayed UPDATE, REINVITE, CANCEL: applied; a PRACK
	 * is answered per leg (not relayed) */
	expect_err(CFM_ERR("{'method': 'PRACK', 'custom_headers': [{'name': 'X', "
			   "'value': '1'}]}"),
		   "ue_db[0].callflow_modifier[0].custom_headers: without a code on "
		   "\"PRACK\"" NOT_YET);
	/* INVITE.TRYING: headers (or a log) on a 100 Trying, nothing else */
	expect_err(CFM_ERR("{'method': 'INVITE.TRYING', 'code': 486}"),
		   "ue_db[0].callflow_modifier[0].code: a code in place of the 100 Trying: "
		   "write it on \"INVITE\" (docs/callflow_modifier.md)");
	expect_err(CFM_ERR("{'method': 'INVITE.TRYING', 'log': 'x', 'send_delay': 1}"),
		   "ue_db[0].callflow_modifier[0].send_delay: on \"INVITE.TRYING\": the 100 "
		   "Trying goes within 200 ms (RFC 3261 §17.2.1; docs/callflow_modifier.md)");
	expect_err(CFM_ERR("{'method': 'INVITE.TRYING', 'content': 'a', "
			   "'content_type': 'text/plain'}"),
		   "ue_db[0].callflow_modifier[0].content: on \"INVITE.TRYING\": a 100 "
		   "Trying carries no body (docs/callflow_modifier.md)");
	expect_err(CFM_ERR("{'method': 'INVITE.TRYING'}"),
		   "ue_db[0].callflow_modifier[0].method: a modifier on \"INVITE.TRYING\" "
		   "without custom_headers or log does nothing (docs/callflow_modifier.md)");
	expect_err(CFM_ERR("{'code': -1}"),
		   "ue_db[0].callflow_modifier[0].code: -1: the reference product's special "
		   "codes are not applied by imsd (docs/callflow_modifier.md)");
	expect_err(CFM_ERR("{'method': 'MESSAGE', 'code': 183}"),
		   "ue_db[0].callflow_modifier[0].code: a provisional code other than 101..199 "
		   "on INVITE" NOT_YET);
	expect_err(CFM_ERR("{'method': 'INVITE', 'code': 100}"),
		   "ue_db[0].callflow_modifier[0].code: a provisional code other than 101..199 "
		   "on INVITE" NOT_YET);
	expect_err(CFM_ERR("{'method': 'INVITE', 'code': 200}"),
		   "ue_db[0].callflow_modifier[0].code: a 2xx on \"INVITE\" would need a "
		   "session change imsd does not make (docs/callflow_modifier.md)");
	expect_err(CFM_ERR("{'method': 'INVITE.OK', 'code': 202}"),
		   "ue_db[0].callflow_modifier[0].code: a 2xx on \"INVITE.OK\" would need a "
		   "session change imsd does not make (docs/callflow_modifier.md)");
	expect_err(CFM_ERR("{'method': 'INVITE.RINGING', 'code': 200}"),
		   "ue_db[0].callflow_modifier[0].code: a 2xx on \"INVITE.RINGING\" would need "
		   "a session change imsd does not make (docs/callflow_modifier.md)");
	expect_err(CFM_ERR("{'method': 'INVITE.RINGING', 'code': 486, 'send_delay': 1}"),
		   "ue_db[0].callflow_modifier[0].send_delay: a delay with a code other than a "
		   "final one to a new INVITE, SUBSCRIBE, REGISTER or a MESSAGE received" NOT_YET);
	expect_err(CFM_ERR("{'method': 'MESSAGE', 'code': 500, 'send_delay': 1}"),
		   "ue_db[0].callflow_modifier[0].send_delay: a delay with a code other than a "
		   "final one to a new INVITE, SUBSCRIBE, REGISTER or a MESSAGE received" NOT_YET);
	expect_err(CFM_ERR("{'method': 'INVITE', 'code': 180, 'send_delay': 1}"),
		   "ue_db[0].callflow_modifier[0].send_delay: a delay with a code other than a "
		   "final one to a new INVITE, SUBSCRIBE, REGISTER or a MESSAGE received" NOT_YET);
	expect_err(CFM_ERR("{'method': 'INVITE', 'code': 486, 'transparent': true}"),
		   "ue_db[0].callflow_modifier[0].transparent: a final code answers the "
		   "request: the call flow cannot go on (docs/callflow_modifier.md)");
	expect_err(CFM_ERR("{'method': 'UPDATE', 'log': 'x', 'send_delay': 2}"),
		   "ue_db[0].callflow_modifier[0].send_delay: a delay on other steps than "
		   "INVITE.RINGING, INVITE.SESSION_PROGRESS and INVITE.OK" NOT_YET);
	expect_err(CFM_ERR("{'send_delay': 2, 'log': 'x'}"),
		   "ue_db[0].callflow_modifier[0].send_delay: a delay on other steps than "
		   "INVITE.RINGING, INVITE.SESSION_PROGRESS and INVITE.OK" NOT_YET);
	expect_err(CFM_ERR("{'method': 'MESSAGE', 'dir': 'rx', 'custom_headers': [{'name': "
			   "'X-A', 'value': '1'}]}"),
		   "ue_db[0].callflow_modifier[0].custom_headers: without a code on "
		   "\"MESSAGE\"" NOT_YET);
	expect_err(CFM_ERR("{'method': 'INVITE', 'content': 'a.sdp', "
			   "'content_type': 'application/sdp'}"),
		   "ue_db[0].callflow_modifier[0].content: on a request without a code" NOT_YET);
	expect_err(CFM_ERR("{'method': 'MESSAGE', 'code': 202}"),
		   "ue_db[0].callflow_modifier[0].code: a 2xx on a MESSAGE imsd sends (dir tx or "
		   "both) would stand for a phone that took it (docs/callflow_modifier.md)");
	expect_err(CFM_ERR("{'method': 'SUBSCRIBE'}"),
		   "ue_db[0].callflow_modifier[0].method: a modifier on \"SUBSCRIBE\" without "
		   "code or log does nothing (docs/callflow_modifier.md)");
	/* the deprecated user fields make a modifier checked the same way */
	expect_err("'ue_db': [{" UE_MIL ", 'code': 486, 'transparent': true}]",
		   "ue_db[0].transparent: a final code answers the request: the call flow "
		   "cannot go on (docs/callflow_modifier.md)");
}

static void test_deprecated_user_modifier(void **state)
{
	struct ims_cfg *cfg;
	const struct ims_cfg_impu_opts *o;

	(void)state;
	cfg = load_ok(
	    "'ue_db': [{" UE_MIL ", 'code': 486, 'method': 'INVITE', "
	    "'transparent': false, 'content': 'b.txt', 'content_type': 'text/plain', "
	    "'callflow_modifier': {'method': 'MESSAGE', 'code': 500}, "
	    "'impu': ['a']}]");
	o = cfg->ue[0].opts;
	assert_int_equal(o->cfm_count, 2);
	assert_int_equal(o->cfm[0].step, IMS_CFG_STEP_MESSAGE);
	assert_int_equal(o->cfm[1].step, IMS_CFG_STEP_INVITE);
	assert_int_equal(o->cfm[1].code, 486);
	assert_false(o->cfm[1].transparent);
	assert_true(o->cfm[1].stop);
	assert_string_equal(o->cfm[1].content, "/etc/imsd/b.txt");
	assert_string_equal(o->cfm[1].content_type, "text/plain");
	assert_ptr_equal(cfg->ue[0].impu[0].opts, o);
	assert_non_null(
	    strstr(warned.text, "ue_db[0].code: deprecated, use callflow_modifier"));
	assert_non_null(
	    strstr(warned.text, "ue_db[0].method: deprecated, use callflow_modifier"));
	assert_int_equal(warned.count, 5);
	ims_cfg_free(cfg);
	expect_err("'ue_db': [{" UE_MIL ", 'content': 'b.txt'}]",
		   "ue_db[0].content_type: required when content is set");
}

/* --- everything set --- */

static const char *full_cfg =
    "{'log_filename': '/var/log/ims.log', 'log_options': 'all.level=debug', "
    "'log_sync': true, "
    "'sip_addr': [{'addr': '192.168.4.1', 'bind_addr': '0.0.0.0:5060', "
    "'port_min': 30000, 'port_max': 31000}, {'addr': '10.0.0.1:5070', 'trunk': true}], "
    "'sctp_addr': '127.0.1.100', 'cx_server_addr': '127.0.1.1:3869', "
    "'cx_bind_addr': '127.0.1.100', 'cx_origin_realm': 'r.org', 'cx_origin_host': "
    "'h.r.org', "
    "'cx_watchdog_duration': 30000, 'rx_server_addr': '127.0.1.2', "
    "'rx_bind_addr': '127.0.1.101', 'rx_origin_realm': 'rx.org', 'rx_origin_host': "
    "'h.rx.org', "
    "'rx_watchdog_duration': 10000, 'use_n5': true, "
    "'n5': {'transaction_timeout': 15000, 'bind_addr': '127.0.1.102:7777'}, "
    "'domain': 'ims.mnc001.mcc001.3gppnetwork.org', 'tcp_threshold': 1500, "
    "'tcp_keepalive': 0, 'tcp_keepcount': 5, "
    "'session_expires': {'duration': 3600, 'min': 600, 'refresher': 'uas', "
    "'method': 'invite', 'force': false}, '100rel': false, 'precondition': 'off', "
    "'p_called_party_id': true, 'ipsec': true, "
    "'ipsec_tun_setup_script_filename': 'tun.sh', 'ipsec_aalg_list': ['hmac-md5-96', "
    "'hmac-md5-128', 'hmac-sha-1-96', 'hmac-sha-1-160', 'aes-cmac-96', 'aes-gmac', "
    "'null'], "
    "'ipsec_ealg_list': ['aes-cbc', 'des-cbc', 'des-ede3-cbc', 'blowfish', 'aes-ctr', "
    "'aes-gcm', 'null'], 'ipsec_mtu': 1300, 'ipsec_ifname': 'tun9', 'ipsec_netns': "
    "'ims', "
    "'dialog_timeout': 60, 'auth_on_register_only': false, "
    "'trunk': {'addr': '10.9.9.9', 'name': 'acct', 'domain': 'trunk.org', "
    "'tcp_threshold': 100}, 'com_addr': '0.0.0.0:9100', 'com_name': 'MyIMS', "
    "'com_ssl_certificate': 'c.pem', 'com_ssl_key': 'k.pem', 'com_ssl_peer_verify': "
    "true, "
    "'com_ssl_ca': 'ca.pem', 'com_log_lock': true, 'com_log_us': true, "
    "'com_auth': {'passfile': 'pw.txt', 'unsecure': true}, 'com_log_count': 100000, "
    "'sim_events': [{'event': 'sms', 'start_time': 1}], 'sim_events_loop_count': 2, "
    "'sim_events_loop_delay': 5, "
    "'license_server': {'server_addr': '192.168.0.20', 'name': 'My license'}, "
    "'sms_expires': 3600, 'sms_hook_only': true, 'binding_expires': 600, "
    "'subscribe_expires': 1200, 'user_agent': 'UA/1', 'force_user_agent': false, "
    "'early_media': false, 'path': '', 'timer_t1': 0.5, 'timer_t2': 8, 'timer_t4': 10, "
    "'custom_headers': [{'name': 'X-Net', 'value': 'lab', 'methods': '*'}], "
    "'sms_centre_address': {'number': '123'}, 'sms_retry_delay': 30, "
    "'echo': ['tel:600', 'sip:echo'], 'mt_call_sdp_file': 'mt.sdp', "
    "'sms_message_filter': {'cp_data': 'treat', 'cp_ack': 'ignore', 'rp_data': 'reject', "
    "'rp_ack': 'ignore'}, 'sms_forced_cp_cause': 17, 'sms_forced_rp_cause': 41, "
    "'mms_server_bind_addr': '192.168.3.1:1111', 'mms_expires': 7200, "
    "'ue_db_filename': 'ims.db', "
    "'ue_db': [{'sim_algo': 'milenage', 'imsi': '001010000000001', 'amf': 36865, "
    "'sqn': '000000000000', 'K': '00112233445566778899AABBCCDDEEFF', "
    "'opc': '000102030405060708090A0B0C0D0E0F', 'impu': ['001010000000001', "
    "'tel:0600000001'], 'impi': '001010000000001@ims.mnc001.mcc001.3gppnetwork.org', "
    "'domain': 'ims.mnc001.mcc001.3gppnetwork.org'}]}";

static void test_full_config(void **state)
{
	struct ims_cfg *cfg = NULL;

	(void)state;
	if (load_text(full_cfg, &cfg))
		fail_msg("%s", err);
	assert_int_equal(warned.count, 0);
	assert_string_equal(cfg->log_filename, "/var/log/ims.log");
	assert_string_equal(cfg->log_options, "all.level=debug");
	assert_int_equal(cfg->sip_addr_count, 2);
	assert_int_equal(cfg->sip_addr[0].port_min, 30000);
	assert_true(cfg->sip_addr[1].trunk);
	assert_int_equal(cfg->cx_server_addr.port, 3869);
	assert_string_equal(cfg->cx_bind_addr.host, "127.0.1.100");
	assert_string_equal(cfg->cx_origin_host, "h.r.org");
	assert_int_equal(cfg->cx_watchdog_duration, 30000);
	assert_string_equal(cfg->rx_server_addr.host, "127.0.1.2");
	assert_string_equal(cfg->rx_bind_addr.host, "127.0.1.101");
	assert_string_equal(cfg->rx_origin_realm, "rx.org");
	assert_int_equal(cfg->rx_watchdog_duration, 10000);
	assert_true(cfg->use_n5);
	assert_int_equal(cfg->n5.transaction_timeout, 15000);
	assert_int_equal(cfg->n5.bind_addr.port, 7777);
	assert_int_equal(cfg->tcp_threshold, 1500);
	assert_int_equal(cfg->tcp_keepalive, 0);
	assert_int_equal(cfg->tcp_keepcount, 5);
	assert_int_equal(cfg->session_expires.min, 600);
	assert_false(cfg->rel100);
	assert_int_equal(cfg->precondition, IMS_CFG_PRECOND_OFF);
	assert_true(cfg->p_called_party_id);
	assert_string_equal(cfg->ipsec_tun_setup_script_filename, "/etc/imsd/tun.sh");
	assert_int_equal(cfg->ipsec_aalg_mask, (1u << IMS_CFG_AALG_COUNT) - 1);
	assert_int_equal(cfg->ipsec_ealg_mask, (1u << IMS_CFG_EALG_COUNT) - 1);
	assert_int_equal(cfg->ipsec_mtu, 1300);
	assert_string_equal(cfg->ipsec_netns, "ims");
	assert_int_equal(cfg->dialog_timeout, 60);
	assert_false(cfg->auth_on_register_only);
	assert_string_equal(cfg->trunk.domain, "trunk.org");
	assert_int_equal(cfg->trunk.tcp_threshold, 100);
	assert_int_equal(cfg->com_addr.port, 9100);
	assert_string_equal(cfg->com_name, "MyIMS");
	assert_string_equal(cfg->com_ssl_certificate, "/etc/imsd/c.pem");
	assert_string_equal(cfg->com_ssl_key, "/etc/imsd/k.pem");
	assert_string_equal(cfg->com_ssl_ca, "/etc/imsd/ca.pem");
	assert_true(cfg->com_ssl_peer_verify);
	assert_true(cfg->com_log_lock);
	assert_true(cfg->com_log_us);
	assert_string_equal(cfg->com_auth.passfile, "/etc/imsd/pw.txt");
	assert_true(cfg->com_auth.unsecure);
	assert_int_equal(cfg->com_log_count, 100000);
	assert_int_equal(json_array_size(cfg->sim_events), 1);
	assert_int_equal(cfg->sim_events_loop_count, 2);
	assert_true(cfg->sim_events_loop_delay == 5);
	assert_string_equal(cfg->license_server.name, "My license");
	assert_int_equal(cfg->sms_expires, 3600);
	assert_true(cfg->sms_hook_only);
	assert_int_equal(cfg->binding_expires, 600);
	assert_int_equal(cfg->subscribe_expires, 1200);
	assert_string_equal(cfg->user_agent, "UA/1");
	assert_false(cfg->force_user_agent);
	assert_false(cfg->early_media);
	assert_string_equal(cfg->path, "");
	assert_int_equal(cfg->timer_t1_ms, 500);
	assert_int_equal(cfg->custom_header_count, 1);
	assert_string_equal(cfg->sms_centre_address.number, "123");
	assert_int_equal(cfg->sms_retry_delay, 30);
	assert_int_equal(cfg->echo_count, 2);
	assert_string_equal(cfg->echo[1], "sip:echo");
	assert_int_equal(cfg->sms_message_filter[IMS_CFG_SMS_RP_DATA],
			 IMS_CFG_SMS_REJECT);
	assert_int_equal(cfg->sms_forced_cp_cause, 17);
	assert_int_equal(cfg->sms_forced_rp_cause, 41);
	assert_int_equal(cfg->mms_server_bind_addr.port, 1111);
	assert_int_equal(cfg->mms_expires, 7200);
	assert_string_equal(cfg->ue_db_filename, "/etc/imsd/ims.db");
	assert_int_equal(cfg->ue_count, 1);
	assert_false(cfg->ue[0].opts->early_media); /* global early_media inherited */
	assert_string_equal(cfg->ue[0].mt_call_sdp_file, "/etc/imsd/mt.sdp");
	assert_false(cfg->ue[0].auth_on_register_only);
	ims_cfg_free(cfg);
}

/* A large ue_db loads (linear reading, one array, shared options). */
static void test_many_users(void **state)
{
	enum { N = 20000 };
	json_t *root = json_pack("{s:s}", "sip_addr", "127.0.0.1");
	json_t *db = json_array();
	struct cfg_diag d = {err, sizeof(err), warn_h, &warned};
	struct ims_cfg *cfg = NULL;
	char imsi[16], impu[32];

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(imsi, sizeof(imsi), "0010100%08d", i);
		snprintf(impu, sizeof(impu), "tel:+331%08d", i);
		json_array_append_new(db,
				      json_pack("{s:s,s:s,s:s,s:[s,s]}", "imsi", imsi,
						"K", "00112233445566778899aabbccddeeff",
						"opc", "000102030405060708090a0b0c0d0e0f",
						"impu", imsi, impu));
	}
	json_object_set_new(root, "ue_db", db);
	memset(&warned, 0, sizeof(warned));
	assert_int_equal(ims_cfg_from_json(root, NULL, &cfg, &d), 0);
	assert_int_equal(cfg->ue_count, N);
	assert_string_equal(cfg->ue[N - 1].imsi, "001010000019999");
	assert_string_equal(cfg->ue[N - 1].impu[1].impu, "tel:+33100019999");
	assert_ptr_equal(cfg->ue[N - 1].impu[1].opts, cfg->ue_opts_default);
	ims_cfg_free(cfg);
	json_decref(root);
}

static void test_diag_optional(void **state)
{
	struct ims_cfg *cfg = NULL;
	json_t *root = parse("{'sip_addr': 1, 'foo': 2}");

	(void)state;
	assert_int_equal(ims_cfg_from_json(root, NULL, &cfg, NULL), EINVAL);
	assert_null(cfg);
	json_decref(root);
	root = parse("{'sip_addr': '1.2.3.4', 'foo': 2}");
	assert_int_equal(ims_cfg_from_json(root, NULL, &cfg, NULL), 0);
	ims_cfg_free(cfg);
	json_decref(root);
	ims_cfg_free(NULL);
}

/* config_set's reader (ims_cfg_props_from_json): the file's checks on the
 * global properties given, the base's values for the rest, the base
 * untouched. */
static void test_props_from_json(void **state)
{
	struct ims_cfg *cfg = load_ok("'dialog_timeout': 20"), *set = NULL;
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	json_t *p = parse("{'session_expires': {'min': 300}, 'precondition': 'silent', "
			  "'sms_message_filter': {'rp_data': 'reject'}}");

	(void)state;
	assert_int_equal(ims_cfg_props_from_json(cfg, p, &set, &d), 0);
	json_decref(p);
	assert_int_equal(set->session_expires.min, 300);
	assert_int_equal(set->session_expires.duration, 1800); /* the base's */
	assert_int_equal(set->precondition, IMS_CFG_PRECOND_SILENT);
	assert_int_equal(set->sms_message_filter[IMS_CFG_SMS_RP_DATA], IMS_CFG_SMS_REJECT);
	assert_int_equal(set->dialog_timeout, 20);
	assert_int_equal(cfg->session_expires.min, 90); /* untouched */
	assert_int_equal(cfg->precondition, IMS_CFG_PRECOND_ON);
	ims_cfg_free(set);
	p = parse("{'dialog_timeout': 0}");
	assert_int_equal(ims_cfg_props_from_json(cfg, p, &set, &d), EINVAL);
	assert_null(set);
	assert_non_null(strstr(err, "dialog_timeout"));
	json_decref(p);
	p = parse("[1]");
	assert_int_equal(ims_cfg_props_from_json(cfg, p, &set, &d), EINVAL);
	json_decref(p);
	ims_cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_sip_addr_required),
	    cmocka_unit_test(test_bool),
	    cmocka_unit_test(test_int),
	    cmocka_unit_test(test_number_string_enum),
	    cmocka_unit_test(test_list_bounds),
	    cmocka_unit_test(test_complex),
	    cmocka_unit_test(test_files_relative),
	    cmocka_unit_test(test_addr_parse),
	    cmocka_unit_test(test_hex_decode),
	    cmocka_unit_test(test_sip_addr_forms),
	    cmocka_unit_test(test_fallbacks),
	    cmocka_unit_test(test_session_expires),
	    cmocka_unit_test(test_custom_headers),
	    cmocka_unit_test(test_custom_headers_total),
	    cmocka_unit_test(test_objects_misc),
	    cmocka_unit_test(test_unknown_and_deprecated),
	    cmocka_unit_test(test_ue_milenage),
	    cmocka_unit_test(test_ue_cred_errors),
	    cmocka_unit_test(test_ue_xor_tuak),
	    cmocka_unit_test(test_ue_md5_and_auth),
	    cmocka_unit_test(test_impu_auth_mix),
	    cmocka_unit_test(test_impu_options),
	    cmocka_unit_test(test_callflow_modifier),
	    cmocka_unit_test(test_callflow_modifier_not_applied),
	    cmocka_unit_test(test_deprecated_user_modifier),
	    cmocka_unit_test(test_full_config),
	    cmocka_unit_test(test_many_users),
	    cmocka_unit_test(test_diag_optional),
	    cmocka_unit_test(test_props_from_json),
	};

	return cmocka_run_group_tests_name("cfg_types", tests, NULL, NULL);
}
