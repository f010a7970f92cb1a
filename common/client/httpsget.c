/* common/client/httpsget.c: one HTTPS GET on the loop
 * (common/client/httpsget.h): the lookups, the connection attempts, the
 * request, the response head and the capped body. */
#include "autoconf.h"

#include "common/client/httpsget.h"

#include "common/dns/dns.h"
#include "common/net/conn.h"
#include "common/net/net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ev.h>

#define HTTPSGET_ADDRS 16

struct httpsget {
	struct ev_loop *loop;
	struct dns *dns;
	SSL_CTX *ctx;
	char *host, *path, *type;
	unsigned port;
	size_t max_body;
	httpsget_cb *cb;
	void *arg;
	struct dns_query *q[2];          /* AAAA, A */
	struct dns_addr addrs[HTTPSGET_ADDRS];
	size_t n_addrs, next;
	struct conn *c;
	ev_timer timer, kick;
	bool started;                    /* TLS up, the request sent */
	bool head_done, done, cancelled;
	bool cert_failed;                /* the last address's certificate */
	struct httpsget_head h;
	size_t head_len;                 /* octets before the body */
	char *buf;
	size_t len;
	char error[256];
};

static void try_next(struct httpsget *g);

/* ---- the head (pure) ---- */

static void field(struct httpsget_head *h, const char *l, size_t len)
{
	const char *colon = memchr(l, ':', len), *v, *end = l + len;
	size_t n = 0;

	if (colon == NULL)
		return;
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	if ((size_t)(colon - l) == 12 && strncasecmp(l, "Content-Type", 12) == 0) {
		while (v < end && *v != ';' && *v != ' ' && *v != '\t' &&
		       n + 1 < sizeof(h->type))
			h->type[n++] = (char)tolower((unsigned char)*v++);
		h->type[n] = '\0';
	} else if ((size_t)(colon - l) == 14 &&
		   strncasecmp(l, "Content-Length", 14) == 0) {
		h->length = 0;
		for (; v < end && isdigit((unsigned char)*v) &&
		       h->length < (1LL << 40); v++)
			h->length = h->length * 10 + (*v - '0');
	} else if ((size_t)(colon - l) == 17 &&
		   strncasecmp(l, "Transfer-Encoding", 17) == 0) {
		h->chunked = 1;
	}
}

int httpsget_head_parse(const char *head, size_t len, struct httpsget_head *h,
			const char **why_r)
{
	size_t i = 0;
	bool first = true;

	memset(h, 0, sizeof(*h));
	h->length = -1;
	while (i < len) {
		const char *nl = memchr(head + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - head) : len;
		size_t l = end - i;

		if (l > 0 && head[i + l - 1] == '\r')
			l--;
		if (first) {
			if (l < 12 || strncmp(head + i, "HTTP/1.", 7) != 0 ||
			    head[i + 8] != ' ' || !isdigit((unsigned char)head[i + 9]) ||
			    !isdigit((unsigned char)head[i + 10]) ||
			    !isdigit((unsigned char)head[i + 11])) {
				*why_r = "not an HTTP response";
				return -1;
			}
			h->status = atoi(head + i + 9);
			first = false;
		} else {
			field(h, head + i, l);
		}
		i = end + 1;
	}
	if (first) {
		*why_r = "not an HTTP response";
		return -1;
	}
	return 0;
}

/* ---- the end ---- */

static void destroy(struct httpsget *g)
{
	free(g->host);
	free(g->path);
	free(g->type);
	free(g->buf);
	free(g);
}

static void finish(struct httpsget *g, const char *body, size_t len,
		   const char *error)
{
	if (g->done)
		return;
	g->done = true;
	ev_timer_stop(g->loop, &g->timer);
	ev_timer_stop(g->loop, &g->kick);
	for (int i = 0; i < 2; i++) {
		if (g->q[i] != NULL)
			dns_cancel(g->q[i]);
		g->q[i] = NULL;
	}
	if (!g->cancelled)
		g->cb(g->arg, body, len, error);
	if (g->c != NULL)
		conn_close(g->c, NULL); /* freed in on_close */
	else
		destroy(g);
}

/* Fail with the reason what followed by arg. */
static void fail(struct httpsget *g, const char *what, const char *arg)
{
	snprintf(g->error, sizeof(g->error), "%s%s", what, arg);
	finish(g, NULL, 0, g->error);
}

/* ---- the response ---- */

