/*
 * core/log — output: the buffer, the log file, its header block, rotation
 * and cut (manual §5.2 file=..., append, log_sync).
 *
 * Lines collect in one buffer written with write(2) by log_flush() (the
 * event loop calls it before sleeping), when the buffer is full, or after
 * every entry with log_sync. Rotation renames the file to
 * <dir>/<name>.<YYYYMMDD-HHMMSS>[-N], <dir> being file.path or the file's own
 * directory, and opens a new file at the configured name, which starts with
 * the same header block.
 *
 * The copy of error lines on stderr must never stall the server: a terminal
 * nobody reads, or a pipe whose reader is stuck, would otherwise block the
 * loop thread in write(2) (and anyone on the network can cause error lines).
 * So the copy is written without blocking: to a socket with MSG_DONTWAIT,
 * to a pipe or a terminal through a descriptor of its own opened O_NONBLOCK
 * (opening /proc/self/fd/2 makes a new open file description, so fd 2's
 * flags, shared with the shell that started us, are left alone), else after
 * a poll() that says it is writable; a regular file is written as the log
 * file is. A copy that cannot go at once is dropped and counted: the log
 * file has the line.
 *
 * Without log_filename the log itself goes to stderr, and the same holds:
 * stderr that is not a regular file is written the same non-blocking way.
 * What it does not take stays in the buffer, which may then grow up to
 * OBUF_NB_MAX; an entry that finds no room is dropped whole and counted,
 * and a note with the count precedes the next entry that fits. At close
 * and exit the rest is given a bounded time (CLOSE_WAIT_MS) to drain.
 * stderr closed or hung up (EPIPE, EIO, EBADF...) is gone for good: what
 * is buffered and what follows is not kept.
 */
#include "core/log_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mbuf.h"

#define OBUF_MAX ((size_t)64 * 1024)
#define OBUF_NB_MAX ((size_t)4 * 1024 * 1024)
#define NOTE_MAX 160
#define CLOSE_WAIT_MS 2000
#define ROTATE_TRIES 1000

static void fd_write(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (!log_g.write_failed && fd != 2) {
				char msg[160];
				int k = snprintf(msg, sizeof(msg), "imsd: log write failed: %s\n",
						 strerror(w < 0 ? errno : EIO));

				if (k > 0 && write(2, msg, (size_t)k) < 0) {
					/* stderr is gone too: nothing left to tell */
				}
			}
			log_g.write_failed = true;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* The copy (and the log itself without log_filename) on stderr: see
 * core/nbfd. */
static ssize_t errcp_write(const char *p, size_t n)
{
	return nbfd_write(&log_g.err, p, n);
}

/* Without log_filename, on stderr that is not a regular file: the log is
 * written without blocking. Not before log_init: one-shot tools and early
 * errors write as they always did (and open no descriptor of their own). */
static bool out_nb_locked(void)
{
	if (log_g.fd != 2 || !log_g.inited)
		return false;
	if (log_g.err.mode == NBFD_UNSET)
		nbfd_open(&log_g.err, 2);
	return log_g.err.mode != NBFD_FILE;
}

/* Writes what stderr takes now; the rest stays at obuf[ooff..olen). */
static void out_flush_nb_locked(void)
{
	if (!log_g.obuf)
		return;
	while (log_g.ooff < log_g.olen) {
		ssize_t w = errcp_write(log_g.obuf + log_g.ooff, log_g.olen - log_g.ooff);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			/* stderr is gone (closed, hung up): nothing will take
			 * these, nor what follows; stop keeping them */
			log_g.err_gone = true;
			log_g.ooff = log_g.olen = 0;
			return;
		}
		if (w <= 0)
			break;
		log_g.ooff += (size_t)w;
	}
	if (log_g.ooff == log_g.olen)
		log_g.ooff = log_g.olen = 0;
}

void log_out_flush_locked(void)
{
	if (log_g.olen == log_g.ooff)
		return;
	if (out_nb_locked()) {
		out_flush_nb_locked();
		return;
	}
	fd_write(log_g.fd, log_g.obuf + log_g.ooff, log_g.olen - log_g.ooff);
	log_g.olen = log_g.ooff = 0;
}

