/*
 * app — the imsd process: command line, configuration, logging, event loop,
 * monitor, and clean shutdown on `quit`, SIGTERM or SIGINT.
 */
#include "app/imsd.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <malloc.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/api.h"
#include "config/cfg_lang.h"
#include "config/ims_cfg.h"
#include "b2bua/b2bua.h"
#include "media/media.h"
#include "cscf/cscf.h"
#include "core/log.h"
#include "core/mbuf.h"
#include "loop/loop.h"
#include "monitor/monitor.h"
#include "monitor/monitor_console.h"
#include "app/app_options.h"
#include "core/mem.h"
#include "hss/hss.h"
#include "ipsec/ipsec.h"
#include "registrar/registrar.h"
#include "sip/sip_stack.h"
#include "smsc/smsc.h"
#include "stats/stats.h"
#include "store/store.h"

static void imsd_usage(FILE *f)
{
	fprintf(f,
		"usage: imsd [options] CONFIG_FILE\n"
		"\n"
		"Starts the IMS server with the given configuration file.\n"
		"\n"
		"options:\n"
		"  --dump-config    print the evaluated configuration as strict JSON and exit\n"
		"  --check-config   check the configuration (syntax, types, ranges), then exit\n"
		"  --no-monitor     no command line monitor on stdin (a service: use the\n"
		"                   remote API, com_addr); also off when stdin cannot be read\n"
		"  --version        print the version and exit\n"
		"  -h, --help       this help\n");
}

static void imsd_warn_h(const char *path, const char *msg, void *arg)
{
	const char *file = arg;

	fprintf(stderr, "%s: warning: %s: %s\n", file, path, msg);
}

/* Loads both levels of the configuration; prints errors itself. */
static int imsd_config_load(const char *file, json_t **rootp, struct ims_cfg **cfgp)
{
	struct cfg_lang_err lerr;
	struct cfg_diag diag;
	char dirbuf[PATH_MAX];
	char errbuf[512] = "";
	json_t *root = NULL;
	int err;

	err = cfg_lang_load_file(file, &root, &lerr);
	if (err) {
		cfg_lang_err_print(&lerr, stderr);
		return err;
	}
	snprintf(dirbuf, sizeof(dirbuf), "%s", file);
	memset(&diag, 0, sizeof(diag));
	diag.err = errbuf;
	diag.errlen = sizeof(errbuf);
	diag.warn_h = imsd_warn_h;
	diag.arg = (void *)file;
	err = ims_cfg_from_json(root, dirname(dirbuf), cfgp, &diag);
	if (err) {
		fprintf(stderr, "%s: %s\n", file, errbuf);
		json_decref(root);
		return err;
	}
	*rootp = root;
	return 0;
}

static json_t *json_decref_null(json_t *v)
{
	json_decref(v);
	/* A large ue_db's tree is hundreds of MB: give it back to the system
	 * rather than keep it as free heap. */
	malloc_trim(0);
	return NULL;
}

/* --check-config: the user database too (duplicate identities, ...). */
static int imsd_check_users(const char *file, const struct ims_cfg *cfg)
{
	struct hss *hss = NULL;
	char err[512];

	if (hss_alloc(&hss, cfg, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", file, err);
		return 1;
	}
	mem_deref(hss);
	return 0;
}

/* --dump-config: the language level only (manual §5.1), so that any file of
 * the format can be inspected, whatever its properties. */
static int imsd_dump_config(const char *file)
{
	struct cfg_lang_err lerr;
	json_t *root;
	int rc;

	if (cfg_lang_load_file(file, &root, &lerr)) {
		cfg_lang_err_print(&lerr, stderr);
		return 1;
	}
	rc = cfg_lang_dump(root, stdout) || fflush(stdout) ? 1 : 0;
	if (rc)
		fprintf(stderr, "imsd: cannot write the configuration to stdout\n");
	json_decref(root);
	return rc;
}

static void imsd_quit_h(void *arg)
{
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "quit requested from the %s",
		  arg ? (const char *)arg : "monitor");
	loop_stop();
}

static void imsd_signal_h(int signo, void *arg)
{
	(void)arg;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "signal %s: stopping",
		  strsignal(signo));
	loop_stop();
}

