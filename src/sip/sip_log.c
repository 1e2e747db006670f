/* sip/sip_log — SIP message log lines; see sip_log.h. */
#include "sip/sip_log.h"

#include <string.h>

/* The start line is shown at most this long on the info line. */
#define SIP_LOG_LINE_MAX 200

static int sip_line_len(const char *p, size_t len)
{
	const char *cr = memchr(p, '\r', len);
	size_t n = cr ? (size_t)(cr - p) : len;
	const char *lf = memchr(p, '\n', n);

	if (lf)
		n = (size_t)(lf - p);
	return (int)(n > SIP_LOG_LINE_MAX ? SIP_LOG_LINE_MAX : n);
}

void sip_buf_log(const void *buf, size_t len, enum log_dir dir, const char *id,
		 const char *peer)
{
	const char *p = buf;
	int n;

	if (!buf || !len)
		return;
	if (!log_on(LOG_SIP, LOG_LVL_INFO))
		return;
	n = sip_line_len(p, len);
	if (log_on(LOG_SIP, LOG_LVL_DEBUG)) {
		log_write_data(LOG_SIP, LOG_LVL_DEBUG, dir, id, buf, len, "%.*s (%zu bytes%s%s)",
			       n, p, len, peer ? ", " : "", peer ? peer : "");
		return;
	}
	log_write(LOG_SIP, LOG_LVL_INFO, dir, id, "%.*s (%zu bytes%s%s)", n, p, len,
		  peer ? ", " : "", peer ? peer : "");
}

void sip_msg_log(const struct sip_msg *msg, enum log_dir dir, const char *id,
		 const char *peer)
{
	if (!msg)
		return;
	sip_buf_log(msg->raw.p, msg->raw.l, dir, id, peer);
}
