/* Unit tests: core/log — options, line formats, file, rotation, history. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/mbuf.h"

static char dir[256];
static char path[512];
static char err[512];
/* 2024-06-13 14:25:01.123456789 UTC */
static struct timespec fixed = {1718288701, 123456789};

static void clock_fixed(struct timespec *ts)
{
	*ts = fixed;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/imsd-test-log-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/ims.log", dir);
	fixed.tv_sec = 1718288701;
	fixed.tv_nsec = 123456789;
	log_clock_set(clock_fixed);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_close();
	log_clock_set(clock_fixed);
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *slurp(const char *p)
{
	FILE *f = fopen(p, "rb");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

static int count_str(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static bool starts_with(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

static void init_file(const char *opts, bool sync)
{
	struct log_prm prm = {.filename = path, .options = opts, .sync = sync};

	assert_int_equal(log_init(&prm, err, sizeof(err)), 0);
}

static void init_stderr(const char *opts)
{
	struct log_prm prm = {.options = opts};

	assert_int_equal(log_init(&prm, err, sizeof(err)), 0);
}

/* The first line of the file containing needle, copied into out. */
static void line_with(const char *text, const char *needle, char *out, size_t size)
{
	const char *p = strstr(text, needle), *s, *e;

	assert_non_null(p);
	for (s = p; s > text && s[-1] != '\n'; s--)
		;
	e = strchr(p, '\n');
	assert_non_null(e);
	snprintf(out, size, "%.*s", (int)(e - s), s);
}

static void test_names(void **state)
{
	enum log_layer l;
	enum log_level v;

	(void)state;
	assert_string_equal(log_layer_name(LOG_IPSEC), "ipsec");
	assert_string_equal(log_layer_name(LOG_LAYER_COUNT), "?");
	assert_int_equal(log_layer_from_name("SIP", &l), 0);
	assert_int_equal(l, LOG_SIP);
	assert_int_equal(log_layer_from_name("all", &l), ENOENT);
	assert_int_equal(log_level_from_name("warn", &v), 0);
	assert_int_equal(v, LOG_LVL_WARN);
	assert_int_equal(log_level_from_name("verbose", &v), EINVAL);
	assert_string_equal(log_level_name(LOG_LVL_DEBUG), "debug");
}

static void test_options_good(void **state)
{
	struct log_info info;
	char sub[600];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/old", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	init_file(NULL, false);
	assert_int_equal(log_options_apply("all.level=debug, sip.level=error,ims.level=WARN,"
					   "cx.level=none,rx.level=info",
					   err, sizeof(err)),
			 0);
	assert_true(log_on(LOG_MEDIA, LOG_LVL_DEBUG));
	assert_true(log_on(LOG_SIP, LOG_LVL_ERROR));
	assert_false(log_on(LOG_SIP, LOG_LVL_WARN));
	assert_true(log_on(LOG_IMS, LOG_LVL_WARN));
	assert_false(log_on(LOG_IMS, LOG_LVL_INFO));
	assert_false(log_on(LOG_CX, LOG_LVL_ERROR));
	assert_true(log_on(LOG_RX, LOG_LVL_INFO));
	assert_false(log_on(LOG_RX, LOG_LVL_NONE));
	assert_false(log_on(LOG_LAYER_COUNT, LOG_LVL_ERROR));

	assert_int_equal(log_options_apply("all.max_size=100,sip.max_size=2K,cx.payload=1,"
					   "ims.key=1,rx.crypto=1,ipsec.verbose=1",
					   err, sizeof(err)),
			 0);
	assert_int_equal(log_max_size(LOG_MEDIA), 100);
	assert_int_equal(log_max_size(LOG_SIP), 2048);
	assert_true(log_payload(LOG_CX));
	assert_false(log_payload(LOG_RX));
	assert_true(log_key(LOG_IMS));
	assert_true(log_crypto(LOG_RX));
	assert_true(log_verbose(LOG_IPSEC));
	assert_false(log_verbose(LOG_SIP));

	assert_int_equal(log_options_apply("time=full,time.us=1,file.rotate=10M,"
					   "file.rotate=#5K,file.path=old,append=1",
					   err, sizeof(err)),
			 0);
	log_info_get(&info);
	assert_int_equal(info.time_fmt, LOG_TIME_FULL);
	assert_true(info.time_us);
	assert_int_equal(info.rotate_size, 10 * 1024 * 1024);
	assert_int_equal(info.rotate_count, 5000);
	assert_string_equal(info.rotate_path, "old");
	assert_true(info.append);
	assert_string_equal(info.filename, path);
	assert_int_equal(info.layers[LOG_SIP].level, LOG_LVL_ERROR);

	assert_int_equal(log_options_apply("time=sec,time.us=0,file.rotate=1g,file.rotate=#0,"
					   "file.path=,append=0,file.rotate=0",
					   err, sizeof(err)),
			 0);
	log_info_get(&info);
	assert_int_equal(info.time_fmt, LOG_TIME_SEC);
	assert_false(info.time_us);
	assert_int_equal(info.rotate_size, 0);
	assert_int_equal(info.rotate_count, 0);
	assert_string_equal(info.rotate_path, "");
	assert_false(info.append);
	assert_int_equal(log_options_apply("time=short,file.path=/tmp", err, sizeof(err)), 0);
	assert_int_equal(log_options_apply("", err, sizeof(err)), 0);
	assert_int_equal(log_options_apply("  ", err, sizeof(err)), 0);
}

static void test_options_bad(void **state)
{
	static const struct {
		const char *opts;
		const char *named; /* must appear in the message */
	} bad[] = {
		{"foo.level=debug", "'foo.level=debug'"},
		{"sip.level=loud", "'sip.level=loud'"},
		{"sip.lvl=debug", "'sip.lvl=debug'"},
		{"sip.level", "expected name=value"},
		{"all.payload=2", "'all.payload=2'"},
		{"cx.key=yes", "0 or 1"},
		{"rx.crypto=", "'rx.crypto='"},
		{"ims.verbose=01", "0 or 1"},
		{"sip.max_size=-1", "max_size"},
		{"sip.max_size=2M", "max_size"},
		{"sip.max_size=12x", "max_size"},
		{"time=long", "sec, short or full"},
		{"time.us=2", "'time.us=2'"},
		{"time.ms=1", "unknown option"},
		{"file=keep", "cut"},
		{"file.rotate=later", "'file.rotate=later'"},
		{"file.rotate=#", "#N"},
		{"file.rotate=#1T", "#N"},
		{"file.rotate=99999999999999999999", "file.rotate"},
		{"file.rotate=18446744073709551615K", "file.rotate"},
		{"file.path=/nonexistent/dir", "not a writable directory"},
		{"file.zip=1", "unknown option"},
		{"append=true", "0 or 1"},
		{"level=debug", "unknown option"},
		{"sip.level=debug,,ims.level=debug", "empty item"},
		{"sip.level=debug,", "empty item"},
		{"=debug", "unknown option"},
		{"all.=1", "unknown layer option"},
		{"sip.level=debug,nas.level=debug", "'nas.level=debug'"},
	};
	struct mbuf before, after;

	(void)state;
	init_file("sip.level=info", false);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mbuf_init(&before, 0);
		mbuf_init(&after, 0);
		assert_int_equal(log_options_print(&before), 0);
		err[0] = '\0';
		assert_int_equal(log_options_apply(bad[i].opts, err, sizeof(err)), EINVAL);
		if (!strstr(err, bad[i].named))
			fail_msg("%s: message '%s' lacks '%s'", bad[i].opts, err, bad[i].named);
		assert_int_equal(log_options_print(&after), 0);
		/* nothing applied, not even the good items before the bad one */
		assert_string_equal(mbuf_str(&before), mbuf_str(&after));
		mbuf_reset(&before);
		mbuf_reset(&after);
	}
	assert_false(log_on(LOG_SIP, LOG_LVL_DEBUG));
	assert_int_equal(log_options_apply(NULL, err, sizeof(err)), EINVAL);
}

static void test_options_long(void **state)
{
	size_t n = LOG_OPTIONS_MAX + 10;
	char *s = malloc(n + 1);

	(void)state;
	init_stderr(NULL);
	assert_non_null(s);
	memset(s, ' ', n);
	s[n] = '\0';
	assert_int_equal(log_options_apply(s, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "longer than"));
	free(s);
}

static void test_options_roundtrip(void **state)
{
	struct mbuf a, b;
	char *opts;

	(void)state;
	init_file("all.level=warn,sip.level=debug,cx.max_size=0,ipsec.verbose=1,time=full,"
		  "file.rotate=3M,file.rotate=#2000,append=1",
		  false);
	mbuf_init(&a, 0);
	mbuf_init(&b, 0);
	assert_int_equal(log_options_print(&a), 0);
	assert_non_null(strstr(mbuf_str(&a), "sip.level=debug"));
	assert_non_null(strstr(mbuf_str(&a), "all.payload=0"));
	assert_non_null(strstr(mbuf_str(&a), "file.rotate=3M"));
	assert_non_null(strstr(mbuf_str(&a), "file.rotate=#2K"));
	opts = strdup(mbuf_str(&a));
	assert_int_equal(log_options_apply("all.level=none,time=sec,file.rotate=0", err,
					   sizeof(err)),
			 0);
	assert_int_equal(log_options_apply(opts, err, sizeof(err)), 0);
	assert_int_equal(log_options_print(&b), 0);
	assert_string_equal(mbuf_str(&a), mbuf_str(&b));
	free(opts);
	mbuf_reset(&a);
	mbuf_reset(&b);
}

static void write_formats(void)
{
	log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_FROM, "5", "INVITE sip:%s SIP/2.0", "a@b");
	log_write(LOG_CX, LOG_LVL_INFO, LOG_DIR_TO, "10.0.0.1:3868", "CER");
	log_write(LOG_MEDIA, LOG_LVL_INFO, LOG_DIR_FROM, "7", "RTP/audio %d bytes", 160);
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "hello");
	log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, "", "boom");
	log_write(LOG_N5, LOG_LVL_WARN, LOG_DIR_TO, "id with space", "slow");
	log_write(LOG_IPSEC, LOG_LVL_INFO, LOG_DIR_NONE, "1", "tab\there nl\nx \x01");
	log_write(LOG_RX, LOG_LVL_DEBUG, LOG_DIR_NONE, "1", "not shown at info");
	log_flush();
}

