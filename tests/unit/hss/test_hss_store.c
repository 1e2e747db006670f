/* Unit tests: hss_store (docs/hss.md "Run-time provisioning"): the users of
 * a users_add call written to the state file come back at the next attach,
 * in order and all or none; a row that no longer passes (its user is now
 * configured) or that is not JSON is kept and skipped; no state file:
 * ENOENT. Without a worker pool a save commits at once. */
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
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
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

static void test_no_state_file(void **state)
{
	struct ims_cfg *cfg = cfg_load("");
	struct hss *hss = NULL;

	(void)state;
	assert_int_equal(hss_alloc(&hss, cfg, err, sizeof(err)), 0);
	assert_int_equal(hss_store_save(hss, "[]", 2, NULL, NULL), ENOENT);
	assert_int_equal(hss_store_save(NULL, "[]", 2, NULL, NULL), ENOENT);
	assert_int_equal(hss_store_attach(hss, NULL, err, sizeof(err)), EINVAL);
	hss_store_detach(hss); /* nothing attached: nothing to do */
	mem_deref(hss);
	ims_cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_saved_users_come_back),
	    cmocka_unit_test(test_no_state_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
