/*
 * config/cfg_ims — the global properties of §5.2: table, defaults,
 * fallbacks between properties, and the entry points of config/ims_cfg.h.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_read.h"
#include "config/cfg_version.h"

#define OFF(m) offsetof(struct ims_cfg, m)

static const char *const precond_names[] = {"on", "off", "silent", NULL};

/* ue_db is skipped in the first pass and read after every global value its
 * entries inherit (domain, 100rel, early_media...) is known. */
static int ue_db_defer_h(struct cfg_rd *rd, const json_t *v, void *base,
			 const struct cfg_field *f)
{
	(void)rd;
	(void)v;
	(void)base;
	(void)f;
	return 0;
}

/* Sorted by strcmp ("100rel" first, '_' before letters). */
static const struct cfg_field glob_fields[] = {
    {.name = "100rel", .type = CFG_T_BOOL, .off = OFF(rel100)},
    {.name = "auth_on_register_only",
     .type = CFG_T_BOOL,
     .off = OFF(auth_on_register_only)},
    {.name = "binding_expires",
     .type = CFG_T_INT,
     .off = OFF(binding_expires),
     .min = 0,
     .max = 864000},
    {.name = "com_addr",
     .type = CFG_T_ADDR,
     .off = OFF(com_addr),
     .min = IMS_CFG_COM_PORT},
    {.name = "com_auth", .type = CFG_T_FN, .off = 0, .fn = cfg_com_auth_h},
    {.name = "com_log_count",
     .type = CFG_T_INT,
     .off = OFF(com_log_count),
     .min = 4096,
     .max = 2097152},
    {.name = "com_log_lock", .type = CFG_T_BOOL, .off = OFF(com_log_lock)},
    {.name = "com_log_us", .type = CFG_T_BOOL, .off = OFF(com_log_us)},
    {.name = "com_logs_lock",
     .type = CFG_T_BOOL,
     .off = OFF(com_log_lock),
     .flags = CFG_F_DEPRECATED,
     .alias = "com_log_lock"},
    {.name = "com_name", .type = CFG_T_STR, .off = OFF(com_name)},
    {.name = "com_ssl_ca", .type = CFG_T_FILE, .off = OFF(com_ssl_ca)},
    {.name = "com_ssl_certificate", .type = CFG_T_FILE, .off = OFF(com_ssl_certificate)},
    {.name = "com_ssl_key", .type = CFG_T_FILE, .off = OFF(com_ssl_key)},
    {.name = "com_ssl_peer_verify", .type = CFG_T_BOOL, .off = OFF(com_ssl_peer_verify)},
    {.name = "custom_headers", .type = CFG_T_FN, .off = 0, .fn = cfg_custom_headers_h},
    {.name = "cx_bind_addr", .type = CFG_T_ADDR, .off = OFF(cx_bind_addr)},
    {.name = "cx_origin_host", .type = CFG_T_STR, .off = OFF(cx_origin_host)},
    {.name = "cx_origin_realm", .type = CFG_T_STR, .off = OFF(cx_origin_realm)},
    {.name = "cx_server_addr",
     .type = CFG_T_ADDR,
     .off = OFF(cx_server_addr),
     .min = IMS_CFG_DIAMETER_PORT},
    {.name = "cx_watchdog_duration",
     .type = CFG_T_INT,
     .off = OFF(cx_watchdog_duration),
     .min = 0,
     .max = 36000000},
    {.name = "dialog_timeout",
     .type = CFG_T_INT,
     .off = OFF(dialog_timeout),
     .min = 1,
     .max = 86400},
    {.name = "domain", .type = CFG_T_HOST, .off = OFF(domain)},
    {.name = "early_media", .type = CFG_T_BOOL, .off = OFF(early_media)},
    {.name = "echo", .type = CFG_T_FN, .off = 0, .fn = cfg_echo_h},
    {.name = "force_user_agent", .type = CFG_T_BOOL, .off = OFF(force_user_agent)},
    {.name = "ipsec", .type = CFG_T_BOOL, .off = OFF(ipsec)},
    {.name = "ipsec_aalg_list", .type = CFG_T_FN, .off = 0, .fn = cfg_aalg_h},
    {.name = "ipsec_ealg_list", .type = CFG_T_FN, .off = 0, .fn = cfg_ealg_h},
    {.name = "ipsec_ifname", .type = CFG_T_STR, .off = OFF(ipsec_ifname)},
    {.name = "ipsec_mtu",
     .type = CFG_T_INT,
     .off = OFF(ipsec_mtu),
     .min = 68,
     .max = 65535},
    {.name = "ipsec_netns", .type = CFG_T_STR, .off = OFF(ipsec_netns)},
    {.name = "ipsec_tun_setup_script_filename",
     .type = CFG_T_FILE,
     .off = OFF(ipsec_tun_setup_script_filename)},
    {.name = "license_server", .type = CFG_T_FN, .off = 0, .fn = cfg_license_server_h},
    {.name = "log_filename", .type = CFG_T_FILE, .off = OFF(log_filename)},
    {.name = "log_options", .type = CFG_T_STR, .off = OFF(log_options)},
    {.name = "log_sync", .type = CFG_T_BOOL, .off = OFF(log_sync)},
    {.name = "mms_expires",
     .type = CFG_T_INT,
     .off = OFF(mms_expires),
     .min = 1,
     .max = 63244800},
    {.name = "mms_server_bind_addr",
     .type = CFG_T_ADDR,
     .off = OFF(mms_server_bind_addr),
     .min = IMS_CFG_HTTP_PORT},
    {.name = "mt_call_sdp_file", .type = CFG_T_FILE, .off = OFF(mt_call_sdp_file)},
    {.name = "n5", .type = CFG_T_FN, .off = 0, .fn = cfg_n5_h},
    {.name = "p_called_party_id", .type = CFG_T_BOOL, .off = OFF(p_called_party_id)},
    {.name = "path", .type = CFG_T_STR, .off = OFF(path)},
    {.name = "precondition",
     .type = CFG_T_ENUM,
     .off = OFF(precondition),
     .names = precond_names},
    {.name = "rx_bind_addr", .type = CFG_T_ADDR, .off = OFF(rx_bind_addr)},
    {.name = "rx_origin_host", .type = CFG_T_STR, .off = OFF(rx_origin_host)},
    {.name = "rx_origin_realm", .type = CFG_T_STR, .off = OFF(rx_origin_realm)},
    {.name = "rx_server_addr",
     .type = CFG_T_ADDR,
     .off = OFF(rx_server_addr),
     .min = IMS_CFG_DIAMETER_PORT},
    {.name = "rx_watchdog_duration",
     .type = CFG_T_INT,
     .off = OFF(rx_watchdog_duration),
     .min = 0,
     .max = 36000000},
    {.name = "sctp_addr",
     .type = CFG_T_ADDR,
     .off = OFF(sctp_addr),
     .min = IMS_CFG_SGSAP_PORT},
    {.name = "session_expires",
     .type = CFG_T_FN,
     .off = OFF(session_expires),
     .fn = cfg_session_expires_h},
    {.name = "sim_events", .type = CFG_T_FN, .off = 0, .fn = cfg_sim_events_h},
    {.name = "sim_events_loop_count",
     .type = CFG_T_INT,
     .off = OFF(sim_events_loop_count),
     .min = 0,
     .max = 1000000},
    {.name = "sim_events_loop_delay",
     .type = CFG_T_NUM,
     .off = OFF(sim_events_loop_delay),
     .min = 0.1,
     .max = 86400},
    {.name = "sip_addr", .type = CFG_T_FN, .off = 0, .fn = cfg_sip_addr_h},
    {.name = "sms_centre_address", .type = CFG_T_FN, .off = 0, .fn = cfg_smsc_h},
    {.name = "sms_expires",
     .type = CFG_T_INT,
     .off = OFF(sms_expires),
     .min = 1,
     .max = 63244800},
    {.name = "sms_forced_cp_cause",
     .type = CFG_T_U8,
     .off = OFF(sms_forced_cp_cause),
     .min = 0,
     .max = 255},
    {.name = "sms_forced_rp_cause",
     .type = CFG_T_U8,
     .off = OFF(sms_forced_rp_cause),
     .min = 0,
     .max = 255},
    {.name = "sms_hook_only", .type = CFG_T_BOOL, .off = OFF(sms_hook_only)},
    {.name = "sms_message_filter", .type = CFG_T_FN, .off = 0, .fn = cfg_sms_filter_h},
    {.name = "sms_retry_delay",
     .type = CFG_T_INT,
     .off = OFF(sms_retry_delay),
     .min = 0,
     .max = 86400},
    {.name = "subscribe_expires",
     .type = CFG_T_INT,
     .off = OFF(subscribe_expires),
     .min = 0,
     .max = 864000},
    {.name = "tcp_keepalive",
     .type = CFG_T_INT,
     .off = OFF(tcp_keepalive),
     .min = 0,
     .max = 86400},
    {.name = "tcp_keepcount",
     .type = CFG_T_INT,
     .off = OFF(tcp_keepcount),
     .min = 1,
     .max = 127},
    {.name = "tcp_threshold",
     .type = CFG_T_INT,
     .off = OFF(tcp_threshold),
     .min = 0,
     .max = 65535},
    {.name = "timer_t1", .type = CFG_T_FN, .off = OFF(timer_t1_ms), .fn = cfg_timer_h},
    {.name = "timer_t2", .type = CFG_T_FN, .off = OFF(timer_t2_ms), .fn = cfg_timer_h},
    {.name = "timer_t4", .type = CFG_T_FN, .off = OFF(timer_t4_ms), .fn = cfg_timer_h},
    {.name = "trunk", .type = CFG_T_FN, .off = 0, .fn = cfg_trunk_h},
    {.name = "ue_db", .type = CFG_T_FN, .off = 0, .fn = ue_db_defer_h},
    {.name = "ue_db_filename", .type = CFG_T_FILE, .off = OFF(ue_db_filename)},
    {.name = "use_n5", .type = CFG_T_BOOL, .off = OFF(use_n5)},
    {.name = "user_agent", .type = CFG_T_STR, .off = OFF(user_agent)},
};

