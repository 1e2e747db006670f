/*
 * config/cfg_ims_obj — readers of the structured global properties (§5.2):
 * sip_addr, session_expires, custom_headers, n5, trunk, com_auth,
 * license_server, sms_centre_address, sms_message_filter, IPsec algorithm
 * lists, sim_events, echo and the SIP timers.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "config/cfg_read.h"
#include "sip/sip_custom.h"

/* --- sip_addr --- */

static const struct cfg_field sip_addr_fields[] = {
    {.name = "addr",
     .type = CFG_T_ADDR,
     .off = offsetof(struct ims_cfg_sip_addr, addr),
     .min = IMS_CFG_SIP_PORT},
    {.name = "bind_addr",
     .type = CFG_T_ADDR,
     .off = offsetof(struct ims_cfg_sip_addr, bind_addr)},
    {.name = "port_max",
     .type = CFG_T_U16,
     .off = offsetof(struct ims_cfg_sip_addr, port_max),
     .min = 1,
     .max = 65535},
    {.name = "port_min",
     .type = CFG_T_U16,
     .off = offsetof(struct ims_cfg_sip_addr, port_min),
     .min = 1,
     .max = 65535},
    {.name = "trunk",
     .type = CFG_T_BOOL,
     .off = offsetof(struct ims_cfg_sip_addr, trunk)},
};

static int sip_addr_item(struct cfg_rd *rd, const json_t *v, struct ims_cfg_sip_addr *sa)
{
	struct cfg_table t = {sip_addr_fields, CFG_NELEM(sip_addr_fields), sa};

	sa->port_min = 10000;
	sa->port_max = 20000;
	/* A plain string is the addr with every other parameter defaulted. */
	if (json_is_string(v))
		return cfg_get_addr(rd, v, IMS_CFG_SIP_PORT, &sa->addr);
	cfg_table_check(sip_addr_fields, CFG_NELEM(sip_addr_fields));
	if (cfg_obj_read(rd, v, &t, 1))
		return rd->err;
	if (!sa->addr.host)
		return cfg_rd_err_at(rd, "addr", "required");
	/* bind_addr without a port listens on addr's port. */
	if (sa->bind_addr.host && !sa->bind_addr.port)
		sa->bind_addr.port = sa->addr.port;
	if (sa->port_min > sa->port_max)
		return cfg_rd_err(rd, "port_min %u above port_max %u", sa->port_min,
				  sa->port_max);
	return 0;
}

int cfg_sip_addr_h(struct cfg_rd *rd, const json_t *v, void *base,
		   const struct cfg_field *f)
{
	struct ims_cfg *cfg = base;
	struct ims_cfg_sip_addr *arr;
	size_t n;

	if (cfg_is_complex(v))
		return cfg_rd_err(rd, "cannot be a complex number");
	/* Legacy: a single socket (string or object) instead of an array. */
	if (!json_is_array(v)) {
		if (!json_is_string(v) && !json_is_object(v))
			return cfg_rd_err(rd, "expected array, object or string");
		arr = cfg_arena_alloc(rd->arena, sizeof(*arr));
		if (!arr)
			return cfg_rd_nomem(rd);
		if (sip_addr_item(rd, v, arr))
			return rd->err;
		cfg->sip_addr = arr;
		cfg->sip_addr_count = 1;
		return 0;
	}
	n = json_array_size(v);
	arr = cfg_list_alloc(rd, n, 1024, sizeof(*arr));
	if (!arr)
		return rd->err;
	for (size_t i = 0; i < n; i++) {
		cfg_rd_push_idx(rd, i);
		if (sip_addr_item(rd, json_array_get(v, i), &arr[i]))
			return rd->err;
		cfg_rd_pop(rd);
	}
	cfg->sip_addr = arr;
	cfg->sip_addr_count = (uint32_t)n;
	(void)f;
	return 0;
}

/* --- session_expires --- */

static const char *const refresher_names[] = {"uac", "uas", NULL};
static const char *const se_method_names[] = {"update", "invite", NULL};

