/* net/conn — reading, framing, queueing and closing one TCP connection. */
#include "net/net_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "loop/loop.h"

#define NET_CONN_TBUF_INIT ((size_t)4096)

/* What c's receive buffer counts toward the set's rx_total_max: the bytes
 * above the first buffer (which every connection may have). */
static size_t rbuf_extra(size_t rsize)
{
	return rsize > NET_CONN_RBUF_INIT ? rsize - NET_CONN_RBUF_INIT : 0;
}

/* The receive buffer now has rsize bytes (it had c->rsize). */
static void rbuf_count(struct net_conn *c, size_t rsize)
{
	if (c->tcp) {
		c->tcp->rx_mem -= rbuf_extra(c->rsize);
		c->tcp->rx_mem += rbuf_extra(rsize);
	}
	c->rsize = rsize;
}

static void conn_destroy(void *data)
{
	struct net_conn *c = data;

	loop_timer_free(c->tmr);
	if (c->registered)
		loop_fd_close(c->fd);
	if (c->fd >= 0)
		close(c->fd);
	free(c->rbuf);
	free(c->tbuf);
}

int net_conn_alloc(struct net_tcp *t, int fd, struct net_sock *sock,
		   const struct net_addr *peer, bool outgoing, struct net_conn **cp)
{
	struct net_conn *c = mem_zalloc(sizeof(*c), conn_destroy);

	if (!c)
		return ENOMEM;
	c->fd = -1;
	c->tmr = loop_timer_alloc();
	if (!c->tmr) {
		mem_deref(c);
		return ENOMEM;
	}
	c->fd = fd;
	c->tcp = t;
	c->id = ++t->next_id;
	c->sock = sock;
	c->peer = *peer;
	c->outgoing = outgoing;
	c->state = NET_CONN_CONNECTING;
	c->last_ms = loop_now_ms();
	net_tcp_link(t, c);
	*cp = c;
	return 0;
}

static void bufs_free(struct net_conn *c)
{
	rbuf_count(c, 0);
	free(c->rbuf);
	free(c->tbuf);
	c->rbuf = c->tbuf = NULL;
	c->rsize = c->rlen = c->tsize = c->thead = c->tend = 0;
}

/* Closes the socket and takes c off the IP table; c stays findable by id
 * (as closed) until its close notice ran. */
static void conn_shut(struct net_conn *c, int err)
{
	struct net_tcp *t = c->tcp;

	if (c->state == NET_CONN_CLOSED)
		return;
	c->state = NET_CONN_CLOSED;
	c->err = err;
	if (c->registered)
		loop_fd_close(c->fd);
	c->registered = false;
	close(c->fd);
	c->fd = -1;
	loop_timer_cancel(c->tmr);
	if (t) {
		net_tcp_unlink_ip(t, c);
		t->st_closed++;
	}
}

static void conn_notify_h(void *arg)
{
	struct net_conn *c = arg;
	struct net_tcp *t = c->tcp;

	net_tcp_unlink_id(c);
	/* The receive buffer may have been in use by recv_h when the close
	 * came; only now is nobody reading it. */
	bufs_free(c);
	c->tcp = NULL;
	if (t && t->prm.close_h)
		t->prm.close_h(c, c->err, t->prm.arg);
	mem_deref(c); /* the tables' reference */
}

/* Every close goes through here: the upper layer hears of it from the
 * loop (a zero-delay timer), never from inside the call that caused it. */
static void conn_close(struct net_conn *c, int err)
{
	if (c->state == NET_CONN_CLOSED)
		return;
	conn_shut(c, err);
	loop_timer_start(c->tmr, 0, conn_notify_h, c);
}

static void conn_close_log(struct net_conn *c, int err, const char *what)
{
	char a[NET_ADDR_STRLEN];

	log_write(LOG_SIP, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
		  "tcp %s %s (conn %llu): %s; closing", c->outgoing ? "to" : "from",
		  net_addr_print(&c->peer, a, sizeof(a)), (unsigned long long)c->id,
		  what);
	conn_close(c, err);
}

