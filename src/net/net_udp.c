/* net/udp — batched UDP sockets (recvmmsg/sendmmsg). */
#include "net/net_udp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "loop/loop.h"

/* Bytes of pending datagrams one socket holds before it must flush. */
#define NET_UDP_TX_ARENA ((size_t)256 * 1024)

struct udp_pending {
	struct net_addr dst;
	size_t off;
	size_t len;
};

struct net_udp {
	int fd;
	bool registered; /* fd is watched by the loop */
	struct net_addr laddr;
	struct net_sock *sock; /* borrowed */
	net_recv_h *recv_h;
	void *arg;
	size_t dgram_max;

	uint8_t *rxbuf; /* owned: NET_UDP_BATCH slots of dgram_max */
	struct mmsghdr rmsg[NET_UDP_BATCH];
	struct iovec riov[NET_UDP_BATCH];
	struct sockaddr_storage rsrc[NET_UDP_BATCH];

	uint8_t *txbuf; /* owned: NET_UDP_TX_ARENA bytes */
	size_t txlen;
	struct udp_pending tpend[NET_UDP_BATCH];
	unsigned tcount;

	/* On the list of sockets with queued datagrams while tcount > 0. */
	struct net_udp *dirty_next, **dirty_pprev;

	net_udp_tap_h *tap; /* IPsec's direct path: sends go there first */
	void *tap_arg;

	uint64_t rx, rx_calls, rx_dropped, tx, tx_calls, tx_dropped;
};

/* Sockets with queued datagrams, across every net set. The before-sleep
 * hook walks this list, so a hook left behind by a freed net set finds
 * nothing to do instead of a dangling pointer. */
static struct net_udp *udp_dirty;

static void dirty_add(struct net_udp *u)
{
	if (u->dirty_pprev)
		return;
	u->dirty_next = udp_dirty;
	if (udp_dirty)
		udp_dirty->dirty_pprev = &u->dirty_next;
	udp_dirty = u;
	u->dirty_pprev = &udp_dirty;
}

static void dirty_remove(struct net_udp *u)
{
	if (!u->dirty_pprev)
		return;
	*u->dirty_pprev = u->dirty_next;
	if (u->dirty_next)
		u->dirty_next->dirty_pprev = u->dirty_pprev;
	u->dirty_next = NULL;
	u->dirty_pprev = NULL;
}

static void udp_destroy(void *data)
{
	struct net_udp *u = data;

	dirty_remove(u);
	if (u->registered)
		loop_fd_close(u->fd);
	if (u->fd >= 0)
		close(u->fd);
	free(u->rxbuf);
	free(u->txbuf);
}

