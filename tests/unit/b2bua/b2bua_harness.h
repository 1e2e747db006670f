/*
 * Harness of the b2bua unit tests (test_b2bua.c, test_b2bua_mt.c): imsd's
 * stack, registrar, CSCF stage, b2bua and relay on the real event loop over
 * loopback, made from the test file's CFG, and plain UDP sockets as phones.
 */
#ifndef TEST_B2BUA_HARNESS_H
#define TEST_B2BUA_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "b2bua/b2bua.h"
#include "sip/sip_msg.h"

/* The test file's configuration (extended JSON), read by setup_prm. */
extern const char *CFG;

struct b2bt {
	struct ims_cfg *cfg;
	struct hss *hss;
	struct sip_stack *stack;
	struct registrar *reg;
	struct cscf *cscf;
	struct b2bua *b2b;
	struct media_relay *relay;
	uint16_t port;	/* imsd's */
	uint16_t port6; /* imsd's on [::1] (setup_dual), 0 none */
	int cseq;
};
extern struct b2bt T;

struct ue {
	int fd;
	uint16_t port;
	const char *name;
	bool v6; /* on [::1], talking to imsd's [::1] (setup_dual) */
};

extern const char SDP[];
/* The first port of the relay's block (setup_relay). */
extern uint16_t T_port_lo;

void run_once(unsigned ms);

bool readable(int fd);

/* The next message a UE gets (the loop runs meanwhile; bounded: 4 s). */
struct sip_msg *ue_recv(struct ue *u);

/* The next message that is not a 100 Trying or a retransmission of meth. */
struct sip_msg *ue_recv_skip(struct ue *u);
/* The next message (ue_recv_skip) is a request of method meth, or a
 * response with status scode: checked and freed. */
void ue_expect_req(struct ue *u, enum sip_method meth);
void ue_expect_scode(struct ue *u, uint16_t scode);

/* Nothing arrives within ms. */
void ue_quiet(struct ue *u, unsigned ms);

void ue_send(struct ue *u, const char *text);

void ue_open(struct ue *u, const char *name);
/* A UE on [::1] (imsd listening there too: setup_dual). */
void ue_open6(struct ue *u, const char *name);
/* "127.0.0.1" or "[::1]": u's host in its Via and Contact. */
const char *ue_host(const struct ue *u);

char *hdr(const struct sip_msg *m, const char *name);

/* REGISTER from u; imei: its Contact's +sip.instance IMEI, "" none. */
void ue_register_imei(struct ue *u, const char *imei);

void ue_register(struct ue *u);

/* A response of a UE to a request it got (To tag added when tag set). */
void answer(struct ue *u, const struct sip_msg *req, int scode, const char *reason,
		   const char *tag, const char *body);
/* The same with extra header lines (complete, may be NULL). */
void answer_x(struct ue *u, const struct sip_msg *req, int scode, const char *reason,
	      const char *tag, const char *extra, const char *body);

/* A request of the caller in its dialog with imsd; resp: a 1xx/2xx imsd
 * sent it (its To tag and Contact). */
void ue_req_caller(struct ue *a, const struct sip_msg *resp, const char *meth, int cseq,
		   const char *extra, const char *body);
/* A request of a callee in the (early) dialog of the INVITE it got, whose
 * 1xx/2xx carried To tag `tag`. */
void ue_req_callee(struct ue *b, const struct sip_msg *inv, const char *tag,
		   const char *meth, int cseq, const char *extra, const char *body);

/* The first block of 200 ports on 127.0.0.1 whose first 16 are free: the
 * machine is shared, and a bench may hold whole ranges. */
uint16_t free_block(void);

int setup_prm(uint32_t timer_c_ms, bool relay);

int setup(void **state);

int setup_relay(void **state);

/* imsd on 127.0.0.1 and [::1], the relay on both (forking to bindings of
 * both families). */
int setup_dual(void **state);

int teardown(void **state);

void ue_close(struct ue *u);

uint16_t body_port(const struct sip_msg *m);

#endif