void net_conn_detach(struct net_conn *c)
{
	conn_shut(c, 0);
	loop_timer_cancel(c->tmr);
	net_tcp_unlink_id(c);
	rbuf_count(c, 0);
	c->tcp = NULL;
	mem_deref(c);
}

void net_conn_close(struct net_conn *c)
{
	if (c)
		conn_close(c, 0);
}

/* ---- timers ---- */

/* The deadlines of an open connection, earliest first when due: no first
 * message from an accepted connection (hello_ms), a message left
 * unfinished (partial_ms), nothing either way (idle_ms). A slow-loris
 * peer that opens and never sends, or sends a byte now and then, is gone
 * within seconds instead of idle_ms. */
enum conn_due { DUE_NONE = 0, DUE_HELLO, DUE_PARTIAL, DUE_IDLE };

static uint64_t conn_next_due(const struct net_conn *c, enum conn_due *why)
{
	const struct net_tcp_prm *p = &c->tcp->prm;
	uint64_t at = UINT64_MAX;

	*why = DUE_NONE;
	if (p->hello_ms && !c->outgoing && !c->got_msg) {
		at = c->open_ms + p->hello_ms;
		*why = DUE_HELLO;
	}
	if (p->partial_ms && c->partial_ms && c->partial_ms + p->partial_ms < at) {
		at = c->partial_ms + p->partial_ms;
		*why = DUE_PARTIAL;
	}
	if (p->idle_ms && c->last_ms + p->idle_ms < at) {
		at = c->last_ms + p->idle_ms;
		*why = DUE_IDLE;
	}
	return at;
}

static void conn_timer_h(void *arg);

/* (Re)starts the timer for the earliest deadline. */
static void conn_arm(struct net_conn *c)
{
	enum conn_due why;
	uint64_t at = conn_next_due(c, &why), now = loop_now_ms();

	if (why == DUE_NONE) {
		loop_timer_cancel(c->tmr);
		return;
	}
	loop_timer_start(c->tmr, at > now ? at - now : 0, conn_timer_h, c);
}

static void conn_timer_h(void *arg)
{
	struct net_conn *c = arg;
	const struct net_tcp_prm *p = &c->tcp->prm;
	enum conn_due why;
	char what[96];

	if (c->state != NET_CONN_OPEN)
		return;
	if (conn_next_due(c, &why) > loop_now_ms()) {
		conn_arm(c); /* an earlier deadline has moved on */
		return;
	}
	switch (why) {
	case DUE_HELLO:
		snprintf(what, sizeof(what), "no complete message within %u ms of opening",
			 (unsigned)p->hello_ms);
		break;
	case DUE_PARTIAL:
		snprintf(what, sizeof(what), "message unfinished after %u ms",
			 (unsigned)p->partial_ms);
		break;
	default:
		snprintf(what, sizeof(what), "idle timeout");
		break;
	}
	c->tcp->st_timeouts++;
	conn_close_log(c, ETIMEDOUT, what);
}

static void conn_connect_timeout_h(void *arg)
{
	conn_close_log(arg, ETIMEDOUT, "connect timeout");
}

static void conn_active(struct net_conn *c)
{
	c->last_ms = loop_now_ms();
}

/* ---- writing ---- */

static int conn_interest(struct net_conn *c)
{
	int ev = LOOP_READ;

	if (c->tend > c->thead)
		ev |= LOOP_WRITE;
	return ev;
}