static void test_line_formats(void **state)
{
	char line[256], *text;

	(void)state;
	init_file(NULL, false);
	write_formats();
	text = slurp(path);
	assert_non_null(text);
	line_with(text, "INVITE", line, sizeof(line));
	assert_string_equal(line, "14:25:01.123 [SIP]   FROM 5 INVITE sip:a@b SIP/2.0");
	line_with(text, "CER", line, sizeof(line));
	assert_string_equal(line, "14:25:01.123 [CX]    TO   10.0.0.1:3868 CER");
	line_with(text, "RTP/", line, sizeof(line));
	assert_string_equal(line, "14:25:01.123 [MEDIA] 7 FROM RTP/audio 160 bytes");
	line_with(text, "hello", line, sizeof(line));
	assert_string_equal(line, "14:25:01.123 [IMS]   -    - hello");
	line_with(text, "boom", line, sizeof(line));
	assert_string_equal(line, "14:25:01.123 [IMS]   -    - ERROR: boom");
	line_with(text, "slow", line, sizeof(line));
	assert_string_equal(line, "14:25:01.123 [N5]    TO   id_with_space WARN: slow");
	line_with(text, "tab", line, sizeof(line));
	assert_string_equal(line, "14:25:01.123 [IPSEC] -    1 tab\there nl\\x0ax \\x01");
	assert_null(strstr(text, "not shown"));
	free(text);

	assert_int_equal(log_options_apply("file=cut,time.us=1", err, sizeof(err)), 0);
	write_formats();
	text = slurp(path);
	line_with(text, "INVITE", line, sizeof(line));
	assert_string_equal(line, "14:25:01.123456 [SIP]   FROM 5 INVITE sip:a@b SIP/2.0");
	free(text);

	assert_int_equal(log_options_apply("file=cut,time=full,time.us=0", err, sizeof(err)),
			 0);
	write_formats();
	text = slurp(path);
	line_with(text, "CER", line, sizeof(line));
	assert_string_equal(line, "2024-06-13T14:25:01.123 [CX]    TO   10.0.0.1:3868 CER");
	free(text);

	assert_int_equal(log_options_apply("file=cut,time=sec", err, sizeof(err)), 0);
	fixed.tv_nsec = 5000000;
	write_formats();
	text = slurp(path);
	line_with(text, "hello", line, sizeof(line));
	assert_string_equal(line, "1718288701.005 [IMS]   -    - hello");
	free(text);
}

