/* Helpers shared by the net unit tests. */
#include "net_testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "loop/loop.h"

struct until {
	bool (*cond)(void *arg);
	void *arg;
	struct loop_timer *poll;
	uint64_t deadline;
};

static void until_poll_h(void *arg)
{
	struct until *u = arg;

	if (u->cond(u->arg) || loop_now_ms() >= u->deadline) {
		loop_stop();
		return;
	}
	loop_timer_start(u->poll, 1, until_poll_h, u);
}

bool tu_run_until(bool (*cond)(void *arg), void *arg, uint64_t max_ms)
{
	struct until u = {.cond = cond, .arg = arg};

	if (cond(arg))
		return true;
	u.poll = loop_timer_alloc();
	if (!u.poll)
		return false;
	u.deadline = loop_now_ms() + max_ms;
	loop_timer_start(u.poll, 0, until_poll_h, &u);
	(void)loop_run();
	loop_timer_free(u.poll);
	return cond(arg);
}

static void once_h(void *arg)
{
	(void)arg;
	loop_stop();
}

void tu_run_once(void)
{
	struct loop_timer *t = loop_timer_alloc();

	if (!t)
		return;
	/* 1 ms, not 0: the loop polls the fds while it waits for the timer */
	loop_timer_start(t, 1, once_h, NULL);
	(void)loop_run();
	loop_timer_free(t);
}

static const uint8_t *find(const uint8_t *p, size_t len, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i + n <= len; i++) {
		if (!memcmp(p + i, s, n))
			return p + i;
	}
	return NULL;
}

size_t tu_frame_max;

int tu_frame(const uint8_t *buf, size_t len, size_t *msg_len, void *arg)
{
	const uint8_t *end, *cl;
	size_t hlen, body = 0;

	(void)arg;
	if (buf[0] < 'A' || buf[0] > 'Z')
		return EBADMSG;
	end = find(buf, len, "\r\n\r\n");
	if (!end)
		return ENODATA;
	hlen = (size_t)(end - buf) + 4;
	cl = find(buf, hlen, "\r\nContent-Length: ");
	if (cl) {
		cl += strlen("\r\nContent-Length: ");
		while (*cl >= '0' && *cl <= '9' && body < 1000000)
			body = body * 10 + (size_t)(*cl++ - '0');
	}
	if (tu_frame_max && hlen + body > tu_frame_max) {
		*msg_len = hlen + body;
		return EMSGSIZE;
	}
	if (len - hlen < body)
		return ENODATA;
	*msg_len = hlen + body;
	return 0;
}

int tu_client(const struct net_addr *a, int type)
{
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(net_addr_af(a), type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, net_addr_sa(a), net_addr_len(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

int tu_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}
