/* Unit tests: the state file's row decoders (registrar_store_load.c). Each
 * column of a valid row is replaced by bad values, one at a time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "registrar/registrar_int.h"

static struct reg_store_col I(int64_t v) {
	return (struct reg_store_col){.type = REG_COL_INT, .i = v};
}

static struct reg_store_col
S(const char *t) {
	return (struct reg_store_col){.type = REG_COL_TEXT, .s = pl_from_str(t)};
}

static struct reg_store_col
B(const char *t, size_t len) {
	return (struct reg_store_col){.type = REG_COL_BLOB, .s = {t, len}};
}

static const struct reg_store_col NUL = {.type = REG_COL_NULL};

/* A valid reg_binding row. */
static void binding_row(struct reg_store_col c[REG_STORE_BINDING_COLS])
{
	const struct reg_store_col row[REG_STORE_BINDING_COLS] = {
	    S("impi:alice@ims.test"),
	    I(0),
	    I(7),
	    S("<sip:alice@10.0.0.1:5060>;+sip.instance=\"<urn:gsma:imei:35000000-000001-"
	      "0>\""),
	    S("abc-123@10.0.0.1"),
	    I(2),
	    I(1),
	    I(600),
	    I(1800000000),
	    I(500),
	    S("35000000000001"),
	    I(REG_EV_REFRESHED),
	    S("[2001:db8::1]:5060"),
	    I(0),
	    I(1),
	};
	memcpy(c, row, sizeof(row));
}

static void sub_row(struct reg_store_col c[REG_STORE_SUB_COLS])
{
	const struct reg_store_col row[REG_STORE_SUB_COLS] = {
	    S("imsi:001010000000005"),
	    I(1),
	    S("sub-1@ue"),
	    S("0a1b2c"),
	    S("f1"),
	    S("<sip:alice@ims.test>"),
	    S("<sip:alice@ims.test>"),
	    S("sip:alice@10.0.0.1:5060"),
	    S("<sip:p1.ims.test;lr>"),
	    S(""),
	    I(3),
	    I(4),
	    I(600000),
	    I(1800000000),
	    I(9),
	    S("10.0.0.1:5060"),
	    I(0),
	    I(0),
	};
	memcpy(c, row, sizeof(row));
}

static void test_binding_row(void **state)
{
	struct reg_store_col c[REG_STORE_BINDING_COLS];
	struct reg_store_binding_rec r;

	(void)state;
	binding_row(c);
	assert_int_equal(reg_store_binding_decode(c, REG_STORE_BINDING_COLS, &r), 0);
	assert_int_equal(r.key.kind, 'i');
	assert_true(pl_eq_str(r.key.id, "alice@ims.test"));
	assert_int_equal(r.bid, 7);
	assert_int_equal(r.q1000, 500);
	assert_string_equal(r.imei, "35000000000001");
	assert_int_equal(r.flow.peer.in6.sin6_family, AF_INET6);
	assert_int_equal(ntohs(r.flow.peer.in6.sin6_port), 5060);
	assert_true(r.flow.reliable);
	/* a link-local IPv6 peer keeps its scope (net_addr_print's form) */
	c[12] = S("[fe80::1%2]:5062");
	assert_int_equal(reg_store_binding_decode(c, REG_STORE_BINDING_COLS, &r), 0);
	assert_int_equal(r.flow.peer.in6.sin6_scope_id, 2);
	assert_int_equal(ntohs(r.flow.peer.in6.sin6_port), 5062);
	/* no IMEI, no flow */
	c[10] = S("");
	c[12] = S("");
	assert_int_equal(reg_store_binding_decode(c, REG_STORE_BINDING_COLS, &r), 0);
	assert_int_equal(r.flow.peer.in.sin_family, 0);
	/* wrong column count */
	assert_int_equal(reg_store_binding_decode(c, REG_STORE_BINDING_COLS - 1, &r),
			 EBADMSG);
}

