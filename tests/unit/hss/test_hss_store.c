/* Unit tests: hss_store (docs/hss.md "Run-time provisioning"): the users of
 * a users_add call written to the state file come back at the next attach,
 * in order and all or none; a row that no longer passes (its user is now
 * configured) or that is not JSON is kept and skipped; no state file:
 * ENOENT. Without a worker pool a save commits at once. An added user's
 * later changes (impu_add, impu_del, impu_set, user_set as the API makes
 * them) and the echo IMPUs added at run time come back too; a configured
 * user's are not kept; a changed entry out of bounds fails its row. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/ims_cfg.h"
#include "core/mem.h"
#include "hss/hss.h"
#include "store/store.h"

static char err[512];

static struct ims_cfg *cfg_load(const char *extra)
{
	char text[2048];
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	struct ims_cfg *cfg = NULL;
	json_error_t je;
	json_t *root;

	snprintf(text, sizeof(text),
		 "{\"sip_addr\": \"127.0.0.1\", \"domain\": \"ims.example\", \"ue_db\": ["
		 "{\"imsi\": \"001010000000001\", \"pwd\": \"a\", \"impi\": \"alice@ims.example\","
		 " \"impu\": [\"sip:alice\"]}%s]}",
		 extra);
	root = json_loads(text, 0, &je);
	if (!root)
		fail_msg("bad test JSON: %s", je.text);
	if (ims_cfg_from_json(root, NULL, &cfg, &d))
		fail_msg("config error: %s", err);
	json_decref(root);
	return cfg;
}

#define DAVE                                                                           \
	"{\"imsi\": \"001010000000003\", \"impi\": \"dave@ims.example\", \"pwd\": \"d\","     \
	" \"impu\": [\"sip:dave\"]}"
#define ERIN                                                                           \
	"{\"imsi\": \"001010000000004\", \"impi\": \"erin@ims.example\", \"pwd\": \"e\","     \
	" \"impu\": [\"sip:erin\"]}"

/* users_add as the API does it: read, added, saved. */
static void add_save(struct hss *hss, const struct ims_cfg *cfg, const char *users)
{
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	struct ims_cfg *set = NULL;
	json_t *v = json_loads(users, 0, NULL);

	assert_non_null(v);
	assert_int_equal(ims_cfg_ue_from_json(cfg, v, &set, &d), 0);
	json_decref(v);
	assert_int_equal(hss_users_add(hss, set, err, sizeof(err)), 0);
	assert_int_equal(hss_store_save(hss, users, strlen(users), NULL, NULL), 0);
}

/* A hss on cfg attached to the state file at path. */
static struct hss *open_both(const struct ims_cfg *cfg, const char *path, struct store **stp)
{
	struct hss *hss = NULL;
	char note[256];

	assert_int_equal(store_open(stp, path, note, sizeof(note), err, sizeof(err)), 0);
	assert_int_equal(hss_alloc(&hss, cfg, err, sizeof(err)), 0);
	assert_int_equal(hss_store_attach(hss, *stp, err, sizeof(err)), 0);
	return hss;
}

/* path (a mkstemp template) made the name of a state file not there yet. */
static void tmp_name(char *path)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	unlink(path);
}

static struct pl P(const char *s)
{
	return pl_from_str(s);
}

