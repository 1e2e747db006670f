/*
 * api_auth — com_auth (manual §5, §6.2): the first message of a connection
 * is `authenticate` with a random challenge when a password is set, `ready`
 * otherwise. The client answers
 *     {"message": "authenticate", "res": HMAC-SHA256("IMS:<password>:<name>",
 *                                                   "<challenge>")}
 * (the first string is the HMAC key, the challenge the data, res in
 * lowercase hex), or with unsecure also {"password": "<password>"}. Success
 * answers ready: true; until then every other message gets "Authentication
 * not done". A failure takes a new challenge; failures are logged with the
 * address, and API_AUTH_FAILS_MAX of them from one address within
 * API_AUTH_WINDOW_S lock it out for API_AUTH_LOCK_S (answered "Too many
 * failed authentications"). res is compared in constant time.
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "config/ims_cfg.h"
#include "loop/loop.h"

#define API_PASSFILE_MAX 4096

static const char *api_name(const struct api *api)
{
	const char *n = api->prm.cfg->com_name;

	return n && n[0] ? n : "IMS";
}

static int passfile_read(const char *path, char **out, char *err, size_t errlen)
{
	char buf[API_PASSFILE_MAX + 1];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		snprintf(err, errlen, "com_auth.passfile %s: %s", path, strerror(errno));
		return errno ? errno : EIO;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n > API_PASSFILE_MAX) {
		snprintf(err, errlen, "com_auth.passfile %s: over %d bytes", path,
			 API_PASSFILE_MAX);
		return EFBIG;
	}
	buf[n] = '\0';
	/* the password is the first line (a file written by echo ends in \n) */
	buf[strcspn(buf, "\r\n")] = '\0';
	*out = strdup(buf);
	OPENSSL_cleanse(buf, sizeof(buf));
	return *out ? 0 : ENOMEM;
}

int api_auth_init(struct api *api, char *err, size_t errlen)
{
	const struct ims_cfg *cfg = api->prm.cfg;

	if (!cfg->com_auth_set)
		return 0;
	if (cfg->com_auth.password) {
		api->password = strdup(cfg->com_auth.password);
		return api->password ? 0 : ENOMEM;
	}
	if (cfg->com_auth.passfile)
		return passfile_read(cfg->com_auth.passfile, &api->password, err, errlen);
	snprintf(err, errlen, "com_auth: password or passfile required");
	return EINVAL;
}

void api_auth_free(struct api *api)
{
	if (api->password) {
		OPENSSL_cleanse(api->password, strlen(api->password));
		free(api->password);
		api->password = NULL;
	}
}

int api_auth_res(const char *type, const char *password, const char *name,
		 const char *challenge, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t klen = strlen(type) + strlen(password) + strlen(name) + 3;
	char *key = malloc(klen);

	if (!key)
		return ENOMEM;
	snprintf(key, klen, "%s:%s:%s", type, password, name);
	if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)challenge,
		  strlen(challenge), md, &mdlen) ||
	    mdlen != 32) {
		OPENSSL_cleanse(key, klen);
		free(key);
		return EINVAL;
	}
	OPENSSL_cleanse(key, klen);
	free(key);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static void challenge_new(struct api_conn *conn)
{
	unsigned char rnd[32];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd)); /* never: the DRBG is seeded at start */
	for (unsigned i = 0; i < sizeof(rnd); i++)
		snprintf(conn->challenge + 2 * i, 3, "%02x", rnd[i]);
}

json_t *api_auth_greeting(struct api *api, struct api_conn *conn)
{
	json_t *m = json_object();

	if (!m)
		return NULL;
	json_object_set_new(m, "message", json_string(api->password ? "authenticate" : "ready"));
	json_object_set_new(m, "type", json_string("IMS"));
	json_object_set_new(m, "name", json_string(api_name(api)));
	if (api->password) {
		challenge_new(conn);
		json_object_set_new(m, "challenge", json_string(conn->challenge));
	} else {
		json_object_set_new(m, "version",
				    json_string(api->prm.version ? api->prm.version : ""));
	}
	json_object_set_new(m, "time", json_real(api_time_now(api)));
	return m;
}