static void cfg_defaults(struct ims_cfg *cfg)
{
	cfg->cx_origin_realm = "amarisoft.com";
	cfg->cx_origin_host = "ims.amarisoft.com";
	cfg->rx_origin_realm = "amarisoft.com";
	cfg->rx_origin_host = "ims.amarisoft.com";
	cfg->n5.transaction_timeout = 4000;
	cfg->tcp_threshold = 1300;
	cfg->tcp_keepalive = 900;
	cfg->tcp_keepcount = 2;
	cfg->session_expires.duration = 1800;
	cfg->session_expires.min = 90;
	cfg->session_expires.refresher = IMS_CFG_REFRESHER_UAC;
	cfg->session_expires.method = IMS_CFG_SE_METHOD_UPDATE;
	cfg->session_expires.force = true;
	cfg->rel100 = true;
	cfg->precondition = IMS_CFG_PRECOND_ON;
	cfg->dialog_timeout = 30;
	cfg->auth_on_register_only = true;
	cfg->binding_expires = 3600;
	cfg->user_agent = "imsd-" IMSD_VERSION;
	cfg->force_user_agent = true;
	cfg->early_media = true;
	cfg->path = "sip:ims.mnc001.mcc001.3gppnetwork.org";
	cfg->timer_t1_ms = 2000;
	cfg->timer_t2_ms = 16000;
	cfg->timer_t4_ms = 17000;
	cfg->ipsec = true;
	cfg->ipsec_tun_setup_script_filename = "/tmp/.ipsec_tun_setup_script";
	cfg->ipsec_aalg_mask = (1u << IMS_CFG_AALG_COUNT) - 1;
	cfg->ipsec_ealg_mask = (1u << IMS_CFG_EALG_COUNT) - 1;
	cfg->ipsec_mtu = 1400;
	cfg->com_name = "IMS";
	cfg->com_log_count = 8192;
	cfg->sim_events_loop_count = -1;
	cfg->sms_expires = 86400;
	cfg->mms_expires = 86400;
}