static void udp_buf_set(int fd, int size)
{
	/* The FORCE variants pass rmem_max/wmem_max when we may (root);
	 * otherwise the kernel caps the plain request, which is fine. */
	if (size <= 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static void udp_deliver(struct net_udp *u, unsigned i)
{
	struct mmsghdr *m = &u->rmsg[i];
	struct net_msg msg = {.kind = NET_UDP, .sock = u->sock, .dst = u->laddr};

	if (m->msg_hdr.msg_flags & MSG_TRUNC) {
		/* Larger than dgram_max: only a prefix arrived. */
		u->rx_dropped++;
		return;
	}
	if (net_addr_from_sa(&msg.src, (struct sockaddr *)&u->rsrc[i],
			     m->msg_hdr.msg_namelen)) {
		u->rx_dropped++;
		return;
	}
	msg.buf = u->riov[i].iov_base;
	msg.len = m->msg_len;
	u->rx++;
	u->recv_h(&msg, u->arg);
}

static void udp_fd_h(int fd, int events, void *arg)
{
	struct net_udp *u = arg;
	int n;

	(void)events;
	mem_ref(u); /* recv_h may free the net set and with it u */
	while (u->fd == fd) {
		for (unsigned i = 0; i < NET_UDP_BATCH; i++) {
			u->rmsg[i].msg_hdr.msg_namelen = sizeof(u->rsrc[i]);
			u->rmsg[i].msg_hdr.msg_flags = 0;
		}
		n = recvmmsg(fd, u->rmsg, NET_UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_write(LOG_SIP, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
					  "udp recv on fd %d: %s", fd, strerror(errno));
			break;
		}
		u->rx_calls++;
		for (int i = 0; i < n && u->fd == fd; i++)
			udp_deliver(u, (unsigned)i);
		/* A short batch drained the socket (also right for an
		 * edge-triggered loop: new datagrams raise a new edge). */
		if (n < NET_UDP_BATCH)
			break;
	}
	mem_deref(u);
}

static int udp_bufs_alloc(struct net_udp *u)
{
	u->rxbuf = malloc((size_t)NET_UDP_BATCH * u->dgram_max);
	u->txbuf = malloc(NET_UDP_TX_ARENA);
	if (!u->rxbuf || !u->txbuf)
		return ENOMEM;
	for (unsigned i = 0; i < NET_UDP_BATCH; i++) {
		u->riov[i].iov_base = u->rxbuf + i * u->dgram_max;
		u->riov[i].iov_len = u->dgram_max;
		u->rmsg[i].msg_hdr.msg_iov = &u->riov[i];
		u->rmsg[i].msg_hdr.msg_iovlen = 1;
		u->rmsg[i].msg_hdr.msg_name = &u->rsrc[i];
	}
	return 0;
}

static int udp_socket_open(struct net_udp *u, const struct net_addr *bind_to,
			   int sock_buf)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int af = net_addr_af(bind_to), on = 1;

	u->fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0)
		return errno;
	/* No SO_REUSEADDR: on Linux it lets a second UDP socket bind the
	 * very same address and port, so a second imsd would start and
	 * silently take part of the traffic instead of failing here. */
	if (af == AF_INET6 &&
	    setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)))
		return errno;
	udp_buf_set(u->fd, sock_buf);
	if (bind(u->fd, net_addr_sa(bind_to), net_addr_len(bind_to)))
		return errno;
	if (getsockname(u->fd, (struct sockaddr *)&ss, &sl))
		return errno;
	return net_addr_from_sa(&u->laddr, (struct sockaddr *)&ss, sl);
}

int net_udp_alloc(struct net_udp **up, const struct net_udp_prm *prm)
{
	struct net_udp *u;
	int err;

	if (!up || !prm || !prm->bind || !prm->recv_h || !net_addr_isset(prm->bind))
		return EINVAL;
	u = mem_zalloc(sizeof(*u), udp_destroy);
	if (!u)
		return ENOMEM;
	u->fd = -1;
	u->sock = prm->sock;
	u->recv_h = prm->recv_h;
	u->arg = prm->arg;
	u->dgram_max = prm->dgram_max;
	if (!u->dgram_max || u->dgram_max > NET_UDP_DGRAM_MAX)
		u->dgram_max = NET_UDP_DGRAM_MAX;
	err = udp_bufs_alloc(u);
	if (err)
		goto out;
	err = udp_socket_open(u, prm->bind, prm->sock_buf);
	if (err)
		goto out;
	err = loop_fd_listen(u->fd, LOOP_READ, udp_fd_h, u);
	u->registered = !err;
out:
	if (err)
		u = mem_deref(u);
	*up = u;
	return err;
}

const struct net_addr *net_udp_laddr(const struct net_udp *u)
{
	return &u->laddr;
}