static const struct cfg_field se_fields[] = {
    {.name = "duration",
     .type = CFG_T_INT,
     .off = offsetof(struct ims_cfg_session_expires, duration),
     .min = 0,
     .max = 604800},
    {.name = "force",
     .type = CFG_T_BOOL,
     .off = offsetof(struct ims_cfg_session_expires, force)},
    {.name = "method",
     .type = CFG_T_ENUM,
     .off = offsetof(struct ims_cfg_session_expires, method),
     .names = se_method_names},
    {.name = "min",
     .type = CFG_T_INT,
     .off = offsetof(struct ims_cfg_session_expires, min),
     .min = 90,
     .max = 86400},
    {.name = "refresher",
     .type = CFG_T_ENUM,
     .off = offsetof(struct ims_cfg_session_expires, refresher),
     .names = refresher_names},
};

/* se holds the inherited values; the object overrides what it sets. */
int cfg_session_expires_read(struct cfg_rd *rd, const json_t *v,
			     struct ims_cfg_session_expires *se)
{
	struct cfg_table t = {se_fields, CFG_NELEM(se_fields), se};
	int64_t d;

	if (!json_is_object(v) || cfg_is_complex(v)) {
		/* Legacy: an integer is the duration alone. */
		if (json_is_integer(v) || json_is_real(v)) {
			if (cfg_get_int(rd, v, 0, 604800, &d))
				return rd->err;
			se->duration = (uint32_t)d;
			/* RFC 4028 §4, as for the object below */
			if (se->duration && se->duration < se->min)
				return cfg_rd_err(rd, "duration %u below min %u", se->duration,
						  se->min);
			return 0;
		}
		if (cfg_is_complex(v))
			return cfg_rd_err(rd, "cannot be a complex number");
		return cfg_rd_err(rd, "expected object or integer");
	}
	cfg_table_check(se_fields, CFG_NELEM(se_fields));
	if (cfg_obj_read(rd, v, &t, 1))
		return rd->err;
	/* RFC 4028 §4: a session interval below Min-SE is refused. */
	if (se->duration && se->duration < se->min)
		return cfg_rd_err(rd, "duration %u below min %u", se->duration, se->min);
	return 0;
}

int cfg_session_expires_h(struct cfg_rd *rd, const json_t *v, void *base,
			  const struct cfg_field *f)
{
	return cfg_session_expires_read(rd, v, (void *)((char *)base + f->off));
}

/* --- custom_headers --- */

static int hdr_codes_h(struct cfg_rd *rd, const json_t *v, void *base,
		       const struct cfg_field *f)
{
	struct ims_cfg_hdr *h = base;
	uint16_t *codes;
	size_t n = json_is_array(v) ? json_array_size(v) : 1;
	int64_t c;

	if (!json_is_array(v) && !json_is_integer(v) && !json_is_real(v))
		return cfg_is_complex(v)
			   ? cfg_rd_err(rd, "cannot be a complex number")
			   : cfg_rd_err(rd, "expected number or array of numbers");
	if (n > 1000)
		return cfg_rd_err(rd, "too many codes");
	codes = cfg_arena_alloc(rd->arena, (n ? n : 1) * sizeof(*codes));
	if (!codes)
		return cfg_rd_nomem(rd);
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;

		if (json_is_array(v))
			cfg_rd_push_idx(rd, i);
		if (cfg_get_int(rd, e, 0, 699, &c))
			return rd->err;
		if (c > 0 && c < 100)
			return cfg_rd_err(rd, "%lld out of range (0 or 100..699)",
					  (long long)c);
		codes[i] = (uint16_t)c;
		if (json_is_array(v))
			cfg_rd_pop(rd);
	}
	h->codes = codes;
	h->code_count = (uint16_t)n;
	(void)f;
	return 0;
}