/* Fallbacks the manual gives between properties. */
static void cfg_fallbacks(struct ims_cfg *cfg)
{
	/* cx_bind_addr defaults to sctp_addr's address; not its port, which the
	 * SGs listener owns. */
	if (!cfg->cx_bind_addr.host && cfg->sctp_addr.host)
		cfg->cx_bind_addr.host = cfg->sctp_addr.host;
	if (!cfg->rx_server_addr.host)
		cfg->rx_server_addr = cfg->cx_server_addr;
	if (!cfg->rx_bind_addr.host)
		cfg->rx_bind_addr = cfg->cx_bind_addr;
	if (!cfg->n5.bind_addr.host)
		cfg->n5.bind_addr = cfg->cx_bind_addr;
}

static int cfg_check(struct cfg_rd *rd, struct ims_cfg *cfg)
{
	if (!cfg->sip_addr_count)
		return cfg_rd_err_at(rd, "sip_addr", "required");
	if (cfg->ipsec_ifname && !cfg->ipsec_netns)
		return cfg_rd_err_at(rd, "ipsec_netns",
				     "required when ipsec_ifname is set");
	if (cfg->com_ssl_certificate && !cfg->com_ssl_key)
		return cfg_rd_err_at(rd, "com_ssl_key",
				     "required when com_ssl_certificate is set");
	if (cfg->sim_events_loop_count > 0 && cfg->sim_events_loop_delay == 0)
		return cfg_rd_err_at(rd, "sim_events_loop_delay",
				     "required when sim_events_loop_count is set");
	if (cfg->timer_t2_ms < cfg->timer_t1_ms)
		return cfg_rd_err_at(rd, "timer_t2", "below timer_t1");
	return 0;
}

int ims_cfg_from_json(const json_t *root, const char *cfg_dir, struct ims_cfg **cfgp,
		      struct cfg_diag *diag)
{
	struct cfg_table tabs[1];
	const json_t *ue_db;
	struct ims_cfg *cfg;
	struct cfg_rd rd;
	int err;

