/*
 * config/ims_cfg — the typed IMS configuration (manual §5.2 and §5.2.1).
 *
 * The configuration language parser (config/cfg_lang) turns the file into a
 * jansson tree; ims_cfg_from_json() checks every property of that tree
 * against its type and range and fills the structs below, with the manual's
 * defaults and fallbacks applied, so that services read plain C values and
 * never look at JSON. Wrong types and out-of-range values are errors naming
 * the property path (`ue_db[3].impu[0].display_name: expected string`);
 * unknown properties are warnings through cfg_diag.warn_h.
 *
 * Ownership: everything reachable from a struct ims_cfg (strings, arrays,
 * user entries, the sim_events tree) belongs to it and lives until
 * ims_cfg_free(). It is allocated in a few large blocks (an arena), not one
 * malloc per string, because the same loader reads user databases of a
 * million entries; the user entries are one array. Per-IMPU option blocks
 * are shared: an IMPU without its own options points at its user's block,
 * a user without options at cfg->ue_opts_default.
 */
#ifndef CONFIG_IMS_CFG_H
#define CONFIG_IMS_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Where errors and warnings go. Any field may be NULL/0. */
struct cfg_diag {
	char *err;     /* receives the first error, "path: message" */
	size_t errlen; /* size of err */
	/* Called for each warning (unknown or deprecated property...). */
	void (*warn_h)(const char *path, const char *msg, void *arg);
	void *arg;
};

/* A "host[:port]" or "[v6addr]:port" address. host is NULL when unset. */
struct ims_cfg_addr {
	const char *host; /* without brackets; owned by the cfg */
	uint16_t port;	  /* the default port when the text had none */
};

#define IMS_CFG_SIP_PORT 5060
#define IMS_CFG_DIAMETER_PORT 3868
#define IMS_CFG_SGSAP_PORT 29118
#define IMS_CFG_COM_PORT 9003
#define IMS_CFG_HTTP_PORT 80

/* One SIP server socket (sip_addr item). */
struct ims_cfg_sip_addr {
	struct ims_cfg_addr addr;      /* default port 5060 */
	struct ims_cfg_addr bind_addr; /* host NULL: bind to addr */
	uint16_t port_min;	       /* media ports, default 10000 */
	uint16_t port_max;	       /* default 20000 */
	bool trunk;		       /* address used for the SIP trunk */
};

enum ims_cfg_precond {
	IMS_CFG_PRECOND_ON = 0,
	IMS_CFG_PRECOND_OFF,
	IMS_CFG_PRECOND_SILENT,
};

enum ims_cfg_refresher {
	IMS_CFG_REFRESHER_UAC = 0,
	IMS_CFG_REFRESHER_UAS,
};

enum ims_cfg_se_method {
	IMS_CFG_SE_METHOD_UPDATE = 0,
	IMS_CFG_SE_METHOD_INVITE,
};

/* Session timer (RFC 4028) settings, global or per IMPU. */
struct ims_cfg_session_expires {
	uint32_t duration; /* seconds, default 1800; 0 disables */
	uint32_t min;	   /* Min-SE, default 90 */
	uint8_t refresher; /* enum ims_cfg_refresher, default uac */
	uint8_t method;	   /* enum ims_cfg_se_method, default update */
	bool force;	   /* default true */
};

/* custom_headers item. Arrays owned by the cfg. */
struct ims_cfg_hdr {
	const char *name;
	const char *value;	    /* NULL: only remove the header (replace forced) */
	const uint16_t *codes;	    /* response codes; 0 = all codes */
	const char *const *methods; /* method names; "*" = all methods */
	uint16_t code_count;
	uint16_t method_count;
	bool replace;
};

/* IPsec algorithms (ipsec_aalg_list / ipsec_ealg_list bits). */
enum ims_cfg_ipsec_aalg {
	IMS_CFG_AALG_NULL = 0,
	IMS_CFG_AALG_HMAC_MD5_96,
	IMS_CFG_AALG_HMAC_MD5_128,
	IMS_CFG_AALG_HMAC_SHA1_96,
	IMS_CFG_AALG_HMAC_SHA1_160,
	IMS_CFG_AALG_AES_CMAC_96,
	IMS_CFG_AALG_AES_GMAC,
	IMS_CFG_AALG_COUNT
};

