/*
 * sip/sip_log — SIP messages in the server log (manual §8.1): one line per
 * message at info level ("time sip FROM|TO id <start line> ..."), the whole
 * message at debug level through log_write_data(), cut at the layer's
 * max_size. `id` is the SIP dialog id (NULL or "" for none).
 */
#ifndef SIP_SIP_LOG_H
#define SIP_SIP_LOG_H

#include <stddef.h>

#include "core/log.h"
#include "sip/sip_msg.h"

/* peer: "udp:192.0.2.1:5060" or similar, may be NULL. */
void sip_msg_log(const struct sip_msg *msg, enum log_dir dir, const char *id,
		 const char *peer);
/* The same for bytes about to be sent (or that failed to decode). */
void sip_buf_log(const void *buf, size_t len, enum log_dir dir, const char *id,
		 const char *peer);

#endif
