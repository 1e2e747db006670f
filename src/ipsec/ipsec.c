/*
 * ipsec/ipsec — set-up of the Gm datapath (TUN device, network namespace,
 * raw ESP sockets) and its I/O on the loop. Packet processing is in
 * ipsec_dp.c; see ipsec.h for the design and docs/ipsec.md for the set-ups.
 *
 * Root set-up: the TUN device is created here (name imsd-ipsec%d), then the
 * script ipsec_tun_setup_script_filename is written and run with "up": it
 * creates namespace imsd-ipsec-<pid>, moves the device there, adds the
 * sip_addr IPs, sets the MTU and routes everything through the device. The
 * TUN descriptor stays attached across the move. At exit the script runs
 * with "down" and deletes the namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "ipsec/ipsec_int.h"
#include "ipsec/ipsec_pkt.h"
#include "loop/loop.h"

extern char **environ;

static int tun_open(const char *name, char *ifname)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	snprintf(ifname, IPSEC_IFNAME_MAX, "%s", ifr.ifr_name);
	return fd;
}

int ipsec_in_netns(const struct ipsec *ip, int (*fn)(void *arg), void *arg)
{
	int err, err2 = 0;

	if (ip->netns_fd < 0)
		return fn(arg);
	if (setns(ip->netns_fd, CLONE_NEWNET) < 0)
		return errno;
	err = fn(arg);
	if (setns(ip->self_ns_fd, CLONE_NEWNET) < 0)
		err2 = errno;
	return err ? err : err2;
}

struct tun_attach {
	struct ipsec *ip;
	const char *name;
};

static int tun_attach_h(void *arg)
{
	struct tun_attach *a = arg;
	int fd = tun_open(a->name, a->ip->ifname);

	if (fd < 0)
		return -fd;
	a->ip->tun_fd = fd;
	return 0;
}

/* The script's text (plain `ip` commands), into ip->script_text. */
static int script_text(struct ipsec *ip, const struct ipsec_prm *prm)
{
	char a[NET_ADDR_STRLEN];
	size_t size = 0;
	FILE *f = open_memstream(&ip->script_text, &size);

	if (!f)
		return ENOMEM;
	fprintf(f, "#!/bin/sh\n# written by imsd: IPsec TUN set-up (docs/ipsec.md); $1 = up | down\n"
		   "NS='%s'\nIF='%s'\n"
		   "if [ \"$1\" = down ]; then ip netns del \"$NS\" 2>/dev/null; exit 0; fi\n"
		   "set -e\nip netns add \"$NS\"\nip link set dev \"$IF\" netns \"$NS\"\n"
		   "ip -n \"$NS\" link set lo up\n"
		   "ip -n \"$NS\" link set \"$IF\" up mtu %u\n",
		ip->netns, ip->ifname, prm->mtu ? prm->mtu : 1400);
	for (size_t i = 0; i < prm->local_count; i++) {
		bool v6 = net_addr_af(&prm->local[i]) == AF_INET6;
		const char *h = net_addr_print_host(&prm->local[i], a, sizeof(a));
		size_t hl = strlen(h);

		if (v6 && hl > 2 && h[0] == '[') { /* [v6] -> v6 */
			h++;
			hl -= 2;
		}
		fprintf(f, "ip -n \"$NS\" addr add %.*s/%s dev \"$IF\"%s\n", (int)hl, h,
			v6 ? "128" : "32", v6 ? " nodad" : "");
	}
	fprintf(f, "ip -n \"$NS\" route add default dev \"$IF\"\n"
		   "ip -n \"$NS\" -6 route add default dev \"$IF\" 2>/dev/null || true\n");
	return fclose(f) || !ip->script_text ? ENOMEM : 0;
}

/*
 * Writes ipsec_tun_setup_script_filename (mode 0700, created afresh: O_EXCL
 * after removing what was there). What runs is the text kept in memory, not
 * the file: another imsd started with the same file name may replace it at
 * any time, and must not make us set up or delete its namespace.
 */
