/* Unit tests: hss_users_add (run-time provisioning, docs/hss.md): entries
 * read as the configuration file reads them (ims_cfg_ue_from_json), users
 * added after the configured ones without moving them, every index, all or
 * none on a duplicate, the bound. */
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
#include "core/mem.h"
#include "hss/hss.h"

static char err[512];

/* Test texts use ' for " to stay readable. */
static json_t *J(const char *s)
{
	char text[4096];
	json_error_t je;
	json_t *v;

	snprintf(text, sizeof(text), "%s", s);
	for (char *p = text; *p; p++) {
		if (*p == '\'')
			*p = '"';
	}
	v = json_loads(text, JSON_DECODE_ANY, &je);
	if (!v)
		fail_msg("bad test JSON: %s (%s)", je.text, text);
	return v;
}

static struct ims_cfg *cfg_load(void)
{
	json_t *root = J("{'sip_addr': '127.0.0.1', 'domain': 'ims.example', 'ue_db': ["
			 "{'imsi': '001010000000001', 'pwd': 'a', 'impi': 'alice@ims.example',"
			 " 'impu': ['sip:alice', 'tel:+33600000001']},"
			 "{'imsi': '001010000000002', 'pwd': 'b', 'impi': 'bob@ims.example',"
			 " 'impu': ['sip:bob']}]}");
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	struct ims_cfg *cfg = NULL;

	if (ims_cfg_from_json(root, NULL, &cfg, &d))
		fail_msg("config error: %s", err);
	json_decref(root);
	return cfg;
}

/* The users of text read against base; NULL with err set on EINVAL. */
static struct ims_cfg *set_read(const struct ims_cfg *base, const char *text)
{
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	struct ims_cfg *set = NULL;
	json_t *v = J(text);
	int e = ims_cfg_ue_from_json(base, v, &set, &d);

	json_decref(v);
	assert_true(e == 0 || e == EINVAL);
	return set;
}

static struct pl P(const char *s)
{
	return pl_from_str(s);
}

static void test_add(void **state)
{
	struct ims_cfg *cfg = cfg_load(), *set;
	struct hss *hss = NULL;
	struct hss_user *alice, *u;
	uint32_t impu = 0;
	int slot;

	(void)state;
	assert_int_equal(hss_alloc(&hss, cfg, err, sizeof(err)), 0);
	alice = hss_user_at(hss, 0);
	assert_true(hss_user_slots_claim(hss));
	hss_user_slot_set(alice, HSS_SLOT_REG_USER, &slot);
	set = set_read(cfg, "[{'imsi': '001010000000003', 'pwd': 'c', 'impi': 'carol@ims.example',"
			    " 'impu': ['sip:carol', 'tel:+33600000003']},"
			    " {'nai': 'dave@nai.example', 'pwd': 'd', 'impu': ['sip:dave'],"
			    "  'multi_sim': false}]");
	assert_non_null(set);
	assert_int_equal(hss_users_add(hss, set, err, sizeof(err)), 0);
	assert_int_equal(hss_user_count(hss), 4);
	assert_int_equal(hss_impu_count(hss), 6);
	/* the configured users did not move, their slots kept */
	assert_ptr_equal(hss_user_at(hss, 0), alice);
	assert_ptr_equal(hss_user_slot(alice, HSS_SLOT_REG_USER), &slot);
	assert_ptr_equal(hss_user_by_impi(hss, P("alice@ims.example")), alice);
	/* the new ones by every key, slots empty */
	u = hss_user_at(hss, 2);
	assert_non_null(u);
	assert_int_equal(hss_user_index(hss, u), 2);
	assert_ptr_equal(hss_user_by_impi(hss, P("carol@IMS.example")), u);
	assert_ptr_equal(hss_user_by_imsi(hss, P("001010000000003")), u);
	assert_ptr_equal(hss_user_by_impu(hss, P("tel:+33600000003"), &impu), u);
	assert_int_equal(impu, 1);
	assert_ptr_equal(hss_user_by_impu(hss, P("sip:carol@ims.example"), NULL), u);
	assert_null(hss_user_slot(u, HSS_SLOT_REG_USER));
	assert_string_equal(hss_user_cfg(u)->pwd, "c");
	u = hss_user_at(hss, 3);
	assert_ptr_equal(hss_user_by_nai(hss, P("dave@nai.example")), u);
	assert_ptr_equal(hss_user_by_impu(hss, P("sip:dave"), NULL), u);
	assert_null(hss_user_at(hss, 4));
	mem_deref(hss);
	ims_cfg_free(cfg);
}