static int hdr_methods_h(struct cfg_rd *rd, const json_t *v, void *base,
			 const struct cfg_field *f)
{
	struct ims_cfg_hdr *h = base;
	uint32_t n;

	if (cfg_get_str_list(rd, v, true, &h->methods, &n))
		return rd->err;
	if (n > 1000)
		return cfg_rd_err(rd, "too many methods");
	h->method_count = (uint16_t)n;
	(void)f;
	return 0;
}

static const struct cfg_field hdr_fields[] = {
    {.name = "codes", .type = CFG_T_FN, .off = 0, .fn = hdr_codes_h},
    {.name = "methods", .type = CFG_T_FN, .off = 0, .fn = hdr_methods_h},
    {.name = "name", .type = CFG_T_STR, .off = offsetof(struct ims_cfg_hdr, name)},
    {.name = "replace", .type = CFG_T_BOOL, .off = offsetof(struct ims_cfg_hdr, replace)},
    {.name = "value", .type = CFG_T_STR, .off = offsetof(struct ims_cfg_hdr, value)},
};

static bool hdr_name_ok(const char *s)
{
	/* RFC 3261 §25.1 token characters. */
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("-.!%*_+`'~", *s)))
			return false;
	}
	return true;
}

int cfg_custom_headers_read(struct cfg_rd *rd, const json_t *v,
			    const struct ims_cfg_hdr **out, uint32_t *count)
{
	struct ims_cfg_hdr *arr;
	const char *why;
	size_t n, bytes = 0;

	if (cfg_expect_array(rd, v))
		return rd->err;
	n = json_array_size(v);
	cfg_table_check(hdr_fields, CFG_NELEM(hdr_fields));
	arr = cfg_list_alloc(rd, n, 1000, sizeof(*arr));
	if (!arr)
		return rd->err;
	for (size_t i = 0; i < n; i++) {
		struct cfg_table t = {hdr_fields, CFG_NELEM(hdr_fields), &arr[i]};

		cfg_rd_push_idx(rd, i);
		if (cfg_obj_read(rd, json_array_get(v, i), &t, 1))
			return rd->err;
		if (!arr[i].name)
			return cfg_rd_err_at(rd, "name", "required");
		if (!hdr_name_ok(arr[i].name))
			return cfg_rd_err_at(rd, "name", "invalid header name \"%.64s\"",
					     arr[i].name);
		if (arr[i].value && strpbrk(arr[i].value, "\r\n"))
			return cfg_rd_err_at(rd, "value", "contains a line break");
		/* Without a value the header can only be removed. */
		if (!arr[i].value)
			arr[i].replace = true;
		/* the SIP stack's own checks (no injection, bounded) */
		if (!sip_custom_hdr_ok(&(struct sip_custom_hdr){arr[i].name, arr[i].value,
								  arr[i].codes, arr[i].methods,
								  arr[i].code_count,
								  arr[i].method_count,
								  arr[i].replace},
				       &why))
			return cfg_rd_err(rd, "%s", why);
		/* the set's total, checked as it grows: one config may not
		 * make the stack copy 1000 rules of 1000 methods each */
		bytes += sip_custom_hdr_size(&(struct sip_custom_hdr){
		    arr[i].name, arr[i].value, arr[i].codes, arr[i].methods, arr[i].code_count,
		    arr[i].method_count, arr[i].replace});
		if (bytes > SIP_CUSTOM_BYTES_MAX)
			return cfg_rd_err(rd,
					  "the rules up to this one take more than %u bytes "
					  "(names, values, codes and methods)",
					  SIP_CUSTOM_BYTES_MAX);
		cfg_rd_pop(rd);
	}
	*out = arr;
	*count = (uint32_t)n;
	return 0;
}

int cfg_custom_headers_h(struct cfg_rd *rd, const json_t *v, void *base,
			 const struct cfg_field *f)
{
	struct ims_cfg *cfg = base;

	(void)f;
	return cfg_custom_headers_read(rd, v, &cfg->custom_headers,
				       &cfg->custom_header_count);
}

