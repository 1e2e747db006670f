/*
 * config/cfg_ue — ue_db entries (§5.2.1): identities, authentication
 * settings and ISIM credentials (XOR, Milenage TS 35.206, TUAK TS 35.231).
 *
 * All entries live in one array; their strings and IMPU arrays come from
 * the cfg arena. Credentials are checked once sim_algo is known, whatever
 * the key order of the entry.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "config/cfg_read.h"

/* The entry being read, with the raw credential values kept until the
 * whole object is seen. */
struct ue_scratch {
	struct ims_cfg_ue ue;
	const json_t *k, *op, *opc, *top, *topc, *amf, *sqn;
	const json_t *res_len, *mac_len, *ck_len, *ik_len, *keccak;
	const json_t *impu;
	bool authent_type_set;
};

#define UOFF(m) offsetof(struct ue_scratch, m)

static const char *const algo_names[] = {"xor", "milenage", "tuak", NULL};
static const char *const authent_names[] = {"none",  "MD5",	      "AKAv1",
					    "AKAv2", "AKAv2-SHA-256", NULL};
static const char *const qop_names[] = {"none", "auth", NULL};

static int raw_h(struct cfg_rd *rd, const json_t *v, void *base,
		 const struct cfg_field *f)
{
	(void)rd;
	*(const json_t **)((char *)base + f->off) = v;
	return 0;
}

static int authent_type_h(struct cfg_rd *rd, const json_t *v, void *base,
			  const struct cfg_field *f)
{
	struct ue_scratch *s = base;
	int i;

	(void)f;
	if (cfg_get_enum(rd, v, authent_names, &i))
		return rd->err;
	s->ue.authent_type = (uint8_t)i;
	s->authent_type_set = true;
	return 0;
}

#define RAW(n, m)                                                                        \
	{                                                                                \
		.name = (n), .type = CFG_T_FN, .off = UOFF(m), .fn = raw_h               \
	}

static const struct cfg_field ue_fields[] = {
    RAW("K", k),
    RAW("amf", amf),
    {.name = "auth_on_register_only",
     .type = CFG_T_BOOL,
     .off = UOFF(ue.auth_on_register_only)},
    {.name = "authent_qop",
     .type = CFG_T_ENUM,
     .off = UOFF(ue.authent_qop),
     .names = qop_names},
    {.name = "authent_type", .type = CFG_T_FN, .off = 0, .fn = authent_type_h},
    RAW("ck_len", ck_len),
    {.name = "force_sms_over_sg", .type = CFG_T_BOOL, .off = UOFF(ue.force_sms_over_sg)},
    RAW("ik_len", ik_len),
    {.name = "impi", .type = CFG_T_STR, .off = UOFF(ue.impi)},
    RAW("impu", impu),
    {.name = "imsi", .type = CFG_T_STR, .off = UOFF(ue.imsi)},
    RAW("keccak_iterations", keccak),
    RAW("mac_len", mac_len),
    {.name = "mt_call_sdp_file", .type = CFG_T_FILE, .off = UOFF(ue.mt_call_sdp_file)},
    {.name = "multi_sim", .type = CFG_T_BOOL, .off = UOFF(ue.multi_sim)},
    {.name = "nai", .type = CFG_T_STR, .off = UOFF(ue.nai)},
    RAW("op", op),
    RAW("opc", opc),
    {.name = "pwd", .type = CFG_T_STR, .off = UOFF(ue.pwd)},
    RAW("res_len", res_len),
    {.name = "sim_algo",
     .type = CFG_T_ENUM,
     .off = UOFF(ue.isim.algo),
     .names = algo_names},
    RAW("sqn", sqn),
    RAW("top", top),
    RAW("topc", topc),
};

/* --- credentials --- */

static int hex_var(struct cfg_rd *rd, const char *key, const json_t *v, uint8_t *out,
		   size_t len1, size_t len2, uint8_t *got)
{
	const char *s;
	size_t n;

	cfg_rd_push_key(rd, key);
	if (cfg_is_complex(v))
		return cfg_rd_err(rd, "cannot be a complex number");
	if (!json_is_string(v))
		return cfg_rd_err(rd, "expected string");
	s = json_string_value(v);
	n = strlen(s);
	if (n == 2 * len1 && !ims_cfg_hex_decode(s, out, len1)) {
		*got = (uint8_t)len1;
	} else if (len2 && n == 2 * len2 && !ims_cfg_hex_decode(s, out, len2)) {
		*got = (uint8_t)len2;
	} else if (len2) {
		return cfg_rd_err(rd, "expected %zu or %zu hex digits (%zu or %zu bits)",
				  2 * len1, 2 * len2, 8 * len1, 8 * len2);
	} else {
		return cfg_rd_err(rd, "expected %zu hex digits (%zu bits)", 2 * len1,
				  8 * len1);
	}
	cfg_rd_pop(rd);
	return 0;
}