/* Log output stderr did not take (no log_filename: it is written without
 * blocking) is tried again this much later, even if nothing else wakes the
 * loop. */
#define IMSD_FLUSH_RETRY_MS 20
static struct loop_timer *imsd_flush_tm;

static void imsd_flush_again_h(void *arg)
{
	(void)arg; /* waking up is the point: imsd_flush_h runs before the next sleep */
}

static void imsd_flush_h(void *arg)
{
	(void)arg;
	if (log_flush() && imsd_flush_tm && !loop_timer_pending(imsd_flush_tm))
		loop_timer_start(imsd_flush_tm, IMSD_FLUSH_RETRY_MS, imsd_flush_again_h,
				 NULL);
}

/* "host:port" with brackets for IPv6, as net_addr_parse reads it. */
static void imsd_addr_str(const struct ims_cfg_addr *a, char *buf, size_t size)
{
	bool v6 = strchr(a->host, ':') != NULL;

	snprintf(buf, size, "%s%s%s:%u", v6 ? "[" : "", a->host, v6 ? "]" : "", a->port);
}

static bool imsd_is_loopback(const struct net_addr *a)
{
	const struct sockaddr *sa = net_addr_sa(a);

	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >>
			24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
}

/* The IP a sip_addr entry's sockets bind to (bind_addr, else addr), when it
 * can carry SAs: not a wildcard, not a loopback address (a kernel drops
 * packets for those that arrive on another device, the TUN device here). */
static int imsd_sip_bind_ip(const struct ims_cfg_sip_addr *sa, struct net_addr *ip)
{
	const struct ims_cfg_addr *a = sa->bind_addr.host ? &sa->bind_addr : &sa->addr;

	if (net_addr_parse_str(ip, a->host, 0) || net_addr_is_any(ip) || imsd_is_loopback(ip))
		return EINVAL;
	return 0;
}

/*
 * IPsec (docs/ipsec.md): the datapath and its namespace. A set-up that fails
 * (no privileges, no TUN device) is logged and imsd carries on without
 * IPsec: phones then register unprotected, as with ipsec: false.
 */
static struct ipsec *imsd_ipsec_start(const struct ims_cfg *cfg, char *why, size_t size)
{
	struct ipsec_prm prm = {0};
	struct ipsec *ip = NULL;
	int err;

	if (!cfg->ipsec)
		return NULL;
	prm.mtu = cfg->ipsec_mtu;
	prm.script_path = cfg->ipsec_tun_setup_script_filename;
	prm.ifname = cfg->ipsec_ifname;
	prm.netns = cfg->ipsec_netns;
	for (uint32_t i = 0; i < cfg->sip_addr_count && prm.local_count < IPSEC_LOCAL_MAX; i++) {
		struct net_addr a;
		bool dup = false;

		if (imsd_sip_bind_ip(&cfg->sip_addr[i], &a))
			continue;
		for (size_t j = 0; j < prm.local_count; j++)
			dup |= net_addr_eq_ip(&prm.local[j], &a);
		if (!dup)
			prm.local[prm.local_count++] = a;
	}
	if (!prm.local_count) {
		snprintf(why, size, "no sip_addr names an IP that can carry SAs (not a wildcard "
				    "nor a loopback address)");
		log_write(LOG_IPSEC, LOG_LVL_WARN, LOG_DIR_NONE, "-",
			  "ipsec is true, but %s: phones register without IPsec", why);
		return NULL;
	}
	err = ipsec_alloc(&ip, &prm);
	if (err) {
		snprintf(why, size, "the IPsec datapath cannot start (%s)", strerror(err));
		log_write(LOG_IPSEC, LOG_LVL_WARN, LOG_DIR_NONE, "-",
			  "ipsec is true, but %s: phones register without IPsec, as with "
			  "ipsec: false",
			  why);
		return NULL;
	}
	return ip;
}

static int imsd_ns_run_h(void *ctx, int (*fn)(void *arg), void *arg)
{
	return ipsec_in_netns(ctx, fn, arg);
}

/* The protected entries of IP address txt: port-s and port-c (IPSEC_PORT_S,
 * IPSEC_PORT_C) in the namespace of the datapath. */
static void imsd_sip_protected(struct ipsec *ip, const struct ims_cfg_sip_addr *sa,
			       struct sip_stack_listen *ls, char (*txt)[2][80])
{
	static const uint16_t ports[2] = {IPSEC_PORT_S, IPSEC_PORT_C};