enum ims_cfg_ipsec_ealg {
	IMS_CFG_EALG_NULL = 0,
	IMS_CFG_EALG_AES_CBC,
	IMS_CFG_EALG_DES_CBC,
	IMS_CFG_EALG_DES_EDE3_CBC,
	IMS_CFG_EALG_BLOWFISH,
	IMS_CFG_EALG_AES_CTR,
	IMS_CFG_EALG_AES_GCM,
	IMS_CFG_EALG_COUNT
};

/* Manual spelling ("hmac-sha-1-96", "aes-cbc"...) of an algorithm. */
const char *ims_cfg_aalg_name(enum ims_cfg_ipsec_aalg a);
const char *ims_cfg_ealg_name(enum ims_cfg_ipsec_ealg e);

enum ims_cfg_sms_action {
	IMS_CFG_SMS_TREAT = 0,
	IMS_CFG_SMS_IGNORE,
	IMS_CFG_SMS_REJECT,
};

enum ims_cfg_sms_msg {
	IMS_CFG_SMS_CP_DATA = 0,
	IMS_CFG_SMS_CP_ACK,
	IMS_CFG_SMS_RP_DATA,
	IMS_CFG_SMS_RP_ACK,
	IMS_CFG_SMS_MSG_COUNT
};

enum ims_cfg_ton {
	IMS_CFG_TON_UNKNOWN = 0,
	IMS_CFG_TON_INTERNATIONAL = 1,
	IMS_CFG_TON_NATIONAL = 2,
};

/* Numbering plan identification values of TS 24.008 §10.5.4.9. */
enum ims_cfg_npi {
	IMS_CFG_NPI_UNKNOWN = 0,
	IMS_CFG_NPI_NATIONAL = 8,
	IMS_CFG_NPI_PRIVATE = 9,
};

/* callflow_modifier */
enum ims_cfg_cfm_dir {
	IMS_CFG_DIR_BOTH = 0,
	IMS_CFG_DIR_TX,
	IMS_CFG_DIR_RX,
};

enum ims_cfg_cfm_step {
	IMS_CFG_STEP_ANY = 0, /* method not set */
	IMS_CFG_STEP_INVITE_OK,
	IMS_CFG_STEP_INVITE_TRYING,
	IMS_CFG_STEP_INVITE_RINGING,
	IMS_CFG_STEP_INVITE_SESSION_PROGRESS,
	IMS_CFG_STEP_INVITE,
	IMS_CFG_STEP_SUBSCRIBE,
	IMS_CFG_STEP_REGISTER,
	IMS_CFG_STEP_UPDATE,
	IMS_CFG_STEP_CANCEL,
	IMS_CFG_STEP_PRACK,
	IMS_CFG_STEP_MESSAGE,
	IMS_CFG_STEP_REGISTER_SOS,
	IMS_CFG_STEP_REINVITE,
};

/* access_network bits */
#define IMS_CFG_RAT_LTE 0x1u   /* 3GPP-E-UTRA */
#define IMS_CFG_RAT_NR 0x2u    /* 3GPP-NR */
#define IMS_CFG_RAT_N3GPP 0x4u /* IEEE (non-3GPP) */

/* Codes besides 100..699 that configurations written for the reference
 * product use; stored as given, interpreted by the call-flow engine. */
#define IMS_CFG_CFM_CODE_SPECIAL_1 (-1)
#define IMS_CFG_CFM_CODE_SPECIAL_2 (-2)

struct ims_cfg_cfm {
	uint8_t step;		/* enum ims_cfg_cfm_step */
	uint8_t dir;		/* enum ims_cfg_cfm_dir, default both */
	bool stop;		/* default true */
	bool transparent;	/* default false */
	bool content_remove;	/* content: null given (remove, add nothing) */
	uint8_t access_network; /* IMS_CFG_RAT_* bits, 0 = any */
	int16_t code;		/* 0: no response generated */
	const char *method;	/* text of `method` as written, NULL if unset */
	const char *log;
	const char *content; /* file name (resolved against the cfg dir) */
	const char *content_type;
	const char *impu;
	const char *imei;
	const struct ims_cfg_hdr *hdrs;
	uint32_t hdr_count;
	uint32_t ttl; /* 0: never removed */
	uint32_t tts;
	double send_delay; /* seconds, 0..60 */
	/* Times it was triggered (cfm/cfm.h: tts, ttl): owned by the
	 * configuration, written by the engine through the const view. */
	uint32_t *count;
};