static int amf_read(struct cfg_rd *rd, const json_t *v, uint16_t *amf)
{
	uint8_t b[2];
	int64_t x;

	cfg_rd_push_key(rd, "amf");
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (!strncasecmp(s, "0x", 2))
			s += 2;
		if (ims_cfg_hex_decode(s, b, 2))
			return cfg_rd_err(rd, "expected 16-bit number or 4 hex digits");
		*amf = (uint16_t)(b[0] << 8 | b[1]);
	} else {
		if (cfg_get_int(rd, v, 0, 0xffff, &x))
			return rd->err;
		*amf = (uint16_t)x;
	}
	cfg_rd_pop(rd);
	return 0;
}

static int sqn_read(struct cfg_rd *rd, const json_t *v, uint64_t *sqn)
{
	uint8_t b[6];
	int64_t x;

	cfg_rd_push_key(rd, "sqn");
	if (json_is_string(v)) {
		if (ims_cfg_hex_decode(json_string_value(v), b, 6))
			return cfg_rd_err(rd, "expected 12 hex digits (48 bits)");
		*sqn = 0;
		for (int i = 0; i < 6; i++)
			*sqn = *sqn << 8 | b[i];
	} else {
		if (cfg_get_int(rd, v, 0, 0xffffffffffffLL, &x))
			return rd->err;
		*sqn = (uint64_t)x;
	}
	cfg_rd_pop(rd);
	return 0;
}

/* A length in bytes that must be one of allowed[] (0-terminated) or, when
 * allowed is NULL, within lo..hi. */
static int len_read(struct cfg_rd *rd, const char *key, const json_t *v,
		    const uint8_t *allowed, int lo, int hi, uint8_t *out)
{
	int64_t x;

	cfg_rd_push_key(rd, key);
	if (allowed) {
		if (cfg_get_int(rd, v, 0, 255, &x))
			return rd->err;
		for (const uint8_t *a = allowed; *a; a++) {
			if (x == *a) {
				*out = *a;
				cfg_rd_pop(rd);
				return 0;
			}
		}
		return cfg_rd_err(rd, "%lld is not an allowed length (bytes)",
				  (long long)x);
	}
	if (cfg_get_int(rd, v, lo, hi, &x))
		return rd->err;
	*out = (uint8_t)x;
	cfg_rd_pop(rd);
	return 0;
}

static const uint8_t tuak_res[] = {4, 8, 16, 32, 0};
static const uint8_t tuak_mac[] = {8, 16, 32, 0};
static const uint8_t tuak_key[] = {16, 32, 0};

static int tuak_read(struct cfg_rd *rd, struct ue_scratch *s)
{
	struct ims_cfg_isim *c = &s->ue.isim;
	int64_t x;

	if (s->mac_len &&
	    len_read(rd, "mac_len", s->mac_len, tuak_mac, 0, 0, &c->mac_len))
		return rd->err;
	if (s->ck_len && len_read(rd, "ck_len", s->ck_len, tuak_key, 0, 0, &c->ck_len))
		return rd->err;
	if (s->ik_len && len_read(rd, "ik_len", s->ik_len, tuak_key, 0, 0, &c->ik_len))
		return rd->err;
	if (s->res_len &&
	    len_read(rd, "res_len", s->res_len, tuak_res, 0, 0, &c->res_len))
		return rd->err;
	if (s->keccak) {
		cfg_rd_push_key(rd, "keccak_iterations");
		if (cfg_get_int(rd, s->keccak, 1, 255, &x))
			return rd->err;
		c->keccak_iterations = (uint8_t)x;
		cfg_rd_pop(rd);
	}
	return 0;
}

/* Reads the operator constant: op/opc (Milenage) or top/topc (TUAK, which
 * also takes op/opc spelled with 256 bits). */