/* Room for len more bytes in the non-blocking buffer: flush; move what is
 * pending to the front once at least as much has gone out (so each byte
 * is moved O(1) times however slowly stderr drains); grow up to
 * OBUF_NB_MAX. */
static bool out_nb_reserve_locked(size_t len)
{
	size_t cap;
	char *nb;

	if (log_g.obuf && len <= log_g.ocap - log_g.olen)
		return true;
	out_flush_nb_locked();
	if (log_g.obuf && log_g.ooff && log_g.ooff >= log_g.olen - log_g.ooff) {
		memmove(log_g.obuf, log_g.obuf + log_g.ooff, log_g.olen - log_g.ooff);
		log_g.olen -= log_g.ooff;
		log_g.ooff = 0;
	}
	if (log_g.obuf && len <= log_g.ocap - log_g.olen)
		return true;
	if (len > OBUF_NB_MAX - log_g.olen)
		return false;
	cap = log_g.ocap ? log_g.ocap : OBUF_MAX;
	while (cap < log_g.olen + len)
		cap *= 2;
	if (cap > OBUF_NB_MAX)
		cap = OBUF_NB_MAX;
	nb = realloc(log_g.obuf, cap);
	if (!nb)
		return false;
	log_g.obuf = nb;
	log_g.ocap = cap;
	return true;
}

bool log_out_entry_begin_locked(size_t len)
{
	char note[NOTE_MAX];
	int k;

	if (!out_nb_locked())
		return true;
	if (log_g.err_gone)
		return false;
	if (!out_nb_reserve_locked(len + NOTE_MAX)) {
		log_g.out_dropped++;
		return false;
	}
	if (log_g.out_dropped) {
		k = snprintf(note, sizeof(note),
			     "imsd: %" PRIu64
			     " log entr%s dropped here: stderr was not writable\n",
			     log_g.out_dropped, log_g.out_dropped == 1 ? "y" : "ies");
		if (k > 0) {
			memcpy(log_g.obuf + log_g.olen, note, (size_t)k);
			log_g.olen += (size_t)k;
		}
		log_g.out_dropped = 0;
	}
	return true;
}

void log_out_drain_locked(void)
{
	for (int waited = 0; log_g.olen > log_g.ooff && waited < CLOSE_WAIT_MS;
	     waited += 10) {
		struct pollfd pfd = {.fd = log_g.err.fd, .events = POLLOUT};

		log_out_flush_locked();
		if (log_g.olen > log_g.ooff && poll(&pfd, 1, 10) < 0 && errno != EINTR)
			break;
	}
	log_out_flush_locked();
}

/* True when all of p went out. */
static bool errcp_put(const char *p, size_t n)
{
	ssize_t w;

	do
		w = errcp_write(p, n);
	while (w < 0 && errno == EINTR);
	if (w > 0 && (size_t)w < n) { /* a terminal took a part: end that line */
		if (errcp_write("\n", 1) < 0) {
			/* nothing more can be done for this copy */
		}
		return false;
	}
	return w >= 0 && (size_t)w == n;
}

void log_err_copy_locked(const char *pre, size_t plen, const char *text, size_t tlen)
{
	char line[LOG_ERRCP_MAX];
	size_t room = sizeof(line) - 1, n;

	if (log_g.err.mode == NBFD_UNSET)
		nbfd_open(&log_g.err, 2);
	if (log_g.err_dropped) {
		char note[160];
		int k = snprintf(note, sizeof(note),
				 "imsd: %" PRIu64
				 " error line(s) not copied here (stderr was not "
				 "writable); the log file has them\n",
				 log_g.err_dropped);

		if (k <= 0 || !errcp_put(note, (size_t)k)) {
			log_g.err_dropped++;
			return;
		}
		log_g.err_dropped = 0;
	}
	n = plen < room ? plen : room;
	memcpy(line, pre, n);
	if (tlen > room - n)
		tlen = room - n;
	memcpy(line + n, text, tlen);
	n += tlen;
	line[n++] = '\n';
	if (!errcp_put(line, n))
		log_g.err_dropped++;
}