static void test_saved_users_come_back(void **state)
{
	char path[] = "/tmp/imsd-hss-store-XXXXXX";
	struct ims_cfg *cfg = cfg_load(""), *cfg2;
	struct store *st = NULL;
	struct hss *hss;

	(void)state;
	tmp_name(path);
	hss = open_both(cfg, path, &st);
	assert_int_equal(hss_user_count(hss), 1);
	add_save(hss, cfg, "[" DAVE "]");
	add_save(hss, cfg, "[" ERIN "]");
	assert_int_equal(hss_user_count(hss), 3);
	mem_deref(hss);
	mem_deref(st);

	/* restart: both back, in their order, after the configured user */
	hss = open_both(cfg, path, &st);
	assert_int_equal(hss_user_count(hss), 3);
	assert_ptr_equal(hss_user_by_impi(hss, P("dave@ims.example")), hss_user_at(hss, 1));
	assert_ptr_equal(hss_user_by_impi(hss, P("erin@ims.example")), hss_user_at(hss, 2));
	/* a row that is not JSON: skipped and kept */
	assert_int_equal(store_exec(st, "INSERT INTO hss_added (users) VALUES ('[{')"), 0);
	mem_deref(hss);
	mem_deref(st);

	/* dave now configured: his row no longer passes, erin's does */
	cfg2 = cfg_load(", " DAVE);
	hss = open_both(cfg2, path, &st);
	assert_int_equal(hss_user_count(hss), 3);
	assert_ptr_equal(hss_user_by_impi(hss, P("dave@ims.example")), hss_user_at(hss, 1));
	assert_ptr_equal(hss_user_by_impi(hss, P("erin@ims.example")), hss_user_at(hss, 2));
	mem_deref(hss);
	mem_deref(st);
	ims_cfg_free(cfg2);

	/* the rows are all still there (3 of them) */
	hss = open_both(cfg, path, &st);
	assert_int_equal(hss_user_count(hss), 3);
	mem_deref(hss);
	mem_deref(st);
	ims_cfg_free(cfg);
	unlink(path);
}

/* impu_add as the API does it: read, the user updated, the change kept. */
static int impu_add(struct hss *hss, const struct ims_cfg *cfg, struct hss_user *u,
		    const char *impu)
{
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	const struct ims_cfg_ue *ue = hss_user_cfg(u);
	struct ims_cfg_impu arr[8];
	const struct ims_cfg_impu *add = NULL;
	struct ims_cfg *set = NULL;
	json_t *v = json_loads(impu, JSON_DECODE_ANY, NULL), *list = json_pack("[O]", v);
	uint32_t n = 0;
	int e;

	assert_non_null(list);
	assert_int_equal(ims_cfg_impu_from_json(cfg, ue->opts, list, &set, &add, &n, &d), 0);
	assert_true(ue->impu_count < 8 && n == 1);
	memcpy(arr, ue->impu, ue->impu_count * sizeof(arr[0]));
	arr[ue->impu_count] = add[0];
	assert_int_equal(hss_user_update(hss, u,
					 &(struct hss_user_update_prm){arr, ue->impu_count + 1,
								       ue->force_sms_over_sg},
					 set, err, sizeof(err)),
			 0);
	e = hss_store_user_change(hss, u,
				  &(struct hss_change){.op = HSS_CHANGE_IMPU_ADD, .impu = v}, NULL,
				  NULL);
	json_decref(list);
	json_decref(v);
	return e;
}

/* impu_del of IMPU idx, then impu_set of IMPU 0 to `members` (an object
 * with the IMPU's written form), then user_set force_sms_over_sg. */
static void del_set_sg(struct hss *hss, const struct ims_cfg *cfg, struct hss_user *u,
		       uint32_t idx, const char *members)
{
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	const struct ims_cfg_ue *ue = hss_user_cfg(u);
	struct ims_cfg_impu arr[8];
	const struct ims_cfg_impu *add = NULL;
	struct ims_cfg *set = NULL;
	json_t *o = json_loads(members, 0, NULL), *list = json_pack("[O]", o);
	uint32_t n = 0, k = 0;

	for (uint32_t j = 0; j < ue->impu_count && k < 8; j++) {
		if (j != idx)
			arr[k++] = ue->impu[j];
	}
	assert_int_equal(hss_user_update(hss, u, &(struct hss_user_update_prm){arr, k, false},
					 NULL, err, sizeof(err)),
			 0);
	assert_int_equal(hss_store_user_change(
			     hss, u, &(struct hss_change){.op = HSS_CHANGE_IMPU_DEL, .idx = idx},
			     NULL, NULL),
			 0);
	ue = hss_user_cfg(u);
	assert_int_equal(
	    ims_cfg_impu_from_json(cfg, hss_impu_opts(u, 0), list, &set, &add, &n, &d), 0);
	memcpy(arr, ue->impu, ue->impu_count * sizeof(arr[0]));
	arr[0] = add[0];
	assert_int_equal(hss_user_update(hss, u,
					 &(struct hss_user_update_prm){arr, ue->impu_count, true},
					 set, err, sizeof(err)),
			 0);
	assert_int_equal(hss_store_user_change(hss, u,
					       &(struct hss_change){.op = HSS_CHANGE_IMPU_SET,
								    .impu = o},
					       NULL, NULL),
			 0);
	assert_int_equal(
	    hss_store_user_change(hss, u,
				  &(struct hss_change){.op = HSS_CHANGE_USER_SET,
						       .force_sms_over_sg = true},
				  NULL, NULL),
	    0);
	json_decref(list);
	json_decref(o);
}

