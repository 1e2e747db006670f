/*
 * bench/media — the kernel's floor under a userspace relay on this machine:
 * the CPU of the bare system calls that relay one datagram on loopback, with
 * no event loop, no lookup and no check. Two sockets: a "UE" sends a 172-byte
 * RTP-sized datagram to the "relay" socket, the relay reads it and sends it
 * back to the UE, the UE reads it. The relay's share of one round is one read
 * and one send (whose loopback delivery into the UE's socket the kernel
 * charges to the sender, as it does for the real relay); the UE's share is
 * the same, so the relay's floor per packet is half the round.
 *
 *   media_floor [ROUNDS]        (default 300000 per variant)
 *
 * Variants: recvmsg/sendmsg, recvmmsg/sendmsg, recvmsg/sendmmsg,
 * recvmmsg/sendmmsg (vlen 32, one datagram waiting, as for a voice stream),
 * and sendto on a connected socket (not usable by the relay: latching must
 * see and count packets from other sources). Prints ns of process CPU per
 * relayed packet for each.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32

static double cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int udp_local(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof(*a)) ||
	    getsockname(fd, (struct sockaddr *)a, &len)) {
		perror("socket");
		exit(1);
	}
	return fd;
}

static char bufs[BATCH][2048];

int main(int argc, char **argv)
{
	static const char *names[] = {"recvmsg + sendmsg", "recvmmsg + sendmsg",
				      "recvmsg + sendmmsg", "recvmmsg + sendmmsg",
				      "recvmsg + send (connected)"};
	struct sockaddr_in ue_a, relay_a;
	struct sockaddr_storage src[BATCH];
	struct mmsghdr m[BATCH], o;
	struct iovec iov[BATCH], oi;
	char pkt[172] = {(char)0x80};
	long rounds = argc > 1 ? atol(argv[1]) : 300000;
	int ue = udp_local(&ue_a), relay = udp_local(&relay_a), relay_c;

	if (rounds <= 0 || rounds > 100000000)
		return 2;
	relay_c = socket(AF_INET, SOCK_DGRAM, 0);
	{
		struct sockaddr_in a = relay_a;

		a.sin_port = 0;
		if (relay_c < 0 || bind(relay_c, (struct sockaddr *)&a, sizeof(a)) ||
		    connect(relay_c, (struct sockaddr *)&ue_a, sizeof(ue_a)))
			return 1;
	}
	memset(m, 0, sizeof(m));
	for (int k = 0; k < BATCH; k++) {
		iov[k].iov_base = bufs[k];
		iov[k].iov_len = sizeof(bufs[k]);
		m[k].msg_hdr.msg_iov = &iov[k];
		m[k].msg_hdr.msg_iovlen = 1;
	}
	memset(&o, 0, sizeof(o));
	oi.iov_base = pkt;
	oi.iov_len = sizeof(pkt);
	o.msg_hdr.msg_iov = &oi;
	o.msg_hdr.msg_iovlen = 1;
	o.msg_hdr.msg_name = &ue_a;
	o.msg_hdr.msg_namelen = sizeof(ue_a);
	for (int v = 0; v < 5; v++) {
		int rx = relay;
		double t0 = cpu_ns();

		for (long i = 0; i < rounds; i++) {
			(void)sendto(ue, pkt, sizeof(pkt), 0, (struct sockaddr *)&relay_a,
				     sizeof(relay_a));
			for (int k = 0; k < ((v == 1 || v == 3) ? BATCH : 1); k++) {
				m[k].msg_hdr.msg_name = &src[k];
				m[k].msg_hdr.msg_namelen = sizeof(src[k]);
			}
			if (v == 1 || v == 3)
				(void)recvmmsg(rx, m, BATCH, MSG_DONTWAIT, NULL);
			else
				(void)recvmsg(rx, &m[0].msg_hdr, MSG_DONTWAIT);
			if (v == 4)
				(void)send(relay_c, pkt, sizeof(pkt), MSG_DONTWAIT);
			else if (v >= 2)
				(void)sendmmsg(relay, &o, 1, MSG_DONTWAIT);
			else
				(void)sendmsg(relay, &o.msg_hdr, MSG_DONTWAIT);
			(void)recv(ue, bufs[0], sizeof(bufs[0]), MSG_DONTWAIT);
		}
		printf("%-28s %6.0f ns CPU per relayed packet (half a round)\n", names[v],
		       (cpu_ns() - t0) / (double)rounds / 2);
	}
	close(relay_c);
	close(relay);
	close(ue);
	return 0;
}