void log_err_copy_reset_locked(void)
{
	nbfd_close(&log_g.err);
	log_g.err_dropped = 0;
	log_g.err_gone = false;
}

void log_out_put_locked(const char *s, size_t len)
{
	log_g.file_bytes += len;
	if (out_nb_locked()) {
		/* an entry reserved its room (log_out_entry_begin_locked) */
		if (!out_nb_reserve_locked(len))
			return;
		memcpy(log_g.obuf + log_g.olen, s, len);
		log_g.olen += len;
		return;
	}
	if (log_g.olen + len > log_g.ocap)
		log_out_flush_locked();
	if (!log_g.obuf) {
		log_g.obuf = malloc(OBUF_MAX);
		log_g.ocap = log_g.obuf ? OBUF_MAX : 0;
	}
	if (!log_g.obuf || len > log_g.ocap - log_g.olen) { /* no buffer, or a huge piece */
		fd_write(log_g.fd, s, len);
		return;
	}
	memcpy(log_g.obuf + log_g.olen, s, len);
	log_g.olen += len;
}

bool log_flush(void)
{
	bool left;

	log_lock();
	log_out_flush_locked();
	left = log_g.olen > log_g.ooff;
	log_unlock();
	return left;
}

char *log_file_dir_locked(void)
{
	const char *path = log_g.filename, *slash;

	if (!path)
		return NULL;
	slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static void header_line_put(const char *s)
{
	log_out_put_locked("# ", 2);
	log_out_put_locked(s, strlen(s));
	log_out_put_locked("\n", 1);
}

static void options_line_put(void)
{
	struct mbuf mb;

	mbuf_init(&mb, 0);
	if (!mbuf_write_str(&mb, "log_options: ") && !log_opt_print_cfg(&mb, &log_g.cfg) &&
	    mbuf_str(&mb))
		header_line_put(mbuf_str(&mb));
	mbuf_reset(&mb);
}

/* The header block, then a line saying when this file was opened and, after
 * a rotation, where the previous part went. */
void log_header_write_locked(void)
{
	struct timespec ts;
	char line[LOG_PATH_MAX + 128], when[64];
	struct tm tm;
	time_t t;

	for (size_t i = 0; i < log_g.hdr_n; i++)
		header_line_put(log_g.hdr[i]);
	options_line_put();
	log_now(&ts);
	t = ts.tv_sec;
	if (!localtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm))
		snprintf(when, sizeof(when), "%lld", (long long)t);
	if (log_g.prev_name)
		snprintf(line, sizeof(line), "Log file opened %s, continues %s", when,
			 log_g.prev_name);
	else
		snprintf(line, sizeof(line), "Log file opened %s", when);
	header_line_put(line);
}

/*
 * The log holds what a debug level shows (digest responses, enough for an
 * offline guess at an MD5 password): it is created 0600, an existing
 * regular file is made 0600, and a symbolic link at its name is refused
 * (ELOOP) rather than followed — in a shared directory another user could
 * otherwise point it at a file of theirs or of ours.
 */
static int file_open(bool truncate, int *fdp, uint64_t *size, char *err, size_t errlen)
{
	int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
		    (truncate ? O_TRUNC : 0);
	struct stat st;
	int fd, e;

	fd = open(log_g.filename, flags, 0600);
	if (fd < 0) {
		e = errno;
		log_err(err, errlen, "cannot open log file %s: %s", log_g.filename,
			e == ELOOP ? "it is a symbolic link (refused)" : strerror(e));
		return e ? e : EIO;
	}
	if (fstat(fd, &st)) {
		memset(&st, 0, sizeof(st));
	} else if (S_ISREG(st.st_mode) && (st.st_mode & 0077) && fchmod(fd, 0600)) {
		e = errno;
		close(fd);
		log_err(err, errlen, "cannot make log file %s private (mode 0600): %s",
			log_g.filename, strerror(e));
		return e ? e : EIO;
	}
	*size = (uint64_t)st.st_size;
	*fdp = fd;
	return 0;
}

