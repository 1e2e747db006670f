/*
 * Test harness for the transaction layer: a fake clock advanced by hand
 * (a binary heap of timers), a send function that records what was sent,
 * and a TU that records what it was told.
 */
#ifndef TEST_SIP_TSX_HARNESS_H
#define TEST_SIP_TSX_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/sip_tsx.h"

#define H_MAX_EVENTS 64

struct h_sent {
	uint64_t at; /* fake time of the send */
	char *data;  /* NUL-terminated copy */
	size_t len;
	uint64_t conn;
};

enum h_ev_kind { H_EV_REQ, H_EV_ACK, H_EV_STRAY, H_EV_SERR, H_EV_RESP };

struct h_event {
	enum h_ev_kind kind;
	uint64_t at;
	uint64_t tsx_id; /* 0 if none */
	uint16_t scode;	 /* H_EV_RESP */
	bool has_msg;
	int err; /* H_EV_SERR */
	char method[16];
};

struct h {
	uint64_t now;
	struct sip_tsx_env env;
	struct sip_tsx_stack *st;
	/* send log (not kept when keep_sent is false, only counted) */
	bool keep_sent;
	struct h_sent sent[H_MAX_EVENTS];
	size_t nsent;
	size_t nsent_total;
	int send_err; /* returned by the send function when nonzero */
	/* TU log */
	struct h_event ev[H_MAX_EVENTS];
	size_t nev;
	size_t nev_total;
	uint16_t auto_reply;	  /* request_h answers with this status at once */
	struct sip_tsx *last_tsx; /* last server transaction created */
	bool unproven; /* set before h_setup: the peer has not answered before */
};

extern struct h H;

/* Stack with these timers (ms); also installs the fake clock. */
void h_setup(uint32_t t1, uint32_t t2, uint32_t t4);
/* Same with a byte bound on the live transactions (0: the default). */
void h_setup_bytes(uint32_t t1, uint32_t t2, uint32_t t4, size_t bytes_max);
void h_teardown(void);
/* Moves the fake clock forward, firing due timers in order. */
void h_advance(uint64_t ms);
size_t h_timers_pending(void);
/* Decodes text (datagram) and feeds it to the stack from a peer. */
int h_recv(const char *text, bool reliable);
struct sip_tsx_dst h_dst(bool reliable);
/* Starts a client transaction with this request text. */
struct sip_tsx *h_request(const char *text, bool reliable);
void h_sent_clear(void);
void h_ev_clear(void);
/* Number of sends whose text starts with prefix. */
size_t h_sent_count(const char *prefix);
/* The fake times of the sends starting with prefix, in out (max n). */
size_t h_sent_times(const char *prefix, uint64_t *out, size_t n);
size_t h_ev_count(enum h_ev_kind kind);
const struct h_event *h_ev_last(enum h_ev_kind kind);
/* The header line "Name: ..." (without CRLF) of a sent message, or "". */
const char *h_hdr_of(const char *msg, const char *name, char *out, size_t size);

#endif