static void test_file_truncate_append(void **state)
{
	FILE *f = NULL;
	char *text;

	(void)state;
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("old content\n", f);
	fclose(f);
	init_file(NULL, false);
	log_close();
	text = slurp(path);
	assert_null(strstr(text, "old content"));
	assert_non_null(strstr(text, "# Log file opened 2024-06-13 14:25:01"));
	free(text);

	f = fopen(path, "w");
	fputs("old content\n", f);
	fclose(f);
	log_clock_set(clock_fixed);
	init_file("append=1", false);
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "new entry");
	log_close();
	text = slurp(path);
	assert_true(starts_with(text, "old content\n# "));
	assert_non_null(strstr(text, "new entry"));
	free(text);
}

/* Issue 19 finding 8: the log is created 0600, an existing 0644 file is
 * made 0600, and a symbolic link at its name is refused, not followed. */
static void test_file_private_nofollow(void **state)
{
	struct log_prm prm = {.filename = path};
	char target[600];
	struct stat sb;
	mode_t old = umask(0);
	FILE *f;

	(void)state;
	init_file(NULL, false);
	log_close();
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(chmod(path, 0644), 0);
	init_file("append=1", false);
	log_close();
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	umask(old);

	assert_int_equal(unlink(path), 0);
	snprintf(target, sizeof(target), "%s/victim", dir);
	f = fopen(target, "w");
	assert_non_null(f);
	fputs("victim\n", f);
	fclose(f);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(log_init(&prm, err, sizeof(err)), ELOOP);
	assert_non_null(strstr(err, "symbolic link"));
	log_close();
	assert_int_equal(unlink(path), 0);
	/* dangling: nothing is created where it points */
	snprintf(target, sizeof(target), "%s/nothing", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(log_init(&prm, err, sizeof(err)), ELOOP);
	log_close();
	assert_int_equal(stat(target, &sb), -1);
	f = fopen(path, "r"); /* still dangling */
	assert_null(f);
	unlink(path);
}

static void count_hdr(const char *line, void *arg)
{
	(void)line;
	(*(int *)arg)++;
}

static void test_header(void **state)
{
	const char *hdr[] = {"imsd 0.1.0", "Started 2024-06-13", "Config file /x/ims.cfg"};
	char *text;
	int n = 0;

	(void)state;
	assert_int_equal(log_header_set(hdr, 3), 0);
	init_file("sip.level=debug", false);
	assert_int_equal(log_header_add("late %d\x01", 7), 0);
	log_flush();
	text = slurp(path);
	assert_true(starts_with(text, "# imsd 0.1.0\n# Started 2024-06-13\n"
				      "# Config file /x/ims.cfg\n# log_options: "));
	assert_non_null(strstr(text, "sip.level=debug"));
	assert_non_null(strstr(text, "# late 7?\n"));
	free(text);
	log_header_foreach(count_hdr, &n);
	assert_int_equal(n, 4);
}

static void test_header_limits(void **state)
{
	const char *many[LOG_HEADER_MAX_LINES + 1];
	char longline[LOG_HEADER_LINE_MAX * 2];
	int n = 0;

	(void)state;
	for (size_t i = 0; i <= LOG_HEADER_MAX_LINES; i++)
		many[i] = "x";
	assert_int_equal(log_header_set(many, LOG_HEADER_MAX_LINES + 1), ENOSPC);
	assert_int_equal(log_header_set(many, LOG_HEADER_MAX_LINES), 0);
	assert_int_equal(log_header_add("one more"), ENOSPC);
	log_header_foreach(count_hdr, &n);
	assert_int_equal(n, LOG_HEADER_MAX_LINES);
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	many[0] = longline;
	assert_int_equal(log_header_set(many, 1), 0);
	init_file(NULL, true);
	log_close();
	{
		char *text = slurp(path);
		char *nl = strchr(text, '\n');

		assert_int_equal(nl - text, 2 + LOG_HEADER_LINE_MAX - 1);
		free(text);
	}
}

/* Names of the files in dir starting with prefix, sorted, NULL-terminated. */
static int list_rotated(const char *d, const char *prefix, char names[][256], int max)
{
	struct dirent **ents;
	int n = scandir(d, &ents, NULL, alphasort), k = 0;

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		if (!strncmp(ents[i]->d_name, prefix, strlen(prefix)) && k < max)
			snprintf(names[k++], 256, "%s", ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	return k;
}

static void test_rotate_now(void **state)
{
	char names[8][256], p2[1200], *text;
	const char *hdr[] = {"imsd test"};

	(void)state;
	assert_int_equal(log_header_set(hdr, 1), 0);
	init_file(NULL, false);
	log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, "1", "before rotation");
	assert_int_equal(log_options_apply("file.rotate=now", err, sizeof(err)), 0);
	log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, "1", "after rotation");
	/* same second: the second rotation gets a -2 suffix */
	assert_int_equal(log_file_rotate(err, sizeof(err)), 0);
	log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, "1", "third file");
	log_flush();
	assert_int_equal(list_rotated(dir, "ims.log.", names, 8), 2);
	assert_string_equal(names[0], "ims.log.20240613-142501");
	assert_string_equal(names[1], "ims.log.20240613-142501-2");
	snprintf(p2, sizeof(p2), "%s/%s", dir, names[0]);
	text = slurp(p2);
	assert_true(starts_with(text, "# imsd test\n"));
	assert_non_null(strstr(text, "before rotation"));
	assert_null(strstr(text, "after rotation"));
	free(text);
	snprintf(p2, sizeof(p2), "%s/%s", dir, names[1]);
	text = slurp(p2);
	assert_true(starts_with(text, "# imsd test\n"));
	assert_non_null(strstr(text, "after rotation"));
	assert_non_null(strstr(text, "continues "));
	free(text);
	text = slurp(path);
	assert_true(starts_with(text, "# imsd test\n"));
	assert_non_null(strstr(text, "third file"));
	assert_non_null(strstr(text, "continues "));
	assert_non_null(strstr(text, "ims.log.20240613-142501-2"));
	assert_null(strstr(text, "before rotation"));
	free(text);
}

