/* common/client/pop3client.c: the non-blocking POP3 client: login sequence
 * (TLS, CAPA, STLS, AUTH PLAIN / USER / APOP), a FIFO of commands in
 * flight (one, or a small window with PIPELINING), status lines and
 * dot-stuffed multi-line bodies read in raw mode so that message lines of
 * any length pass unchanged, whole, streamed or (listings) line by line
 * to the owner. */
#include "autoconf.h"

#include "common/client/pop3client.h"

#include <errno.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/net/conn.h"
#include "common/base/log.h"
#include "common/proto/dotstuff.h"

/* Largest CAPA reply read. */
#define POP3C_CAPA_MAX (64 * 1024)
/* Bytes taken from the conn per read. */
#define POP3C_CHUNK (64 * 1024)
/* Capabilities seen in the last CAPA reply (struct pop3c's caps). */
#define POP3C_CAP_UIDL 0x01u
#define POP3C_CAP_TOP 0x02u
#define POP3C_CAP_PIPELINING 0x04u
#define POP3C_CAP_SASL_PLAIN 0x08u
#define POP3C_CAP_STLS 0x10u
#define POP3C_CAP_USER 0x20u

enum pop3c_phase {
	PH_CONNECT,   /* TCP connect, then the implicit TLS handshake */
	PH_GREETING,
	PH_CAPA,      /* CAPA before STLS or login */
	PH_STLS,
	PH_HANDSHAKE, /* STLS handshake */
	PH_CAPA_TLS,  /* CAPA again inside TLS (RFC 2595 section 4) */
	PH_AUTH,      /* AUTH PLAIN, APOP or USER */
	PH_PASS,
	PH_CAPA_AUTH, /* CAPA after login: some servers list more there */
	PH_READY,
};

/* A command sent and not yet answered. */
struct p3_cmd {
	bool multiline, quit;
	size_t max_body;
	pop3c_reply_fn *fn; /* NULL: a login step */
	pop3c_data_fn *data_fn; /* streamed body, or NULL */
	pop3c_line_fn *line_fn; /* listing read line by line, or NULL */
	size_t max_line;
	void *arg;
};

struct pop3c {
	struct conn *conn;
	struct pop3c_cb cb;
	void *arg;
	enum pop3c_phase phase;
	/* Parameters (copies). */
	char *host, *pin, *user, *password, *log_id;
	enum pop3c_tls tls;
	enum pop3c_auth auth;
	SSL_CTX *ctx;
	double timeout;
	unsigned caps;
	char *apop_ts; /* "<...@...>" from the greeting, or NULL */
	/* Commands in flight, answered in order (RFC 2449 section 6.6). */
	struct p3_cmd q[POP3C_WINDOW];
	size_t q_head, q_len;
	bool quit_sent, quit_ok;
	/* The reply being read (to q[q_head]). */
	bool in_body, status_ok;
	char line[POP3C_STATUS_MAX + 2];
	size_t line_len;
	struct dot_unstuffer dot;
	struct pop3c_lines lines; /* the listing being read */
	char *body;
	size_t body_len, body_cap;
};

