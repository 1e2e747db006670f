/*
 * api — the remote API (manual §6): JSON messages over WebSocket (RFC 6455)
 * on com_addr, served on the signalling thread's event loop next to SIP.
 *
 * Files: api.c (listening sockets, connections, wslay framing, output
 * bounds), api_http.c (the opening handshake), api_auth.c (§6.2 com_auth:
 * challenge, HMAC-SHA256, failures rate-limited), api_msg.c (§6.1: one
 * message or an array, the common fields, start_time / loop_count
 * scheduling, answers with time and utc, sim_events), api_cmd*.c (the
 * messages; one table, api_cmd_table.c, to which each service's messages
 * are added), api_log.c (log_get's per-connection cursor over the log
 * ring). docs/api.md describes the protocol for users.
 *
 * Services are read and acted on through their own functions (registrar,
 * hss, stats, core/log); nothing here is known to them. The configuration
 * is borrowed writable: config_set changes the properties the services
 * read at run time (binding_expires...).
 *
 * Ownership: struct api borrows everything in its params, which must
 * outlive it. Everything runs on the loop thread. Functions return 0 or an
 * errno value.
 */
#ifndef API_API_H
#define API_API_H

#include <stdbool.h>
#include <stdint.h>

struct api;
struct ims_cfg;
struct registrar;
struct hss;
struct stats;
struct smsc;
struct b2bua;
struct ipsec;
struct sip_stack;
struct ims_cfg_hdr;

/* Bounds (docs/api.md). */
#define API_PORT_DEFAULT 9003u
#define API_MSG_MAX ((size_t)1 << 20)	  /* one received message, bytes */
#define API_OUT_MAX ((size_t)64 << 20)	  /* queued to one client, bytes */
#define API_OUT_TOTAL_MAX ((size_t)256 << 20) /* to all: log_get answers wait */
#define API_OUT_ITER_MAX ((size_t)256 << 10)  /* written per loop iteration, all clients */
#define API_CONNS_MAX 2048u		  /* clients at once */
#define API_BATCH_MAX 1000u		  /* messages in one array */
#define API_REQS_MAX 100000u		  /* scheduled requests, all clients */
#define API_USERS_PART 500u		  /* users_get: users per loop iteration */
#define API_LOOP_COUNT_MAX 1000000u	  /* manual §6.1 */
#define API_AUTH_FAILS_MAX 5u		  /* failures per address ... */
#define API_AUTH_WINDOW_S 60u		  /* ... within this many seconds ... */
#define API_AUTH_LOCK_S 30u		  /* ... lock it this long */

struct api_prm {
	struct ims_cfg *cfg;	   /* borrowed; com_* and what config_set changes */
	struct registrar *reg;	   /* borrowed; NULL: users_get etc. answer an error */
	struct hss *hss;	   /* borrowed; with reg */
	struct smsc *sms;	   /* borrowed; NULL: sms, sms_flush answer an error */
	struct b2bua *b2bua;	   /* borrowed; NULL: dialog_get, dialog_set, mt_call
				    * answer an error */
	struct stats *stats;	   /* borrowed; NULL: stats answers an error */
	struct ipsec *ipsec;	   /* borrowed; NULL: ipsec lists no SA (IPsec off) */
	struct sip_stack *sip;	   /* borrowed; NULL: config_set refuses the SIP
				    * stack's properties (custom_headers...) */
	void (*quit_h)(void *arg); /* what `quit` does */
	void *quit_arg;
	const char *version; /* ready's version */
	/* Listen here instead of cfg->com_addr (tests); NULL: com_addr. */
	const char *addr;
};

/* Listens on com_addr (nothing, and 0, when it is not set), reads the
 * com_auth password, and starts sim_events. Errors are logged and in err. */
int api_alloc(struct api **apip, const struct api_prm *prm, char *err, size_t errlen);
/* Closes every connection and cancels every scheduled message. */
void api_free(struct api *api);
/* Gives the SIP stack the custom_headers rules of the configuration
 * (manual §5.2); at start and at each config_set of them. */
int api_sip_custom_set(struct sip_stack *sip, const struct ims_cfg_hdr *h, uint32_t n);
/* The bound port (tests with port 0), 0 if not listening. */
uint16_t api_port(const struct api *api);

#endif
