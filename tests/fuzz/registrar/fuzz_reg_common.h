/*
 * Shared by the registrar's fuzz targets: the configuration and HSS they
 * run on, an injected clock, and a request function that only checks what
 * the registrar would send (NOTIFYs).
 */
#ifndef FUZZ_REG_COMMON_H
#define FUZZ_REG_COMMON_H

#include <stdint.h>

#include "config/ims_cfg.h"
#include "hss/hss.h"
#include "sip/sip_stack.h"

/* monotonic ms returned by fz_now() */
extern uint64_t fz_clock;
/* When not 0, the requests fz_request takes fail with this code: their
 * answer handler is told by fz_failures_tell(), after the registrar's call
 * returned, as the SIP stack tells a send that failed at once (a TCP
 * connect refused) from the loop. */
extern uint16_t fz_fail;
void fz_failures_tell(void);

/* Loads cfg_text, builds its HSS and the loop (aborts on failure), and
 * quiets the log to errors. */
void fz_reg_setup(const char *cfg_text, struct ims_cfg **cfg, struct hss **hss);
int fz_request(struct sip_stack *stack, const struct sip_stack_req_prm *prm, void *arg);
uint64_t fz_now(void *arg);

#endif