int log_file_open_locked(bool truncate, char *err, size_t errlen)
{
	uint64_t size;
	int fd, rc;

	rc = file_open(truncate, &fd, &size, err, errlen);
	if (rc)
		return rc;
	log_out_drain_locked();
	log_g.olen = log_g.ooff = 0; /* what stderr would not take is not the file's */
	if (log_g.fd != 2)
		close(log_g.fd);
	log_g.fd = fd;
	log_g.file_bytes = size;
	log_g.file_entries = 0;
	log_g.write_failed = false;
	log_header_write_locked();
	if (log_g.sync)
		log_out_flush_locked();
	return 0;
}

void log_file_close_locked(void)
{
	if (log_g.fd != 2)
		close(log_g.fd);
	log_g.fd = 2;
	free(log_g.filename);
	log_g.filename = NULL;
	free(log_g.prev_name);
	log_g.prev_name = NULL;
	log_g.file_bytes = log_g.file_entries = 0;
}

/* Copies src to a new file dst (rename across file systems). */
static int file_copy(const char *src, const char *dst)
{
	char buf[65536];
	int in, out, rc = 0;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errno;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = errno;
		close(in);
		return rc;
	}
	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf)), w = 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? errno : 0;
			break;
		}
		while (w < r) {
			ssize_t k = write(out, buf + w, (size_t)(r - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				rc = k < 0 ? errno : EIO;
				break;
			}
			w += k;
		}
		if (rc)
			break;
	}
	if (close(out) != 0 && !rc)
		rc = errno;
	close(in);
	if (rc)
		unlink(dst);
	return rc;
}

static char *rotate_dir(void)
{
	const char *p = log_g.cfg.rotate_path;
	char *base, *dir;

	if (!*p || *p == '/')
		return *p ? strdup(p) : log_file_dir_locked();
	base = log_file_dir_locked();
	if (!base || asprintf(&dir, "%s/%s", base, p) < 0)
		dir = NULL;
	free(base);
	return dir;
}

/* Moves the current file to a free timestamped name; returns that name. */
static int rotate_move(char **namep, char *err, size_t errlen)
{
	const char *slash = strrchr(log_g.filename, '/');
	const char *base = slash ? slash + 1 : log_g.filename;
	char *dir = rotate_dir(), *name = NULL, stamp[32];
	struct timespec ts;
	struct stat st;
	struct tm tm;
	time_t t;
	int rc = ENOMEM;

	if (!dir)
		goto out;
	log_now(&ts);
	t = ts.tv_sec;
	if (!localtime_r(&t, &tm) || !strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm))
		snprintf(stamp, sizeof(stamp), "%lld", (long long)t);
	rc = EEXIST;
	for (int i = 1; i <= ROTATE_TRIES && rc == EEXIST; i++) {
		free(name);
		name = NULL;
		if ((i == 1 ? asprintf(&name, "%s/%s.%s", dir, base, stamp)
			    : asprintf(&name, "%s/%s.%s-%d", dir, base, stamp, i)) < 0) {
			rc = ENOMEM;
			break;
		}
		if (lstat(name, &st) == 0)
			continue;
		rc = rename(log_g.filename, name) == 0 ? 0 : errno;
		if (rc == EXDEV) {
			rc = file_copy(log_g.filename, name);
			if (!rc && unlink(log_g.filename) != 0)
				rc = errno;
		}
	}
	if (rc)
		log_err(err, errlen, "cannot move log file %s to %s: %s", log_g.filename,
			name ? name : dir, strerror(rc));
out:
	if (rc) {
		free(name);
		name = NULL;
		if (rc == ENOMEM)
			log_err(err, errlen, "log rotation: out of memory");
	}
	free(dir);
	*namep = name;
	return rc;
}