static void test_binding_row_bad_columns(void **state)
{
	static const char big[] = "<sip:a@b>;x=";
	char huge[9000];
	const struct {
		int col;
		struct reg_store_col v;
	} bad[] = {
	    {0, S("alice@ims.test")},	   /* no kind */
	    {0, S("impx:alice@ims.test")}, /* unknown kind */
	    {0, I(5)},			   /* not text */
	    {1, I(16)},			   /* nth out of range */
	    {1, I(-1)},
	    {2, I(0)}, /* binding id 0 */
	    {2, I((int64_t)UINT32_MAX + 1)},
	    {3, S("sip:alice@10.0.0.1")},		 /* not <uri> */
	    {3, S("<sip:alice@10.0.0.1>\r\nX-Evil: 1")}, /* header injection */
	    {3, S("<sip:alice@10.0.0.1")},		 /* unterminated */
	    {3, NUL},
	    {4, S("a b@c")}, /* not a Call-ID */
	    {4, S("")},
	    {5, I(-1)}, /* CSeq */
	    {5, I((int64_t)INT32_MAX + 1)},
	    {7, I(0)},	/* expires 0 */
	    {8, I(-5)}, /* expires_at */
	    {8, S("1800000000")},
	    {9, I(1001)},	      /* q */
	    {10, S("3500000000000")}, /* 13 digits */
	    {10, S("3500000000000a")},
	    {11, I(REG_EV_EXPIRED)}, /* a terminated event */
	    {12, S("10.0.0.1")},     /* no port */
	    {12, S("10.0.0.1:0")},
	    {12, S("10.0.0.1:70000")},
	    {12, S("10.0.0.300:5060")},
	    {12, S("[2001:db8::1:5060")},
	    {12, S("[zz::1]:5060")},
	    {12, S("pcscf.ims.test:5060")}, /* a name */
	    {12, S("[::1]")},
	    {13, I(65536)},		  /* sock_idx */
	    {14, I(2)},			  /* tcp flag */
	    {3, B(big, sizeof(big) - 1)}, /* a BLOB where TEXT goes */
	    {3, {.type = REG_COL_TEXT, .s = {huge, sizeof(huge)}}}, /* too long */
	};
	struct reg_store_col c[REG_STORE_BINDING_COLS];
	struct reg_store_binding_rec r;

	(void)state;
	memset(huge, 'a', sizeof(huge));
	huge[0] = '<';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		binding_row(c);
		c[bad[i].col] = bad[i].v;
		if (reg_store_binding_decode(c, REG_STORE_BINDING_COLS, &r) != EBADMSG)
			fail_msg("bad value %zu (column %d) accepted", i, bad[i].col);
	}
}

static void test_sub_row(void **state)
{
	const struct {
		int col;
		struct reg_store_col v;
	} bad[] = {
	    {2, S("x y")},
	    {3, S("")},
	    {3, S("a;b")},
	    {4, S("f\x01")},
	    {5, S("sip:x@y")},
	    {6, NUL},
	    {7, S("")},
	    {8, S("<sip:a>\n")},
	    {9, S("a b")},
	    {10, I(-1)},
	    {12, I(-1)},
	    {13, S("x")},
	    {15, S("1.2.3.4:99999")},
	};
	struct reg_store_col c[REG_STORE_SUB_COLS];
	struct reg_store_sub_rec r;

	(void)state;
	sub_row(c);
	assert_int_equal(reg_store_sub_decode(c, REG_STORE_SUB_COLS, &r), 0);
	assert_int_equal(r.key.kind, 'm');
	assert_int_equal(r.key.nth, 1);
	assert_true(pl_eq_str(r.str[REG_SUB_ROUTES], "<sip:p1.ims.test;lr>"));
	assert_int_equal(r.str[REG_SUB_EVENT_ID].l, 0);
	assert_int_equal(r.version, 4);
	assert_int_equal(r.flow.peer.in.sin_family, AF_INET);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sub_row(c);
		c[bad[i].col] = bad[i].v;
		if (reg_store_sub_decode(c, REG_STORE_SUB_COLS, &r) != EBADMSG)
			fail_msg("bad value %zu (column %d) accepted", i, bad[i].col);
	}
}

static void test_user_row(void **state)
{
	static const char key[32] = {1, 2, 3};
	struct reg_store_col c[REG_STORE_USER_COLS] = {
	    S("impu:sip:carol@ims.test"), I(0),	      I(0x20),
	    I(DIGEST_ALGO_AKAV1_MD5),	  B(key, 16), B(key, 16)};
	struct reg_store_user_rec r;

	(void)state;
	assert_int_equal(reg_store_user_decode(c, REG_STORE_USER_COLS, &r), 0);
	assert_int_equal(r.key.kind, 'u');
	assert_int_equal(r.sqn_he, 0x20);
	assert_int_equal(r.ck.l, 16);
	c[4] = NUL;
	c[5] = NUL;
	c[3] = I(-1);
	assert_int_equal(reg_store_user_decode(c, REG_STORE_USER_COLS, &r), 0);
	assert_int_equal(r.algo, -1);
	c[2] = I((int64_t)1 << 48); /* SQN is 48 bits */
	assert_int_equal(reg_store_user_decode(c, REG_STORE_USER_COLS, &r), EBADMSG);
	c[2] = I(1);
	c[3] = I(DIGEST_ALGO_AKAV2_SHA256 + 1);
	assert_int_equal(reg_store_user_decode(c, REG_STORE_USER_COLS, &r), EBADMSG);
	c[3] = I(0);
	c[4] = B(key, 33); /* longer than any CK */
	assert_int_equal(reg_store_user_decode(c, REG_STORE_USER_COLS, &r), EBADMSG);
	c[4] = S("ck");
	assert_int_equal(reg_store_user_decode(c, REG_STORE_USER_COLS, &r), EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_binding_row),
	    cmocka_unit_test(test_binding_row_bad_columns),
	    cmocka_unit_test(test_sub_row),
	    cmocka_unit_test(test_user_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
