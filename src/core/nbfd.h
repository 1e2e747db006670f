/*
 * core/nbfd — writing to a descriptor we were given (stderr, stdout) without
 * ever blocking the loop thread, whatever the descriptor is.
 *
 * A terminal nobody reads, or a pipe whose reader is stuck, would block
 * write(2). So: a socket is written with send(MSG_DONTWAIT); a pipe or a
 * terminal through a descriptor of our own opened O_NONBLOCK (opening
 * /proc/self/fd/N makes a new open file description, so N's flags, shared
 * with the shell that started us, are left alone); anything else after a
 * poll() that says it is writable. A regular file is written plainly, as a
 * log file is (a disk does not wait for a reader).
 */
#ifndef CORE_NBFD_H
#define CORE_NBFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum nbfd_mode {
	NBFD_UNSET = 0, /* not looked at yet */
	NBFD_FILE,	/* regular file: plain write */
	NBFD_SOCK,	/* socket: send(MSG_DONTWAIT) */
	NBFD_OWN,	/* pipe, terminal: own O_NONBLOCK descriptor */
	NBFD_POLL,	/* anything else: poll(), then write */
};

struct nbfd {
	int orig;     /* the descriptor given */
	int fd;	      /* the one written and polled for POLLOUT (own, or orig) */
	uint8_t mode; /* enum nbfd_mode */
};

/* Looks at fd and picks the way to write it. */
void nbfd_open(struct nbfd *o, int fd);
/* write(2) that does not block (but for NBFD_FILE): -1 with EAGAIN when
 * the reader does not take anything now; -1 with another errno (EPIPE
 * for a hung-up terminal or pipe) when the output is gone. */
ssize_t nbfd_write(const struct nbfd *o, const void *p, size_t n);
/* Closes our own descriptor, if any; back to NBFD_UNSET on orig. */
void nbfd_close(struct nbfd *o);

#endif
