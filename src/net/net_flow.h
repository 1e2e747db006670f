/*
 * net/net_flow — a flow (RFC 5626 §3.1: a transport-layer association
 * between two hosts): how a message came in, and how to reach its sender
 * again over the same path. Named by value — transport, our local address,
 * the peer's address and, for a connection-oriented transport, the
 * connection — so that services can keep it (bindings, dialogs), store it
 * (the state file) and compare it, independently of start-up arrays.
 * Later transports (TLS, WebSocket, an IPsec SA) extend it.
 *
 * No index into start-up arrays: the socket to send on is found again from
 * `local` (net_sock_by_local), so a flow kept across a restart whose
 * sip_addr list was reordered still leaves from the same address. A
 * `local` that is no longer ours makes the SIP stack fall back to its
 * first socket of the peer's family, and log it (docs/sip-stack.md).
 *
 * A plain value: no ownership, copy freely.
 */
#ifndef NET_NET_FLOW_H
#define NET_NET_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "net/net_addr.h"

struct net_flow {
	bool reliable;	       /* TCP */
	struct net_addr peer;  /* source address and port */
	/* our address it arrived on: for UDP the socket's bound address (the
	 * wildcard when bound to one), for TCP the connection's local
	 * address; unset when unknown (then the first socket of the peer's
	 * family) */
	struct net_addr local;
	uint64_t conn_id; /* TCP connection, 0 for UDP or when none is open */
};

#endif
