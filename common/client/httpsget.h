/* common/client/httpsget.h: one HTTPS GET on the loop, for small documents
 * a protocol publishes on the web (the MTA-STS policy, RFC 8461 §3.3).
 *
 * The host name is resolved through common/dns (AAAA and A at once, never
 * getaddrinfo on the loop); the addresses are tried in turn on a conn
 * (common/net/conn.h), TLS verified against the verifying context with
 * the host name (RFC 6125; sent as SNI too). The request is HTTP/1.0 with
 * a Host field, so the answer is never chunked and ends at Content-Length
 * or the close. Only a 200 is a body: a 3xx is never followed, any other
 * status is an error; with content_type set the media type must be it
 * (parameters such as "; charset=utf-8" ignored, case-insensitive). The
 * body is capped (max_body), the header section too, and the whole fetch
 * (resolution included) is bounded by timeout.
 *
 * Loop thread only; never blocks; the callback runs from the loop, never
 * inside an httpsget_* call, exactly once unless the fetch is cancelled. */
#ifndef KANTORPOS_COMMON_HTTPSGET_H
#define KANTORPOS_COMMON_HTTPSGET_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct dns;
struct ev_loop;
struct httpsget;

#define HTTPSGET_HEAD_MAX 8192   /* status line and header fields */
#define HTTPSGET_BODY_MAX 65536  /* default body cap */

struct httpsget_opts {
	struct dns *dns;
	SSL_CTX *verify_ctx;      /* tls_client_ctx_new */
	const char *host;         /* a host name (copied) */
	unsigned port;            /* 0: 443 */
	const char *path;         /* "/.well-known/..." (copied) */
	const char *content_type; /* required media type; NULL: any */
	double timeout;           /* seconds for the whole fetch; 0: 60 */
	size_t max_body;          /* 0: HTTPSGET_BODY_MAX */
};

/* error NULL: the body (len octets, not NUL-terminated; valid during the
 * call). Else why there is none ("HTTP status 404", "redirect not followed: HTTP status 301",
 * "Content-Type text/html is not text/plain", "body over the limit of
 * octets: 65536", "timed out", the TLS or connect error, ...). */
typedef void httpsget_cb(void *arg, const char *body, size_t len,
			 const char *error);

/* Start the fetch. Returns it, or NULL (errno: ENOMEM, EINVAL for a
 * missing host, path or context). */
struct httpsget *httpsget_start(struct ev_loop *loop,
				const struct httpsget_opts *o, httpsget_cb *cb,
				void *arg);

/* During the callback of a failed fetch: whether it failed because the
 * server's certificate did not verify (the last address tried). */
bool httpsget_cert_failed(const struct httpsget *g);

/* Stop a fetch whose callback has not run; it never will. */
void httpsget_cancel(struct httpsget *g);

/* The head of a response: the status code and the media type of its
 * Content-Type (lower case, without parameters; "" when absent), the
 * Content-Length (-1 when absent), and whether Transfer-Encoding is
 * there. head is the status line and the fields, len octets, ending
 * before the empty line. Pure. Returns 0, or -1 with a static reason. */
struct httpsget_head {
	int status;
	char type[64];
	long long length;
	int chunked;
};
int httpsget_head_parse(const char *head, size_t len, struct httpsget_head *h,
			const char **why_r);

#endif