int log_file_rotate_locked(char *err, size_t errlen)
{
	char *name = NULL;
	uint64_t size;
	int fd, rc;

	if (!log_g.filename) {
		log_err(err, errlen, "no log file to rotate (logging to stderr)");
		return ENOENT;
	}
	log_out_flush_locked();
	rc = rotate_move(&name, err, errlen);
	if (!rc)
		rc = file_open(true, &fd, &size, err, errlen);
	if (rc) {
		/* carry on in the current file; try again after another period */
		log_g.file_entries = 0;
		if (log_g.cfg.rotate_size)
			log_g.file_bytes = 0;
		free(name);
		return rc;
	}
	if (log_g.fd != 2)
		close(log_g.fd);
	log_g.fd = fd;
	log_g.file_bytes = size;
	log_g.file_entries = 0;
	log_g.write_failed = false;
	free(log_g.prev_name);
	log_g.prev_name = name;
	log_header_write_locked();
	if (log_g.sync)
		log_out_flush_locked();
	return 0;
}

int log_file_cut_locked(char *err, size_t errlen)
{
	if (!log_g.filename) {
		log_err(err, errlen, "no log file to cut (logging to stderr)");
		return ENOENT;
	}
	log_g.olen = log_g.ooff = 0; /* these lines would be truncated away anyway */
	free(log_g.prev_name);
	log_g.prev_name = NULL;
	return log_file_open_locked(true, err, errlen);
}

void log_file_entry_done_locked(void)
{
	bool due;

	log_g.file_entries++;
	due = log_g.filename && ((log_g.cfg.rotate_size &&
				  log_g.file_bytes >= log_g.cfg.rotate_size) ||
				 (log_g.cfg.rotate_count &&
				  log_g.file_entries >= log_g.cfg.rotate_count));
	if (due) {
		char err[LOG_PATH_MAX + 256];

		if (log_file_rotate_locked(err, sizeof(err))) {
			header_line_put(err);
			fprintf(stderr, "imsd: %s\n", err);
		}
	}
	if (log_g.sync)
		log_out_flush_locked();
}

int log_file_rotate(char *err, size_t errlen)
{
	int rc;

	log_lock();
	rc = log_file_rotate_locked(err, errlen);
	log_unlock();
	return rc;
}

int log_file_cut(char *err, size_t errlen)
{
	int rc;

	log_lock();
	rc = log_file_cut_locked(err, errlen);
	log_unlock();
	return rc;
}

/* Header lines are one line each: control bytes become '?'. */
static char *header_dup(const char *s)
{
	size_t n = strnlen(s, LOG_HEADER_LINE_MAX - 1);
	char *d = malloc(n + 1);

	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		d[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	d[n] = '\0';
	return d;
}

void log_header_free_locked(void)
{
	for (size_t i = 0; i < log_g.hdr_n; i++)
		free(log_g.hdr[i]);
	log_g.hdr_n = 0;
}

int log_header_set(const char *const *lines, size_t count)
{
	char *copy[LOG_HEADER_MAX_LINES];

	if (count > LOG_HEADER_MAX_LINES)
		return ENOSPC;
	for (size_t i = 0; i < count; i++) {
		copy[i] = header_dup(lines[i] ? lines[i] : "");
		if (!copy[i]) {
			while (i--)
				free(copy[i]);
			return ENOMEM;
		}
	}
	log_lock();
	log_header_free_locked();
	for (size_t i = 0; i < count; i++) {
		log_g.hdr[i] = copy[i];
		if (log_g.inited && log_g.filename)
			header_line_put(copy[i]);
	}
	log_g.hdr_n = count;
	if (log_g.sync)
		log_out_flush_locked();
	log_unlock();
	return 0;
}

int log_header_add(const char *fmt, ...)
{
	char buf[LOG_HEADER_LINE_MAX], *line;
	va_list ap;
	int rc = 0;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	line = header_dup(buf);
	if (!line)
		return ENOMEM;
	log_lock();
	if (log_g.hdr_n >= LOG_HEADER_MAX_LINES) {
		rc = ENOSPC;
		free(line);
	} else {
		log_g.hdr[log_g.hdr_n++] = line;
		if (log_g.inited && log_g.filename)
			header_line_put(line);
		if (log_g.sync)
			log_out_flush_locked();
	}
	log_unlock();
	return rc;
}

void log_header_foreach(log_header_h *h, void *arg)
{
	log_lock();
	for (size_t i = 0; i < log_g.hdr_n; i++)
		h(log_g.hdr[i], arg);
	log_unlock();
}