/* One duplicate refuses the whole call, naming both entries; the indexes
 * are as before and take a good call after. */
static void test_all_or_none(void **state)
{
	static const char *const bad[][2] = {
	    {"[{'imsi': '001010000000005', 'pwd': 'e', 'impu': ['sip:erin']},"
	     " {'imsi': '001010000000006', 'pwd': 'f', 'impu': ['sip:frank', 'tel:+33600000001']}]",
	     "already used by ue_db[0]"},
	    {"[{'imsi': '001010000000005', 'pwd': 'e', 'impi': 'erin@x', 'impu': ['sip:erin']},"
	     " {'imsi': '001010000000006', 'pwd': 'f', 'impi': 'erin@x', 'impu': ['sip:frank']}]",
	     "impi: \"erin@x\" already used by ue_db[2]"},
	    {"[{'imsi': '001010000000005', 'pwd': 'e', 'impu': ['sip:erin']},"
	     " {'imsi': '001010000000002', 'pwd': 'f', 'impu': ['sip:frank']}]",
	     "imsi: \"001010000000002\" already used by ue_db[1]"},
	    {"[{'nai': 'n@x', 'pwd': 'e', 'impu': ['sip:erin']},"
	     " {'nai': 'n@X', 'pwd': 'f', 'impu': ['sip:frank']}]",
	     "nai: \"n@X\" already used by ue_db[2]"},
	};
	struct ims_cfg *cfg = cfg_load(), *set;
	struct hss *hss = NULL;

	(void)state;
	assert_int_equal(hss_alloc(&hss, cfg, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set = set_read(cfg, bad[i][0]);
		assert_non_null(set);
		assert_int_equal(hss_users_add(hss, set, err, sizeof(err)), EINVAL);
		if (!strstr(err, bad[i][1]))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i][1]);
		ims_cfg_free(set); /* not taken */
		assert_int_equal(hss_user_count(hss), 2);
		assert_int_equal(hss_impu_count(hss), 3);
		assert_null(hss_user_by_impu(hss, P("sip:erin"), NULL));
		assert_null(hss_user_by_impi(hss, P("erin@x")));
		assert_null(hss_user_by_imsi(hss, P("001010000000005")));
		assert_null(hss_user_by_nai(hss, P("n@x")));
	}
	set = set_read(cfg, bad[0][0]);
	assert_int_equal(hss_users_add(hss, set, err, sizeof(err)), EINVAL);
	ims_cfg_free(set);
	set = set_read(cfg, "[{'imsi': '001010000000005', 'pwd': 'e', 'impi': 'erin@x',"
			    " 'nai': 'n@x', 'impu': ['sip:erin']}]");
	assert_int_equal(hss_users_add(hss, set, err, sizeof(err)), 0);
	assert_ptr_equal(hss_user_by_nai(hss, P("n@x")), hss_user_at(hss, 2));
	assert_ptr_equal(hss_user_by_impu(hss, P("sip:erin"), NULL), hss_user_at(hss, 2));
	mem_deref(hss);
	ims_cfg_free(cfg);
}

/* Entries are checked as the configuration file's are. */
static void test_validation(void **state)
{
	static const char *const bad[][2] = {
	    {"[{'pwd': 'x', 'impu': ['sip:x']}]", "users[0]: imsi or nai required"},
	    {"[{'imsi': '12', 'pwd': 'x'}]", "users[0].imsi"},
	    {"[{'imsi': '001010000000007', 'pwd': 'x', 'impu': [1]}]", "users[0].impu[0]"},
	    {"[{'imsi': '001010000000007', 'authent_type': 'MD5'}]", "pwd"},
	    {"{'imsi': '001010000000007'}", "users"},
	};
	struct ims_cfg *cfg = cfg_load();

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(set_read(cfg, bad[i][0]));
		if (!strstr(err, bad[i][1]))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i][1]);
	}
	ims_cfg_free(cfg);
}

