/* store/queue_env.c: parsing and formatting queue envelopes (pure). */
#include "autoconf.h"

#include "store/queue_env.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base/strbuf.h"

#define ENV_MAGIC "kantorpos-queue"
#define ENV_VALUE_MAX 900
#define ENV_MAX_FIELDS 5

static char *sanitised(const char *s);
static int parse_i64(const char *s, int64_t *v_r);
static int split_tabs(char *line, char **f, size_t max);
static int parse_rcpt(struct queue_env *env, char **f, size_t n);

/* A copy of s with control bytes made spaces, cut at ENV_VALUE_MAX
 * (on a UTF-8 character boundary). */
static char *sanitised(const char *s)
{
	size_t len = strlen(s);
	char *c;

	if (len > ENV_VALUE_MAX) {
		len = ENV_VALUE_MAX;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	c = malloc(len + 1);
	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)s[i];

		c[i] = (b < 0x20 || b == 0x7f) ? ' ' : (char)b;
	}
	c[len] = '\0';
	return c;
}

int queue_env_set(char **field, const char *s)
{
	char *c = NULL;

	if (s != NULL && (c = sanitised(s)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	free(*field);
	*field = c;
	return 0;
}

int queue_env_add_rcpt(struct queue_env *env, const char *addr)
{
	struct queue_rcpt *grown;
	char *a = sanitised(addr);

	if (a == NULL)
		return -1;
	grown = realloc(env->rcpts, (env->n_rcpts + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(a);
		errno = ENOMEM;
		return -1;
	}
	env->rcpts = grown;
	grown[env->n_rcpts++] = (struct queue_rcpt){ .addr = a };
	return 0;
}

size_t queue_env_pending(const struct queue_env *env)
{
	size_t n = 0;

	for (size_t i = 0; i < env->n_rcpts; i++)
		if (env->rcpts[i].state == QUEUE_RCPT_PENDING)
			n++;
	return n;
}

void queue_env_clear(struct queue_env *env)
{
	for (size_t i = 0; i < env->n_rcpts; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].status);
		free(env->rcpts[i].diag);
		free(env->rcpts[i].orcpt);
	}
	free(env->rcpts);
	free(env->sender);
	free(env->domain);
	free(env->last_error);
	free(env->remote_mta);
	free(env->last_tls);
	free(env->envid);
	memset(env, 0, sizeof(*env));
}

bool queue_domain_match(const char *domain, const char *want,
			bool subdomains)
{
	size_t dl, wl;

	if (want == NULL)
		return true;
	if (strcasecmp(domain, want) == 0)
		return true;
	dl = strlen(domain);
	wl = strlen(want);
	return subdomains && wl > 0 && dl > wl + 1 &&
	       domain[dl - wl - 1] == '.' &&
	       strcasecmp(domain + dl - wl, want) == 0;
}

int queue_route_domain(const char *addr, char *buf, size_t size)
{
	const char *at = strrchr(addr, '@');
	size_t len = at != NULL ? strlen(at + 1) : 0;

	if (len == 0 || len >= size) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i <= len; i++)
		buf[i] = (char)tolower((unsigned char)at[1 + i]);
	return 0;
}

static int parse_i64(const char *s, int64_t *v_r)
{
	int64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*v_r = v;
	return 0;
}

/* Cut line at TABs into at most max fields; -1 when there are more. */
static int split_tabs(char *line, char **f, size_t max)
{
	size_t n = 0;

	for (;;) {
		char *tab = strchr(line, '\t');

		if (n == max)
			return -1;
		f[n++] = line;
		if (tab == NULL)
			return (int)n;
		*tab = '\0';
		line = tab + 1;
	}
}

static char *dup_or_null(const char *s)
{
	return strcmp(s, "-") == 0 ? NULL : sanitised(s);
}

static int parse_rcpt(struct queue_env *env, char **f, size_t n)
{
	struct queue_rcpt *r;
	enum queue_rcpt_state st;

	if (n != 5 || f[3][0] == '\0' || strlen(f[1]) != 1)
		return -1;
	switch (f[1][0]) {
	case 'P': st = QUEUE_RCPT_PENDING; break;
	case 'D': st = QUEUE_RCPT_DONE; break;
	case 'F': st = QUEUE_RCPT_FAILED; break;
	default: return -1;
	}
	if (queue_env_add_rcpt(env, f[3]) < 0)
		return -1;
	r = &env->rcpts[env->n_rcpts - 1];
	r->state = st;
	if ((strcmp(f[2], "-") != 0 && (r->status = sanitised(f[2])) == NULL) ||
	    (strcmp(f[4], "-") != 0 && (r->diag = sanitised(f[4])) == NULL))
		return -1;
	return 0;
}

