/*
 * config/cfg_read — private machinery of the typed configuration reader:
 * an arena that owns everything a struct ims_cfg holds, the property path
 * used in messages, typed value getters, and table-driven object reading.
 *
 * An object is read by walking its keys once and looking each up (binary
 * search) in one or more sorted field tables; a key found in no table is
 * reported as unknown. This keeps a million-entry ue_db linear.
 */
#ifndef CONFIG_CFG_READ_H
#define CONFIG_CFG_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/ims_cfg.h"

/* --- arena --- */
struct cfg_arena;
/* Zeroed, 16-byte aligned memory owned by *ap. NULL on ENOMEM. */
void *cfg_arena_alloc(struct cfg_arena **ap, size_t size);
char *cfg_arena_strdup(struct cfg_arena **ap, const char *s);
void cfg_arena_free(struct cfg_arena *a);

/* --- reader state --- */
#define CFG_PATH_DEPTH 12

struct cfg_seg {
	const char *key; /* NULL: array index */
	size_t idx;
};

struct cfg_rd {
	struct cfg_diag *diag;
	struct cfg_arena **arena;
	const char *cfg_dir;
	struct cfg_seg seg[CFG_PATH_DEPTH];
	unsigned depth;
	int err;	   /* first error (EINVAL/ENOMEM), 0 if none */
	bool opts_touched; /* an impu option was read (see cfg_ue_impu.c) */
	/* deprecated per-user code/method/content...: one implicit modifier */
	bool legacy_cfm_set;
	struct ims_cfg_cfm legacy_cfm;
	struct ims_cfg *cfg;
};

void cfg_rd_push_key(struct cfg_rd *rd, const char *key);
void cfg_rd_push_idx(struct cfg_rd *rd, size_t idx);
void cfg_rd_pop(struct cfg_rd *rd);
/* Renders the current path ("a.b[2].c") into buf. */
void cfg_rd_path(const struct cfg_rd *rd, char *buf, size_t len);

/* Records an error at the current path (only the first one is kept) and
 * returns EINVAL. */