	for (int k = 0; k < 2; k++) {
		struct ims_cfg_addr a = sa->addr, b = sa->bind_addr;

		a.port = ports[k];
		imsd_addr_str(&a, txt[k][0], sizeof(txt[k][0]));
		ls[k].addr = txt[k][0];
		if (b.host) {
			b.port = ports[k];
			imsd_addr_str(&b, txt[k][1], sizeof(txt[k][1]));
			ls[k].bind_addr = txt[k][1];
		}
		ls[k].ns_run = imsd_ns_run_h;
		ls[k].ns_ctx = ip;
		ls[k].protected_sock = true;
	}
}

/* The listen entries: every sip_addr, then with IPsec the protected ones of
 * each IP (once an IP). Returns how many. */
static size_t imsd_sip_listen(const struct ims_cfg *cfg, struct ipsec *ip,
			      struct sip_stack_listen *ls, char (*txt)[2][80])
{
	size_t n = cfg->sip_addr_count;
	struct net_addr seen[IPSEC_LOCAL_MAX];
	size_t nseen = 0;

	for (uint32_t i = 0; i < cfg->sip_addr_count; i++) {
		const struct ims_cfg_sip_addr *sa = &cfg->sip_addr[i];

		imsd_addr_str(&sa->addr, txt[i][0], sizeof(txt[i][0]));
		ls[i].addr = txt[i][0];
		if (sa->bind_addr.host) {
			struct ims_cfg_addr b = sa->bind_addr;

			/* a bind_addr without a port takes addr's (manual §5) */
			if (!b.port)
				b.port = sa->addr.port;
			imsd_addr_str(&b, txt[i][1], sizeof(txt[i][1]));
			ls[i].bind_addr = txt[i][1];
		}
	}
	for (uint32_t i = 0; ip && i < cfg->sip_addr_count && nseen < IPSEC_LOCAL_MAX; i++) {
		struct net_addr a;
		bool dup = false;

		if (imsd_sip_bind_ip(&cfg->sip_addr[i], &a))
			continue;
		for (size_t j = 0; j < nseen; j++)
			dup |= net_addr_eq_ip(&seen[j], &a);
		if (dup)
			continue;
		seen[nseen++] = a;
		imsd_sip_protected(ip, &cfg->sip_addr[i], &ls[n], &txt[n]);
		n += 2;
	}
	return n;
}

/* The SIP sockets and the transaction layer. */
static int imsd_sip_start(const struct ims_cfg *cfg, struct ipsec *ip,
			  struct sip_stack **stackp)
{
	size_t max = (size_t)cfg->sip_addr_count + 2 * IPSEC_LOCAL_MAX;
	struct sip_stack_listen *ls;
	struct sip_stack_prm prm;
	char (*txt)[2][80];
	const char *option_tags[8];
	size_t ntags = 0;
	int err = ENOMEM;

	ls = calloc(max, sizeof(*ls));
	txt = calloc(max, sizeof(*txt));
	if (!ls || !txt)
		goto out;
	sip_stack_prm_init(&prm);
	prm.listen = ls;
	prm.listen_count = imsd_sip_listen(cfg, ip, ls, txt);
	prm.t1_ms = cfg->timer_t1_ms;
	prm.t2_ms = cfg->timer_t2_ms;
	prm.t4_ms = cfg->timer_t4_ms;
	prm.tcp_threshold = cfg->tcp_threshold;
	prm.tcp_keepalive = cfg->tcp_keepalive;
	prm.tcp_keepcount = cfg->tcp_keepcount;
	prm.user_agent = cfg->user_agent;
	prm.force_user_agent = cfg->force_user_agent;
	/* sec-agree is accepted in Require even with ipsec off: real phones
	 * insist on it and register against cores without IPsec. 100rel: the
	 * b2bua sends reliable provisionals itself (RFC 3262), and answers 420
	 * when the caller IMPU's `100rel` is off; precondition: passed end to
	 * end (RFC 3312), 420 when the caller IMPU's `precondition` is off;
	 * timer: the b2bua takes part in session timers on each leg (RFC
	 * 4028), or passes them end to end when they are off. */
	for (size_t i = 0; i < registrar_option_tag_count && ntags < 5; i++)
		option_tags[ntags++] = registrar_option_tags[i];
	option_tags[ntags++] = "100rel";
	option_tags[ntags++] = "precondition";
	option_tags[ntags++] = "timer";
	prm.option_tags = option_tags;
	prm.option_tag_count = ntags;
	/* imsd is the UE's P-CSCF (a proxy: Proxy-Require, RFC 3261 §16.3
	 * step 5) and the S-CSCF that serves the request (Require) at once. */
	prm.proxy_require = true;
	err = sip_stack_alloc(stackp, &prm);
	if (err) {
		fprintf(stderr, "imsd: cannot start SIP on the sip_addr entries: %s\n",
			strerror(err));
		goto out;
	}
	/* custom_headers (manual §5.2): the rules config_set replaces */
	err = api_sip_custom_set(*stackp, cfg->custom_headers, cfg->custom_header_count);
	if (err)
		fprintf(stderr, "imsd: custom_headers: %s\n", strerror(err));
out:
	free(ls);
	free(txt);
	return err;
}