static int opc_read(struct cfg_rd *rd, struct ue_scratch *s)
{
	struct ims_cfg_isim *c = &s->ue.isim;
	const char *key = NULL;
	const json_t *v = NULL;
	bool tuak = c->algo == IMS_CFG_SIM_TUAK;
	const struct {
		const char *name;
		const json_t *v;
		uint8_t kind;
	} cand[] = {
	    {"op", s->op, IMS_CFG_OP_OP},
	    {"opc", s->opc, IMS_CFG_OP_OPC},
	    {"top", s->top, IMS_CFG_OP_OP},
	    {"topc", s->topc, IMS_CFG_OP_OPC},
	};
	uint8_t got;

	for (size_t i = 0; i < CFG_NELEM(cand); i++) {
		if (!cand[i].v)
			continue;
		if (c->algo == IMS_CFG_SIM_XOR) {
			cfg_rd_push_key(rd, cand[i].name);
			cfg_rd_warn(rd, "ignored with sim_algo xor");
			cfg_rd_pop(rd);
			continue;
		}
		if (!tuak && i >= 2)
			return cfg_rd_err_at(rd, cand[i].name,
					     "only used with sim_algo tuak");
		if (key)
			return cfg_rd_err(rd, "%s and %s are both set", key,
					  cand[i].name);
		key = cand[i].name;
		v = cand[i].v;
		c->op_kind = cand[i].kind;
	}
	if (!v)
		return 0;
	return hex_var(rd, key, v, c->op, tuak ? 32 : 16, 0, &got);
}

static int cred_read(struct cfg_rd *rd, struct ue_scratch *s, bool need_aka)
{
	struct ims_cfg_isim *c = &s->ue.isim;
	bool tuak = c->algo == IMS_CFG_SIM_TUAK;

	if (s->k && hex_var(rd, "K", s->k, c->k, 16, tuak ? 32 : 0, &c->k_len))
		return rd->err;
	if (opc_read(rd, s))
		return rd->err;
	if (s->amf && amf_read(rd, s->amf, &c->amf))
		return rd->err;
	if (s->sqn && sqn_read(rd, s->sqn, &c->sqn))
		return rd->err;
	if (tuak) {
		if (tuak_read(rd, s))
			return rd->err;
	} else {
		const json_t *only_tuak[] = {s->mac_len, s->ck_len, s->ik_len, s->keccak};
		const char *names[] = {"mac_len", "ck_len", "ik_len",
				       "keccak_iterations"};

		for (size_t i = 0; i < CFG_NELEM(only_tuak); i++) {
			if (only_tuak[i])
				return cfg_rd_err_at(rd, names[i],
						     "only used with sim_algo tuak");
		}
		/* Milenage f2 gives 64 bits; the XOR test algorithm up to 128. */
		if (s->res_len &&
		    len_read(rd, "res_len", s->res_len, NULL, 4,
			     c->algo == IMS_CFG_SIM_XOR ? 16 : 8, &c->res_len))
			return rd->err;
	}
	if (!c->k_len && need_aka)
		return cfg_rd_err_at(rd, "K", "required for AKA authentication");
	if (c->k_len && c->algo != IMS_CFG_SIM_XOR && c->op_kind == IMS_CFG_OP_NONE)
		return cfg_rd_err(rd, "%s required with sim_algo %s",
				  tuak ? "top or topc" : "op or opc",
				  algo_names[c->algo]);
	if (s->ue.multi_sim && c->algo != IMS_CFG_SIM_XOR)
		return cfg_rd_err_at(rd, "multi_sim", "only allowed with sim_algo xor");
	return 0;
}

static bool imsi_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 5 && n <= 15 && strspn(s, "0123456789") == n;
}

static void ue_init(struct ue_scratch *s, const struct ims_cfg *cfg)
{
	memset(s, 0, sizeof(*s));
	s->ue.auth_on_register_only = cfg->auth_on_register_only;
	s->ue.authent_type = IMS_CFG_AUTH_AKAV1;
	s->ue.isim.algo = IMS_CFG_SIM_MILENAGE;
	s->ue.isim.amf = 0x8000;
	s->ue.isim.res_len = 8;
	s->ue.isim.mac_len = 8;
	s->ue.isim.ck_len = 16;
	s->ue.isim.ik_len = 16;
	s->ue.isim.keccak_iterations = 1;
}