	if (diag && diag->err && diag->errlen)
		diag->err[0] = '\0';
	*cfgp = NULL;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return ENOMEM;
	cfg_defaults(cfg);
	cfg_table_check(glob_fields, CFG_NELEM(glob_fields));
	memset(&rd, 0, sizeof(rd));
	rd.diag = diag;
	rd.arena = &cfg->arena;
	rd.cfg_dir = cfg_dir;
	rd.cfg = cfg;

	if (!root || !json_is_object(root)) {
		err = cfg_rd_err(&rd, "configuration: expected object");
		goto out;
	}
	tabs[0] = (struct cfg_table){glob_fields, CFG_NELEM(glob_fields), cfg};
	err = cfg_obj_read(&rd, root, tabs, 1);
	if (err)
		goto out;
	err = cfg_check(&rd, cfg);
	if (err)
		goto out;
	cfg_fallbacks(cfg);
	err = cfg_ue_opts_default(&rd, cfg);
	if (err)
		goto out;
	ue_db = json_object_get(root, "ue_db");
	if (ue_db) {
		cfg_rd_push_key(&rd, "ue_db");
		err = cfg_ue_db_read(&rd, ue_db, cfg);
		cfg_rd_pop(&rd);
		if (err)
			goto out;
	}
	*cfgp = cfg;
	return 0;
out:
	ims_cfg_free(cfg);
	return err;
}

/*
 * A configuration that holds what the remote API reads at run time (users,
 * IMPUs), and the reader over it: the base's values (the defaults of each
 * entry) and strings are borrowed, nothing of the base's own arena is kept
 * as owned. NULL: out of memory.
 */
static struct ims_cfg *cfg_set_alloc(const struct ims_cfg *base, struct cfg_rd *rd,
				     struct cfg_diag *diag, const char *key)
{
	struct ims_cfg *set;

	if (diag && diag->err && diag->errlen)
		diag->err[0] = '\0';
	set = calloc(1, sizeof(*set));
	if (!set)
		return NULL;
	*set = *base;
	set->arena = NULL;
	set->sim_events = NULL;
	set->ue = NULL;
	set->ue_count = 0;
	memset(rd, 0, sizeof(*rd));
	rd->diag = diag;
	rd->arena = &set->arena;
	rd->cfg = set;
	if (key)
		cfg_rd_push_key(rd, key);
	return set;
}

int ims_cfg_props_from_json(const struct ims_cfg *base, const json_t *props,
			    struct ims_cfg **setp, struct cfg_diag *diag)
{
	struct cfg_table tabs[1];
	struct ims_cfg *set;
	struct cfg_rd rd;
	int err;

	*setp = NULL;
	set = cfg_set_alloc(base, &rd, diag, NULL);
	if (!set)
		return ENOMEM;
	tabs[0] = (struct cfg_table){glob_fields, CFG_NELEM(glob_fields), set};
	err = json_is_object(props) ? cfg_obj_read(&rd, props, tabs, 1)
				    : cfg_rd_err(&rd, "expected object");
	if (err) {
		ims_cfg_free(set);
		return err;
	}
	*setp = set;
	return 0;
}

int ims_cfg_ue_from_json(const struct ims_cfg *base, const json_t *users,
			 struct ims_cfg **setp, struct cfg_diag *diag)
{
	struct ims_cfg *set;
	struct cfg_rd rd;
	int err;

	*setp = NULL;
	set = cfg_set_alloc(base, &rd, diag, "users");
	if (!set)
		return ENOMEM;
	err = cfg_ue_db_read(&rd, users, set);
	if (err) {
		ims_cfg_free(set);
		return err;
	}
	*setp = set;
	return 0;
}

int ims_cfg_impu_from_json(const struct ims_cfg *base, const struct ims_cfg_impu_opts *user_opts,
			   const json_t *impus, struct ims_cfg **setp,
			   const struct ims_cfg_impu **out, uint32_t *n, struct cfg_diag *diag)
{
	struct ims_cfg *set;
	struct cfg_rd rd;
	int err;

	*setp = NULL;
	set = cfg_set_alloc(base, &rd, diag, "impu");
	if (!set)
		return ENOMEM;
	err = cfg_impu_list_read(&rd, impus, user_opts ? user_opts : base->ue_opts_default, out,
				 n);
	if (err) {
		ims_cfg_free(set);
		return err;
	}
	*setp = set;
	return 0;
}

void ims_cfg_free(struct ims_cfg *cfg)
{
	if (!cfg)
		return;
	if (cfg->sim_events)
		json_decref(cfg->sim_events);
	cfg_arena_free(cfg->arena);
	free(cfg);
}
