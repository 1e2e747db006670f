/*
 * Fuzz target for the remote API's input layers: the first byte chooses
 * the HTTP opening handshake parser (with the 101 / refusal answers made
 * from what it returned), or the JSON message layer: UTF-8 check, strict
 * jansson parse, one message or an array, each message's common fields
 * and its command lookup, as api_msg.c reads them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "api/api_http.h"
#include "api/api_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_message(const json_t *m)
{
	struct api_msg_common c;
	char err[256];

	if (!api_msg_common_parse(m, &c, err, sizeof(err)))
		(void)api_cmd_find(c.message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1) {
		struct api_http_req req;
		char ans[512];
		size_t n;
		int e = api_http_req_parse((const char *)data + 1, size - 1, &req);

		if (!e)
			(void)api_http_101(&req, ans, sizeof(ans), &n);
		else if (e == EBADMSG)
			(void)api_http_refusal(&req, ans, sizeof(ans), &n);
	} else if (api_utf8_valid(data + 1, size - 1)) {
		json_error_t je;
		json_t *v = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES,
				       &je);
		size_t i;
		json_t *m;

		if (json_is_array(v) && json_array_size(v) <= API_BATCH_MAX) {
			json_array_foreach(v, i, m)
			{
				one_message(m);
			}
		} else if (v) {
			one_message(v);
		}
		json_decref(v);
	}
	return 0;
}
