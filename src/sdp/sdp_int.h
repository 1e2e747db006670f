/* sdp — helpers shared by the decoder and the encoder. */
#ifndef SDP_SDP_INT_H
#define SDP_SDP_INT_H

#include "sdp/sdp.h"

/* "IN IP4 1.2.3.4" / "IN IP6 2001:db8::1" → a (port 0). Returns 0,
 * EBADMSG or ENOTSUP (host name, multicast, TTL) with why set. */
int sdp_conn_parse(struct pl val, struct sdp_conn *c, const char **why);
/* Splits off the next space-separated token of *pl (single spaces, as
 * RFC 4566 §5 writes them; runs of blanks are tolerated). */
bool sdp_token(struct pl *pl, struct pl *tok);
/* A direction attribute name → its value; false if it is not one. */
bool sdp_dir_from_pl(struct pl name, enum sdp_dir *dir);

#endif