static void test_rotate_size(void **state)
{
	char names[64][256], p2[1200], *text;
	int n, total = 0;

	(void)state;
	init_file("file.rotate=1K", false);
	for (int i = 0; i < 100; i++) {
		fixed.tv_sec++; /* distinct names */
		log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_TO, "9", "entry %03d padding padding", i);
	}
	log_flush();
	n = list_rotated(dir, "ims.log.", names, 64);
	assert_true(n >= 4);
	for (int i = 0; i < n; i++) {
		struct stat st;

		snprintf(p2, sizeof(p2), "%s/%.255s", dir, names[i]);
		assert_int_equal(stat(p2, &st), 0);
		/* rotated once it reached 1K, on an entry boundary */
		assert_true(st.st_size >= 1024);
		assert_true(st.st_size < 1024 + 100);
		text = slurp(p2);
		assert_true(starts_with(text, "# log_options: "));
		assert_int_equal(text[strlen(text) - 1], '\n');
		total += count_str(text, "padding padding");
		free(text);
	}
	text = slurp(path);
	total += count_str(text, "padding padding");
	free(text);
	assert_int_equal(total, 100);
}

static void test_rotate_count(void **state)
{
	char names[8][256], p2[1200], sub[600], *text;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/archive", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	init_file("file.rotate=#10,file.path=archive", true);
	for (int i = 0; i < 35; i++) {
		if (i % 10 == 0)
			fixed.tv_sec += 60;
		log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "count %d", i);
	}
	log_flush();
	assert_int_equal(list_rotated(dir, "ims.log.", names, 8), 0);
	assert_int_equal(list_rotated(sub, "ims.log.", names, 8), 3);
	for (int i = 0; i < 3; i++) {
		snprintf(p2, sizeof(p2), "%.600s/%.255s", sub, names[i]);
		text = slurp(p2);
		assert_int_equal(count_str(text, "[IMS]"), 10);
		free(text);
	}
	text = slurp(path);
	assert_int_equal(count_str(text, "[IMS]"), 5);
	assert_non_null(strstr(text, "count 34"));
	free(text);
	/* an absolute file.path works as well */
	snprintf(p2, sizeof(p2), "file.path=%s,file.rotate=now", sub);
	assert_int_equal(log_options_apply(p2, err, sizeof(err)), 0);
	assert_int_equal(list_rotated(sub, "ims.log.", names, 8), 4);
}

static void test_rotate_fail(void **state)
{
	char sub[600], *text;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/gone", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	init_file("file.path=gone,file.rotate=#3", false);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(log_file_rotate(err, sizeof(err)), ENOENT);
	assert_non_null(strstr(err, "cannot move log file"));
	/* automatic rotation fails too: noted in the file, writing carries on */
	for (int i = 0; i < 4; i++)
		log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "still here %d", i);
	log_flush();
	text = slurp(path);
	assert_non_null(strstr(text, "# cannot move log file"));
	assert_non_null(strstr(text, "still here 3"));
	free(text);
}

static void test_also_stderr(void **state)
{
	struct log_prm prm = {.filename = path, .also_stderr = true, .sync = true};
	char epath[600], *text;
	int saved = dup(2), fd;

	(void)state;
	snprintf(epath, sizeof(epath), "%s/stderr.txt", dir);
	fd = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(log_init(&prm, err, sizeof(err)), 0);
	dup2(fd, 2);
	log_write(LOG_SIP, LOG_LVL_ERROR, LOG_DIR_NONE, "1", "to both");
	log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, "1", "file only");
	dup2(saved, 2);
	close(saved);
	close(fd);
	text = slurp(epath);
	assert_non_null(strstr(text, "[SIP]   -    1 ERROR: to both\n"));
	assert_null(strstr(text, "file only"));
	free(text);
	text = slurp(path);
	assert_non_null(strstr(text, "to both"));
	assert_non_null(strstr(text, "file only"));
	free(text);
}

/* stderr redirected to a pipe for a test: fd 2 is the write end, the read
 * end non-blocking. */
struct err_pipe {
	int saved; /* the real fd 2 */
	int rd, wr;
};

/* size: the pipe's capacity in bytes, 0 for the default. */
static void err_pipe_open(struct err_pipe *ep, int size)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	ep->rd = p[0];
	ep->wr = p[1];
	ep->saved = dup(2);
	assert_true(ep->saved >= 0);
	if (size)
		assert_true(fcntl(ep->wr, F_SETPIPE_SZ, size) > 0);
	assert_int_equal(fcntl(ep->rd, F_SETFL, O_NONBLOCK), 0);
	dup2(ep->wr, 2);
}