/* The CSCF stage and its services: the registrar's (REGISTER, reg event),
 * SMS (MESSAGE), calls (b2bua) and the OPTIONS responder. */
static int imsd_cscf_start(const struct ims_cfg *cfg, struct sip_stack *sip,
			   struct hss *hss, struct registrar *reg, struct smsc *sms,
			   struct ipsec *ip, struct cscf **cscfp, struct media_relay **relayp,
			   struct b2bua **b2bp, struct app_options **optp)
{
	struct cscf_prm cprm = {.stack = sip, .hss = hss, .reg = reg};
	struct b2bua_prm bprm = {.stack = sip, .hss = hss, .reg = reg, .cfg = cfg};
	struct app_options_prm oprm = {0};
	int err;

	/* The media relay every call's SDP goes through (docs/media.md); a
	 * sip_addr it cannot use (a host name) leaves calls with SDP passed
	 * through, said in the log. */
	err = media_relay_alloc_cfg(relayp, cfg);
	if (err)
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "media relay: %s: calls go without it (SDP passed through, media "
			  "directly between the phones)",
			  strerror(err));
	bprm.relay = err ? NULL : *relayp;
	err = cscf_alloc(cscfp, &cprm);
	if (!err)
		err = cscf_registrar_add(*cscfp, reg);
	if (!err)
		err = cscf_sms_add(*cscfp, sms);
	if (!err)
		err = b2bua_alloc(b2bp, &bprm);
	if (!err)
		err = cscf_b2bua_add(*cscfp, *b2bp);
	if (err) {
		fprintf(stderr, "imsd: cannot start the CSCF stage: %s\n", strerror(err));
		return err;
	}
	/* OPTIONS claims sec-agree (RFC 3329) only when the datapath runs. */
	oprm.ipsec = ip != NULL;
	oprm.rel100 = cfg->rel100;
	oprm.precondition = cfg->precondition != IMS_CFG_PRECOND_OFF;
	oprm.timer = cfg->session_expires.duration > 0;
	err = app_options_alloc(optp, sip, *cscfp, &oprm);
	if (err)
		fprintf(stderr, "imsd: cannot start the OPTIONS service: %s\n", strerror(err));
	return err;
}

/* The state file (ue_db_filename), if configured. */
static int imsd_store_open(const struct ims_cfg *cfg, struct store **stp)
{
	char note[1024], err[1024];
	int e;

	if (!cfg->ue_db_filename)
		return 0;
	/* SQLite's transactions (and their fsync) run on a worker thread */
	e = loop_work_start(1);
	if (e && e != EALREADY) {
		fprintf(stderr, "imsd: cannot start the worker thread: %s\n", strerror(e));
		return e;
	}
	e = store_open(stp, cfg->ue_db_filename, note, sizeof(note), err, sizeof(err));
	if (e) {
		fprintf(stderr, "imsd: ue_db_filename: %s\n", err);
		return e;
	}
	if (note[0])
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL, "store: %s", note);
	return 0;
}

/* Every SIP TCP connection is a descriptor, and distributions start
 * processes with a soft RLIMIT_NOFILE of 1,024: raise it to the hard limit
 * (the administrator's ceiling) so tcp_max_conns can be reached; net caps
 * the connections below whatever the limit ends up (NET_FD_RESERVE). */