static void p3_fail(struct pop3c *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void p3_login_step(struct pop3c *c, bool ok, const char *text,
			  const char *body, size_t len);

int pop3c_lines_init(struct pop3c_lines *l, size_t max)
{
	*l = (struct pop3c_lines){ .max = max };
	l->buf = malloc(max + 2);
	return l->buf != NULL ? 0 : -1;
}

void pop3c_lines_free(struct pop3c_lines *l)
{
	free(l->buf);
	*l = (struct pop3c_lines){ 0 };
}

/* Hand over the line gathered so far and start the next. The buffer
 * holds max + 1 octets: a line of max octets and its CR. */
static int p3_line_out(struct pop3c_lines *l, pop3c_line_fn *fn, void *arg)
{
	size_t len = l->len;
	bool over = l->overlong;

	if (len > 0 && l->buf[len - 1] == '\r' && !over)
		len--;
	if (len > l->max) {
		over = true;
		len = l->max;
	}
	l->buf[len] = '\0';
	l->len = 0;
	l->overlong = false;
	return fn(arg, l->buf, len, over);
}

int pop3c_lines_feed(struct pop3c_lines *l, const char *in, size_t n,
		     pop3c_line_fn *fn, void *arg)
{
	while (n > 0) {
		const char *nl = memchr(in, '\n', n);
		size_t take = nl != NULL ? (size_t)(nl - in) : n;
		size_t room = l->max + 1 - l->len;
		size_t copy = take < room ? take : room;

		memcpy(l->buf + l->len, in, copy);
		l->len += copy;
		if (copy < take)
			l->overlong = true;
		if (nl == NULL)
			return 0;
		if (p3_line_out(l, fn, arg) < 0)
			return -1;
		in = nl + 1;
		n -= take + 1;
	}
	return 0;
}

int pop3c_lines_end(struct pop3c_lines *l, pop3c_line_fn *fn, void *arg)
{
	if (l->len == 0 && !l->overlong)
		return 0;
	return p3_line_out(l, fn, arg);
}

static void p3_trace(struct pop3c *c, const char *dir, const char *line)
{
	if (log_get_level() < LOG_LVL_DEBUG)
		return;
	if (strncasecmp(line, "PASS ", 5) == 0)
		line = "PASS ****";
	else if (strncasecmp(line, "AUTH PLAIN ", 11) == 0)
		line = "AUTH PLAIN ****";
	else if (strncasecmp(line, "APOP ", 5) == 0)
		line = "APOP **** ****";
	log_debug("%s %s %.200s", c->log_id, dir, line);
}

static void p3_fail(struct pop3c *c, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->q_len = 0;
	conn_close(c->conn, why);
}

/* Expect one more reply (the caller checked the window). */
static void p3_push(struct pop3c *c, const struct p3_cmd *cmd)
{
	c->q[(c->q_head + c->q_len) % POP3C_WINDOW] = *cmd;
	c->q_len++;
}

/* Forget the reply just read; the next one starts clean. */
static void p3_reset_reply(struct pop3c *c)
{
	c->in_body = false;
	c->line_len = 0;
	c->body_len = 0;
	/* Lenient: a server that ends lines with a bare LF still ends the
	 * body with "." at a line start. */
	dot_unstuff_init(&c->dot, DOT_UNSTUFF_LF_LINES);
}

/* Send one command and expect its reply; internal commands have no fn. */
static int p3_send(struct pop3c *c, const char *line, bool multiline,
		   size_t max_body, pop3c_reply_fn *fn, void *arg)
{
	struct p3_cmd cmd = {
		.multiline = multiline,
		.max_body = max_body,
		.fn = fn,
		.arg = arg,
	};

	p3_trace(c, ">", line);
	if (conn_printf(c->conn, "%s\r\n", line) < 0)
		return -1;
	p3_push(c, &cmd);
	return 0;
}

static void p3_parse_capa(struct pop3c *c, const char *body, size_t len)
{
	const char *p = body, *end = body + len;

	c->caps = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		char word[32];
		size_t w = 0;

		while (w < l && w < sizeof(word) - 1 && p[w] != ' ' &&
		       p[w] != '\r') {
			word[w] = p[w];
			w++;
		}
		word[w] = '\0';
		if (strcasecmp(word, "UIDL") == 0)
			c->caps |= POP3C_CAP_UIDL;
		else if (strcasecmp(word, "TOP") == 0)
			c->caps |= POP3C_CAP_TOP;
		else if (strcasecmp(word, "PIPELINING") == 0)
			c->caps |= POP3C_CAP_PIPELINING;
		else if (strcasecmp(word, "STLS") == 0)
			c->caps |= POP3C_CAP_STLS;
		else if (strcasecmp(word, "USER") == 0)
			c->caps |= POP3C_CAP_USER;
		else if (strcasecmp(word, "SASL") == 0) {
			/* "SASL PLAIN LOGIN": look for the whole word. */
			for (size_t i = w; i + 5 <= l; i++)
				if (p[i - 1] == ' ' &&
				    strncasecmp(p + i, "PLAIN", 5) == 0 &&
				    (i + 5 == l || p[i + 5] == ' ' ||
				     p[i + 5] == '\r'))
					c->caps |= POP3C_CAP_SASL_PLAIN;
		}
		p = nl != NULL ? nl + 1 : end;
	}
}

/* "APOP user md5hex(timestamp password)" (RFC 1939 section 7). */
static int p3_apop_line(struct pop3c *c, char *buf, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, c->apop_ts, strlen(c->apop_ts)) == 1 &&
		 EVP_DigestUpdate(ctx, c->password, strlen(c->password)) == 1 &&
		 EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;

	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	sodium_bin2hex(hex, sizeof(hex), md, mdlen);
	if ((size_t)snprintf(buf, size, "APOP %s %s", c->user, hex) >= size)
		return -1;
	return 0;
}