/*
 * Per-IMPU options (§5.2.1). They may be written at user level (defaults for
 * that user's IMPUs) and in an IMPU object. Values are resolved at load time:
 * an unset option already holds the user's, then the global value.
 */
#define IMS_CFG_DELAY_UNSET (-1.0)

struct ims_cfg_impu_opts {
	const char *display_name;
	const char *domain;	       /* IMPU > user > global domain */
	const char *p_called_party_id; /* forces the header when set */
	const char *sdp_file;
	const struct ims_cfg_session_expires *session_expires; /* never NULL */
	const struct ims_cfg_cfm *cfm;			       /* callflow modifiers */
	uint32_t cfm_count;
	double anonymous_callback; /* seconds, default 0 */
	double answer_delay;	   /* seconds, IMS_CFG_DELAY_UNSET if unset */
	double sms_delay;	   /* idem */
	double media_delay;	   /* idem */
	double bitrate_factor;	   /* default 1 */
	uint8_t precondition;	   /* enum ims_cfg_precond, default global */
	bool anonymous;
	bool authentication; /* default true */
	bool ring_only;
	bool rel100; /* "100rel", default global 100rel */
	bool preferred;
	bool asserted;
	bool associated;  /* default true */
	bool early_media; /* default global early_media */
	bool remote_control;
	bool audio, video, text, rtp, rtcp; /* default true */
	/* IMS_CFG_OWN_* of the options this entry (or its user) sets itself;
	 * the others follow the global value (config_set, docs/api.md) */
	uint8_t own;
};
#define IMS_CFG_OWN_PRECOND 1u
#define IMS_CFG_OWN_REL100 2u

struct ims_cfg_impu {
	const char *impu; /* as written ("sip:x", "x", "tel:+1", "urn:...") */
	const char *imei; /* NULL if unset */
	const struct ims_cfg_impu_opts *opts; /* never NULL, shared */
};

enum ims_cfg_sim_algo {
	IMS_CFG_SIM_XOR = 0,
	IMS_CFG_SIM_MILENAGE,
	IMS_CFG_SIM_TUAK,
};

enum ims_cfg_op_kind {
	IMS_CFG_OP_NONE = 0,
	IMS_CFG_OP_OP,	/* OP (Milenage) or TOP (TUAK) */
	IMS_CFG_OP_OPC, /* OPc or TOPc */
};

/*
 * ISIM credentials of one user, for the HSS. Lengths are in bytes.
 * Milenage: K 16, OP/OPc 16. TUAK (TS 35.231): K 16 or 32, TOP/TOPc 32.
 */
struct ims_cfg_isim {
	uint8_t k[32];
	uint8_t op[32];		   /* OP/OPc/TOP/TOPc per op_kind */
	uint64_t sqn;		   /* 48 bits */
	uint16_t amf;		   /* default 0x8000 */
	uint8_t algo;		   /* enum ims_cfg_sim_algo, default milenage */
	uint8_t k_len;		   /* 0: no K given */
	uint8_t op_kind;	   /* enum ims_cfg_op_kind */
	uint8_t res_len;	   /* RES bytes: default 8 */
	uint8_t mac_len;	   /* TUAK MAC bytes: 8, 16 or 32 (default 8) */
	uint8_t ck_len;		   /* TUAK CK bytes: 16 or 32 (default 16) */
	uint8_t ik_len;		   /* TUAK IK bytes: 16 or 32 (default 16) */
	uint8_t keccak_iterations; /* TUAK, default 1 */
};

enum ims_cfg_authent {
	IMS_CFG_AUTH_NONE = 0,
	IMS_CFG_AUTH_MD5,
	IMS_CFG_AUTH_AKAV1,
	IMS_CFG_AUTH_AKAV2,
	IMS_CFG_AUTH_AKAV2_SHA256,
};

enum ims_cfg_qop {
	IMS_CFG_QOP_NONE = 0,
	IMS_CFG_QOP_AUTH,
};

