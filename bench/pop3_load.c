/* bench/pop3_load.c: POP3 load generator, one process, one epoll set.
 *
 *   pop3-load [-H host] -P port [-c clients] [-d seconds] -m mode
 *             -u user-format -w password
 *
 * user-format holds one %d, replaced by the client number from 1 (each
 * client its own user, so no two meet a maildrop lock).
 *   -m login  each client logs in (USER/PASS), QUITs, reconnects: logins/s
 *   -m retr   each client logs in, then RETRs every message one after
 *             another, over and over (no DELE): messages/s and MB/s,
 *             counted from the moment every client is logged in
 *   -m stall  the clients run logins as above while one more session
 *             (user number clients+1), logged in, sends NOOP every 10 ms:
 *             p50/p99/max NOOP latency, the event-loop stall a client sees
 * Output: one line of key=value pairs. Plaintext only. */
#include "autoconf.h"

#include "bench/benchlib.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

enum mode { M_LOGIN, M_RETR, M_STALL };
enum st { S_GREET, S_USER, S_PASS, S_STAT, S_RETR, S_RETR_BODY, S_NOOP,
	  S_IDLE, S_QUIT };

struct cl {
	struct bl_conn c; /* first: the epoll owner is the client */
	int id;
	enum st st;
	long msgs, next; /* messages in the drop, next to RETR */
	size_t scan;     /* RETR body: where the end search goes on */
	int noop;        /* the NOOP session of -m stall */
	double t0;
};

struct run {
	int ep;
	const char *host, *user_fmt, *password;
	unsigned port;
	enum mode mode;
	long logins, messages, errors;
	unsigned long long bytes;
	double *lat;
	size_t nlat, caplat;
	double next_noop;
	int measuring; /* -m retr counts only once every client is in */
};