static void imsd_nofile_raise(void)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == rl.rlim_max)
		return;
	was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "cannot raise the descriptor limit (RLIMIT_NOFILE) from %llu: %s",
			  (unsigned long long)was, strerror(errno));
		return;
	}
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "descriptor limit (RLIMIT_NOFILE) raised from %llu to %llu",
		  (unsigned long long)was, (unsigned long long)rl.rlim_cur);
}

/* The console on stdin, unless --no-monitor or stdin cannot be watched:
 * closed, or /dev/null and regular files, which epoll refuses (EPERM) —
 * what systemd, nohup and `</dev/null` give a service. */
static int imsd_console_start(const char *file, struct monitor *mon, bool no_monitor,
			      struct monitor_console **conp)
{
	struct monitor_console_prm cprm = {.prompt = "(ims) ", .in_fd = 0, .out_fd = 1};
	int err;

	if (no_monitor) {
		log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
			  "monitor console off (--no-monitor)");
		return 0;
	}
	cprm.mon = mon;
	err = monitor_console_alloc(conp, &cprm);
	if (err == EPERM || err == EBADF) {
		log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
			  "monitor console off: standard input cannot be read (%s)",
			  strerror(err));
		return 0;
	}
	if (err) {
		fprintf(stderr, "imsd: cannot start the monitor: %s\n", strerror(err));
		return err;
	}
	printf("imsd %s, configuration %s\nType 'help' for the list of commands.\n",
	       IMSD_VERSION, file);
	fflush(stdout);
	return 0;
}

/* The remote API on com_addr (manual §6), when configured. */
static int imsd_api_start(struct ims_cfg *cfg, const struct monitor_prm *mprm,
			  struct sip_stack *sip, struct api **apip)
{
	struct api_prm aprm = {.cfg = cfg,
			       .sip = sip,
			       .reg = mprm->reg,
			       .hss = mprm->hss,
			       .sms = mprm->sms,
			       .b2bua = mprm->b2bua,
			       .ipsec = mprm->ipsec,
			       .stats = mprm->stats,
			       .quit_h = imsd_quit_h,
			       .quit_arg = "remote API",
			       .version = IMSD_VERSION};
	char err[512] = "";
	int e = api_alloc(apip, &aprm, err, sizeof(err));

	if (e)
		fprintf(stderr, "imsd: cannot start the remote API: %s\n", err);
	return e;
}