/* *dst_r = a copy of val, NULL for "-": the reason it failed, or NULL. */
static const char *copy_or_dash(char **dst_r, const char *val)
{
	*dst_r = dup_or_null(val);
	return *dst_r == NULL && strcmp(val, "-") != 0 ? "out of memory" : NULL;
}

static const char *parse_body(struct queue_env *env, const char *val)
{
	if (strcmp(val, "7BIT") == 0)
		env->body = QUEUE_BODY_7BIT;
	else if (strcmp(val, "8BITMIME") == 0)
		env->body = QUEUE_BODY_8BITMIME;
	else if (strcmp(val, "BINARYMIME") == 0)
		env->body = QUEUE_BODY_BINARYMIME;
	else
		return "bad body";
	return NULL;
}

/* One KEY<TAB>VALUE line: the reason it is bad, or NULL. */
static const char *parse_field(struct queue_env *env, const char *key,
			       const char *val, bool *have_arrival)
{
	int64_t v;

	if (strcmp(key, "sender") == 0 && env->sender == NULL)
		return (env->sender = sanitised(val)) == NULL ? "out of memory"
							      : NULL;
	if (strcmp(key, "domain") == 0 && env->domain == NULL)
		return val[0] == '\0' || (env->domain = sanitised(val)) == NULL
			       ? "bad domain" : NULL;
	if (strcmp(key, "arrival") == 0) {
		*have_arrival = true;
		return parse_i64(val, &env->arrival) < 0 ? "bad arrival" : NULL;
	}
	if (strcmp(key, "next") == 0)
		return parse_i64(val, &env->next_attempt) < 0 ? "bad next"
							      : NULL;
	if (strcmp(key, "attempts") == 0) {
		if (parse_i64(val, &v) < 0 || v > 1000000)
			return "bad attempts";
		env->attempts = (unsigned)v;
		return NULL;
	}
	if (strcmp(key, "error") == 0 && env->last_error == NULL)
		return copy_or_dash(&env->last_error, val);
	if (strcmp(key, "body") == 0)
		return parse_body(env, val);
	if (strcmp(key, "smtputf8") == 0) {
		env->smtputf8 = val[0] == '1';
		return strcmp(val, "0") != 0 && strcmp(val, "1") != 0
			       ? "bad smtputf8" : NULL;
	}
	if (strcmp(key, "remote") == 0 && env->remote_mta == NULL)
		return copy_or_dash(&env->remote_mta, val);
	if (strcmp(key, "tls") == 0 && env->last_tls == NULL)
		return copy_or_dash(&env->last_tls, val);
	if (strcmp(key, "ret") == 0 && env->ret == DSN_RET_NONE) {
		env->ret = strcmp(val, "FULL") == 0   ? DSN_RET_FULL
			   : strcmp(val, "HDRS") == 0 ? DSN_RET_HDRS
						      : DSN_RET_NONE;
		return env->ret == DSN_RET_NONE ? "bad ret" : NULL;
	}
	if (strcmp(key, "envid") == 0 && env->envid == NULL)
		return val[0] == '\0' || (env->envid = sanitised(val)) == NULL
			       ? "bad envid" : NULL;
	return "unknown or repeated field";
}

/* A dsn line for the recipient r (the one read last). */
static int parse_rcpt_dsn(struct queue_rcpt *r, char **f, size_t n)
{
	if (n != 4 || f[2][0] == '\0' ||
	    (strcmp(f[1], "-") != 0 &&
	     dsn_notify_parse(f[1], strlen(f[1]), false, &r->notify, NULL) < 0))
		return -1;
	if (strcmp(f[2], "-") != 0 && (r->orcpt = sanitised(f[2])) == NULL)
		return -1;
	if (strcmp(f[3], "delayed") == 0)
		r->delay_sent = true;
	else if (strcmp(f[3], "-") != 0)
		return -1;
	return 0;
}