/* Closes the log (which may hold the pipe), puts fd 2 back, closes the
 * pipe (rd -1: already closed). */
static void err_pipe_close(struct err_pipe *ep)
{
	log_close();
	dup2(ep->saved, 2);
	close(ep->saved);
	if (ep->rd >= 0)
		close(ep->rd);
	close(ep->wr);
}

/* Reads what the pipe holds (non-blocking read end). */
static size_t pipe_read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	return n;
}

/* A stderr pipe nobody reads must not stall the logger (the loop thread):
 * copies that do not fit are dropped and counted, the file has every line,
 * and the next copy that fits says how many were dropped. fd 2's own flags
 * (shared with the parent shell) stay blocking. */
static void test_also_stderr_full_pipe_never_blocks(void **state)
{
	struct log_prm prm = {.filename = path, .also_stderr = true, .sync = false};
	static char buf[1 << 20];
	struct err_pipe ep;
	char *text, *note;
	int fl;

	(void)state;
	err_pipe_open(&ep, 4096);
	assert_int_equal(log_init(&prm, err, sizeof(err)), 0);
	/* far more than the pipe holds: with a blocking copy this never returns */
	for (int i = 0; i < 2000; i++)
		log_write(LOG_SIP, LOG_LVL_ERROR, LOG_DIR_NONE, NULL, "flood %d %0200d", i, 0);
	fl = fcntl(2, F_GETFL);
	assert_int_equal(fl & O_NONBLOCK, 0);
	(void)pipe_read_all(ep.rd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "ERROR: flood 0 "));
	assert_null(strstr(buf, "ERROR: flood 1999 "));
	/* room again: the note comes first, then the line */
	log_write(LOG_SIP, LOG_LVL_ERROR, LOG_DIR_NONE, NULL, "after the flood");
	(void)pipe_read_all(ep.rd, buf, sizeof(buf));
	note = strstr(buf, " error line(s) not copied here (stderr was not writable); the log "
			   "file has them\n");
	assert_non_null(note);
	assert_true(strstr(buf, "imsd: ") == buf);
	assert_true(atoi(buf + 6) > 1900 && atoi(buf + 6) < 2000);
	assert_non_null(strstr(note, "ERROR: after the flood\n"));
	/* nothing is lost from the file */
	log_flush();
	text = slurp(path);
	assert_int_equal(count_str(text, "ERROR: flood "), 2000);
	assert_non_null(strstr(text, "ERROR: after the flood"));
	free(text);
	err_pipe_close(&ep);
}

/* Without log_filename the log itself goes to stderr, and a pipe nobody
 * reads must not stall it either: what stderr does not take waits in the
 * buffer (up to 4 MiB), entries beyond that are dropped whole and counted,
 * and once stderr is read again the rest comes out, then a note with the
 * count before the next entry. fd 2 itself stays blocking. */
static void test_stderr_log_full_pipe_never_blocks(void **state)
{
	struct log_prm prm = {.sync = false};
	const size_t cap = (size_t)8 << 20;
	int fl, flood = 30000, lines;
	char *out = malloc(cap), *note;
	struct err_pipe ep;
	size_t n = 0;
	bool left = true;

	(void)state;
	assert_non_null(out);
	err_pipe_open(&ep, 4096);
	assert_int_equal(log_init(&prm, err, sizeof(err)), 0);
	/* 30,000 entries of about 230 bytes: more than the pipe and the 4 MiB
	 * buffer hold; a blocking write never returns here */
	for (int i = 0; i < flood; i++)
		log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "flood %d %0200d", i,
			  0);
	assert_true(log_flush()); /* some left for later */
	fl = fcntl(2, F_GETFL);
	assert_int_equal(fl & O_NONBLOCK, 0);
	/* the reader comes back: everything buffered comes out, in order */
	for (int i = 0; i < 100000 && left; i++) {
		n += pipe_read_all(ep.rd, out + n, cap - n);
		left = log_flush();
	}
	assert_false(left);
	n += pipe_read_all(ep.rd, out + n, cap - n);
	assert_non_null(strstr(out, "[SIP]   -    - flood 0 "));
	/* by hand: the sanitizer's strstr measures the whole 8 MB each call */
	lines = 0;
	for (size_t i = 0; i + 7 <= n; i++)
		lines += out[i] == ' ' && !memcmp(out + i, " flood ", 7);
	assert_true(lines > 15000 && lines < flood);
	assert_null(strstr(out, "dropped here")); /* told with the next entry */
	log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "after the flood");
	assert_false(log_flush());
	n += pipe_read_all(ep.rd, out + n, cap - n);
	note = strstr(out, "imsd: ");
	assert_non_null(note);
	assert_int_equal(atoi(note + 6), flood - lines);
	assert_non_null(
	    strstr(note, " log entries dropped here: stderr was not writable\n"));
	assert_non_null(strstr(note, "after the flood\n"));
	err_pipe_close(&ep);
	free(out);
}

/* stderr closed by its reader (EPIPE) is gone for good: nothing is kept
 * for it, so log_flush has nothing left and the server does not retry. */
static void test_stderr_log_reader_gone(void **state)
{
	struct log_prm prm = {.sync = false};
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	struct err_pipe ep;

	(void)state;
	err_pipe_open(&ep, 0);
	close(ep.rd); /* the reader is gone */
	ep.rd = -1;
	assert_int_equal(log_init(&prm, err, sizeof(err)), 0);
	for (int i = 0; i < 1000; i++)
		log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
			  "to nobody %d %0200d", i, 0);
	assert_false(log_flush());
	log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "after");
	assert_false(log_flush());
	err_pipe_close(&ep);
	signal(SIGPIPE, old);
}