int cfg_rd_err(struct cfg_rd *rd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Error at the child `key` of the current path ("x.key: required"). */
int cfg_rd_err_at(struct cfg_rd *rd, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cfg_rd_nomem(struct cfg_rd *rd);
void cfg_rd_warn(struct cfg_rd *rd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --- typed getters (the value's path must be pushed) --- */
bool cfg_is_complex(const json_t *v);
int cfg_get_bool(struct cfg_rd *rd, const json_t *v, bool *out);
int cfg_get_int(struct cfg_rd *rd, const json_t *v, int64_t min, int64_t max,
		int64_t *out);
int cfg_get_num(struct cfg_rd *rd, const json_t *v, double min, double max, double *out);
/* Copies the string into the arena. */
int cfg_get_str(struct cfg_rd *rd, const json_t *v, const char **out);
/* String resolved against the configuration directory unless absolute. */
int cfg_get_file(struct cfg_rd *rd, const json_t *v, const char **out);
/* names: NULL-terminated; matched without case; *out = index. */
int cfg_get_enum(struct cfg_rd *rd, const json_t *v, const char *const *names, int *out);
int cfg_get_addr(struct cfg_rd *rd, const json_t *v, uint16_t def_port,
		 struct ims_cfg_addr *out);
int cfg_expect_object(struct cfg_rd *rd, const json_t *v);
int cfg_expect_array(struct cfg_rd *rd, const json_t *v);
/* Room in the arena for the n items of a list of at most max: NULL with
 * rd->err set when n is over max ("too many items (max N)") or memory is
 * short. At least one item's room, so that an empty list is not NULL. */
void *cfg_list_alloc(struct cfg_rd *rd, size_t n, size_t max, size_t item);
/* Hex string of exactly len bytes. */
int cfg_get_hex(struct cfg_rd *rd, const json_t *v, uint8_t *out, size_t len);

/* --- table-driven objects --- */
enum cfg_type {
	CFG_T_BOOL, /* bool */
	CFG_T_INT,  /* uint32_t, range min..max */
	CFG_T_U16,  /* uint16_t, range min..max */
	CFG_T_U8,   /* uint8_t, range min..max */
	CFG_T_NUM,  /* double, range min..max */
	CFG_T_STR,  /* const char * */
	CFG_T_FILE, /* const char *, resolved against the cfg dir */
	CFG_T_ENUM, /* uint8_t index into names */
	CFG_T_ADDR, /* struct ims_cfg_addr, default port in `min` */
	CFG_T_HOST, /* const char *, a SIP host: name, IPv4 or [IPv6] */
	CFG_T_FN,   /* custom reader */
};

#define CFG_F_DEPRECATED 0x1u /* warn "deprecated, use <alias>" */
#define CFG_F_OPTS 0x2u	      /* an impu option (sets rd->opts_touched) */

struct cfg_field;
typedef int(cfg_field_h)(struct cfg_rd *rd, const json_t *v, void *base,
			 const struct cfg_field *f);

struct cfg_field {
	const char *name;
	enum cfg_type type;
	size_t off;
	double min, max;
	const char *const *names; /* CFG_T_ENUM */
	cfg_field_h *fn;	  /* CFG_T_FN */
	unsigned flags;
	const char *alias; /* CFG_F_DEPRECATED: what to use instead */
};

/* A sorted (strcmp) table of fields and the struct it writes into. */
struct cfg_table {
	const struct cfg_field *fields;
	size_t count;
	void *base;
};

/*
 * Reads the object v (its path pushed) through tables; unknown keys are
 * warned about. Stops at the first error.
 */
int cfg_obj_read(struct cfg_rd *rd, const json_t *v, const struct cfg_table *tabs,
		 size_t ntabs);
/* Reads one value into a field (the value's path pushed). */
int cfg_field_read(struct cfg_rd *rd, const json_t *v, const struct cfg_field *f,
		   void *base);
/* Programmer check that a field table is sorted. */
void cfg_table_check(const struct cfg_field *fields, size_t count);

/* Reads an array of strings (or a single string when single_ok). */
int cfg_get_str_list(struct cfg_rd *rd, const json_t *v, bool single_ok,
		     const char *const **out, uint32_t *count);

#define CFG_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Readers shared between files. */
int cfg_custom_headers_read(struct cfg_rd *rd, const json_t *v,
			    const struct ims_cfg_hdr **out, uint32_t *count);
int cfg_session_expires_read(struct cfg_rd *rd, const json_t *v,
			     struct ims_cfg_session_expires *se);
/* Field readers of the global table (cfg_ims_obj.c); base is the cfg. */
cfg_field_h cfg_sip_addr_h, cfg_session_expires_h, cfg_custom_headers_h, cfg_n5_h,
    cfg_trunk_h, cfg_com_auth_h, cfg_license_server_h, cfg_smsc_h, cfg_sms_filter_h,
    cfg_aalg_h, cfg_ealg_h, cfg_sim_events_h, cfg_echo_h, cfg_timer_h;

/* ue_db (cfg_ue.c); needs the global part of cfg read first. */
int cfg_ue_db_read(struct cfg_rd *rd, const json_t *v, struct ims_cfg *cfg);
/* Default per-IMPU options from the global values (cfg_ue_impu.c). */
int cfg_ue_opts_default(struct cfg_rd *rd, struct ims_cfg *cfg);
/* Field table of the per-IMPU options (cfg_ue_impu.c). */
extern const struct cfg_field cfg_opts_fields[];
extern const size_t cfg_opts_field_count;
/* Starts an options block: *scratch = *inherited, nothing touched yet. */
/* An option read into opts (the scratch of cfg_opts_begin): noted as the
 * entry's own when the global value also has it (precondition, 100rel). */
void cfg_opts_own_mark(void *opts, const struct cfg_field *f);
void cfg_opts_begin(struct cfg_rd *rd, struct ims_cfg_impu_opts *scratch,
		    const struct ims_cfg_impu_opts *inherited);
/* Finishes an options block read into *scratch: returns the block to use
 * (shared `inherited` when nothing was set, else an arena copy). */
const struct ims_cfg_impu_opts *
cfg_opts_commit(struct cfg_rd *rd, const struct ims_cfg_impu_opts *scratch,
		const struct ims_cfg_impu_opts *inherited);
int cfg_impu_list_read(struct cfg_rd *rd, const json_t *v,
		       const struct ims_cfg_impu_opts *user_opts,
		       const struct ims_cfg_impu **out, uint32_t *count);

#endif