static int script_write(struct ipsec *ip, const struct ipsec_prm *prm)
{
	size_t len;
	int fd, err = script_text(ip, prm);

	if (err)
		return err;
	(void)unlink(ip->script_path);
	fd = open(ip->script_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	if (fd < 0)
		return errno ? errno : EIO;
	len = strlen(ip->script_text);
	if (write(fd, ip->script_text, len) != (ssize_t)len)
		err = errno ? errno : EIO;
	if (close(fd) && !err)
		err = errno;
	return err;
}

static int script_run(const struct ipsec *ip, const char *arg)
{
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", ip->script_text,
			(char *)"ipsec_tun_setup_script", (char *)arg, NULL};
	pid_t pid;
	int st = 0;

	if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ))
		return EIO;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return EIO;
	return 0;
}

static int netns_open(struct ipsec *ip)
{
	char path[128];

	snprintf(path, sizeof(path), "/run/netns/%s", ip->netns);
	ip->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ip->netns_fd < 0)
		return errno;
	ip->self_ns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return ip->self_ns_fd < 0 ? errno : 0;
}

static int setup_root(struct ipsec *ip, const struct ipsec_prm *prm)
{
	int err;

	ip->tun_fd = tun_open("imsd-ipsec%d", ip->ifname);
	if (ip->tun_fd < 0) {
		err = -ip->tun_fd;
		ip->tun_fd = -1;
		return err;
	}
	snprintf(ip->netns, sizeof(ip->netns), "imsd-ipsec-%ld", (long)getpid());
	ip->script_path = strdup(prm->script_path ? prm->script_path : "/tmp/.ipsec_tun_setup_script");
	if (!ip->script_path)
		return ENOMEM;
	if ((err = script_write(ip, prm)))
		return err;
	ip->root_setup = true;
	if ((err = script_run(ip, "up")))
		return err;
	return netns_open(ip);
}

static int setup_user(struct ipsec *ip, const struct ipsec_prm *prm)
{
	struct tun_attach a = {ip, prm->ifname};
	int err;

	if (!prm->netns || strlen(prm->ifname) >= IPSEC_IFNAME_MAX)
		return EINVAL;
	snprintf(ip->netns, sizeof(ip->netns), "%s", prm->netns);
	if ((err = netns_open(ip)))
		return err;
	return ipsec_in_netns(ip, tun_attach_h, &a);
}

static int raw_open(int af)
{
	int fd = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP);
	int on = 1, dont = af == AF_INET ? IP_PMTUDISC_DONT : IPV6_PMTUDISC_DONT;

	if (fd < 0)
		return -1;
	/* the destination of each IPv6 ESP datagram (ipsec_raw6_dst) */
	if (af == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on)))
		log_write(LOG_IPSEC, LOG_LVL_WARN, LOG_DIR_NONE, "-",
			  "IPV6_RECVPKTINFO on the raw ESP socket: %s", strerror(errno));
	/* let the kernel fragment an ESP packet over the path MTU */
	(void)setsockopt(fd, af == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
			 af == AF_INET ? IP_MTU_DISCOVER : IPV6_MTU_DISCOVER, &dont, sizeof(dont));
	return fd;
}

/* --- I/O --- */

/* mh addressed to dst (port 0: raw sockets want it) from src's IP (pktinfo
 * in ctl); the fd of dst's family, -1 when missing. */