void net_udp_flush(struct net_udp *u)
{
	struct mmsghdr msgs[NET_UDP_BATCH];
	struct iovec iov[NET_UDP_BATCH];
	unsigned i = 0, n = u->tcount;
	int sent;

	memset(msgs, 0, sizeof(msgs));
	for (unsigned k = 0; k < n; k++) {
		iov[k].iov_base = u->txbuf + u->tpend[k].off;
		iov[k].iov_len = u->tpend[k].len;
		msgs[k].msg_hdr.msg_iov = &iov[k];
		msgs[k].msg_hdr.msg_iovlen = 1;
		msgs[k].msg_hdr.msg_name = (void *)net_addr_sa(&u->tpend[k].dst);
		msgs[k].msg_hdr.msg_namelen = net_addr_len(&u->tpend[k].dst);
	}
	while (i < n && u->fd >= 0) {
		sent = sendmmsg(u->fd, msgs + i, n - i, 0);
		u->tx_calls++;
		if (sent > 0) {
			i += (unsigned)sent;
			u->tx += (unsigned)sent;
			continue;
		}
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 &&
		    (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
			/* Socket buffer full: UDP SIP retransmits, so drop
			 * rather than hold an unbounded backlog. */
			u->tx_dropped += n - i;
			log_write(LOG_SIP, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
				  "udp send: %u datagrams dropped: %s", n - i,
				  strerror(errno));
			break;
		}
		/* The error belongs to datagram i (e.g. unreachable
		 * network); skip it and send the others. */
		u->tx_dropped++;
		if (log_on(LOG_SIP, LOG_LVL_DEBUG)) {
			char a[NET_ADDR_STRLEN];

			log_write(LOG_SIP, LOG_LVL_DEBUG, LOG_DIR_NONE, NULL,
				  "udp send to %s: %s",
				  net_addr_print(&u->tpend[i].dst, a, sizeof(a)),
				  strerror(errno));
		}
		i++;
	}
	u->tcount = 0;
	u->txlen = 0;
	dirty_remove(u);
}

void net_udp_flush_all(void *arg)
{
	(void)arg;
	while (udp_dirty)
		net_udp_flush(udp_dirty);
}

int net_udp_send(struct net_udp *u, const struct net_addr *dst, const void *buf,
		 size_t len)
{
	struct udp_pending *p;

	if (u->fd < 0)
		return ENOTCONN;
	if (net_addr_af(dst) != net_addr_af(&u->laddr))
		return EAFNOSUPPORT;
	if (len > NET_UDP_DGRAM_MAX)
		return EMSGSIZE;
	if (u->tap) {
		int err = u->tap(&u->laddr, dst, buf, len, u->tap_arg);

		if (err != ENOENT) {
			u->tx += !err;
			u->tx_dropped += !!err;
			return err;
		}
	}
	if (u->tcount == NET_UDP_BATCH || u->txlen + len > NET_UDP_TX_ARENA)
		net_udp_flush(u);
	p = &u->tpend[u->tcount++];
	p->dst = *dst;
	p->off = u->txlen;
	p->len = len;
	if (len)
		memcpy(u->txbuf + u->txlen, buf, len);
	u->txlen += len;
	if (u->tcount == NET_UDP_BATCH)
		net_udp_flush(u);
	else
		dirty_add(u);
	return 0;
}

void net_udp_tap_set(struct net_udp *u, net_udp_tap_h *h, void *arg)
{
	u->tap = h;
	u->tap_arg = arg;
}

void net_udp_inject(struct net_udp *u, const struct net_addr *src, const uint8_t *buf,
		    size_t len)
{
	struct net_msg msg = {.kind = NET_UDP, .sock = u->sock, .dst = u->laddr,
			      .src = *src, .buf = buf, .len = len};

	if (u->fd < 0 || len > u->dgram_max) {
		u->rx_dropped++;
		return;
	}
	mem_ref(u); /* recv_h may free the net set and with it u */
	u->rx++;
	u->recv_h(&msg, u->arg);
	mem_deref(u);
}

void net_udp_stats_add(const struct net_udp *u, struct net_stats *st)
{
	st->udp_rx += u->rx;
	st->udp_rx_calls += u->rx_calls;
	st->udp_rx_dropped += u->rx_dropped;
	st->udp_tx += u->tx;
	st->udp_tx_calls += u->tx_calls;
	st->udp_tx_dropped += u->tx_dropped;
}