static void test_changes_come_back(void **state)
{
	char path[] = "/tmp/imsd-hss-store-XXXXXX";
	struct ims_cfg *cfg = cfg_load("");
	struct store *st = NULL;
	struct hss_user *dave;
	const struct ims_cfg_ue *ue;
	struct hss *hss;
	uint32_t idx = 0;

	(void)state;
	tmp_name(path);
	hss = open_both(cfg, path, &st);
	add_save(hss, cfg, "[" ERIN ", " DAVE "]");
	dave = hss_user_by_impi(hss, P("dave@ims.example"));
	assert_int_equal(impu_add(hss, cfg, dave, "\"sip:dave2\""), 0);
	assert_int_equal(impu_add(hss, cfg, dave, "{\"impu\": \"tel:+33100\", "
						  "\"display_name\": \"Dave\"}"),
			 0);
	/* sip:dave out; sip:dave2 (now first) not associated; SMS over SGs */
	del_set_sg(hss, cfg, dave, 0, "{\"impu\": \"sip:dave2\", \"associated\": false}");
	/* a configured user's change is not kept: the file is its truth */
	assert_int_equal(impu_add(hss, cfg, hss_user_at(hss, 0), "\"sip:alice2\""), ENOENT);
	assert_int_equal(hss_echo_add(hss, "sip:echo1", err, sizeof(err)), 0);
	assert_int_equal(hss_echo_add(hss, "sip:echo2", err, sizeof(err)), 0);
	assert_int_equal(hss_store_echo_save(hss, NULL, NULL), 0);
	assert_int_equal(hss_echo_del(hss, "sip:echo1"), 0);
	assert_int_equal(hss_store_echo_save(hss, NULL, NULL), 0);
	mem_deref(hss);
	mem_deref(st);

	/* restart (as after kill -9: every change was committed) */
	hss = open_both(cfg, path, &st);
	assert_int_equal(hss_user_count(hss), 3);
	dave = hss_user_by_impi(hss, P("dave@ims.example"));
	assert_ptr_equal(dave, hss_user_at(hss, 2));
	ue = hss_user_cfg(dave);
	assert_int_equal(ue->impu_count, 2);
	assert_string_equal(ue->impu[0].impu, "sip:dave2");
	assert_false(ue->impu[0].opts->associated);
	assert_string_equal(ue->impu[1].impu, "tel:+33100");
	assert_string_equal(ue->impu[1].opts->display_name, "Dave");
	assert_true(ue->impu[1].opts->associated);
	assert_true(ue->force_sms_over_sg);
	assert_null(hss_user_by_impu(hss, P("sip:dave@ims.example"), NULL));
	assert_ptr_equal(hss_user_by_impu(hss, P("tel:+33100"), &idx), dave);
	assert_int_equal(idx, 1);
	assert_null(hss_user_by_impu(hss, P("sip:alice2@ims.example"), NULL));
	assert_int_equal(hss_user_impu_count(hss_user_at(hss, 1)), 1); /* erin as added */
	assert_true(hss_is_echo(hss, P("sip:echo2")));
	assert_false(hss_is_echo(hss, P("sip:echo1")));
	/* a save that is not the array of the users just added */
	assert_int_equal(hss_store_save(hss, "{}", 2, NULL, NULL), EINVAL);
	assert_int_equal(hss_store_save(hss, "[{},{},{},{}]", 13, NULL, NULL), EINVAL);
	/* a change again after the restart goes to the same row */
	assert_int_equal(impu_add(hss, cfg, dave, "\"sip:dave3\""), 0);
	mem_deref(hss);
	mem_deref(st);

	hss = open_both(cfg, path, &st);
	dave = hss_user_by_impi(hss, P("dave@ims.example"));
	assert_int_equal(hss_user_impu_count(dave), 3);
	/* a change out of bounds (no user 7 in the row): the row fails, kept */
	assert_int_equal(store_exec(st, "INSERT INTO hss_changed (row, pos, entry) "
					"SELECT id, 7, '{}' FROM hss_added"),
			 0);
	mem_deref(hss);
	mem_deref(st);
	hss = open_both(cfg, path, &st);
	assert_int_equal(hss_user_count(hss), 1);
	assert_int_equal(store_exec(st, "DELETE FROM hss_changed WHERE pos = 7"), 0);
	/* a position that is text (SQLite would read it as 0, the row's
	 * first user): the same */
	assert_int_equal(store_exec(st, "INSERT INTO hss_changed (row, pos, entry) "
					"SELECT id, 'abc', '" ERIN "' FROM hss_added"),
			 0);
	mem_deref(hss);
	mem_deref(st);
	hss = open_both(cfg, path, &st);
	assert_int_equal(hss_user_count(hss), 1);
	assert_int_equal(store_exec(st, "DELETE FROM hss_changed WHERE pos = 'abc'"), 0);
	/* an entry that is not an object: the same */
	assert_int_equal(store_exec(st, "UPDATE hss_changed SET entry = '[1]'"), 0);
	mem_deref(hss);
	mem_deref(st);
	hss = open_both(cfg, path, &st);
	assert_int_equal(hss_user_count(hss), 1);
	assert_true(hss_is_echo(hss, P("sip:echo2")));
	mem_deref(hss);
	mem_deref(st);
	ims_cfg_free(cfg);
	unlink(path);
}