/* A copy is one write of at most LOG_ERRCP_MAX bytes, ending the line. */
static void test_also_stderr_long_line_cut(void **state)
{
	struct log_prm prm = {.filename = path, .also_stderr = true, .sync = true};
	static char buf[1 << 16];
	char *big = malloc(10000);
	struct err_pipe ep;
	size_t n;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', 9999);
	big[9999] = 0;
	err_pipe_open(&ep, 0);
	assert_int_equal(log_init(&prm, err, sizeof(err)), 0);
	log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL, "%s", big);
	n = pipe_read_all(ep.rd, buf, sizeof(buf));
	assert_int_equal(n, 4096);
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', n - 1));
	err_pipe_close(&ep);
	free(big);
}

static void test_cut(void **state)
{
	char *text;

	(void)state;
	init_file(NULL, false);
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "first");
	log_flush();
	assert_int_equal(log_options_apply("file=cut", err, sizeof(err)), 0);
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "second");
	log_flush();
	text = slurp(path);
	assert_null(strstr(text, "first"));
	assert_non_null(strstr(text, "second"));
	assert_true(starts_with(text, "# log_options:"));
	free(text);
	assert_int_equal(log_file_cut(err, sizeof(err)), 0);
	log_flush();
	text = slurp(path);
	assert_null(strstr(text, "second"));
	free(text);
}

static void test_stderr_mode(void **state)
{
	struct log_info info;

	(void)state;
	init_stderr("all.level=none");
	log_info_get(&info);
	assert_string_equal(info.filename, "");
	assert_int_equal(log_options_apply("file=cut", err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "stderr"));
	assert_int_equal(log_options_apply("ims.level=info,file.rotate=now", err, sizeof(err)),
			 EINVAL);
	assert_false(log_on(LOG_IMS, LOG_LVL_INFO));
	assert_int_equal(log_file_rotate(err, sizeof(err)), ENOENT);
	assert_int_equal(log_file_cut(err, sizeof(err)), ENOENT);
}

static void test_init_errors(void **state)
{
	struct log_prm prm = {.filename = path};
	char bad[700];

	(void)state;
	prm.ring_count = 100;
	assert_int_equal(log_init(&prm, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "com_log_count"));
	prm.ring_count = LOG_RING_MAX + 1;
	assert_int_equal(log_init(&prm, err, sizeof(err)), EINVAL);
	prm.ring_count = 0;
	prm.options = "sip.level=bogus";
	assert_int_equal(log_init(&prm, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "sip.level=bogus"));
	assert_true(log_on(LOG_SIP, LOG_LVL_INFO)); /* nothing kept */
	prm.options = NULL;
	snprintf(bad, sizeof(bad), "%s/missing/ims.log", dir);
	prm.filename = bad;
	assert_int_equal(log_init(&prm, err, sizeof(err)), ENOENT);
	assert_non_null(strstr(err, "cannot open log file"));
	prm.filename = path;
	assert_int_equal(log_init(&prm, err, sizeof(err)), 0);
	assert_int_equal(log_init(&prm, err, sizeof(err)), EALREADY);
}

struct collect {
	uint64_t idx[8192];
	char first[64];
	size_t n;
	size_t stop_after;
};

static int collect_h(const struct log_entry *e, void *arg)
{
	struct collect *c = arg;

	if (c->stop_after && c->n == c->stop_after)
		return 1;
	if (c->n == 0)
		snprintf(c->first, sizeof(c->first), "%.*s", (int)e->first_len, e->text);
	c->idx[c->n++] = e->idx;
	return 0;
}

static void test_ring(void **state)
{
	struct log_prm prm = {.filename = path, .ring_count = LOG_RING_MIN,
			      .options = "all.level=debug", .ring_us = true};
	static struct collect c;
	struct log_ring_pos pos;
	uint64_t first, next;

	(void)state;
	assert_int_equal(log_init(&prm, err, sizeof(err)), 0);
	assert_true(log_ring_us());
	for (int i = 0; i < 5000; i++) {
		fixed.tv_nsec = i * 1000;
		log_write(i % 2 ? LOG_SIP : LOG_CX, LOG_LVL_DEBUG, LOG_DIR_FROM, "id", "e%d", i);
	}
	log_ring_bounds(&first, &next);
	assert_int_equal(next, 5000);
	assert_int_equal(first, 5000 - LOG_RING_MIN);

	memset(&c, 0, sizeof(c));
	assert_int_equal(log_ring_read(0, 100, collect_h, &c, &pos), 0);
	assert_int_equal(pos.discontinuity, 5000 - LOG_RING_MIN);
	assert_int_equal(pos.count, 100);
	assert_int_equal(pos.next, first + 100);
	assert_int_equal(c.idx[0], first);
	assert_string_equal(c.first, "e904");

	/* continuing from pos.next: no loss */
	memset(&c, 0, sizeof(c));
	assert_int_equal(log_ring_read(pos.next, 8192, collect_h, &c, &pos), 0);
	assert_int_equal(pos.discontinuity, 0);
	assert_int_equal(pos.count, LOG_RING_MIN - 100);
	assert_int_equal(pos.next, 5000);
	for (size_t i = 1; i < c.n; i++)
		assert_int_equal(c.idx[i], c.idx[i - 1] + 1);

	/* nothing new */
	memset(&c, 0, sizeof(c));
	assert_int_equal(log_ring_read(5000, 10, collect_h, &c, &pos), 0);
	assert_int_equal(pos.count, 0);
	assert_int_equal(pos.next, 5000);

	/* handler stops early: that entry is not consumed */
	memset(&c, 0, sizeof(c));
	c.stop_after = 3;
	assert_int_equal(log_ring_read(4990, 10, collect_h, &c, &pos), 0);
	assert_int_equal(pos.count, 3);
	assert_int_equal(pos.next, 4993);

	/* timestamps in microseconds, layer and fields kept */
	{
		struct collect *cc = &c;

		memset(cc, 0, sizeof(*cc));
		assert_int_equal(log_ring_read(4999, 1, collect_h, cc, &pos), 0);
		assert_string_equal(cc->first, "e4999");
	}

	/* a reset is not a loss */
	log_ring_reset();
	log_ring_bounds(&first, &next);
	assert_int_equal(first, 5000);
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "after reset");
	memset(&c, 0, sizeof(c));
	assert_int_equal(log_ring_read(4500, 10, collect_h, &c, &pos), 0);
	assert_int_equal(pos.discontinuity, 0);
	assert_int_equal(pos.count, 1);
	assert_string_equal(c.first, "after reset");
	assert_int_equal(c.idx[0], 5000);
	assert_int_equal(log_ring_read(0, 1, NULL, NULL, &pos), EINVAL);
}