/* HSS_ADD_MAX over the process's life: ENOSPC, nothing added. */
static void test_bound(void **state)
{
	struct ims_cfg *cfg = cfg_load(), *set;
	struct hss *hss = NULL;
	char *text = malloc((size_t)HSS_ADD_MAX * 64 + 64);
	size_t n = 0;
	json_t *v;
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};

	(void)state;
	assert_non_null(text);
	assert_int_equal(hss_alloc(&hss, cfg, err, sizeof(err)), 0);
	n += (size_t)sprintf(text, "[");
	for (uint32_t i = 0; i <= HSS_ADD_MAX; i++)
		n += (size_t)sprintf(text + n, "%s{\"imsi\": \"0010199%08u\", \"pwd\": \"x\"}", i ? "," : "", i);
	sprintf(text + n, "]");
	v = json_loads(text, 0, NULL);
	assert_non_null(v);
	assert_int_equal(ims_cfg_ue_from_json(cfg, v, &set, &d), 0);
	assert_int_equal(hss_users_add(hss, set, err, sizeof(err)), ENOSPC);
	assert_non_null(strstr(err, "at most"));
	assert_int_equal(hss_user_count(hss), 2);
	ims_cfg_free(set);
	json_decref(v);
	free(text);
	mem_deref(hss);
	ims_cfg_free(cfg);
}

/* A user's IMPUs changed: added (read as the configuration file reads
 * them), refused when another user has one (nothing changes), removed. */
static void test_update(void **state)
{
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	struct ims_cfg *cfg = cfg_load(), *set = NULL;
	const struct ims_cfg_impu *add = NULL;
	struct ims_cfg_impu arr[4];
	struct hss *hss = NULL;
	struct hss_user *alice, *bob;
	const struct ims_cfg_ue *ue;
	uint32_t n = 0, idx = 9;
	json_t *v;
	int slot;

	(void)state;
	assert_int_equal(hss_alloc(&hss, cfg, err, sizeof(err)), 0);
	alice = hss_user_at(hss, 0);
	bob = hss_user_at(hss, 1);
	assert_true(hss_user_slots_claim(hss));
	hss_user_slot_set(alice, HSS_SLOT_REG_USER, &slot);
	ue = hss_user_cfg(alice);
	/* add sip:alice2 with an option of its own */
	v = J("[{'impu': 'sip:alice2', 'display_name': 'Second'}]");
	assert_int_equal(ims_cfg_impu_from_json(cfg, ue->opts, v, &set, &add, &n, &d), 0);
	json_decref(v);
	assert_int_equal(n, 1);
	memcpy(arr, ue->impu, ue->impu_count * sizeof(arr[0]));
	arr[2] = add[0];
	assert_int_equal(hss_user_update(hss, alice,
					 &(struct hss_user_update_prm){arr, 3, true}, set, err,
					 sizeof(err)),
			 0);
	assert_ptr_equal(hss_user_by_impu(hss, P("sip:alice2@ims.example"), &idx), alice);
	assert_int_equal(idx, 2);
	assert_string_equal(hss_impu_display_name(alice, 2), "Second");
	assert_ptr_equal(hss_user_by_impu(hss, P("tel:+33600000001"), &idx), alice);
	assert_int_equal(idx, 1);
	assert_true(hss_user_cfg(alice)->force_sms_over_sg);
	assert_string_equal(hss_user_cfg(alice)->pwd, "a");
	assert_ptr_equal(hss_user_slot(alice, HSS_SLOT_REG_USER), &slot);
	assert_ptr_equal(hss_user_by_impi(hss, P("alice@ims.example")), alice);
	assert_int_equal(hss_impu_count(hss), 4);
	/* bob's IMPU for alice: refused, alice as she was */
	ue = hss_user_cfg(alice);
	memcpy(arr, ue->impu, 3 * sizeof(arr[0]));
	arr[3] = hss_user_cfg(bob)->impu[0];
	assert_int_equal(hss_user_update(hss, alice,
					 &(struct hss_user_update_prm){arr, 4, false}, NULL, err,
					 sizeof(err)),
			 EINVAL);
	assert_non_null(strstr(err, "already used by ue_db[1]"));
	assert_ptr_equal(hss_user_cfg(alice), ue);
	assert_ptr_equal(hss_user_by_impu(hss, P("sip:bob"), NULL), bob);
	assert_ptr_equal(hss_user_by_impu(hss, P("sip:alice2"), &idx), alice);
	assert_int_equal(idx, 2);
	assert_int_equal(hss_impu_count(hss), 4);
	/* sip:alice removed: the others move down one */
	memcpy(arr, ue->impu + 1, 2 * sizeof(arr[0]));
	assert_int_equal(hss_user_update(hss, alice,
					 &(struct hss_user_update_prm){arr, 2, true}, NULL, err,
					 sizeof(err)),
			 0);
	assert_null(hss_user_by_impu(hss, P("sip:alice"), NULL));
	assert_ptr_equal(hss_user_by_impu(hss, P("tel:+33600000001"), &idx), alice);
	assert_int_equal(idx, 0);
	assert_ptr_equal(hss_user_by_impu(hss, P("sip:alice2"), &idx), alice);
	assert_int_equal(idx, 1);
	assert_int_equal(hss_user_impu_count(alice), 2);
	assert_int_equal(hss_impu_count(hss), 3);
	mem_deref(hss);
	ims_cfg_free(cfg);
}

