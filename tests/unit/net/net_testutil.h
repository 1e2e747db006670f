/* Helpers shared by the net unit tests: running the loop until a condition
 * holds, a SIP-like framer, plain client sockets, descriptor counts. */
#ifndef NET_TESTUTIL_H
#define NET_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"

/* Runs the loop until cond(arg) holds or max_ms pass; returns cond(arg). */
bool tu_run_until(bool (*cond)(void *arg), void *arg, uint64_t max_ms);
/* Runs one loop iteration (before-sleep hooks, ready fds, due timers). */
void tu_run_once(void);

/* Headers end at CRLFCRLF; "Content-Length: N" gives the body. A first
 * byte that is not an upper-case letter is garbage (EBADMSG). */
/* Test framer: start line, headers, "Content-Length: N" body. Messages
 * longer than tu_frame_max (0: no bound) are EMSGSIZE with their length. */
extern size_t tu_frame_max;
int tu_frame(const uint8_t *buf, size_t len, size_t *msg_len, void *arg);

/* A blocking client socket connected to a (SOCK_STREAM or SOCK_DGRAM),
 * with a 5 s receive timeout; -1 on failure. */
int tu_client(const struct net_addr *a, int type);
/* Open descriptors of this process (entries of /proc/self/fd). */
int tu_fd_count(void);

#endif