/* --- small objects --- */

static const struct cfg_field n5_fields[] = {
    {.name = "bind_addr",
     .type = CFG_T_ADDR,
     .off = offsetof(struct ims_cfg_n5, bind_addr)},
    {.name = "transaction_timeout",
     .type = CFG_T_INT,
     .off = offsetof(struct ims_cfg_n5, transaction_timeout),
     .min = 1,
     .max = 15000},
};

int cfg_n5_h(struct cfg_rd *rd, const json_t *v, void *base, const struct cfg_field *f)
{
	struct ims_cfg *cfg = base;
	struct cfg_table t = {n5_fields, CFG_NELEM(n5_fields), &cfg->n5};

	(void)f;
	cfg_table_check(n5_fields, CFG_NELEM(n5_fields));
	return cfg_obj_read(rd, v, &t, 1);
}

static const struct cfg_field trunk_fields[] = {
    {.name = "addr",
     .type = CFG_T_ADDR,
     .off = offsetof(struct ims_cfg_trunk, addr),
     .min = IMS_CFG_SIP_PORT},
    {.name = "domain", .type = CFG_T_STR, .off = offsetof(struct ims_cfg_trunk, domain)},
    {.name = "name", .type = CFG_T_STR, .off = offsetof(struct ims_cfg_trunk, name)},
    {.name = "tcp_threshold",
     .type = CFG_T_INT,
     .off = offsetof(struct ims_cfg_trunk, tcp_threshold),
     .min = 0,
     .max = 65535},
};

int cfg_trunk_h(struct cfg_rd *rd, const json_t *v, void *base, const struct cfg_field *f)
{
	struct ims_cfg *cfg = base;
	struct cfg_table t = {trunk_fields, CFG_NELEM(trunk_fields), &cfg->trunk};

	(void)f;
	cfg_table_check(trunk_fields, CFG_NELEM(trunk_fields));
	if (cfg_obj_read(rd, v, &t, 1))
		return rd->err;
	if (!cfg->trunk.addr.host)
		return cfg_rd_err_at(rd, "addr", "required");
	if (!cfg->trunk.domain)
		cfg->trunk.domain = cfg->trunk.addr.host;
	return 0;
}

static const struct cfg_field com_auth_fields[] = {
    {.name = "passfile",
     .type = CFG_T_FILE,
     .off = offsetof(struct ims_cfg_com_auth, passfile)},
    {.name = "password",
     .type = CFG_T_STR,
     .off = offsetof(struct ims_cfg_com_auth, password)},
    {.name = "unsecure",
     .type = CFG_T_BOOL,
     .off = offsetof(struct ims_cfg_com_auth, unsecure)},
};

int cfg_com_auth_h(struct cfg_rd *rd, const json_t *v, void *base,
		   const struct cfg_field *f)
{
	struct ims_cfg *cfg = base;
	struct cfg_table t = {com_auth_fields, CFG_NELEM(com_auth_fields),
			      &cfg->com_auth};

	(void)f;
	cfg_table_check(com_auth_fields, CFG_NELEM(com_auth_fields));
	if (cfg_obj_read(rd, v, &t, 1))
		return rd->err;
	if (!cfg->com_auth.passfile && !cfg->com_auth.password)
		return cfg_rd_err(rd, "passfile or password required");
	if (cfg->com_auth.passfile && cfg->com_auth.password)
		return cfg_rd_err(rd, "passfile and password are both set");
	cfg->com_auth_set = true;
	return 0;
}

static const struct cfg_field license_fields[] = {
    {.name = "name",
     .type = CFG_T_STR,
     .off = offsetof(struct ims_cfg_license_server, name)},
    {.name = "server_addr",
     .type = CFG_T_STR,
     .off = offsetof(struct ims_cfg_license_server, server_addr)},
    {.name = "tag",
     .type = CFG_T_STR,
     .off = offsetof(struct ims_cfg_license_server, tag)},
};