/* The head is complete at head_len: whether the answer can be a body. */
static int head_check(struct httpsget *g)
{
	const char *why = NULL;
	char n[24];

	if (httpsget_head_parse(g->buf, g->head_len, &g->h, &why) < 0) {
		fail(g, why, "");
		return -1;
	}
	snprintf(n, sizeof(n), "%d", g->h.status);
	if (g->h.status / 100 == 3)
		fail(g, "redirect not followed: HTTP status ", n);
	else if (g->h.status != 200)
		fail(g, "HTTP status ", n);
	else if (g->type != NULL && strcmp(g->h.type, g->type) != 0) {
		snprintf(g->error, sizeof(g->error), "Content-Type %s is not %s",
			 g->h.type[0] != '\0' ? g->h.type : "(none)", g->type);
		finish(g, NULL, 0, g->error);
	} else if (g->h.chunked) {
		fail(g, "Transfer-Encoding in an HTTP/1.0 answer", "");
	} else if (g->h.length > (long long)g->max_body) {
		snprintf(n, sizeof(n), "%zu", g->max_body);
		fail(g, "body over the limit of octets: ", n);
	} else {
		return 0;
	}
	return -1;
}

/* Where the head ends (past its empty line), or 0 when not yet. */
static size_t head_end(const char *b, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static void progress(struct httpsget *g)
{
	size_t body;
	char n[24];

	if (!g->head_done) {
		size_t end = head_end(g->buf, g->len);

		if (end == 0) {
			if (g->len >= HTTPSGET_HEAD_MAX)
				fail(g, "header section too long", "");
			return;
		}
		g->head_len = end;
		g->head_done = true;
		if (head_check(g) < 0)
			return;
	}
	body = g->len - g->head_len;
	if (body > g->max_body) {
		snprintf(n, sizeof(n), "%zu", g->max_body);
		fail(g, "body over the limit of octets: ", n);
	} else if (g->h.length >= 0 && body >= (size_t)g->h.length) {
		finish(g, g->buf + g->head_len, (size_t)g->h.length, NULL);
	}
}

/* ---- the connection ---- */

static void on_readable(struct conn *c, void *arg)
{
	struct httpsget *g = arg;
	size_t cap = HTTPSGET_HEAD_MAX + g->max_body + 1;
	const char *d;
	size_t n;

	while (!g->done && (n = conn_read_raw(c, &d, 16384)) > 0) {
		if (n > cap - g->len)
			n = cap - g->len; /* one octet over the cap says it all */
		memcpy(g->buf + g->len, d, n);
		g->len += n;
		progress(g);
	}
}

static void on_connected(struct conn *c, void *arg)
{
	struct httpsget *g = arg;

	if (conn_start_tls_client(c, g->ctx, g->host, NULL, NULL) < 0)
		conn_close(c, "cannot start TLS");
}

static void on_tls_ready(struct conn *c, void *arg)
{
	struct httpsget *g = arg;
	char port[16] = "";

	if (g->port != 443)
		snprintf(port, sizeof(port), ":%u", g->port);
	g->started = true;
	conn_set_raw(c, true);
	if (conn_printf(c, "GET %s HTTP/1.0\r\nHost: %s%s\r\n"
			"User-Agent: kantorpos\r\nConnection: close\r\n\r\n",
			g->path, g->host, port) < 0)
		conn_close(c, "cannot send the request");
}

static void on_close(struct conn *c, void *arg, enum conn_close_reason reason,
		     const char *detail)
{
	struct httpsget *g = arg;

	g->c = NULL;
	if (g->done) {
		destroy(g);
		return;
	}
	if (!g->started) {
		g->cert_failed = reason == CONN_CLOSE_TLS &&
				 conn_tls_verify_result(c) > 0;
		snprintf(g->error, sizeof(g->error), "%s port %u: %s", g->host,
			 g->port, detail);
		try_next(g);
	} else if (reason == CONN_CLOSE_EOF && g->head_done &&
		   g->h.length < 0) {
		finish(g, g->buf + g->head_len, g->len - g->head_len, NULL);
	} else {
		fail(g, reason == CONN_CLOSE_EOF
				? "connection closed before the end" : detail, "");
	}
}

static const struct conn_cb httpsget_conn_cb = {
	.on_readable = on_readable,
	.on_connected = on_connected,
	.on_tls_ready = on_tls_ready,
	.on_close = on_close,
};

static void try_next(struct httpsget *g)
{
	while (g->next < g->n_addrs) {
		const struct dns_addr *a = &g->addrs[g->next++];
		struct sockaddr_storage ss = { 0 };
		socklen_t sl;

		if (a->family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)g->port);
			memcpy(&s6->sin6_addr, a->addr, 16);
			sl = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)g->port);
			memcpy(&s4->sin_addr, a->addr, 4);
			sl = sizeof(*s4);
		}
		g->c = conn_connect(g->loop, (struct sockaddr *)&ss, sl,
				    &httpsget_conn_cb, g);
		if (g->c != NULL)
			return;
		snprintf(g->error, sizeof(g->error), "connect: %s",
			 strerror(errno));
	}
	finish(g, NULL, 0, g->error[0] != '\0' ? g->error : "no address");
}

