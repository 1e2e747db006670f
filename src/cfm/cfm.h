/*
 * cfm — the callflow_modifier engine (manual §5.2.1 `callflow_modifier`,
 * docs/callflow_modifier.md): which modifier of a user's list applies to a
 * message at one step of a call flow, and the pieces a modifier adds to
 * what imsd sends (its custom_headers, its content, its log line).
 *
 * The services call it where a step happens: the CSCF stage for the
 * requests it receives (cscf/cscf_cfm.c), the b2bua for the answers it
 * sends the caller (b2bua/b2bua_cfm.c). They say whose list applies (the
 * manual: on MO dialogs the callee's, on MT dialogs the caller's; for a
 * request outside a call, its sender's) and what the counterpart is; the
 * engine checks method (step), dir, impu, imei and access_network, and
 * counts triggers for tts and ttl.
 *
 * Counters: each modifier of the configuration has one trigger counter
 * (ims_cfg_cfm.count, owned by the configuration that defines it: a
 * config_set or users_add that defines the user again starts it at 0).
 * Loop thread only.
 *
 * Ownership: everything is borrowed from the configuration and the
 * caller. Functions return 0 or an errno.
 */
#ifndef CFM_CFM_H
#define CFM_CFM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/ims_cfg.h"
#include "core/mbuf.h"
#include "sip/sip_msg.h"

struct hss_user;

/* Bytes of a modifier's content file, at most. */
#define CFM_CONTENT_MAX (16u * 1024u)

/* Which modifiers a match considers: all, only those with a code (a
 * response to generate), only those without. */
#define CFM_CODE_ANY 0
#define CFM_CODE_WITH 1
#define CFM_CODE_WITHOUT (-1)

/* One message at one step, as the engine matches it. */
struct cfm_match {
	const struct ims_cfg_impu_opts *opts; /* whose list; NULL: none applies */
	uint8_t step;			      /* enum ims_cfg_cfm_step of the message */
	bool sos;			      /* a REGISTER for emergency (REGISTER.SOS) */
	uint8_t dir;			      /* IMS_CFG_DIR_RX or IMS_CFG_DIR_TX */
	const char *peer_impu;		      /* the counterpart's IMPU URI, NULL unknown */
	const char *peer_imei;		      /* its IMEI digits, NULL unknown */
	uint8_t peer_rat;		      /* IMS_CFG_RAT_* of its P-Access-Network-Info */
	int8_t code;			      /* CFM_CODE_*: which modifiers count */
};

/*
 * The first modifier of m->opts's list that matches m and is due: its
 * method (unset: any step but INVITE.TRYING), dir (both: either), impu, imei and
 * access_network filters. A matching modifier is triggered: its counter
 * goes up; it applies from trigger tts + 1 on and, with ttl, for ttl
 * triggers; a triggered modifier that does not apply lets the search go
 * on. NULL: none applies.
 */
const struct ims_cfg_cfm *cfm_find(const struct cfm_match *m);

/* The options of IMPU i of u when they hold a modifier, else NULL: the
 * sites fill a cfm_match (IMEI from the registrar, RAT, URIs) only for a
 * list that can match, not for every message of users without one. */
const struct ims_cfg_impu_opts *cfm_opts(const struct hss_user *u, uint32_t i);

/* The step of a response to an INVITE: INVITE.TRYING (100),
 * INVITE.RINGING (180), INVITE.SESSION_PROGRESS (183), INVITE.OK (any
 * final); IMS_CFG_STEP_ANY for another provisional. */
uint8_t cfm_step_of_invite_resp(uint16_t scode);
/* The RAT of a message's P-Access-Network-Info (TS 24.229 §7.2A.4):
 * 3GPP-E-UTRAN* lte, 3GPP-NR* nr, IEEE-802.11* n3gpp; 0 without one. */
uint8_t cfm_rat_of(const struct sip_msg *msg);
/* Whether want (a modifier's impu as written: "sip:x@d", "x", "tel:+1",
 * "+1") names the IMPU uri: the whole URI, or without a scheme its user
 * part (number). */
bool cfm_impu_eq(const char *want, const char *uri);

/* The IMEI (14 digits) of u's binding whose requests come from flow (any
 * of its bindings when flow is NULL) into out, or NULL when none says. */
struct registrar;
struct net_flow;
const char *cfm_imei_of(const struct registrar *reg, const struct hss_user *u,
			const struct net_flow *flow, char out[16]);

/* The modifier's custom_headers as header lines ("name: value\r\n") into
 * hdrs; a rule with replace (or no value) first removes the lines of that
 * name hdrs already holds. ENOSPC: over hdrs's bound. */
int cfm_hdrs_apply(const struct ims_cfg_cfm *cm, struct mbuf *hdrs);
/* The content file, at most CFM_CONTENT_MAX bytes, into body (emptied
 * first). ENOENT: no content set; an errno of the file otherwise. */
int cfm_content_read(const struct ims_cfg_cfm *cm, struct mbuf *body);
/* The modifier's `log` as an IMS-layer info line naming what it applied
 * to (what, e.g. "INVITE from sip:a@ims.test"). */
void cfm_log(const struct ims_cfg_cfm *cm, const char *what);

#endif