static int raw_msg(const struct ipsec *ip, struct msghdr *mh, struct sockaddr_storage *to,
		   char *ctl, const struct net_addr *src, const struct net_addr *dst)
{
	struct net_addr a = *dst;
	struct cmsghdr *cm;
	bool v6 = net_addr_af(dst) == AF_INET6;

	net_addr_set_port(&a, 0);
	memcpy(to, net_addr_sa(&a), net_addr_len(&a));
	mh->msg_name = to;
	mh->msg_namelen = net_addr_len(&a);
	mh->msg_control = ctl;
	mh->msg_controllen = v6 ? CMSG_SPACE(sizeof(struct in6_pktinfo))
				: CMSG_SPACE(sizeof(struct in_pktinfo));
	memset(ctl, 0, mh->msg_controllen);
	cm = CMSG_FIRSTHDR(mh);
	if (v6) {
		struct in6_pktinfo pi = {.ipi6_addr = src->u.in6.sin6_addr};

		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else {
		struct in_pktinfo pi = {.ipi_spec_dst = src->u.in.sin_addr};

		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
	return v6 ? ip->raw6_fd : ip->raw4_fd;
}

int ipsec_raw_send(struct ipsec *ip, const struct net_addr *src, const struct net_addr *dst,
		   const uint8_t *buf, size_t len)
{
	union {
		char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} c;
	struct sockaddr_storage to;
	struct iovec iov = {(void *)buf, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int fd = raw_msg(ip, &mh, &to, c.b, src, dst);

	if (fd < 0)
		return EAFNOSUPPORT;
	return sendmsg(fd, &mh, 0) < 0 ? errno : 0;
}

uint8_t *ipsec_raw_slot(struct ipsec *ip)
{
	if (!ip->tbuf)
		return NULL;
	if (ip->tn == IPSEC_TX_BATCH)
		ipsec_raw_flush(ip);
	return ip->tbuf + (size_t)ip->tn * IPSEC_BUF;
}

int ipsec_raw_queue(struct ipsec *ip, const struct net_addr *src, const struct net_addr *dst,
		    size_t len)
{
	unsigned k = ip->tn;
	struct msghdr *mh;

	if (!ip->tbuf || k >= IPSEC_TX_BATCH || len > IPSEC_BUF)
		return EINVAL;
	mh = &ip->tmsg[k].msg_hdr;
	memset(mh, 0, sizeof(*mh));
	ip->tiov[k] = (struct iovec){ip->tbuf + (size_t)k * IPSEC_BUF, len};
	mh->msg_iov = &ip->tiov[k];
	mh->msg_iovlen = 1;
	ip->tfd[k] = raw_msg(ip, mh, &ip->tdst[k], ip->tctl[k].b, src, dst);
	if (ip->tfd[k] < 0)
		return EAFNOSUPPORT;
	ip->tn++;
	return 0;
}

/* One sendmmsg(2) per run of the same socket; a datagram it refuses is
 * dropped and counted (UDP SIP retransmits), the rest still go. */
void ipsec_raw_flush(void *arg)
{
	struct ipsec *ip = arg;
	unsigned i = 0, n = ip->tn;

	while (i < n) {
		unsigned j = i + 1;
		int sent;

		while (j < n && ip->tfd[j] == ip->tfd[i])
			j++;
		sent = sendmmsg(ip->tfd[i], ip->tmsg + i, j - i, 0);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent > 0) {
			i += (unsigned)sent;
			continue;
		}
		if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
			ip->st.drop_io += j - i;
			i = j;
			continue;
		}
		ip->st.drop_io++; /* the error is datagram i's */
		i++;
	}
	ip->tn = 0;
}

static void tun_read_h(int fd, int events, void *arg)
{
	struct ipsec *ip = arg;
	struct net_addr src, dst;
	size_t olen = 0;

	(void)events;
	for (int i = 0; i < IPSEC_RX_BATCH; i++) {
		ssize_t n = read(fd, ip->buf, IPSEC_BUF);

		if (n <= 0)
			return;
		if (ipsec_dp_tun_in(ip, ip->buf, (size_t)n, ip->buf2, IPSEC_BUF, &olen, &src,
				    &dst))
			continue;
		if (ipsec_raw_send(ip, &src, &dst, ip->buf2, olen))
			ip->st.drop_io++;
	}
}

/* One datagram of a raw socket (slot i of the batch): v4 with its IP
 * header, v6 without (the destination from IPV6_PKTINFO). */
static int raw_take(struct ipsec *ip, unsigned i, bool v6, struct net_addr *src,
		    struct net_addr *dst, const uint8_t **esp, size_t *len)
{
	struct msghdr *mh = &ip->rmsg[i].msg_hdr;
	const uint8_t *buf = ip->rbuf + (size_t)i * IPSEC_BUF;
	size_t n = ip->rmsg[i].msg_len;
	struct ipsec_pkt p;

	memset(src, 0, sizeof(*src));
	if (!v6) {
		if (ipsec_pkt_parse(buf, n, &p) || p.proto != IPSEC_PROTO_ESP)
			return EBADMSG;
		*src = p.src;
		*dst = p.dst;
		*esp = p.l4;
		*len = p.l4_len;
		return 0;
	}
	if (net_addr_from_sa(src, (const struct sockaddr *)&ip->rsrc[i], mh->msg_namelen))
		return EBADMSG;
	if (ipsec_raw6_dst(mh, &ip->raw6_bound, dst) && !ip->no_dst_warned) {
		/* refused in ipsec_dp_esp_in and counted (drop_no_dst) */
		ip->no_dst_warned = true;
		log_write(LOG_IPSEC, LOG_LVL_WARN, LOG_DIR_NONE, "-",
			  "IPv6 ESP without IPV6_PKTINFO on an unbound raw socket: its "
			  "destination is unknown, refused (counters.ipsec.drop_no_dst)");
	}
	net_addr_set_port(src, 0);
	*esp = buf;
	*len = n;
	return 0;
}

/* Up to IPSEC_RAW_BATCH datagrams in one recvmmsg(2); how many, or -1. */
static int raw_recv_batch(struct ipsec *ip, int fd)
{
	int n;

	for (unsigned i = 0; i < IPSEC_RAW_BATCH; i++) {
		struct msghdr *mh = &ip->rmsg[i].msg_hdr;

		ip->riov[i].iov_base = ip->rbuf + (size_t)i * IPSEC_BUF;
		ip->riov[i].iov_len = IPSEC_BUF;
		mh->msg_iov = &ip->riov[i];
		mh->msg_iovlen = 1;
		mh->msg_name = &ip->rsrc[i];
		mh->msg_namelen = sizeof(ip->rsrc[i]);
		mh->msg_control = ip->rctl[i].b;
		mh->msg_controllen = sizeof(ip->rctl[i].b);
		mh->msg_flags = 0;
	}
	do
		n = recvmmsg(fd, ip->rmsg, IPSEC_RAW_BATCH, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	return n;
}

static void raw_read_h(int fd, int events, void *arg)
{
	struct ipsec *ip = arg;
	struct net_addr src, dst;
	const uint8_t *esp = NULL;
	size_t len = 0, olen = 0;
	bool v6 = fd == ip->raw6_fd;
	int n;

	(void)events;
	/* bounded: at most IPSEC_RX_BATCH datagrams a wake-up */
	for (int round = 0; round < IPSEC_RX_BATCH / IPSEC_RAW_BATCH; round++) {
		n = raw_recv_batch(ip, fd);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			if (raw_take(ip, (unsigned)i, v6, &src, &dst, &esp, &len)) {
				ip->st.drop_malformed++;
				continue;
			}
			if (ipsec_dp_esp_in(ip, &src, &dst, esp, len, ip->buf2, IPSEC_BUF,
					    &olen) ||
			    !olen)
				continue;
			if (write(ip->tun_fd, ip->buf2, olen) < 0)
				ip->st.drop_io++;
		}
		if (n < IPSEC_RAW_BATCH)
			return; /* drained */
	}
}

/* The address fd is bound to, or unspecified (an unbound raw socket). */
static void raw_bound(int fd, struct net_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(a, 0, sizeof(*a));
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) ||
	    net_addr_from_sa(a, (const struct sockaddr *)&ss, len))
		memset(a, 0, sizeof(*a));
}