/* One ue_db entry. Strings owned by the cfg; NULL when unset. */
struct ims_cfg_ue {
	const char *imsi;
	const char *nai;
	const char *impi;
	const char *pwd;
	const char *mt_call_sdp_file;	      /* user value, else the global one */
	const struct ims_cfg_impu *impu;      /* array */
	const struct ims_cfg_impu_opts *opts; /* user-level options, shared */
	uint32_t impu_count;
	uint8_t authent_type; /* enum ims_cfg_authent */
	uint8_t authent_qop;  /* enum ims_cfg_qop */
	bool multi_sim;
	bool auth_on_register_only; /* user value, else global */
	bool auth_own; /* the entry set auth_on_register_only itself: a
			* config_set of the global one leaves it */
	bool force_sms_over_sg;
	struct ims_cfg_isim isim;
};

struct ims_cfg_n5 {
	uint32_t transaction_timeout;  /* ms, 1..15000, default 4000 */
	struct ims_cfg_addr bind_addr; /* default cx_bind_addr */
};

struct ims_cfg_trunk {
	struct ims_cfg_addr addr; /* host NULL: no trunk */
	const char *name;
	const char *domain;	/* default: addr's host */
	uint32_t tcp_threshold; /* 0: use the global one */
};

struct ims_cfg_com_auth {
	const char *passfile; /* exactly one of passfile, password */
	const char *password;
	bool unsecure;
};

struct ims_cfg_license_server {
	const char *server_addr; /* NULL: not configured */
	const char *name;
	const char *tag;
};

struct ims_cfg_smsc_addr {
	const char *number;	/* NULL: not configured; '+' and up to 20 digits */
	uint8_t type_of_number; /* enum ims_cfg_ton */
	uint8_t numbering_plan; /* enum ims_cfg_npi */
};

struct ims_cfg {
	/* logs */
	const char *log_filename; /* absolute (resolved against the cfg dir) */
	const char *log_options;
	bool log_sync;

	/* SIP and media sockets */
	const struct ims_cfg_sip_addr *sip_addr;
	uint32_t sip_addr_count;

	/* Diameter Cx/Rx, SGs, N5 */
	struct ims_cfg_addr sctp_addr;	    /* SGsAP, default port 29118 */
	struct ims_cfg_addr cx_server_addr; /* default port 3868 */
	struct ims_cfg_addr cx_bind_addr;   /* default sctp_addr's host */
	const char *cx_origin_realm;
	const char *cx_origin_host;
	uint32_t cx_watchdog_duration;	    /* ms, 0 = no watchdog */
	struct ims_cfg_addr rx_server_addr; /* default cx_server_addr */
	struct ims_cfg_addr rx_bind_addr;   /* default cx_bind_addr */
	const char *rx_origin_realm;
	const char *rx_origin_host;
	uint32_t rx_watchdog_duration;
	bool use_n5;
	struct ims_cfg_n5 n5;

	/* SIP behaviour */
	const char *domain;
	uint32_t tcp_threshold;
	uint32_t tcp_keepalive;
	uint32_t tcp_keepcount;
	struct ims_cfg_session_expires session_expires;
	bool rel100;	      /* "100rel" */
	uint8_t precondition; /* enum ims_cfg_precond */
	bool p_called_party_id;
	uint32_t dialog_timeout;
	bool auth_on_register_only;
	struct ims_cfg_trunk trunk;
	uint32_t binding_expires;
	uint32_t subscribe_expires;
	const char *user_agent;
	bool force_user_agent;
	bool early_media;
	const char *path; /* "" = no Path header */
	uint32_t timer_t1_ms, timer_t2_ms, timer_t4_ms;
	const struct ims_cfg_hdr *custom_headers;
	uint32_t custom_header_count;
	const char *const *echo; /* IMPUs of the echo service */
	uint32_t echo_count;
	const char *mt_call_sdp_file;

	/* IPsec */
	bool ipsec;
	const char *ipsec_tun_setup_script_filename;
	uint32_t ipsec_aalg_mask; /* bit (1u << enum ims_cfg_ipsec_aalg) */
	uint32_t ipsec_ealg_mask; /* bit (1u << enum ims_cfg_ipsec_ealg) */
	uint32_t ipsec_mtu;
	const char *ipsec_ifname;
	const char *ipsec_netns;