/* The host part of "addr:port" / "[v6]:port", for the failure table. */
static void peer_host(const char *peer, char *out, size_t size)
{
	const char *end = strrchr(peer, ':');
	size_t n = end ? (size_t)(end - peer) : strlen(peer);

	if (n >= size)
		n = size - 1;
	memcpy(out, peer, n);
	out[n] = '\0';
}

static struct api_auth_fail *fail_entry(struct api *api, const char *host, bool make)
{
	struct api_auth_fail *oldest = &api->fails[0];

	for (unsigned i = 0; i < API_AUTH_TABLE; i++) {
		struct api_auth_fail *f = &api->fails[i];

		if (f->host[0] && strcmp(f->host, host) == 0)
			return f;
		if (f->first_ms < oldest->first_ms)
			oldest = f;
	}
	if (!make)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->host, sizeof(oldest->host), "%s", host);
	return oldest;
}

static bool fail_locked(struct api *api, const char *host)
{
	struct api_auth_fail *f = fail_entry(api, host, false);

	return f && f->locked_until_ms > loop_now_ms();
}

static void fail_note(struct api *api, struct api_conn *conn, const char *why)
{
	char host[48];
	struct api_auth_fail *f;
	uint64_t now = loop_now_ms();

	peer_host(conn->peer, host, sizeof(host));
	f = fail_entry(api, host, true);
	if (!f->count || now - f->first_ms > API_AUTH_WINDOW_S * 1000ull) {
		f->count = 0;
		f->first_ms = now;
	}
	f->count++;
	if (f->count >= API_AUTH_FAILS_MAX)
		f->locked_until_ms = now + API_AUTH_LOCK_S * 1000ull;
	log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
		  "api: %s: authentication failed (%s), %u in %us%s", conn->peer, why,
		  f->count, API_AUTH_WINDOW_S,
		  f->locked_until_ms > now ? ": address locked out" : "");
}

static int check_res(struct api *api, struct api_conn *conn, const char *res)
{
	char want[65];

	if (api_auth_res("IMS", api->password, api_name(api), conn->challenge, want))
		return EINVAL;
	if (strlen(res) != 64 || CRYPTO_memcmp(want, res, 64) != 0) {
		OPENSSL_cleanse(want, sizeof(want));
		return EACCES;
	}
	OPENSSL_cleanse(want, sizeof(want));
	return 0;
}

static int check_password(struct api *api, const char *pw)
{
	size_t a = strlen(api->password), b = strlen(pw);

	if (a != b || CRYPTO_memcmp(api->password, pw, a) != 0)
		return EACCES;
	return 0;
}

int api_cmd_authenticate(struct api_ctx *ctx, json_t *resp)
{
	struct api *api = ctx->api;
	struct api_conn *conn = ctx->conn;
	const char *res = NULL, *pw = NULL;
	char host[48];
	int e;

	if (!conn || !api->password || conn->authed)
		return api_error(resp, "Authentication not required");
	peer_host(conn->peer, host, sizeof(host));
	if (fail_locked(api, host))
		return api_error(resp, "Too many failed authentications: retry later");
	e = api_get_str(ctx->msg, "res", false, &res, resp);
	if (e == EINVAL)
		return e;
	if (e == ENOENT) {
		e = api_get_str(ctx->msg, "password", false, &pw, resp);
		if (e == EINVAL)
			return e;
		if (e == ENOENT)
			return api_error(resp, "Missing field: res");
		if (!api->prm.cfg->com_auth.unsecure)
			return api_error(resp, "Field password: plaintext password not allowed "
					       "(com_auth.unsecure is false)");
	}
	e = res ? check_res(api, conn, res) : pw ? check_password(api, pw) : EACCES;
	if (e) {
		fail_note(api, conn, res ? "wrong res" : "wrong password");
		challenge_new(conn);
		json_object_set_new(resp, "challenge", json_string(conn->challenge));
		return api_error(resp, "Authentication failed");
	}
	conn->authed = true;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "api: %s authenticated",
		  conn->peer);
	json_object_set_new(resp, "ready", json_true());
	json_object_set_new(resp, "type", json_string("IMS"));
	json_object_set_new(resp, "name", json_string(api_name(api)));
	json_object_set_new(resp, "version",
			    json_string(api->prm.version ? api->prm.version : ""));
	return 0;
}