static int sendf(struct run *r, struct cl *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int sendf(struct run *r, struct cl *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return bl_conn_send(&c->c, r->ep, buf, (size_t)n);
}

static void dial(struct run *r, struct cl *c)
{
	int fd = bl_dial(r->host, r->port, NULL);

	if (fd < 0)
		bl_die(errno, "connect %s:%u", r->host, r->port);
	bl_conn_init(&c->c, r->ep, fd, c);
	c->st = S_GREET;
}

static int next_retr(struct run *r, struct cl *c)
{
	if (c->msgs < 1) {
		c->st = S_QUIT;
		return bl_conn_send(&c->c, r->ep, "QUIT\r\n", 6);
	}
	if (c->next > c->msgs)
		c->next = 1; /* the whole mailbox again, same session */
	c->st = S_RETR;
	return sendf(r, c, "RETR %ld\r\n", c->next++);
}

/* One reply line (not RETR data). 0 to go on, -1 to drop the client. */
static int on_line(struct run *r, struct cl *c, const char *line)
{
	char user[256];
	int ok = strncmp(line, "+OK", 3) == 0;

	switch (c->st) {
	case S_GREET:
		if (!ok)
			return -1;
		{
			/* user_fmt is the caller's: expand its %d by hand,
			 * not as a printf format. */
			const char *d = strstr(r->user_fmt, "%d");
			int pre = d ? (int)(d - r->user_fmt)
				    : (int)strlen(r->user_fmt);

			snprintf(user, sizeof user, "%.*s%d%s", pre,
				 r->user_fmt, c->id, d ? d + 2 : "");
		}
		c->st = S_USER;
		return sendf(r, c, "USER %s\r\n", user);
	case S_USER:
		if (!ok)
			return -1;
		c->st = S_PASS;
		return sendf(r, c, "PASS %s\r\n", r->password);
	case S_PASS:
		if (!ok)
			return -1;
		if (c->noop) {
			c->st = S_IDLE;
			return 0;
		}
		r->logins++;
		if (r->mode == M_RETR) {
			c->st = S_STAT;
			return bl_conn_send(&c->c, r->ep, "STAT\r\n", 6);
		}
		c->st = S_QUIT;
		return bl_conn_send(&c->c, r->ep, "QUIT\r\n", 6);
	case S_STAT:
		if (!ok || sscanf(line, "+OK %ld", &c->msgs) != 1)
			return -1;
		c->next = 1;
		return next_retr(r, c);
	case S_RETR:
		if (!ok)
			return -1;
		c->st = S_RETR_BODY;
		return 0;
	case S_NOOP:
		if (!ok)
			return -1;
		if (r->nlat == r->caplat) {
			r->caplat = r->caplat ? r->caplat * 2 : 1024;
			r->lat = realloc(r->lat, r->caplat * sizeof *r->lat);
			if (r->lat == NULL)
				bl_die(ENOMEM, "latencies");
		}
		r->lat[r->nlat++] = bl_now() - c->t0;
		c->st = S_IDLE;
		return 0;
	case S_QUIT:
		return 1; /* reconnect */
	default:
		return -1;
	}
}

/* Input on a client: 0 to go on, 1 to reconnect, -1 on error. */
static int on_input(struct run *r, struct cl *c)
{
	for (;;) {
		if (c->st == S_RETR_BODY) {
			/* The reply ends with CRLF "." CRLF; the +OK line's
			 * CRLF was consumed, so an empty body is ".\r\n". */
			char *end = NULL;
			size_t i = c->scan > 4 ? c->scan - 4 : 0;

			if (c->c.inlen >= 3 &&
			    memcmp(c->c.in, ".\r\n", 3) == 0) {
				r->messages += r->measuring; /* empty */
				bl_conn_consume(&c->c, 3);
				if (next_retr(r, c) < 0)
					return -1;
				continue;
			}
			for (; end == NULL && i + 5 <= c->c.inlen; i++) {
				char *p = memchr(c->c.in + i, '\r',
						 c->c.inlen - i);

				if (p == NULL || p + 5 > c->c.in + c->c.inlen)
					break;
				i = (size_t)(p - c->c.in);
				if (memcmp(p, "\r\n.\r\n", 5) == 0)
					end = p;
			}
			if (end == NULL) {
				c->scan = c->c.inlen;
				return 0;
			}
			if (r->measuring) {
				r->messages++;
				r->bytes += (unsigned long long)(end + 2 -
								 c->c.in);
			}
			bl_conn_consume(&c->c, (size_t)(end + 5 - c->c.in));
			c->scan = 0;
			if (next_retr(r, c) < 0)
				return -1;
			continue;
		}
		{
			const char *line;
			ssize_t len = bl_conn_line(&c->c, &line);
			size_t used;
			int rc;

			if (len < 0)
				return 0;
			used = (size_t)((const char *)memchr(line, '\n',
							   c->c.inlen) - line) + 1;
			rc = on_line(r, c, line);
			bl_conn_consume(&c->c, used);
			if (rc != 0)
				return rc;
		}
	}
}

static void usage(void)
{
	fputs("usage: pop3-load [-H host] -P port [-c clients] [-d seconds] "
	      "-m login|retr|stall -u user-format -w password\n", stderr);
	exit(2);
}

/* The command line into r; the number of load clients and the seconds
 * to measure. */
static void parse_args(int argc, char **argv, struct run *r, long *n_r,
		       double *secs_r)
{
	const char *mode = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "H:P:c:d:m:u:w:")) != -1) {
		switch (opt) {
		case 'H': r->host = optarg; break;
		case 'P': r->port = (unsigned)atoi(optarg); break;
		case 'c': *n_r = atol(optarg); break;
		case 'd': *secs_r = atof(optarg); break;
		case 'm': mode = optarg; break;
		case 'u': r->user_fmt = optarg; break;
		case 'w': r->password = optarg; break;
		default: usage();
		}
	}
	if (r->port == 0 || mode == NULL || r->user_fmt == NULL ||
	    r->password == NULL || *n_r < 1 || *secs_r <= 0)
		usage();
	if (strcmp(mode, "login") == 0)
		r->mode = M_LOGIN;
	else if (strcmp(mode, "retr") == 0)
		r->mode = M_RETR;
	else if (strcmp(mode, "stall") == 0)
		r->mode = M_STALL;
	else
		usage();
}

/* -m stall: the NOOP session logs in first, before the load starts. */
static void login_noop_session(struct run *r, struct cl *c)
{
	double deadline;

	dial(r, c);
	deadline = bl_now() + 60;
	while (c->st != S_IDLE && bl_now() < deadline) {
		struct epoll_event ev;

		if (epoll_wait(r->ep, &ev, 1, 1000) == 1 &&
		    (bl_conn_read(&c->c) <= 0 || on_input(r, c) != 0))
			bl_die(0, "the NOOP session failed to log in");
	}
	if (c->st != S_IDLE)
		bl_die(0, "the NOOP session failed to log in");
}