	/* remote API */
	struct ims_cfg_addr com_addr; /* host NULL: API disabled */
	const char *com_name;
	const char *com_ssl_certificate;
	const char *com_ssl_key;
	const char *com_ssl_ca;
	bool com_ssl_peer_verify;
	bool com_log_lock;
	bool com_log_us;
	bool com_auth_set;
	struct ims_cfg_com_auth com_auth;
	uint32_t com_log_count;
	json_t *sim_events;	       /* array, owned (deep copy); NULL if unset */
	int32_t sim_events_loop_count; /* -1 if unset */
	double sim_events_loop_delay;  /* 0 if unset */
	struct ims_cfg_license_server license_server;

	/* SMS and MMS */
	uint32_t sms_expires;
	bool sms_hook_only;
	struct ims_cfg_smsc_addr sms_centre_address;
	uint32_t sms_retry_delay;			   /* s; 0 = no timed retry */
	uint8_t sms_message_filter[IMS_CFG_SMS_MSG_COUNT]; /* ims_cfg_sms_action */
	uint8_t sms_forced_cp_cause;
	uint8_t sms_forced_rp_cause;
	struct ims_cfg_addr mms_server_bind_addr; /* default port 80 */
	uint32_t mms_expires;

	/* user database */
	const char *ue_db_filename;
	const struct ims_cfg_ue *ue; /* array */
	uint32_t ue_count;
	/* options block of users that set none at user level */
	const struct ims_cfg_impu_opts *ue_opts_default;

	struct cfg_arena *arena; /* private: owns all of the above */
};

/*
 * Reads the configuration tree `root` (an object). cfg_dir is the directory
 * of the main configuration file, against which relative file names are
 * resolved (NULL: current directory). Returns 0 and *cfgp, EINVAL with the
 * first error in diag->err, or ENOMEM.
 */
int ims_cfg_from_json(const json_t *root, const char *cfg_dir, struct ims_cfg **cfgp,
		      struct cfg_diag *diag);
void ims_cfg_free(struct ims_cfg *cfg);
/*
 * Run-time provisioning (remote API users_add): reads `users`, an array of
 * ue_db entries, with every check and default of the configuration file,
 * into *setp, whose ue/ue_count are the entries; the rest of *setp is base's
 * (strings borrowed: base must outlive it). ims_cfg_free frees it. EINVAL
 * with "users[2].impu[0]: ..." in diag->err, or ENOMEM.
 */
int ims_cfg_ue_from_json(const struct ims_cfg *base, const json_t *users,
			 struct ims_cfg **setp, struct cfg_diag *diag);
/* The same for `impus`, an array of IMPU configurations (strings or
 * objects) of a user whose options are user_opts (NULL: base's default):
 * *out and *n, owned by *setp. Errors name "impu[i]...". */
int ims_cfg_impu_from_json(const struct ims_cfg *base, const struct ims_cfg_impu_opts *user_opts,
			   const json_t *impus, struct ims_cfg **setp,
			   const struct ims_cfg_impu **out, uint32_t *n, struct cfg_diag *diag);

/* config_set (remote API, manual §6.5): reads props, an object of global
 * properties, with every check of the configuration file, into *setp, a
 * copy of base with them changed (strings borrowed from base; what they
 * read is owned by *setp). EINVAL with "session_expires.min: ..." in
 * diag->err, or ENOMEM. */
int ims_cfg_props_from_json(const struct ims_cfg *base, const json_t *props,
			    struct ims_cfg **setp, struct cfg_diag *diag);

/*
 * Parses "host", "host:port", "[v6]" , "[v6]:port" or a bare IPv6 address
 * into host (brackets removed, NUL-terminated) and port (def_port when the
 * text has none). Returns 0, EINVAL (malformed, port 0 or > 65535) or
 * ENAMETOOLONG (host does not fit hostsz).
 */
int ims_cfg_addr_parse(const char *s, uint16_t def_port, char *host, size_t hostsz,
		       uint16_t *port);

/* Decodes exactly 2*len hex digits (either case) into out. EINVAL else
 * (out may then be partly written). */
int ims_cfg_hex_decode(const char *s, uint8_t *out, size_t len);

#endif