static void p3_auth(struct pop3c *c)
{
	enum pop3c_auth mech = c->auth;
	size_t ul = strlen(c->user), pl = strlen(c->password);
	size_t rawlen = ul + pl + 2, size = 64 + ul + 2 * (rawlen + 2);
	char *line = malloc(size), *raw = malloc(rawlen);
	int rc = -1;

	if (line == NULL || raw == NULL) {
		free(line);
		free(raw);
		p3_fail(c, "out of memory");
		return;
	}
	if (mech == POP3C_AUTH_ANY)
		mech = (c->caps & POP3C_CAP_SASL_PLAIN) ? POP3C_AUTH_PLAIN
							: POP3C_AUTH_USER;
	c->phase = PH_AUTH;
	switch (mech) {
	case POP3C_AUTH_APOP:
		if (c->apop_ts == NULL) {
			p3_fail(c, "auth apop: the server greeting has no APOP timestamp");
			break;
		}
		if (p3_apop_line(c, line, size) == 0)
			rc = p3_send(c, line, false, 0, NULL, NULL);
		break;
	case POP3C_AUTH_PLAIN:
		/* RFC 4616: authzid (empty) NUL authcid NUL password. */
		raw[0] = '\0';
		memcpy(raw + 1, c->user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, c->password, pl);
		memcpy(line, "AUTH PLAIN ", 11);
		sodium_bin2base64(line + 11, size - 11, (unsigned char *)raw,
				  rawlen, sodium_base64_VARIANT_ORIGINAL);
		rc = p3_send(c, line, false, 0, NULL, NULL);
		break;
	case POP3C_AUTH_USER:
	case POP3C_AUTH_ANY:
		snprintf(line, size, "USER %s", c->user);
		rc = p3_send(c, line, false, 0, NULL, NULL);
		c->phase = PH_PASS;
		break;
	}
	sodium_memzero(line, size);
	sodium_memzero(raw, rawlen);
	free(line);
	free(raw);
	if (rc < 0 && !conn_is_closing(c->conn))
		p3_fail(c, "cannot send the login");
}

/* Internal replies of the login sequence. */
static void p3_login_step(struct pop3c *c, bool ok, const char *text,
			  const char *body, size_t len)
{
	char *line;

	switch (c->phase) {
	case PH_GREETING: {
		const char *lt, *gt;

		if (!ok) {
			p3_fail(c, "server greeting: -ERR %s", text);
			return;
		}
		lt = strchr(text, '<');
		gt = lt != NULL ? strchr(lt, '>') : NULL;
		if (gt != NULL && memchr(lt, '@', (size_t)(gt - lt)) != NULL)
			c->apop_ts = strndup(lt, (size_t)(gt - lt) + 1);
		c->phase = PH_CAPA;
		p3_send(c, "CAPA", true, POP3C_CAPA_MAX, NULL, NULL);
		return;
	}
	case PH_CAPA:
	case PH_CAPA_TLS:
		c->caps = 0;
		if (ok)
			p3_parse_capa(c, body, len);
		if (c->tls == POP3C_TLS_STLS && c->phase == PH_CAPA) {
			/* RFC 2595 section 2.4 and RFC 8314 section 3.1: never
			 * fall back to plaintext when TLS is required. */
			c->phase = PH_STLS;
			p3_send(c, "STLS", false, 0, NULL, NULL);
			return;
		}
		p3_auth(c);
		return;
	case PH_STLS: {
		size_t discarded = 0;

		if (!ok) {
			p3_fail(c, "the server refused STLS: %s", text);
			return;
		}
		c->phase = PH_HANDSHAKE;
		if (conn_start_tls_client(c->conn, c->ctx, c->host, c->pin,
					  &discarded) < 0) {
			p3_fail(c, "cannot start TLS");
			return;
		}
		if (discarded > 0)
			p3_fail(c, "the server sent %zu bytes after its STLS reply (injection attempt)",
				discarded);
		return;
	}
	case PH_PASS:
		if (!ok) {
			p3_fail(c, "login refused: USER: %s", text);
			return;
		}
		if (asprintf(&line, "PASS %s", c->password) < 0) {
			p3_fail(c, "out of memory");
			return;
		}
		c->phase = PH_AUTH;
		p3_send(c, line, false, 0, NULL, NULL);
		sodium_memzero(line, strlen(line));
		free(line);
		return;
	case PH_AUTH:
		if (!ok) {
			p3_fail(c, "login refused: %s", text);
			return;
		}
		c->phase = PH_CAPA_AUTH;
		p3_send(c, "CAPA", true, POP3C_CAPA_MAX, NULL, NULL);
		return;
	case PH_CAPA_AUTH:
		if (ok)
			p3_parse_capa(c, body, len);
		c->phase = PH_READY;
		if (c->cb.on_ready != NULL)
			c->cb.on_ready(c, c->arg);
		return;
	default:
		p3_fail(c, "unexpected reply in the login sequence");
		return;
	}
}

