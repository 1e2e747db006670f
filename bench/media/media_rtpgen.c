/*
 * bench/media — the UEs of the RTP relay benchmark: for every call in the
 * pairs file, two UDP sockets (UE A and UE B) that each send one RTP
 * packet per tick to their relay port and count what arrives from the
 * other side. Same generator for imsd and rtpengine.
 *
 *   media_rtpgen PAIRS_FILE SECONDS PPS PAYLOAD
 *
 * Pairs file lines: "ueA_port relayA_port ueB_port relayB_port" (all on
 * 127.0.0.1). Prints "sent=N received=M" at the end (after a 1 s drain).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct ue {
	int fd;
	struct sockaddr_in relay;
	uint16_t seq;
	uint32_t ssrc, ts;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int ue_open(struct ue *u, unsigned port, unsigned relay_port, uint32_t ssrc)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int big = 1 << 20;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (u->fd < 0)
		return -1;
	if (bind(u->fd, (struct sockaddr *)&a, sizeof(a))) {
		int err = errno;

		close(u->fd);
		u->fd = -1;
		errno = err;
		return -1;
	}
	(void)setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	u->relay = a;
	u->relay.sin_port = htons((uint16_t)relay_port);
	u->ssrc = ssrc;
	return 0;
}

static void ue_send(struct ue *u, uint8_t *pkt, size_t len, uint64_t *sent)
{
	pkt[0] = 0x80;
	pkt[1] = 96;
	pkt[2] = (uint8_t)(u->seq >> 8);
	pkt[3] = (uint8_t)u->seq;
	memcpy(pkt + 4, &u->ts, 4);
	memcpy(pkt + 8, &u->ssrc, 4);
	u->seq++;
	u->ts += 320;
	if (sendto(u->fd, pkt, len, 0, (struct sockaddr *)&u->relay, sizeof(u->relay)) ==
	    (ssize_t)len)
		(*sent)++;
}

/* Reads what is ready; returns the number of ready sockets. */
static int drain(int ep, uint64_t *received, int timeout_ms)
{
	struct epoll_event ev[256];
	static uint8_t buf[16][2048];
	struct mmsghdr m[16];
	struct iovec iov[16];
	int n = epoll_wait(ep, ev, 256, timeout_ms);

	for (int i = 0; i < 16; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = sizeof(buf[i]);
		memset(&m[i].msg_hdr, 0, sizeof(m[i].msg_hdr));
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	for (int i = 0; i < n; i++) {
		int k;

		while ((k = recvmmsg(ev[i].data.fd, m, 16, MSG_DONTWAIT, NULL)) > 0)
			*received += (unsigned)k;
	}
	return n;
}

int main(int argc, char **argv)
{
	unsigned ua, ra, ub, rb, n = 0, cap = 1024;
	struct ue *ues = malloc(cap * 2 * sizeof(*ues));
	uint64_t sent = 0, received = 0, t0, tick, next, end;
	unsigned skipped = 0;
	uint8_t pkt[2048];
	size_t len;
	FILE *f;
	int ep;

	if (argc != 5 || !ues) {
		fprintf(stderr, "usage: %s PAIRS_FILE SECONDS PPS PAYLOAD\n", argv[0]);
		return 2;
	}
	f = fopen(argv[1], "r");
	ep = epoll_create1(0);
	if (!f || ep < 0)
		return 1;
	while (fscanf(f, "%u %u %u %u", &ua, &ra, &ub, &rb) == 4) {
		struct epoll_event ev = {.events = EPOLLIN};

		if (n == cap) {
			cap *= 2;
			ues = realloc(ues, cap * 2 * sizeof(*ues));
			if (!ues)
				return 1;
		}
		if (ue_open(&ues[2 * n], ua, ra, 2 * n + 1) ||
		    ue_open(&ues[2 * n + 1], ub, rb, 2 * n + 2)) {
			/* another program holds the port (ephemeral range): that
			 * call stays silent, and the count says so */
			fprintf(stderr, "call skipped, UE port %u/%u: %s\n", ua, ub, strerror(errno));
			if (ues[2 * n].fd >= 0)
				close(ues[2 * n].fd);
			skipped++;
			continue;
		}
		for (int k = 0; k < 2; k++) {
			ev.data.fd = ues[2 * n + k].fd;
			epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
		}
		n++;
	}
	fclose(f);
	len = 12 + (size_t)atoi(argv[4]);
	memset(pkt, 0x55, sizeof(pkt));
	tick = 1000000u / (uint64_t)atoi(argv[3]);
	t0 = now_us();
	end = t0 + (uint64_t)atoi(argv[2]) * 1000000u;
	/* a generator that falls behind sends less, it never runs over */
	for (next = t0; now_us() < end; next += tick) {
		uint64_t t;

		for (unsigned i = 0; i < 2 * n; i++) {
			ue_send(&ues[i], pkt, len, &sent);
			if ((i & 255) == 255) /* behind or not, keep reading */
				drain(ep, &received, 0);
		}
		while ((t = now_us()) < next + tick)
			drain(ep, &received, (int)((next + tick - t) / 1000));
	}
	/* until nothing arrives for 1 s (at most 30 s): on a loaded machine the
	 * relay may still be forwarding what was sent last */
	for (uint64_t t = now_us(), last = t, stop = t + 30000000u;
	     t - last < 1000000u && t < stop; t = now_us()) {
		if (drain(ep, &received, 100) > 0)
			last = now_us();
	}
	printf("streams=%u skipped_calls=%u sent=%llu received=%llu elapsed_s=%.2f\n", 2 * n,
	       skipped,
	       (unsigned long long)sent, (unsigned long long)received,
	       (double)(now_us() - t0) / 1e6);
	return 0;
}