static int io_start(struct ipsec *ip)
{
	int err;

	ip->raw4_fd = raw_open(AF_INET);
	ip->raw6_fd = raw_open(AF_INET6);
	raw_bound(ip->raw6_fd, &ip->raw6_bound);
	if (ip->raw4_fd < 0 && ip->raw6_fd < 0)
		return errno ? errno : EPERM;
	if ((err = loop_fd_listen(ip->tun_fd, LOOP_READ, tun_read_h, ip)))
		return err;
	if (ip->raw4_fd >= 0 && (err = loop_fd_listen(ip->raw4_fd, LOOP_READ, raw_read_h, ip)))
		return err;
	if (ip->raw6_fd >= 0 && (err = loop_fd_listen(ip->raw6_fd, LOOP_READ, raw_read_h, ip)))
		return err;
	if ((err = loop_before_sleep_add(ipsec_raw_flush, ip)))
		return err;
	ip->thook = true;
	return 0;
}

int ipsec_alloc(struct ipsec **ipp, const struct ipsec_prm *prm)
{
	struct ipsec *ip;
	int err;

	if (!ipp || !prm || (prm->ifname && !prm->netns) || (!prm->ifname && prm->netns) ||
	    prm->local_count > IPSEC_LOCAL_MAX)
		return EINVAL;
	ip = calloc(1, sizeof(*ip));
	if (!ip)
		return ENOMEM;
	ip->tun_fd = ip->raw4_fd = ip->raw6_fd = ip->netns_fd = ip->self_ns_fd = -1;
	ip->buf = malloc(IPSEC_BUF);
	ip->buf2 = malloc(IPSEC_BUF);
	ip->txbuf = malloc(IPSEC_BUF);
	ip->txbuf2 = malloc(IPSEC_BUF);
	ip->rbuf = malloc((size_t)IPSEC_RAW_BATCH * IPSEC_BUF);
	ip->tbuf = malloc((size_t)IPSEC_TX_BATCH * IPSEC_BUF);
	err = !ip->buf || !ip->buf2 || !ip->txbuf || !ip->txbuf2 || !ip->rbuf || !ip->tbuf
		      ? ENOMEM
		      : ipsec_table_alloc(&ip->table, prm->max_sets);
	if (!err)
		err = ipsec_table_locals_set(ip->table, prm->local, prm->local_count);
	if (!err)
		err = prm->ifname ? setup_user(ip, prm) : setup_root(ip, prm);
	if (!err)
		err = io_start(ip);
	if (err) {
		log_write(LOG_IPSEC, LOG_LVL_ERROR, LOG_DIR_NONE, "-",
			  "IPsec set-up failed (%s%s): %s", prm->ifname ? "ipsec_ifname " : "root",
			  prm->ifname ? prm->ifname : " set-up", strerror(err));
		ipsec_free(ip);
		return err;
	}
	log_write(LOG_IPSEC, LOG_LVL_INFO, LOG_DIR_NONE, "-", "IPsec on %s in namespace %s",
		  ip->ifname, ip->netns);
	*ipp = ip;
	return 0;
}