static int get_entry_h(const struct log_entry *e, void *arg)
{
	struct log_entry *out = arg;

	*out = *e;
	out->text = strndup(e->text, e->text_len);
	out->id = strdup(e->id);
	return 0;
}

static void test_ring_fields(void **state)
{
	struct log_entry e;
	struct log_ring_pos pos;

	(void)state;
	init_file("all.level=none,cx.level=warn", false);
	fixed.tv_nsec = 987654321;
	log_write(LOG_CX, LOG_LVL_WARN, LOG_DIR_TO, "[::1]:3868", "DWR timeout");
	assert_int_equal(log_ring_read(0, 1, get_entry_h, &e, &pos), 0);
	assert_int_equal(pos.count, 1);
	assert_int_equal(e.idx, 0);
	assert_int_equal(e.ts_us, 1718288701987654LL);
	assert_int_equal(e.layer, LOG_CX);
	assert_int_equal(e.level, LOG_LVL_WARN);
	assert_int_equal(e.dir, LOG_DIR_TO);
	assert_string_equal(e.id, "[::1]:3868");
	assert_string_equal(e.text, "DWR timeout");
	assert_int_equal(e.line_count, 1);
	free((char *)e.text);
	free((char *)e.id);
}

static void watch_h(uint64_t next_idx, void *arg)
{
	*(uint64_t *)arg = next_idx;
}

static void test_ring_watch(void **state)
{
	uint64_t seen = 0, seen2 = 0;

	(void)state;
	init_file("all.level=none,sip.level=info", false);
	assert_int_equal(log_ring_watch_add(watch_h, &seen), 0);
	assert_int_equal(log_ring_watch_add(watch_h, &seen2), 0);
	log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "a");
	log_write(LOG_SIP, LOG_LVL_DEBUG, LOG_DIR_NONE, NULL, "filtered");
	assert_int_equal(seen, 1);
	log_ring_watch_remove(watch_h, &seen);
	log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "b");
	assert_int_equal(seen, 1);
	assert_int_equal(seen2, 2);
	for (unsigned i = 1; i < LOG_WATCH_MAX; i++)
		assert_int_equal(log_ring_watch_add(watch_h, &seen), 0);
	assert_int_equal(log_ring_watch_add(watch_h, &seen), ENOSPC);
	assert_int_equal(log_ring_watch_add(NULL, NULL), EINVAL);
}

static const char sip_msg[] = "INVITE sip:bob@ims SIP/2.0\r\n"
			      "Via: SIP/2.0/UDP 10.0.0.1\r\n"
			      "Subject: caf\xc3\xa9 \xff\x01\r\n"
			      "\r\n"
			      "v=0\r\n";

static void test_data_dump(void **state)
{
	char *text, want[128];

	(void)state;
	init_file("all.level=debug", false);
	log_write_data(LOG_SIP, LOG_LVL_INFO, LOG_DIR_FROM, "3", sip_msg, sizeof(sip_msg) - 1,
		       "INVITE received");
	log_flush();
	text = slurp(path);
	assert_non_null(strstr(text, "14:25:01.123 [SIP]   FROM 3 INVITE received\n"
				     "  INVITE sip:bob@ims SIP/2.0\n"
				     "  Via: SIP/2.0/UDP 10.0.0.1\n"
				     "  Subject: caf\xc3\xa9 \\xff\\x01\n"
				     "  \n"
				     "  v=0\n"));
	free(text);

	/* cut at max_size, with a note */
	assert_int_equal(log_options_apply("file=cut,sip.max_size=10", err, sizeof(err)), 0);
	log_write_data(LOG_SIP, LOG_LVL_INFO, LOG_DIR_TO, "3", sip_msg, sizeof(sip_msg) - 1,
		       "cut");
	log_flush();
	text = slurp(path);
	snprintf(want, sizeof(want), " cut\n  INVITE sip\n  [10 of %zu bytes shown]\n",
		 sizeof(sip_msg) - 1);
	assert_non_null(strstr(text, want));
	free(text);

	/* binary layers: hex dump */
	assert_int_equal(log_options_apply("file=cut,cx.max_size=20", err, sizeof(err)), 0);
	log_write_data(LOG_CX, LOG_LVL_DEBUG, LOG_DIR_TO, "peer",
		       "\x01\x00\x00\x14\x80\x00\x01\x01\x00\x00\x00\x00"
		       "ABCDEFGHIJKL", 24, "CER");
	log_write_hex(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, "3", "\x00\x01", 2, "tpdu");
	log_flush();
	text = slurp(path);
	assert_non_null(strstr(text, " CER\n"
				     "  0000: 01 00 00 14 80 00 01 01 00 00 00 00 41 42 43 44  "
				     "............ABCD\n"
				     "  0010: 45 46 47 48                                      "
				     "EFGH\n"
				     "  [20 of 24 bytes shown]\n"));
	assert_non_null(strstr(text, " tpdu\n  0000: 00 01 "));
	free(text);

	/* max_size=0 or a layer below debug: first line only */
	assert_int_equal(log_options_apply("file=cut,sip.max_size=0,ims.level=info", err,
					   sizeof(err)),
			 0);
	log_write_data(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, "3", sip_msg, 10, "no data");
	log_write_data(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, "3", sip_msg, 10, "info only");
	log_flush();
	text = slurp(path);
	assert_non_null(strstr(text, " no data\n"));
	assert_non_null(strstr(text, " info only\n"));
	assert_null(strstr(text, "INVITE sip"));
	free(text);
}