static int imsd_serve(const char *file, struct ims_cfg *cfg, bool no_monitor)
{
	struct registrar *reg = NULL;
	struct smsc *sms = NULL;
	struct cscf *cscf = NULL;
	struct b2bua *b2b = NULL;
	struct media_relay *relay = NULL;
	struct store *st = NULL;
	struct hss *hss = NULL;
	struct ipsec *ip = NULL;
	struct app_options *options = NULL;
	struct stats *stats = NULL;
	struct stats_prm sprm = {0};
	struct sip_stack *sip = NULL;
	struct monitor *mon = NULL;
	struct monitor_console *con = NULL;
	struct api *api = NULL;
	struct monitor_prm mprm = {.quit_h = imsd_quit_h};
	struct log_prm lprm;
	char err[512], ipsec_why[160] = "";
	int rc = 1;

	memset(&lprm, 0, sizeof(lprm));
	lprm.filename = cfg->log_filename;
	lprm.options = cfg->log_options;
	lprm.sync = cfg->log_sync;
	lprm.ring_count = cfg->com_log_count;
	lprm.ring_us = cfg->com_log_us;
	lprm.also_stderr = true;
	if (log_init(&lprm, err, sizeof(err))) {
		fprintf(stderr, "%s: log_options: %s\n", file, err);
		return 1;
	}
	imsd_nofile_raise();
	if (!loop_init())
		imsd_flush_tm = loop_timer_alloc();
	if (!imsd_flush_tm || loop_before_sleep_add(imsd_flush_h, NULL) ||
	    loop_signal_add(SIGTERM, imsd_signal_h, NULL) ||
	    loop_signal_add(SIGINT, imsd_signal_h, NULL)) {
		fprintf(stderr, "imsd: cannot set up the event loop: %s\n", strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if (hss_alloc(&hss, cfg, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", file, err);
		goto out;
	}
	ip = imsd_ipsec_start(cfg, ipsec_why, sizeof(ipsec_why));
	if (imsd_sip_start(cfg, ip, &sip) ||
	    (ip && ipsec_net_attach(ip, sip_stack_net(sip)))) /* direct UDP path */
		goto out;
	if (imsd_store_open(cfg, &st))
		goto out;
	/* users added with users_add before, back before the registrar and
	 * the SMS service read their bindings and SMS */
	if (st && hss_store_attach(hss, st, err, sizeof(err))) {
		fprintf(stderr, "imsd: ue_db_filename: %s\n", err);
		goto out;
	}
	if (registrar_app_start(sip, cfg, hss, st, &reg) ||
	    (ip || !cfg->ipsec ? registrar_ipsec_set(reg, ip ? ipsec_table(ip) : NULL)
			       : registrar_ipsec_off(reg, ipsec_why))) {
		fprintf(stderr, "imsd: cannot start the registrar\n");
		goto out;
	}
	if (smsc_app_start(sip, cfg, hss, reg, st, &sms)) {
		fprintf(stderr, "imsd: cannot start the SMS service\n");
		goto out;
	}
	if (imsd_cscf_start(cfg, sip, hss, reg, sms, ip, &cscf, &relay, &b2b, &options))
		goto out;
	sprm.sip = sip;
	sprm.reg = reg;
	sprm.cscf = cscf;
	sprm.b2bua = b2b;
	sprm.smsc = sms;
	if (stats_alloc(&stats, &sprm)) {
		fprintf(stderr, "imsd: cannot start the statistics\n");
		goto out;
	}
	mprm.reg = reg;
	mprm.hss = hss;
	mprm.sms = sms;
	mprm.stats = stats;
	mprm.b2bua = b2b;
	mprm.ipsec = ip;
	if (monitor_alloc(&mon, &mprm)) {
		fprintf(stderr, "imsd: cannot start the monitor\n");
		goto out;
	}
	if (imsd_api_start(cfg, &mprm, sip, &api))
		goto out;
	if (imsd_console_start(file, mon, no_monitor, &con))
		goto out;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "imsd %s started with %s", IMSD_VERSION, file);
	rc = loop_run() ? 1 : 0;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "imsd stopped");
out:
	monitor_console_free(con);
	hss_store_detach(hss); /* its last answers go to the API's clients */
	api_free(api);
	monitor_free(mon);
	stats_free(stats);
	mem_deref(cscf); /* before the services it dispatches to */
	mem_deref(b2b);
	mem_deref(relay); /* after the calls' sessions */
	app_options_free(options);
	mem_deref(sms); /* before the registrar: its last writes, then the registrar's */
	mem_deref(reg);
	mem_deref(st);
	sip_stack_free(sip);
	ipsec_free(ip);
	mem_deref(hss);
	loop_timer_free(imsd_flush_tm);
	imsd_flush_tm = NULL;
	loop_close();
	log_close();
	return rc;
}

int imsd_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dump-config", no_argument, NULL, 'd'},
		{"check-config", no_argument, NULL, 'c'},
		{"version", no_argument, NULL, 'V'},
		{"no-monitor", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool dump = false, check = false, no_monitor = false;
	struct ims_cfg *cfg = NULL;
	json_t *root = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dump = true;
			break;
		case 'c':
			check = true;
			break;
		case 'n':
			no_monitor = true;
			break;
		case 'V':
			printf("imsd %s\n", IMSD_VERSION);
			return 0;
		case 'h':
			imsd_usage(stdout);
			return 0;
		default:
			imsd_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		imsd_usage(stderr);
		return 2;
	}
	if (dump)
		return imsd_dump_config(argv[optind]);
	if (imsd_config_load(argv[optind], &root, &cfg))
		return 1;
	/* The typed configuration owns copies of everything it needs: the
	 * tree (hundreds of MB for a large ue_db) can go now. */
	root = json_decref_null(root);
	if (check)
		rc = imsd_check_users(argv[optind], cfg);
	else
		rc = imsd_serve(argv[optind], cfg, no_monitor);
	ims_cfg_free(cfg);
	json_decref(root);
	return rc;
}