static void conn_write(struct net_conn *c)
{
	struct net_tcp *t = c->tcp;
	ssize_t n;

	while (c->thead < c->tend) {
		n = send(c->fd, c->tbuf + c->thead, c->tend - c->thead,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			conn_close(c, errno);
			return;
		}
		c->thead += (size_t)n;
		t->st_tx_bytes += (size_t)n;
	}
	/* Drained: stop asking for EPOLLOUT, and give back a queue that
	 * only a burst needed. */
	c->thead = c->tend = 0;
	if (c->tsize > 16 * NET_CONN_TBUF_INIT) {
		free(c->tbuf);
		c->tbuf = NULL;
		c->tsize = 0;
	}
	if (loop_fd_modify(c->fd, LOOP_READ))
		conn_close(c, EIO);
}

static int conn_queue(struct net_conn *c, const uint8_t *p, size_t len)
{
	size_t queued = c->tend - c->thead, want;
	bool was_empty = queued == 0;
	uint8_t *nb;

	if (len > c->tcp->prm.tx_max - queued) {
		conn_close_log(c, ENOBUFS, "send queue full (slow peer)");
		return ENOBUFS;
	}
	if (c->tsize - c->tend < len && c->thead) {
		memmove(c->tbuf, c->tbuf + c->thead, queued);
		c->thead = 0;
		c->tend = queued;
	}
	if (c->tsize - c->tend < len) {
		want = c->tsize ? c->tsize : NET_CONN_TBUF_INIT;
		while (want < c->tend + len)
			want *= 2;
		nb = realloc(c->tbuf, want);
		if (!nb)
			return ENOMEM;
		c->tbuf = nb;
		c->tsize = want;
	}
	memcpy(c->tbuf + c->tend, p, len);
	c->tend += len;
	if (was_empty && c->state == NET_CONN_OPEN &&
	    loop_fd_modify(c->fd, LOOP_READ | LOOP_WRITE)) {
		conn_close(c, EIO);
		return EIO;
	}
	return 0;
}

int net_tcp_conn_send(struct net_conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;
	int err;

	if (!c || c->state == NET_CONN_CLOSED || !c->tcp)
		return ENOTCONN;
	if (!len)
		return 0;
	conn_active(c);
	if (c->state == NET_CONN_OPEN && c->tend == c->thead) {
		/* Nothing queued: write at once and queue only a rest. */
		n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			err = errno;
			if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
				conn_close(c, err);
				return err;
			}
			n = 0;
		}
		c->tcp->st_tx_bytes += (size_t)n;
		p += n;
		len -= (size_t)n;
		if (!len)
			return 0;
	}
	return conn_queue(c, p, len);
}

/* ---- reading ---- */

/* At a message boundary: 4 = a "\r\n\r\n" keep-alive ping, 2 = a lone CRLF
 * to skip, 0 = cannot tell yet, -1 = no CRLF (a message starts). */
static int crlf_kind(const uint8_t *p, size_t left)
{
	if (p[0] != '\r')
		return -1;
	if (left < 2)
		return 0;
	if (p[1] != '\n')
		return -1;
	if (left < 3)
		return 0;
	if (p[2] != '\r')
		return 2;
	if (left < 4)
		return 0;
	return p[3] == '\n' ? 4 : 2;
}

static void conn_deliver(struct net_conn *c, const uint8_t *p, size_t len, bool oversize)
{
	struct net_tcp *t = c->tcp;
	struct net_msg msg = {
	    .kind = NET_TCP,
	    .sock = c->sock,
	    .src = c->peer,
	    .dst = c->local,
	    .conn_id = c->id,
	    .buf = p,
	    .len = len,
	    .oversize = oversize,
	};

	if (oversize)
		t->st_rx_oversize++;
	else
		t->st_rx_msgs++;
	c->got_msg = true;
	conn_active(c);
	t->prm.recv_h(&msg, t->prm.arg);
}

static void conn_compact(struct net_conn *c, size_t pos)
{
	if (pos) {
		c->rlen -= pos;
		memmove(c->rbuf, c->rbuf + pos, c->rlen);
	}
	if (!c->rlen && c->rsize > NET_CONN_RBUF_INIT) {
		free(c->rbuf);
		c->rbuf = NULL;
		rbuf_count(c, 0);
	}
}