/* A state file whose hss_changed has a row that is not an integer (a blob,
 * a text: SQLite orders them above every number) still gives the next
 * users_add a row id of its own (found by tests/fuzz/hss/fuzz_hss_store). */
static void test_row_id_past_odd_rows(void **state)
{
	char path[] = "/tmp/imsd-hss-store-XXXXXX";
	struct ims_cfg *cfg = cfg_load("");
	struct store *st = NULL;
	struct hss *hss;

	(void)state;
	tmp_name(path);
	hss = open_both(cfg, path, &st);
	add_save(hss, cfg, "[" DAVE "]");
	assert_int_equal(store_exec(st, "INSERT INTO hss_changed (row, pos, entry) "
					"VALUES (X'', 0, '{}'), ('x', 0, '{}')"),
			 0);
	mem_deref(hss);
	mem_deref(st);

	hss = open_both(cfg, path, &st);
	assert_int_equal(hss_user_count(hss), 2);
	add_save(hss, cfg, "[" ERIN "]"); /* row 2, not row 1 again */
	mem_deref(hss);
	mem_deref(st);
	hss = open_both(cfg, path, &st);
	assert_int_equal(hss_user_count(hss), 3);
	assert_ptr_equal(hss_user_by_impi(hss, P("erin@ims.example")), hss_user_at(hss, 2));
	mem_deref(hss);
	mem_deref(st);
	ims_cfg_free(cfg);
	unlink(path);
}

/* A state file whose largest row id is INT64_MAX - 1 or INT64_MAX: it is
 * restored (imsd starts), the ids left are used, then a save says ENOSPC
 * (the users are added, not kept) instead of overflowing the id. */
