/*
 * api_tls — TLS for the remote API (manual §5 com_ssl_certificate,
 * com_ssl_key, com_ssl_peer_verify, com_ssl_ca) with OpenSSL, and the byte
 * I/O of a connection with or without it.
 *
 * With com_ssl_certificate set every connection is TLS (wss://): the server
 * presents the certificate chain of that file and its key; with
 * com_ssl_peer_verify the client must present a certificate that verifies
 * against com_ssl_ca (for a self-signed client certificate, that
 * certificate itself, as the manual says). TLS 1.2 at least. The handshake
 * runs on the loop without blocking: a connection is watched for what
 * OpenSSL wants (read or write) until it is done, then the HTTP upgrade is
 * read through it. api_io_recv / api_io_send read and write the connection
 * through TLS when it has it, and report EAGAIN as the socket calls do.
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config/ims_cfg.h"
#include "loop/loop.h"

static void tls_err(char *err, size_t errlen, const char *what, const char *file)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s %s: %s", what, file ? file : "", e ? buf : "failed");
	ERR_clear_error();
}

int api_tls_init(struct api *api, char *err, size_t errlen)
{
	const struct ims_cfg *cfg = api->prm.cfg;
	SSL_CTX *ctx;

	if (!cfg->com_ssl_certificate)
		return 0;
	if (!cfg->com_ssl_key) {
		snprintf(err, errlen, "com_ssl_key is required with com_ssl_certificate");
		return EINVAL;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return ENOMEM;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* wslay retries a write with what is left, not the same buffer */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->com_ssl_certificate) != 1) {
		tls_err(err, errlen, "com_ssl_certificate", cfg->com_ssl_certificate);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->com_ssl_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_err(err, errlen, "com_ssl_key", cfg->com_ssl_key);
		goto fail;
	}
	if (cfg->com_ssl_ca && SSL_CTX_load_verify_locations(ctx, cfg->com_ssl_ca, NULL) != 1) {
		tls_err(err, errlen, "com_ssl_ca", cfg->com_ssl_ca);
		goto fail;
	}
	if (cfg->com_ssl_peer_verify)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	api->ssl_ctx = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return EINVAL;
}

void api_tls_free(struct api *api)
{
	SSL_CTX_free(api->ssl_ctx);
	api->ssl_ctx = NULL;
}

int api_tls_conn_start(struct api_conn *c)
{
	SSL *ssl;

	if (!c->api->ssl_ctx)
		return 0;
	ssl = SSL_new(c->api->ssl_ctx);
	if (!ssl)
		return ENOMEM;
	if (SSL_set_fd(ssl, c->fd) != 1) {
		SSL_free(ssl);
		return ENOMEM;
	}
	SSL_set_accept_state(ssl);
	c->ssl = ssl;
	return 0;
}

void api_tls_conn_end(struct api_conn *c)
{
	if (!c->ssl)
		return;
	if (c->tls_done)
		SSL_shutdown(c->ssl); /* close_notify, best effort: no waiting */
	SSL_free(c->ssl);
	c->ssl = NULL;
	ERR_clear_error();
}

int api_tls_handshake(struct api_conn *c)
{
	int r = SSL_do_handshake(c->ssl), e;

	if (r == 1) {
		c->tls_done = true;
		loop_fd_modify(c->fd, LOOP_READ);
		return 0;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		loop_fd_modify(c->fd, LOOP_READ);
		return EAGAIN;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		loop_fd_modify(c->fd, LOOP_READ | LOOP_WRITE);
		return EAGAIN;
	}
	{
		char buf[256];

		ERR_error_string_n(ERR_peek_error(), buf, sizeof(buf));
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "api: %s: TLS handshake failed: %s", c->peer,
			  ERR_peek_error() ? buf : "connection closed");
	}
	ERR_clear_error();
	return EPROTO;
}

static ssize_t tls_result(struct api_conn *c, int r)
{
	int e = SSL_get_error(c->ssl, r);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	ERR_clear_error();
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	errno = EPIPE;
	return -1;
}

ssize_t api_io_recv(struct api_conn *c, void *buf, size_t len)
{
	int r;

	if (!c->ssl)
		return recv(c->fd, buf, len, 0);
	r = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	return r > 0 ? r : tls_result(c, r);
}

ssize_t api_io_send(struct api_conn *c, const void *data, size_t len)
{
	int r;

	if (!c->ssl)
		return send(c->fd, data, len, MSG_NOSIGNAL);
	r = SSL_write(c->ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
	return r > 0 ? r : tls_result(c, r);
}
