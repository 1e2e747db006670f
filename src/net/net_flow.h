/*
 * net/net_flow — a flow (RFC 5626 §3.1: a transport-layer association
 * between two hosts): how a message came in, and how to reach its sender
 * again over the same path. Named by value — transport, our local address,
 * the peer's address and, for a connection-oriented transport, the
 * connection — so that services can keep it (bindings, dialogs), store it
 * (the state file) and compare it, independently of start-up arrays.
 * Later transports (TLS, WebSocket, an IPsec SA) extend it.
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
	struct net_addr local; /* our address it arrived on */
	uint64_t conn_id;      /* TCP connection, 0 for UDP */
	unsigned sock_idx;     /* index of the sip_addr socket */
};

#endif