/* -m stall: the next NOOP once the last one was answered and 10 ms
 * passed. */
static void maybe_noop(struct run *r, struct cl *c, double t)
{
	if (c->st != S_IDLE || t < r->next_noop)
		return;
	c->st = S_NOOP;
	c->t0 = t;
	r->next_noop = t + 0.010;
	if (bl_conn_send(&c->c, r->ep, "NOOP\r\n", 6) < 0)
		bl_die(errno, "NOOP");
}

/* One epoll event on c; a client that is done or failed dials again. */
static void on_event(struct run *r, struct cl *c, uint32_t events)
{
	int rc = 0;
	ssize_t got;

	if ((events & EPOLLOUT) && bl_conn_flush(&c->c, r->ep) < 0)
		rc = -1;
	if (rc == 0) {
		got = bl_conn_read(&c->c);
		if (got == 0 || got == -1)
			rc = c->st == S_QUIT ? 1 : -1;
		else if (got > 0)
			rc = on_input(r, c);
	}
	if (rc == 0)
		return;
	if (rc < 0)
		r->errors++;
	if (c->noop)
		bl_die(0, "the NOOP session ended");
	bl_conn_close(&c->c, r->ep);
	dial(r, c);
}

static void report(const struct run *r, double t)
{
	printf("seconds=%.3f logins=%ld logins_s=%.1f messages=%ld msgs_s=%.1f "
	       "mb_s=%.2f errors=%ld", t, r->logins, (double)r->logins / t,
	       r->messages, (double)r->messages / t,
	       (double)r->bytes / t / 1e6, r->errors);
	if (r->mode == M_STALL) {
		size_t nl = r->nlat;
		double p50 = bl_percentile(r->lat, nl, 50) * 1000;
		double p99 = bl_percentile(r->lat, nl, 99) * 1000;
		double max = bl_percentile(r->lat, nl, 100) * 1000;

		printf(" noops=%zu noop_p50_ms=%.2f noop_p99_ms=%.2f "
		       "noop_max_ms=%.2f", nl, p50, p99, max);
	}
	putchar('\n');
}

int main(int argc, char **argv)
{
	struct run r = { .host = "127.0.0.1" };
	long n = 1, i, total;
	double secs = 5, t0, deadline, t;
	struct cl *cs;

	parse_args(argc, argv, &r, &n, &secs);
	total = n + (r.mode == M_STALL);
	cs = calloc((size_t)total, sizeof *cs);
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	if (cs == NULL || r.ep < 0)
		bl_die(errno, "setup");
	for (i = 0; i < total; i++) {
		cs[i].id = (int)i + 1;
		cs[i].noop = i == n;
	}
	if (r.mode == M_STALL)
		login_noop_session(&r, &cs[n]);
	t0 = bl_now();
	deadline = t0 + secs;
	r.next_noop = t0;
	r.measuring = r.mode != M_RETR;
	if (!r.measuring)
		deadline = t0 + 300; /* the logins, bounded */
	for (i = 0; i < n; i++)
		dial(&r, &cs[i]);
	while ((t = bl_now()) < deadline) {
		struct epoll_event evs[64];
		int m;

		if (!r.measuring && r.logins >= n) {
			/* Every client is logged in: RETR throughput from
			 * here, without the Argon2id logins. */
			r.measuring = 1;
			t0 = t;
			deadline = t0 + secs;
		}
		if (r.mode == M_STALL)
			maybe_noop(&r, &cs[n], t);
		m = epoll_wait(r.ep, evs, 64, r.mode == M_STALL ? 1 : 100);
		if (m < 0 && errno != EINTR)
			bl_die(errno, "epoll_wait");
		for (int k = 0; k < m; k++)
			on_event(&r, evs[k].data.ptr, evs[k].events);
	}
	report(&r, bl_now() - t0);
	for (i = 0; i < total; i++)
		if (cs[i].c.in != NULL)
			bl_conn_close(&cs[i].c, r.ep);
	free(cs);
	free(r.lat);
	close(r.ep);
	return 0;
}
