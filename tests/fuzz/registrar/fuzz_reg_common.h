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
/* When not 0, fz_request reports this failure to the NOTIFY's answer
 * handler before it returns, as the SIP stack does when a send fails at
 * once (a TCP connect refused): the registrar must not free what its
 * caller still walks. */
extern uint16_t fz_fail_sync;

/* Loads cfg_text, builds its HSS and the loop (aborts on failure), and
 * quiets the log to errors. */
void fz_reg_setup(const char *cfg_text, struct ims_cfg **cfg, struct hss **hss);
int fz_request(struct sip_stack *stack, const struct sip_stack_req_prm *prm, void *arg);
uint64_t fz_now(void *arg);

#endif