/* The echo list at run time: added (checked against every IMPU), found,
 * removed (configured ones too). */
static void test_echo(void **state)
{
	struct ims_cfg *cfg = cfg_load();
	struct hss *hss = NULL;

	(void)state;
	assert_int_equal(hss_alloc(&hss, cfg, err, sizeof(err)), 0);
	assert_int_equal(hss_echo_count(hss), 0);
	assert_int_equal(hss_echo_add(hss, "sip:echo", err, sizeof(err)), 0);
	assert_int_equal(hss_echo_add(hss, "tel:+33999", err, sizeof(err)), 0);
	assert_int_equal(hss_echo_count(hss), 2);
	assert_true(hss_is_echo(hss, P("sip:echo@ims.example")));
	assert_true(hss_is_echo(hss, P("tel:+33999")));
	assert_int_equal(hss_echo_add(hss, "sip:alice", err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "already used by ue_db[0]"));
	assert_int_equal(hss_echo_add(hss, "sip:echo", err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "already in the echo list"));
	assert_int_equal(hss_echo_add(hss, "ftp:x", err, sizeof(err)), EINVAL);
	assert_int_equal(hss_echo_count(hss), 2);
	assert_null(hss_user_by_impu(hss, P("sip:echo"), NULL));
	assert_int_equal(hss_echo_del(hss, "sip:alice"), ENOENT);
	assert_int_equal(hss_echo_del(hss, "sip:echo"), 0);
	assert_false(hss_is_echo(hss, P("sip:echo")));
	assert_true(hss_is_echo(hss, P("tel:+33999")));
	assert_int_equal(hss_echo_del(hss, "sip:echo"), ENOENT);
	assert_int_equal(hss_echo_add(hss, "sip:echo", err, sizeof(err)), 0);
	assert_true(hss_is_echo(hss, P("sip:echo")));
	assert_int_equal(hss_echo_count(hss), 2);
	mem_deref(hss);
	ims_cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add),
	    cmocka_unit_test(test_all_or_none),
	    cmocka_unit_test(test_validation),
	    cmocka_unit_test(test_bound),
	    cmocka_unit_test(test_update),
	    cmocka_unit_test(test_echo),
	};

	return cmocka_run_group_tests_name("hss_add", tests, NULL, NULL);
}
