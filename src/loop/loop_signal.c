/*
 * loop_signal — signals delivered through a signalfd on the loop thread.
 *
 * The signals are blocked (so no asynchronous handler ever runs) and read
 * from one signalfd whose mask grows with each loop_signal_add(). Handlers
 * therefore run on the loop thread between other events and may do
 * anything a normal handler may, e.g. start an orderly shutdown.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "loop/loop_int.h"

static struct {
	int fd;
	bool saved;    /* `old` holds the mask before our first block */
	sigset_t old;  /* restored by loop_signal_close */
	sigset_t mask; /* signals we deliver */
	struct {
		loop_signal_h *h;
		void *arg; /* borrowed */
	} tab[_NSIG];
} sg = {.fd = -1};

static void loop_signal_fd_h(int fd, int events, void *arg)
{
	struct signalfd_siginfo si[16];
	ssize_t n;

	/* Bounded: signals coalesce, so a full buffer means a burst; the
	 * rest is read on the next iteration (level-triggered). */
	n = read(fd, si, sizeof(si));
	if (n <= 0)
		return;
	for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
		uint32_t s = si[i].ssi_signo;

		if (s < _NSIG && sg.tab[s].h)
			sg.tab[s].h((int)s, sg.tab[s].arg);
	}
}

int loop_signal_add(int signo, loop_signal_h *h, void *arg)
{
	sigset_t nm;
	int fd, err;

	if (!loop_ready() || !h || signo <= 0 || signo >= _NSIG || signo == SIGKILL ||
	    signo == SIGSTOP)
		return EINVAL;
	if (!sg.saved) {
		pthread_sigmask(SIG_BLOCK, NULL, &sg.old);
		sigemptyset(&sg.mask);
		sg.saved = true;
	}
	nm = sg.mask;
	if (sigaddset(&nm, signo))
		return EINVAL;
	err = pthread_sigmask(SIG_BLOCK, &nm, NULL);
	if (err)
		return err;
	fd = signalfd(sg.fd, &nm, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return errno;
	if (sg.fd < 0) {
		err = loop_fd_listen(fd, LOOP_READ, loop_signal_fd_h, NULL);
		if (err) {
			close(fd);
			return err;
		}
		sg.fd = fd;
	}
	sg.mask = nm;
	sg.tab[signo].h = h;
	sg.tab[signo].arg = arg;
	return 0;
}

void loop_signal_close(void)
{
	struct signalfd_siginfo si[16];

	if (sg.fd >= 0) {
		/* Drop what is pending so that unblocking below does not run
		 * the default action (e.g. terminate) for it. */
		while (read(sg.fd, si, sizeof(si)) > 0)
			;
		loop_fd_close(sg.fd);
		close(sg.fd);
		sg.fd = -1;
	}
	if (sg.saved) {
		pthread_sigmask(SIG_SETMASK, &sg.old, NULL);
		sg.saved = false;
	}
	memset(sg.tab, 0, sizeof(sg.tab));
}
