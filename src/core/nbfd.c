/* core/nbfd — see nbfd.h. */
#include "core/nbfd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void nbfd_open(struct nbfd *o, int fd)
{
	struct stat st;
	bool known = fstat(fd, &st) == 0;
	char path[32];
	int own;

	o->orig = o->fd = fd;
	if (known && S_ISREG(st.st_mode)) {
		o->mode = NBFD_FILE;
		return;
	}
	if (known && S_ISSOCK(st.st_mode)) {
		o->mode = NBFD_SOCK;
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	own = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (own >= 0) {
		o->fd = own;
		o->mode = NBFD_OWN;
		return;
	}
	o->mode = NBFD_POLL;
}

ssize_t nbfd_write(const struct nbfd *o, const void *p, size_t n)
{
	struct pollfd pfd = {.fd = o->fd, .events = POLLOUT};

	switch (o->mode) {
	case NBFD_SOCK:
		return send(o->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	case NBFD_POLL:
		if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT)) {
			/* closed or hung up: for good; else not now */
			errno =
			    pfd.revents & (POLLERR | POLLHUP | POLLNVAL) ? EPIPE : EAGAIN;
			return -1;
		}
		return write(o->fd, p, n);
	default:
		return write(o->fd, p, n);
	}
}

void nbfd_close(struct nbfd *o)
{
	if (o->mode == NBFD_OWN)
		close(o->fd);
	o->fd = o->orig;
	o->mode = NBFD_UNSET;
}