void ipsec_free(struct ipsec *ip)
{
	int *fds[3];

	if (!ip)
		return;
	if (ip->thook) {
		ipsec_raw_flush(ip);
		loop_before_sleep_remove(ipsec_raw_flush, ip);
	}
	fds[0] = &ip->tun_fd;
	fds[1] = &ip->raw4_fd;
	fds[2] = &ip->raw6_fd;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0) {
			loop_fd_close(*fds[i]);
			close(*fds[i]);
		}
	}
	if (ip->netns_fd >= 0)
		close(ip->netns_fd);
	if (ip->self_ns_fd >= 0)
		close(ip->self_ns_fd);
	if (ip->root_setup)
		(void)script_run(ip, "down");
	if (ip->script_path)
		(void)unlink(ip->script_path);
	free(ip->script_path);
	free(ip->script_text);
	ipsec_table_free(ip->table);
	free(ip->buf);
	free(ip->buf2);
	free(ip->txbuf);
	free(ip->txbuf2);
	free(ip->rbuf);
	free(ip->tbuf);
	free(ip);
}

int ipsec_net_attach(struct ipsec *ip, struct net *net)
{
	size_t n = net_sock_count(net);

	for (size_t i = 0; i < n; i++) {
		struct net_sock *sock = net_sock_get(net, i);
		const struct net_addr *la = net_sock_laddr(sock, NET_UDP);

		if (!net_sock_protected(sock) || !la || !net_addr_isset(la))
			continue;
		if (ip->udp_count == sizeof(ip->udp) / sizeof(ip->udp[0]))
			return ENOSPC;
		ip->udp[ip->udp_count].laddr = *la;
		ip->udp[ip->udp_count++].sock = sock;
		net_sock_udp_tap_set(sock, ipsec_udp_send, ip);
	}
	return 0;
}

struct net_sock *ipsec_udp_sock(const struct ipsec *ip, const struct net_addr *local,
				uint16_t port)
{
	for (size_t i = 0; i < ip->udp_count; i++) {
		const struct net_addr *la = &ip->udp[i].laddr;

		if (net_addr_port(la) == port && ipsec_addr_eq(la, local, false))
			return ip->udp[i].sock;
	}
	return NULL;
}

void ipsec_rx_handler_set(struct ipsec *ip, ipsec_rx_h *h, void *arg)
{
	ip->on_rx = h;
	ip->on_rx_arg = arg;
}

int ipsec_netns_fd(const struct ipsec *ip)
{
	return ip->netns_fd;
}

struct ipsec_table *ipsec_table(const struct ipsec *ip)
{
	return ip->table;
}

void ipsec_stats_get(const struct ipsec *ip, struct ipsec_stats *st)
{
	*st = ip->st;
}

const char *ipsec_ifname(const struct ipsec *ip)
{
	return ip->ifname;
}