/* ---- the lookups ---- */

static void looked_up(struct httpsget *g, int i, const struct dns_answer *a)
{
	g->q[i] = NULL;
	if (a->status == DNS_OK) {
		for (size_t k = 0; k < a->n && g->n_addrs < HTTPSGET_ADDRS; k++)
			g->addrs[g->n_addrs++] = a->addr[k];
	} else if (g->error[0] == '\0' || a->status != DNS_NODATA) {
		snprintf(g->error, sizeof(g->error), "%s: %s lookup: %s", g->host,
			 dns_type_str(a->type),
			 a->why != NULL ? a->why : dns_status_str(a->status));
	}
	if (g->q[0] == NULL && g->q[1] == NULL) {
		if (g->n_addrs > 0)
			g->error[0] = '\0';
		try_next(g);
	}
}

static void aaaa_cb(void *arg, const struct dns_answer *a)
{
	looked_up(arg, 0, a);
}

static void a_cb(void *arg, const struct dns_answer *a)
{
	looked_up(arg, 1, a);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	fail(w->data, "timed out", "");
}

static void kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct httpsget *g = w->data;

	(void)loop;
	(void)revents;
	finish(g, NULL, 0, g->error);
}

static int copy_opts(struct httpsget *g, const struct httpsget_opts *o)
{
	g->host = strdup(o->host);
	g->path = strdup(o->path);
	g->type = o->content_type != NULL ? strdup(o->content_type) : NULL;
	g->max_body = o->max_body ? o->max_body : HTTPSGET_BODY_MAX;
	g->buf = malloc(HTTPSGET_HEAD_MAX + g->max_body + 1);
	if (g->host == NULL || g->path == NULL || g->buf == NULL ||
	    (o->content_type != NULL && g->type == NULL))
		return -1;
	return 0;
}

struct httpsget *httpsget_start(struct ev_loop *loop,
				const struct httpsget_opts *o, httpsget_cb *cb,
				void *arg)
{
	struct httpsget *g;

	if (o->host == NULL || o->path == NULL || o->verify_ctx == NULL ||
	    o->dns == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	*g = (struct httpsget){ .loop = loop, .dns = o->dns, .ctx = o->verify_ctx,
				.port = o->port ? o->port : 443, .cb = cb,
				.arg = arg };
	if (copy_opts(g, o) < 0) {
		g->done = g->cancelled = true;
		finish(g, NULL, 0, NULL);
		errno = ENOMEM;
		return NULL;
	}
	ev_timer_init(&g->timer, timer_cb, o->timeout > 0 ? o->timeout : 60., 0.);
	g->timer.data = g;
	ev_timer_start(loop, &g->timer);
	ev_timer_init(&g->kick, kick_cb, 0., 0.);
	g->kick.data = g;
	g->q[0] = dns_lookup(o->dns, g->host, DNS_T_AAAA, aaaa_cb, g);
	g->q[1] = dns_lookup(o->dns, g->host, DNS_T_A, a_cb, g);
	if (g->q[0] == NULL || g->q[1] == NULL) {
		/* The answer comes from the loop, never from here. */
		snprintf(g->error, sizeof(g->error), "%s: cannot look it up: %s",
			 g->host, strerror(errno));
		for (int i = 0; i < 2; i++)
			if (g->q[i] != NULL)
				dns_cancel(g->q[i]);
		g->q[0] = g->q[1] = NULL;
		ev_timer_start(loop, &g->kick);
	}
	return g;
}

void httpsget_cancel(struct httpsget *g)
{
	g->cancelled = true;
	finish(g, NULL, 0, NULL);
}

bool httpsget_cert_failed(const struct httpsget *g)
{
	return g->cert_failed;
}