int cfg_license_server_h(struct cfg_rd *rd, const json_t *v, void *base,
			 const struct cfg_field *f)
{
	struct ims_cfg *cfg = base;
	struct cfg_table t = {license_fields, CFG_NELEM(license_fields),
			      &cfg->license_server};

	(void)f;
	cfg_table_check(license_fields, CFG_NELEM(license_fields));
	if (cfg_obj_read(rd, v, &t, 1))
		return rd->err;
	if (!cfg->license_server.server_addr)
		return cfg_rd_err_at(rd, "server_addr", "required");
	return 0;
}

static const char *const ton_names[] = {"unknown", "international", "national", NULL};
static const char *const npi_names[] = {"unknown", "national", "private", NULL};
static const uint8_t npi_values[] = {IMS_CFG_NPI_UNKNOWN, IMS_CFG_NPI_NATIONAL,
				     IMS_CFG_NPI_PRIVATE};

static int smsc_npi_h(struct cfg_rd *rd, const json_t *v, void *base,
		      const struct cfg_field *f)
{
	struct ims_cfg_smsc_addr *a = base;
	int i;

	(void)f;
	if (cfg_get_enum(rd, v, npi_names, &i))
		return rd->err;
	a->numbering_plan = npi_values[i];
	return 0;
}

static const struct cfg_field smsc_fields[] = {
    {.name = "number",
     .type = CFG_T_STR,
     .off = offsetof(struct ims_cfg_smsc_addr, number)},
    {.name = "numbering_plan", .type = CFG_T_FN, .off = 0, .fn = smsc_npi_h},
    {.name = "type_of_number",
     .type = CFG_T_ENUM,
     .off = offsetof(struct ims_cfg_smsc_addr, type_of_number),
     .names = ton_names},
};

int cfg_smsc_h(struct cfg_rd *rd, const json_t *v, void *base, const struct cfg_field *f)
{
	struct ims_cfg *cfg = base;
	struct ims_cfg_smsc_addr *a = &cfg->sms_centre_address;
	struct cfg_table t = {smsc_fields, CFG_NELEM(smsc_fields), a};
	const char *d;

	(void)f;
	cfg_table_check(smsc_fields, CFG_NELEM(smsc_fields));
	if (cfg_obj_read(rd, v, &t, 1))
		return rd->err;
	if (!a->number)
		return cfg_rd_err_at(rd, "number", "required");
	d = a->number + (a->number[0] == '+');
	if (!*d || strlen(d) > 20 || strspn(d, "0123456789") != strlen(d))
		return cfg_rd_err_at(rd, "number", "expected '+' and up to 20 digits");
	return 0;
}

static const char *const sms_action_names[] = {"treat", "ignore", "reject", NULL};

static const struct cfg_field sms_filter_fields[] = {
    {.name = "cp_ack",
     .type = CFG_T_ENUM,
     .off = offsetof(struct ims_cfg, sms_message_filter) + IMS_CFG_SMS_CP_ACK,
     .names = sms_action_names},
    {.name = "cp_data",
     .type = CFG_T_ENUM,
     .off = offsetof(struct ims_cfg, sms_message_filter) + IMS_CFG_SMS_CP_DATA,
     .names = sms_action_names},
    {.name = "rp_ack",
     .type = CFG_T_ENUM,
     .off = offsetof(struct ims_cfg, sms_message_filter) + IMS_CFG_SMS_RP_ACK,
     .names = sms_action_names},
    {.name = "rp_data",
     .type = CFG_T_ENUM,
     .off = offsetof(struct ims_cfg, sms_message_filter) + IMS_CFG_SMS_RP_DATA,
     .names = sms_action_names},
};

int cfg_sms_filter_h(struct cfg_rd *rd, const json_t *v, void *base,
		     const struct cfg_field *f)
{
	struct cfg_table t = {sms_filter_fields, CFG_NELEM(sms_filter_fields), base};

	(void)f;
	cfg_table_check(sms_filter_fields, CFG_NELEM(sms_filter_fields));
	return cfg_obj_read(rd, v, &t, 1);
}