/* A complete reply: hand it to its owner. */
static void p3_complete(struct pop3c *c)
{
	struct p3_cmd cmd = c->q[c->q_head];
	bool ok = c->status_ok;
	size_t len = c->body_len;

	c->q_head = (c->q_head + 1) % POP3C_WINDOW;
	c->q_len--;
	/* line and body stay valid until the next reply's bytes arrive,
	 * which happens only after this returns. */
	p3_reset_reply(c);
	p3_trace(c, "<", c->line);
	if (c->phase != PH_READY) {
		p3_login_step(c, ok, c->line, c->body, len);
		return;
	}
	if (cmd.quit) {
		c->quit_ok = ok;
		conn_close(c->conn, ok ? "QUIT" : "QUIT refused");
	}
	if (cmd.data_fn != NULL || cmd.line_fn != NULL)
		len = 0;
	pop3c_lines_free(&c->lines);
	if (cmd.fn != NULL)
		cmd.fn(c, cmd.arg, ok, c->line, len > 0 ? c->body : "", len);
}

/* Take bytes of the status line; returns how many were used and sets
 * *done_r when the reply is complete (a status without a body). */
static size_t p3_status_bytes(struct pop3c *c, const char *p, size_t n,
			      bool *done_r)
{
	const char *nl = memchr(p, '\n', n);
	size_t take = nl != NULL ? (size_t)(nl - p) + 1 : n;
	char *t;

	if (c->line_len + take > POP3C_STATUS_MAX) {
		p3_fail(c, "status line longer than %d octets", POP3C_STATUS_MAX);
		return n;
	}
	memcpy(c->line + c->line_len, p, take);
	c->line_len += take;
	if (nl == NULL)
		return take;
	c->line[--c->line_len] = '\0';
	if (c->line_len > 0 && c->line[c->line_len - 1] == '\r')
		c->line[--c->line_len] = '\0';
	if (strncmp(c->line, "+OK", 3) == 0 &&
	    (c->line[3] == '\0' || c->line[3] == ' ')) {
		c->status_ok = true;
		t = c->line + 3;
	} else if (strncmp(c->line, "-ERR", 4) == 0 &&
		   (c->line[4] == '\0' || c->line[4] == ' ')) {
		c->status_ok = false;
		t = c->line + 4;
	} else {
		p3_fail(c, "malformed reply \"%.80s\"", c->line);
		return n;
	}
	t += *t == ' ';
	memmove(c->line, t, strlen(t) + 1);
	if (c->status_ok && c->q[c->q_head].multiline) {
		c->in_body = true;
		if (c->q[c->q_head].line_fn != NULL) {
			pop3c_lines_free(&c->lines);
			if (pop3c_lines_init(&c->lines,
					     c->q[c->q_head].max_line) < 0) {
				p3_fail(c, "out of memory");
				return n;
			}
		}
	} else
		*done_r = true;
	return take;
}

/* Take bytes of a multi-line body; returns how many were used and sets
 * *done_r at its end. A streamed body goes to its owner chunk by chunk
 * (the buffer then holds one chunk); any other is gathered whole. */
