/* Unit tests: core/mem, core/pl, core/mbuf. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "core/pl.h"
#include "core/strutil.h"

static int destroyed;

static void obj_destroy(void *data)
{
	(void)data;
	destroyed++;
}

static void test_mem_refcount(void **state)
{
	size_t live = mem_live_count();
	int *p = mem_zalloc(sizeof(int), obj_destroy);

	(void)state;
	assert_non_null(p);
	assert_int_equal(*p, 0);
	assert_int_equal(mem_live_count(), live + 1);
	mem_ref(p);
	assert_int_equal(mem_nrefs(p), 2);
	assert_null(mem_deref(p));
	assert_int_equal(destroyed, 0);
	mem_deref(p);
	assert_int_equal(destroyed, 1);
	assert_int_equal(mem_live_count(), live);
	assert_null(mem_deref(NULL));
}

static void test_pl_basic(void **state)
{
	struct pl a = PL("  Hello \t");
	uint32_t v;
	uint64_t v64;
	char small[4];

	(void)state;
	assert_true(pl_eq_str(pl_trim(a), "Hello"));
	assert_true(pl_caseeq_str(pl_trim(a), "hELLO"));
	assert_false(pl_eq_str(pl_trim(a), "Hell"));
	assert_int_equal(pl_u32(PL("4294967295"), &v), 0);
	assert_int_equal(v, 4294967295u);
	assert_int_equal(pl_u32(PL("4294967296"), &v), ERANGE);
	assert_int_equal(pl_u64(PL("18446744073709551616"), &v64), ERANGE);
	assert_int_equal(pl_u32(PL(""), &v), EBADMSG);
	assert_int_equal(pl_u32(PL("12a"), &v), EBADMSG);
	assert_int_equal(pl_casefind(PL("abcDEF"), "def"), 3);
	assert_int_equal(pl_casefind(PL("abc"), "abcd"), -1);
	assert_int_equal(pl_strcpy(PL("abcdef"), small, sizeof(small)), ENOSPC);
	assert_string_equal(small, "abc");
	char *d = pl_strdup(PL("xyz"));
	assert_string_equal(d, "xyz");
	free(d);
}

static void test_mbuf(void **state)
{
	struct mbuf mb;

	(void)state;
	mbuf_init(&mb, 16);
	assert_int_equal(mbuf_printf(&mb, "%d-%s", 42, "ab"), 0);
	assert_string_equal(mbuf_str(&mb), "42-ab");
	assert_int_equal(mbuf_write_str(&mb, "0123456789AB"), ENOSPC);
	assert_string_equal(mbuf_str(&mb), "42-ab");
	assert_int_equal(mbuf_write_str(&mb, "0123456789A"), 0);
	assert_int_equal(mb.end, 16);
	mbuf_reset(&mb);
	assert_null(mb.buf);
}

/* free() of the objects linked in here goes through __wrap_free
 * (-Wl,--wrap=free), which checks a watched block is all zero first. */
void __real_free(void *p);
void __wrap_free(void *p);
static const uint8_t *watch_p;
static size_t watch_len;
static int watch_freed, watch_dirty;

void __wrap_free(void *p)
{
	if (p && p == watch_p) {
		watch_freed++;
		for (size_t i = 0; i < watch_len; i++)
			watch_dirty += watch_p[i] != 0;
		watch_p = NULL;
	}
	__real_free(p);
}

static void test_mbuf_wipe(void **state)
{
	struct mbuf mb;
	uint8_t key[200];

	(void)state;
	memset(key, 0xa5, sizeof(key));
	mbuf_init(&mb, 0);
	mb.wipe = true;
	assert_int_equal(mbuf_write(&mb, key, sizeof(key)), 0);
	/* growth: the old block is zeroed before it is freed, content kept */
	watch_p = mb.buf;
	watch_len = mb.size;
	watch_freed = watch_dirty = 0;
	assert_int_equal(mbuf_write(&mb, key, sizeof(key)), 0);
	assert_int_equal(watch_freed, 1);
	assert_int_equal(watch_dirty, 0);
	assert_int_equal(mb.end, 2 * sizeof(key));
	assert_memory_equal(mb.buf, key, sizeof(key));
	assert_memory_equal(mb.buf + sizeof(key), key, sizeof(key));
	/* reset zeroes, and the buffer stays a wiped one */
	watch_p = mb.buf;
	watch_len = mb.size;
	mbuf_reset(&mb);
	assert_int_equal(watch_freed, 2);
	assert_int_equal(watch_dirty, 0);
	assert_true(mb.wipe);
	assert_null(mb.buf);
	/* the check itself sees a block that is not zeroed */
	mb.wipe = false;
	assert_int_equal(mbuf_write(&mb, key, sizeof(key)), 0);
	watch_p = mb.buf;
	watch_len = mb.end;
	mbuf_reset(&mb);
	assert_int_equal(watch_freed, 3);
	assert_int_equal(watch_dirty, (int)sizeof(key));
}

static void test_strutil(void **state)
{
	uint8_t b[3];
	char *d;

	(void)state;
	assert_int_equal(str_hex_digit('a'), 10);
	assert_int_equal(str_hex_digit('F'), 15);
	assert_int_equal(str_hex_digit('g'), -1);
	assert_int_equal(str_hex_decode("00aBfF", b, 3), 0);
	assert_int_equal(b[0], 0x00);
	assert_int_equal(b[1], 0xab);
	assert_int_equal(b[2], 0xff);
	assert_int_equal(str_hex_decode("0x", b, 1), EBADMSG);
	assert_int_equal(str_hex_decode("x0", b, 1), EBADMSG);
	d = str_path_dir("a/b/c.cfg");
	assert_string_equal(d, "a/b");
	free(d);
	d = str_path_dir("c.cfg");
	assert_string_equal(d, ".");
	free(d);
	d = str_path_dir("/c.cfg");
	assert_string_equal(d, "/");
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_refcount),
		cmocka_unit_test(test_pl_basic),
		cmocka_unit_test(test_mbuf),
		cmocka_unit_test(test_mbuf_wipe),
		cmocka_unit_test(test_strutil),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