/*
 * One user's IMPUs form one implicit registration set (TS 23.228 §4.3.3.3):
 * a registration through any of them registers all. With `authentication:
 * false` on some IMPUs only, a stranger registering without credentials
 * through one of those would be handed the others too, and could remove the
 * real phone's bindings (Contact: *). So a user's IMPUs either all
 * authenticate or none does (docs/security.md).
 */
static int impu_auth_mix_check(struct cfg_rd *rd, const struct ims_cfg_ue *ue)
{
	const char *with = NULL, *without = NULL;

	if (ue->authent_type == IMS_CFG_AUTH_NONE)
		return 0;
	for (uint32_t i = 0; i < ue->impu_count; i++) {
		if (ue->impu[i].opts->authentication)
			with = with ? with : ue->impu[i].impu;
		else
			without = without ? without : ue->impu[i].impu;
	}
	if (!with || !without)
		return 0;
	return cfg_rd_err(rd,
			  "'%s' has authentication: false, '%s' does not: registering "
			  "the first without credentials would register both; give IMPUs "
			  "without authentication a ue_db entry of their own",
			  without, with);
}

static int ue_entry(struct cfg_rd *rd, const json_t *v, struct ims_cfg *cfg,
		    struct ims_cfg_ue *out)
{
	struct ims_cfg_impu_opts opts;
	struct ue_scratch s;
	struct cfg_table t[2] = {
	    {ue_fields, CFG_NELEM(ue_fields), &s},
	    {cfg_opts_fields, cfg_opts_field_count, &opts},
	};
	bool need_aka;

	ue_init(&s, cfg);
	cfg_opts_begin(rd, &opts, cfg->ue_opts_default);
	if (cfg_obj_read(rd, v, t, 2))
		return rd->err;
	s.ue.auth_own = json_object_get(v, "auth_on_register_only") != NULL;
	if (!s.ue.imsi && !s.ue.nai)
		return cfg_rd_err(rd, "imsi or nai required");
	if (s.ue.imsi && !imsi_ok(s.ue.imsi))
		return cfg_rd_err_at(rd, "imsi", "expected 5 to 15 digits");
	if (s.ue.nai && !s.ue.nai[0])
		return cfg_rd_err_at(rd, "nai", "empty");
	/* A password without an explicit authent_type means digest (§5.2.1). */
	if (!s.authent_type_set && s.ue.pwd)
		s.ue.authent_type = IMS_CFG_AUTH_MD5;
	if (s.ue.authent_type == IMS_CFG_AUTH_MD5 && !s.ue.pwd)
		return cfg_rd_err_at(rd, "pwd", "required with authent_type MD5");
	s.ue.opts = cfg_opts_commit(rd, &opts, cfg->ue_opts_default);
	if (!s.ue.opts)
		return rd->err;
	need_aka = s.ue.authent_type >= IMS_CFG_AUTH_AKAV1 && s.ue.opts->authentication;
	if (cred_read(rd, &s, need_aka))
		return rd->err;
	if (!s.ue.mt_call_sdp_file)
		s.ue.mt_call_sdp_file = cfg->mt_call_sdp_file;
	if (s.impu) {
		cfg_rd_push_key(rd, "impu");
		if (cfg_impu_list_read(rd, s.impu, s.ue.opts, &s.ue.impu,
				       &s.ue.impu_count) ||
		    impu_auth_mix_check(rd, &s.ue))
			return rd->err;
		cfg_rd_pop(rd);
	}
	*out = s.ue;
	return 0;
}

int cfg_ue_db_read(struct cfg_rd *rd, const json_t *v, struct ims_cfg *cfg)
{
	struct ims_cfg_ue *arr;
	size_t n;

	cfg_table_check(ue_fields, CFG_NELEM(ue_fields));
	if (cfg_expect_array(rd, v))
		return rd->err;
	n = json_array_size(v);
	/* Bound well above the million users the loader is sized for. */
	if (n > 16u * 1024 * 1024)
		return cfg_rd_err(rd, "too many entries (max 16777216)");
	arr = cfg_arena_alloc(rd->arena, (n ? n : 1) * sizeof(*arr));
	if (!arr)
		return cfg_rd_nomem(rd);
	for (size_t i = 0; i < n; i++) {
		cfg_rd_push_idx(rd, i);
		if (ue_entry(rd, json_array_get(v, i), cfg, &arr[i]))
			return rd->err;
		cfg_rd_pop(rd);
	}
	cfg->ue = arr;
	cfg->ue_count = (uint32_t)n;
	return 0;
}