static size_t p3_body_bytes(struct pop3c *c, const char *p, size_t n,
			    bool *done_r)
{
	const struct p3_cmd *cmd = &c->q[c->q_head];
	size_t out = 0, used;

	if (cmd->data_fn != NULL || cmd->line_fn != NULL)
		c->body_len = 0;
	if (c->body_cap - c->body_len < n + 2) {
		size_t cap = c->body_cap ? c->body_cap : 4096;
		char *grown;

		while (cap - c->body_len < n + 2)
			cap *= 2;
		grown = realloc(c->body, cap);
		if (grown == NULL) {
			p3_fail(c, "out of memory");
			return n;
		}
		c->body = grown;
		c->body_cap = cap;
	}
	used = dot_unstuff(&c->dot, p, n, c->body + c->body_len, &out);
	*done_r = dot_unstuff_done(&c->dot);
	c->body_len += out;
	c->body[c->body_len] = '\0';
	if (cmd->data_fn != NULL) {
		if (out > 0 && cmd->data_fn(c, cmd->arg, c->body, out) < 0) {
			*done_r = false;
			if (!conn_is_closing(c->conn))
				p3_fail(c, "reply refused by its reader");
			return n;
		}
		return used;
	}
	if (cmd->line_fn != NULL) {
		if (pop3c_lines_feed(&c->lines, c->body, out, cmd->line_fn,
				     cmd->arg) < 0 ||
		    (*done_r && pop3c_lines_end(&c->lines, cmd->line_fn,
						cmd->arg) < 0)) {
			*done_r = false;
			if (!conn_is_closing(c->conn))
				p3_fail(c, "reply refused by its reader");
			return n;
		}
		return used;
	}
	if (c->body_len > cmd->max_body) {
		p3_fail(c, "reply larger than %zu bytes", cmd->max_body);
		*done_r = false;
		return n;
	}
	return used;
}

static void p3_readable(struct conn *conn, void *arg)
{
	struct pop3c *c = arg;
	const char *data;
	size_t n;

	while (!conn_is_closing(conn) &&
	       (n = conn_read_raw(conn, &data, POP3C_CHUNK)) > 0) {
		while (n > 0 && !conn_is_closing(conn)) {
			size_t used;
			bool done = false;

			if (c->q_len == 0) {
				p3_fail(c, "unexpected data from the server");
				return;
			}
			if (!c->in_body) {
				used = p3_status_bytes(c, data, n, &done);
			} else {
				used = p3_body_bytes(c, data, n, &done);
			}
			data += used;
			n -= used;
			if (!done || conn_is_closing(conn))
				continue;
			/* Nothing may follow the reply to the last command
			 * in flight (after STLS this is the injection check
			 * too). */
			if (c->q_len == 1 &&
			    (n > 0 || conn_input_pending(conn) > 0)) {
				p3_fail(c, "unexpected data after a reply");
				return;
			}
			p3_complete(c);
		}
	}
}

/* The server speaks first (RFC 1939 section 4). */
static void p3_expect_greeting(struct pop3c *c)
{
	static const struct p3_cmd greeting = { .multiline = false };

	c->phase = PH_GREETING;
	p3_reset_reply(c);
	p3_push(c, &greeting);
}

static void p3_connected(struct conn *conn, void *arg)
{
	struct pop3c *c = arg;
	size_t discarded = 0;

	if (c->tls == POP3C_TLS_IMPLICIT) {
		if (conn_start_tls_client(conn, c->ctx, c->host, c->pin,
					  &discarded) < 0)
			p3_fail(c, "cannot start TLS");
		return;
	}
	p3_expect_greeting(c);
}

static void p3_tls_ready(struct conn *conn, void *arg)
{
	struct pop3c *c = arg;

	(void)conn;
	if (c->phase == PH_CONNECT) {
		p3_expect_greeting(c);
		return;
	}
	/* After STLS: forget what was learnt in plaintext, ask again. */
	c->phase = PH_CAPA_TLS;
	c->caps = 0;
	p3_send(c, "CAPA", true, POP3C_CAPA_MAX, NULL, NULL);
}