/* Unfinished bytes (a message begun, or an oversize one being skipped)
 * start the partial_ms deadline; none end it. */
static void conn_partial(struct net_conn *c)
{
	if (!c->rlen && !c->skip) {
		c->partial_ms = 0;
		return;
	}
	if (c->partial_ms)
		return;
	c->partial_ms = loop_now_ms();
	if (c->tcp->prm.partial_ms)
		conn_arm(c);
}

/* A printable excerpt of bytes the framer rejected, for the log line. */
static const char *excerpt(const uint8_t *p, size_t len, char *out, size_t size)
{
	size_t n = len < size - 1 ? len : size - 1;

	for (size_t i = 0; i < n; i++)
		out[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
	out[n] = '\0';
	return out;
}

/* Hands every complete message in the buffer up, then moves the rest of
 * the buffer to its start once (not once per message). */
static void conn_parse(struct net_conn *c)
{
	struct net_tcp *t = c->tcp;
	size_t pos = 0, mlen;
	int k, err;

	while (pos < c->rlen) {
		const uint8_t *p = c->rbuf + pos;
		size_t left = c->rlen - pos;

		if (c->skip) {
			/* the rest of an oversize message, answered already */
			size_t n = c->skip < left ? (size_t)c->skip : left;

			c->skip -= n;
			pos += n;
			continue;
		}
		k = crlf_kind(p, left);
		if (k == 0)
			break;
		if (k == 4) {
			t->st_pings++;
			conn_active(c);
			pos += 4;
			(void)net_tcp_conn_send(c, "\r\n", 2);
			if (c->state != NET_CONN_OPEN)
				return;
			continue;
		}
		if (k == 2) {
			pos += 2;
			continue;
		}
		mlen = 0;
		err = t->prm.frame_h(p, left, &mlen, t->prm.arg);
		if (err == ENODATA)
			break;
		if (err == EMSGSIZE && mlen) {
			/* the layer above logs and answers it */
			size_t n = mlen < left ? mlen : left;

			c->skip = mlen - n;
			pos += n;
			conn_deliver(c, p, n, true);
			if (c->state != NET_CONN_OPEN)
				return;
			continue;
		}
		if (err || !mlen || mlen > left) {
			char ex[49], what[80];

			snprintf(what, sizeof(what), "unframeable bytes \"%s\"",
				 excerpt(p, left, ex, sizeof(ex)));
			conn_close_log(c, EBADMSG, what);
			return;
		}
		pos += mlen;
		conn_deliver(c, p, mlen, false);
		/* recv_h may have closed c or freed the whole net set. */
		if (c->state != NET_CONN_OPEN)
			return;
	}
	conn_compact(c, pos);
	if (c->rlen >= t->prm.rx_max) {
		conn_close_log(c, EMSGSIZE, "message over the receive bound");
		return;
	}
	conn_partial(c);
}

static int rbuf_grow(struct net_conn *c)
{
	const struct net_tcp *t = c->tcp;
	size_t max = t->prm.rx_max, want;
	uint8_t *nb;

	want = c->rsize ? c->rsize * 2 : NET_CONN_RBUF_INIT;
	if (want > max)
		want = max;
	if (want <= c->rsize)
		return EMSGSIZE;
	/* Unfinished messages of all connections together: many peers each
	 * holding a large unfinished header section must not add up. */
	if (rbuf_extra(want) - rbuf_extra(c->rsize) > t->prm.rx_total_max - t->rx_mem)
		return ENOBUFS;
	nb = realloc(c->rbuf, want);
	if (!nb)
		return ENOMEM;
	c->rbuf = nb;
	rbuf_count(c, want);
	return 0;
}

static void conn_read(struct net_conn *c)
{
	size_t space;
	ssize_t n;
	int err;

	while (c->state == NET_CONN_OPEN) {
		if (c->rlen == c->rsize) {
			err = rbuf_grow(c);
			if (err) {
				conn_close_log(c, err,
					       err == ENOBUFS
						   ? "receive memory for unfinished "
						     "messages (all connections) used up"
						   : "receive buffer");
				return;
			}
		}
		space = c->rsize - c->rlen;
		n = read(c->fd, c->rbuf + c->rlen, space);
		if (n > 0) {
			c->rlen += (size_t)n;
			c->tcp->st_rx_bytes += (size_t)n;
			conn_parse(c);
			/* A short read drained the socket (the rule for an
			 * edge-triggered loop too). */
			if ((size_t)n < space)
				return;
			continue;
		}
		if (n == 0) {
			conn_close(c, 0);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			conn_close(c, errno);
		return;
	}
}

/* ---- events ---- */

static int sock_error(int fd)
{
	int err = 0;
	socklen_t sl = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl))
		return errno;
	return err;
}