/* Whether one of the n fields holds a control byte. */
static bool has_control(char *const *f, int n)
{
	for (int i = 0; i < n; i++)
		for (const char *q = f[i]; *q != '\0'; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				return true;
	return false;
}

/* What parsing has seen so far. */
struct parse_state {
	bool have_arrival;
	bool dsn_ok; /* the line before was a rcpt line */
};

/* A line after the first, cut into n fields (-1: too many): the reason it
 * is bad, or NULL. */
static const char *parse_line(struct queue_env *env, char **f, int n,
			      struct parse_state *ps)
{
	bool dsn_ok = ps->dsn_ok;

	ps->dsn_ok = false;
	if (n == 5 && strcmp(f[0], "rcpt") == 0) {
		ps->dsn_ok = true;
		return parse_rcpt(env, f, (size_t)n) < 0 ? "bad rcpt line"
							  : NULL;
	}
	if (n > 0 && strcmp(f[0], "dsn") == 0)
		return !dsn_ok || parse_rcpt_dsn(&env->rcpts[env->n_rcpts - 1],
						 f, (size_t)n) < 0
			       ? "bad dsn line" : NULL;
	if (n != 2)
		return "expected KEY<TAB>VALUE";
	return parse_field(env, f[0], f[1], &ps->have_arrival);
}

int queue_env_parse(const char *text, size_t len, struct queue_env *env_r,
		    const char **err_r)
{
	char *copy, *line, *f[ENV_MAX_FIELDS];
	struct parse_state ps = { false, false };
	bool magic = false;
	const char *why = NULL;

	memset(env_r, 0, sizeof(*env_r));
	if (len > QUEUE_ENV_MAX || memchr(text, '\0', len) != NULL) {
		*err_r = len > QUEUE_ENV_MAX ? "envelope too large"
					     : "NUL byte in envelope";
		return -1;
	}
	copy = malloc(len + 1);
	if (copy == NULL) {
		*err_r = "out of memory";
		return -1;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (line = copy; why == NULL && *line != '\0';) {
		char *nl = strchr(line, '\n');
		int n;

		if (nl == NULL) {
			why = "last line unterminated";
			break;
		}
		*nl = '\0';
		n = split_tabs(line, f, ENV_MAX_FIELDS);
		line = nl + 1;
		if (has_control(f, n)) {
			why = "control byte in envelope";
		} else if (!magic) {
			if (n != 2 || strcmp(f[0], ENV_MAGIC) != 0 ||
			    strcmp(f[1], "1") != 0)
				why = "not a version 1 queue envelope";
			magic = true;
		} else {
			why = parse_line(env_r, f, n, &ps);
		}
	}
	free(copy);
	if (why == NULL && !magic)
		why = "empty envelope";
	if (why == NULL && (env_r->sender == NULL || env_r->domain == NULL ||
			    !ps.have_arrival || env_r->n_rcpts == 0))
		why = "sender, domain, arrival or recipients missing";
	if (why != NULL) {
		queue_env_clear(env_r);
		*err_r = why;
		return -1;
	}
	return 0;
}

static const char *or_dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

/* The dsn line of r, when it asked anything or a delay DSN went out. */
static void format_rcpt_dsn(struct strbuf *out, const struct queue_rcpt *r)
{
	char notify[32];

	if (r->notify == 0 && (r->orcpt == NULL || r->orcpt[0] == '\0') &&
	    !r->delay_sent)
		return;
	strbuf_addf(out, "dsn\t%s\t%s\t%s\n",
		    or_dash(dsn_notify_format(r->notify, notify, sizeof(notify))),
		    or_dash(r->orcpt), r->delay_sent ? "delayed" : "-");
}

int queue_env_format(const struct queue_env *env, char **text_r,
		     size_t *len_r)
{
	static const char states[] = { 'P', 'D', 'F' };
	struct strbuf out = STRBUF_INIT;

	if (env->sender == NULL || env->domain == NULL || env->n_rcpts == 0) {
		errno = EINVAL;
		return -1;
	}
	strbuf_addf(&out,
		    ENV_MAGIC "\t1\nsender\t%s\ndomain\t%s\narrival\t%" PRId64
		    "\nattempts\t%u\nnext\t%" PRId64 "\nerror\t%s\nremote\t%s\n",
		    env->sender, env->domain, env->arrival, env->attempts,
		    env->next_attempt, or_dash(env->last_error),
		    or_dash(env->remote_mta));
	if (env->body != QUEUE_BODY_7BIT)
		strbuf_addf(&out, "body\t%s\n",
			    env->body == QUEUE_BODY_BINARYMIME ? "BINARYMIME"
							       : "8BITMIME");
	if (env->smtputf8)
		strbuf_adds(&out, "smtputf8\t1\n");
	if (env->last_tls != NULL)
		strbuf_addf(&out, "tls\t%s\n", env->last_tls);
	if (env->ret != DSN_RET_NONE)
		strbuf_addf(&out, "ret\t%s\n",
			    env->ret == DSN_RET_HDRS ? "HDRS" : "FULL");
	if (env->envid != NULL && env->envid[0] != '\0')
		strbuf_addf(&out, "envid\t%s\n", env->envid);
	for (size_t i = 0; i < env->n_rcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];

		strbuf_addf(&out, "rcpt\t%c\t%s\t%s\t%s\n", states[r->state],
			    or_dash(r->status), r->addr, or_dash(r->diag));
		format_rcpt_dsn(&out, r);
	}
	if ((*text_r = strbuf_take(&out, len_r)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}