static void p3_free(struct pop3c *c)
{
	if (c->password != NULL) {
		sodium_memzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(c->host);
	free(c->pin);
	free(c->user);
	free(c->log_id);
	free(c->apop_ts);
	free(c->body);
	pop3c_lines_free(&c->lines);
	SSL_CTX_free(c->ctx);
	free(c);
}

static void p3_closed(struct conn *conn, void *arg,
		      enum conn_close_reason reason, const char *detail)
{
	struct pop3c *c = arg;
	char why[600];

	(void)conn;
	switch (reason) {
	case CONN_CLOSE_LOCAL:
		snprintf(why, sizeof(why), "%s", detail);
		break;
	case CONN_CLOSE_EOF:
		snprintf(why, sizeof(why), "connection closed by the server");
		break;
	case CONN_CLOSE_TIMEOUT:
		snprintf(why, sizeof(why), "timeout");
		break;
	case CONN_CLOSE_TLS:
		snprintf(why, sizeof(why), "TLS: %s", detail);
		break;
	case CONN_CLOSE_CONNECT:
		snprintf(why, sizeof(why), "connect: %s", detail);
		break;
	case CONN_CLOSE_ERROR:
	default:
		snprintf(why, sizeof(why), "%s", detail);
		break;
	}
	if (c->cb.on_closed != NULL)
		c->cb.on_closed(c, c->arg, c->quit_ok, why);
	p3_free(c);
}

struct pop3c *pop3c_connect(struct ev_loop *loop, const struct sockaddr *sa,
			    socklen_t salen, const struct pop3c_params *p,
			    const struct pop3c_cb *cb, void *arg)
{
	static const struct conn_cb conn_cbs = {
		.on_readable = p3_readable,
		.on_connected = p3_connected,
		.on_tls_ready = p3_tls_ready,
		.on_close = p3_closed,
	};
	struct pop3c *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->cb = *cb;
	c->arg = arg;
	c->tls = p->tls;
	c->auth = p->auth;
	c->timeout = p->timeout;
	c->host = strdup(p->host);
	c->user = strdup(p->user);
	c->password = strdup(p->password);
	c->log_id = strdup(p->log_id != NULL ? p->log_id : "pop3");
	c->pin = p->pin != NULL ? strdup(p->pin) : NULL;
	if (c->host == NULL || c->user == NULL || c->password == NULL ||
	    c->log_id == NULL || (p->pin != NULL && c->pin == NULL) ||
	    (p->tls != POP3C_TLS_NONE && p->ctx == NULL)) {
		p3_free(c);
		errno = p->tls != POP3C_TLS_NONE && p->ctx == NULL ? EINVAL
								   : ENOMEM;
		return NULL;
	}
	if (p->tls != POP3C_TLS_NONE) {
		SSL_CTX_up_ref(p->ctx);
		c->ctx = p->ctx;
	}
	c->conn = conn_connect(loop, sa, salen, &conn_cbs, c);
	if (c->conn == NULL) {
		int e = errno;

		p3_free(c);
		errno = e;
		return NULL;
	}
	conn_set_raw(c->conn, true);
	conn_set_timeout(c->conn, p->timeout);
	return c;
}

/* Commands the server lets us have in flight. */
static size_t p3_window(const struct pop3c *c)
{
	return (c->caps & POP3C_CAP_PIPELINING) ? POP3C_WINDOW : 1;
}

static int p3_command(struct pop3c *c, const char *line,
		      const struct p3_cmd *cmd)
{
	bool quit = strcasecmp(line, "QUIT") == 0;
	struct p3_cmd e = *cmd;

	if (strpbrk(line, "\r\n") != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (c->phase != PH_READY || c->quit_sent ||
	    conn_is_closing(c->conn)) {
		errno = EPIPE;
		return -1;
	}
	if (c->q_len >= p3_window(c)) {
		errno = EBUSY;
		return -1;
	}
	p3_trace(c, ">", line);
	if (conn_printf(c->conn, "%s\r\n", line) < 0)
		return -1;
	e.quit = quit;
	c->quit_sent = quit;
	p3_push(c, &e);
	return 0;
}

int pop3c_command(struct pop3c *c, const char *line, bool multiline,
		  size_t max_body, pop3c_reply_fn *fn, void *arg)
{
	struct p3_cmd cmd = {
		.multiline = multiline,
		.max_body = max_body,
		.fn = fn,
		.arg = arg,
	};

	return p3_command(c, line, &cmd);
}

int pop3c_command_stream(struct pop3c *c, const char *line,
			 pop3c_data_fn *data_fn, pop3c_reply_fn *fn,
			 void *arg)
{
	struct p3_cmd cmd = {
		.multiline = true,
		.fn = fn,
		.data_fn = data_fn,
		.arg = arg,
	};

	if (data_fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	return p3_command(c, line, &cmd);
}

int pop3c_command_lines(struct pop3c *c, const char *line, size_t max_line,
			pop3c_line_fn *line_fn, pop3c_reply_fn *fn, void *arg)
{
	struct p3_cmd cmd = {
		.multiline = true,
		.fn = fn,
		.line_fn = line_fn,
		.max_line = max_line,
		.arg = arg,
	};

	if (line_fn == NULL || max_line == 0) {
		errno = EINVAL;
		return -1;
	}
	return p3_command(c, line, &cmd);
}

size_t pop3c_room(const struct pop3c *c)
{
	if (c->phase != PH_READY || c->quit_sent || conn_is_closing(c->conn))
		return 0;
	return p3_window(c) - c->q_len;
}

void pop3c_close(struct pop3c *c, const char *why)
{
	conn_close(c->conn, why != NULL ? why : "closed");
}