static void test_row_ids_used_up(void **state)
{
	char path[] = "/tmp/imsd-hss-store-XXXXXX";
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	struct ims_cfg *cfg = cfg_load(""), *set = NULL;
	struct store *st = NULL;
	struct hss *hss;
	json_t *v;

	(void)state;
	tmp_name(path);
	hss = open_both(cfg, path, &st);
	assert_int_equal(store_exec(st, "INSERT INTO hss_added (id, users) "
					"VALUES (9223372036854775806, '[1]')"),
			 0);
	mem_deref(hss);
	mem_deref(st);

	hss = open_both(cfg, path, &st); /* the row is kept unrestored */
	add_save(hss, cfg, "[" DAVE "]");  /* id INT64_MAX, the last one */
	v = json_loads("[" ERIN "]", 0, NULL);
	assert_int_equal(ims_cfg_ue_from_json(cfg, v, &set, &d), 0);
	json_decref(v);
	assert_int_equal(hss_users_add(hss, set, err, sizeof(err)), 0);
	assert_int_equal(hss_store_save(hss, "[" ERIN "]", strlen("[" ERIN "]"), NULL, NULL),
			 ENOSPC);
	assert_int_equal(hss_user_count(hss), 3);
	mem_deref(hss);
	mem_deref(st);

	hss = open_both(cfg, path, &st); /* dave kept, erin not; still no id */
	assert_int_equal(hss_user_count(hss), 2);
	assert_non_null(hss_user_by_impi(hss, P("dave@ims.example")));
	assert_int_equal(hss_store_save(hss, "[]", 2, NULL, NULL), ENOSPC);
	mem_deref(hss);
	mem_deref(st);
	ims_cfg_free(cfg);
	unlink(path);
}

/* Rows with negative ids only (a hand-edited file): the file is restored
 * and the next users_add gets row 1 (found by fuzz_hss_store: the largest
 * id read negative made the attach fail, so imsd did not start). */
static void test_negative_row_ids(void **state)
{
	char path[] = "/tmp/imsd-hss-store-XXXXXX";
	struct ims_cfg *cfg = cfg_load("");
	struct store *st = NULL;
	struct hss *hss;

	(void)state;
	tmp_name(path);
	hss = open_both(cfg, path, &st);
	assert_int_equal(store_exec(st, "INSERT INTO hss_added (id, users) VALUES (-7, '[1]')"),
			 0);
	assert_int_equal(store_exec(st, "INSERT INTO hss_changed (row, pos, entry) "
					"VALUES (-3, 0, '{}')"),
			 0);
	mem_deref(hss);
	mem_deref(st);

	hss = open_both(cfg, path, &st);
	add_save(hss, cfg, "[" DAVE "]");
	mem_deref(hss);
	mem_deref(st);
	hss = open_both(cfg, path, &st);
	assert_int_equal(hss_user_count(hss), 2);
	assert_ptr_equal(hss_user_by_impi(hss, P("dave@ims.example")), hss_user_at(hss, 1));
	mem_deref(hss);
	mem_deref(st);
	ims_cfg_free(cfg);
	unlink(path);
}

static void test_no_state_file(void **state)
{
	struct ims_cfg *cfg = cfg_load("");
	struct hss *hss = NULL;

	(void)state;
	assert_int_equal(hss_alloc(&hss, cfg, err, sizeof(err)), 0);
	assert_int_equal(hss_store_save(hss, "[]", 2, NULL, NULL), ENOENT);
	assert_int_equal(hss_store_save(NULL, "[]", 2, NULL, NULL), ENOENT);
	assert_int_equal(hss_store_user_change(hss, hss_user_at(hss, 0),
					       &(struct hss_change){.op = HSS_CHANGE_USER_SET},
					       NULL, NULL),
			 ENOENT);
	assert_int_equal(hss_store_echo_save(hss, NULL, NULL), ENOENT);
	assert_int_equal(hss_store_attach(hss, NULL, err, sizeof(err)), EINVAL);
	hss_store_detach(hss); /* nothing attached: nothing to do */
	mem_deref(hss);
	ims_cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_saved_users_come_back),
	    cmocka_unit_test(test_changes_come_back),
	    cmocka_unit_test(test_row_id_past_odd_rows),
	    cmocka_unit_test(test_row_ids_used_up),
	    cmocka_unit_test(test_negative_row_ids),
	    cmocka_unit_test(test_no_state_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