/* --- IPsec algorithm lists --- */

static const char *const aalg_names[] = {
    "null",	      "hmac-md5-96", "hmac-md5-128", "hmac-sha-1-96",
    "hmac-sha-1-160", "aes-cmac-96", "aes-gmac",     NULL,
};
static const char *const ealg_names[] = {
    "null", "aes-cbc", "des-cbc", "des-ede3-cbc", "blowfish", "aes-ctr", "aes-gcm", NULL,
};

const char *ims_cfg_aalg_name(enum ims_cfg_ipsec_aalg a)
{
	return (unsigned)a < IMS_CFG_AALG_COUNT ? aalg_names[a] : "?";
}

const char *ims_cfg_ealg_name(enum ims_cfg_ipsec_ealg e)
{
	return (unsigned)e < IMS_CFG_EALG_COUNT ? ealg_names[e] : "?";
}

static int alg_list(struct cfg_rd *rd, const json_t *v, const char *const *names,
		    uint32_t *mask)
{
	uint32_t m = 0;
	size_t n;
	int i;

	if (cfg_expect_array(rd, v))
		return rd->err;
	n = json_array_size(v);
	if (!n)
		return cfg_rd_err(rd, "empty list");
	for (size_t k = 0; k < n; k++) {
		cfg_rd_push_idx(rd, k);
		if (cfg_get_enum(rd, json_array_get(v, k), names, &i))
			return rd->err;
		m |= 1u << i;
		cfg_rd_pop(rd);
	}
	*mask = m;
	return 0;
}

int cfg_aalg_h(struct cfg_rd *rd, const json_t *v, void *base, const struct cfg_field *f)
{
	(void)f;
	return alg_list(rd, v, aalg_names, &((struct ims_cfg *)base)->ipsec_aalg_mask);
}

int cfg_ealg_h(struct cfg_rd *rd, const json_t *v, void *base, const struct cfg_field *f)
{
	(void)f;
	return alg_list(rd, v, ealg_names, &((struct ims_cfg *)base)->ipsec_ealg_mask);
}

/* --- sim_events, echo, timers --- */

int cfg_sim_events_h(struct cfg_rd *rd, const json_t *v, void *base,
		     const struct cfg_field *f)
{
	struct ims_cfg *cfg = base;
	size_t n;

	(void)f;
	if (cfg_expect_array(rd, v))
		return rd->err;
	n = json_array_size(v);
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(v, i);
		const json_t *ev;

		cfg_rd_push_idx(rd, i);
		if (cfg_expect_object(rd, e))
			return rd->err;
		/* Remote API requests whose `message` is named `event`. */
		ev = json_object_get(e, "event");
		if (!ev)
			return cfg_rd_err_at(rd, "event", "required");
		if (!json_is_string(ev))
			return cfg_rd_err_at(rd, "event", "expected string");
		cfg_rd_pop(rd);
	}
	if (cfg->sim_events)
		json_decref(cfg->sim_events);
	cfg->sim_events = json_deep_copy(v);
	if (!cfg->sim_events)
		return cfg_rd_nomem(rd);
	return 0;
}

int cfg_echo_h(struct cfg_rd *rd, const json_t *v, void *base, const struct cfg_field *f)
{
	struct ims_cfg *cfg = base;

	(void)f;
	return cfg_get_str_list(rd, v, true, &cfg->echo, &cfg->echo_count);
}

/* timer_t1/t2/t4: seconds (fractional allowed), stored in ms at f->off. */
int cfg_timer_h(struct cfg_rd *rd, const json_t *v, void *base, const struct cfg_field *f)
{
	double s;
	long ms;

	if (cfg_get_num(rd, v, 0.001, 3600, &s))
		return rd->err;
	ms = lround(s * 1000.0);
	*(uint32_t *)((char *)base + f->off) = (uint32_t)(ms < 1 ? 1 : ms);
	return 0;
}