static void test_data_ring(void **state)
{
	struct log_entry e;
	struct log_ring_pos pos;
	char want[128];

	(void)state;
	init_file("all.level=none,sip.level=debug,sip.max_size=30", false);
	log_write_data(LOG_SIP, LOG_LVL_DEBUG, LOG_DIR_NONE, "3", sip_msg, sizeof(sip_msg) - 1,
		       "msg");
	assert_int_equal(log_ring_read(0, 1, get_entry_h, &e, &pos), 0);
	snprintf(want, sizeof(want), "msg\nINVITE sip:bob@ims SIP/2.0\nVi\n[30 of %zu bytes shown]",
		 sizeof(sip_msg) - 1);
	assert_string_equal(e.text, want);
	assert_int_equal(e.first_len, 3);
	assert_int_equal(e.line_count, 4);
	free((char *)e.text);
	free((char *)e.id);

	/* the blank line closing a bodiless message is not shown; inner ones are */
	log_write_data(LOG_SIP, LOG_LVL_DEBUG, LOG_DIR_NONE, "3", "A\r\n\r\n", 5, "m");
	log_write_data(LOG_SIP, LOG_LVL_DEBUG, LOG_DIR_NONE, "3", "\n\nB\n", 4, "m");
	assert_int_equal(log_ring_read(1, 1, get_entry_h, &e, &pos), 0);
	assert_string_equal(e.text, "m\nA");
	free((char *)e.text);
	free((char *)e.id);
	assert_int_equal(log_ring_read(2, 1, get_entry_h, &e, &pos), 0);
	assert_string_equal(e.text, "m\n\n\nB");
	assert_int_equal(e.line_count, 4);
	free((char *)e.text);
	free((char *)e.id);
}

static void test_long_message(void **state)
{
	char *big = malloc(LOG_MSG_MAX * 2);
	struct log_entry e;
	struct log_ring_pos pos;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', LOG_MSG_MAX * 2 - 1);
	big[LOG_MSG_MAX * 2 - 1] = '\0';
	init_file("all.level=none,ims.level=info", false);
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, big, "%s", big);
	assert_int_equal(log_ring_read(0, 1, get_entry_h, &e, &pos), 0);
	assert_int_equal(strlen(e.text), LOG_MSG_MAX);
	assert_int_equal(strlen(e.id), LOG_ID_MAX);
	free((char *)e.text);
	free((char *)e.id);
	free(big);
}

static void test_sync(void **state)
{
	char *text;

	(void)state;
	init_file(NULL, true);
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "synced");
	text = slurp(path);
	assert_non_null(strstr(text, "synced"));
	free(text);
	log_close();
	log_clock_set(clock_fixed);
	init_file(NULL, false);
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "buffered");
	text = slurp(path);
	assert_null(strstr(text, "buffered"));
	free(text);
	log_flush();
	text = slurp(path);
	assert_non_null(strstr(text, "buffered"));
	free(text);
}

static void test_state_print(void **state)
{
	struct mbuf mb;
	const char *s;

	(void)state;
	init_file("sip.level=debug,cx.payload=1,file.rotate=64K,time.us=1", false);
	mbuf_init(&mb, 0);
	assert_int_equal(log_state_print(&mb), 0);
	s = mbuf_str(&mb);
	assert_non_null(strstr(s, "Log file: "));
	assert_non_null(strstr(s, path));
	assert_non_null(strstr(s, "Time: short, microseconds=1\n"));
	assert_non_null(strstr(s, "Rotation: size=64K, count=off, path=(log file directory)\n"));
	assert_non_null(strstr(s, "History: 8192 entries max"));
	assert_non_null(strstr(s, "sip    debug  65536     0        0    0       0\n"));
	assert_non_null(strstr(s, "cx     info   65536     1        0    0       0\n"));
	assert_non_null(strstr(s, "Options: "));
	mbuf_reset(&mb);
}

#define THREADS 4
#define PER_THREAD 3000

static void *writer(void *arg)
{
	long t = (long)arg;

	for (int i = 0; i < PER_THREAD; i++)
		log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_TO, "t", "thread %ld entry %d end", t,
			  i);
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[THREADS];
	char *text, *line;
	int count = 0, next[THREADS] = {0};
	uint64_t first, nidx;

	(void)state;
	init_file("file.rotate=#100000", false);
	for (long t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, writer, (void *)t), 0);
	for (int i = 0; i < 200; i++) {
		log_flush();
		(void)log_on(LOG_SIP, LOG_LVL_INFO);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	log_flush();
	text = slurp(path);
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		long t;
		int i, n = 0;

		if (line[0] == '#')
			continue;
		/* every line whole, and each thread's entries in its order */
		assert_int_equal(sscanf(line, "14:25:01.123 [SIP]   TO   t thread %ld entry %d end%n",
					&t, &i, &n),
				 2);
		assert_int_equal((size_t)n, strlen(line));
		assert_true(t >= 0 && t < THREADS);
		assert_int_equal(i, next[t]);
		next[t]++;
		count++;
	}
	free(text);
	assert_int_equal(count, THREADS * PER_THREAD);
	log_ring_bounds(&first, &nidx);
	assert_int_equal(nidx, THREADS * PER_THREAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_truncate_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_private_nofollow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotate_now, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotate_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotate_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotate_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_also_stderr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stderr_log_full_pipe_never_blocks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stderr_log_reader_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_also_stderr_full_pipe_never_blocks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_also_stderr_long_line_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stderr_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_watch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_print, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