static void conn_connected(struct net_conn *c)
{
	int err = sock_error(c->fd);
	char a[NET_ADDR_STRLEN];

	if (err) {
		log_write(LOG_SIP, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
			  "tcp connect to %s: %s", net_addr_print(&c->peer, a, sizeof(a)),
			  strerror(err));
		conn_close(c, err);
		return;
	}
	c->tcp->st_connected++;
	net_conn_open(c);
	if (c->state == NET_CONN_OPEN && c->tend > c->thead)
		conn_write(c);
}

static void conn_fd_h(int fd, int events, void *arg)
{
	struct net_conn *c = arg;

	if (c->fd != fd || c->state == NET_CONN_CLOSED)
		return;
	mem_ref(c); /* recv_h may drop every other reference */
	if (c->state == NET_CONN_CONNECTING) {
		conn_connected(c);
		goto out;
	}
	if (events & (LOOP_READ | LOOP_ERROR))
		conn_read(c);
	if (c->state == NET_CONN_OPEN && (events & LOOP_WRITE))
		conn_write(c);
	/* An error or hang-up that reading did not turn into a close. */
	if (c->state == NET_CONN_OPEN && (events & LOOP_ERROR))
		conn_close(c, sock_error(fd));
out:
	mem_deref(c);
}

void net_conn_open(struct net_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int err;

	if (!getsockname(c->fd, (struct sockaddr *)&ss, &sl))
		(void)net_addr_from_sa(&c->local, (struct sockaddr *)&ss, sl);
	c->state = NET_CONN_OPEN;
	conn_active(c);
	c->open_ms = c->last_ms;
	if (c->registered)
		err = loop_fd_modify(c->fd, conn_interest(c));
	else
		err = loop_fd_listen(c->fd, conn_interest(c), conn_fd_h, c);
	if (err) {
		conn_close(c, err);
		return;
	}
	c->registered = true;
	conn_arm(c);
}

int net_conn_connect(struct net_conn *c)
{
	int err = loop_fd_listen(c->fd, LOOP_WRITE, conn_fd_h, c);

	if (err) {
		conn_close(c, err);
		return err;
	}
	c->registered = true;
	loop_timer_start(c->tmr, c->tcp->prm.connect_ms, conn_connect_timeout_h, c);
	return 0;
}

/* ---- accessors ---- */

uint64_t net_conn_id(const struct net_conn *c)
{
	return c->id;
}

const struct net_addr *net_conn_peer(const struct net_conn *c)
{
	return &c->peer;
}

const struct net_addr *net_conn_local(const struct net_conn *c)
{
	return &c->local;
}

struct net_sock *net_conn_sock(const struct net_conn *c)
{
	return c->sock;
}

bool net_conn_outgoing(const struct net_conn *c)
{
	return c->outgoing;
}

int net_conn_fd(const struct net_conn *c)
{
	return c->state == NET_CONN_CLOSED ? -1 : c->fd;
}
