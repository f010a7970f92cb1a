/* bench/smtp_load.c: SMTP load generator. C concurrent sessions over
 * loopback (one process, one epoll set) send N messages of S bytes in
 * total, one transaction after another per session, and report the accept
 * rate and the per-transaction latency (MAIL FROM sent to the 250 after
 * the final dot). By default each command waits for its reply; with -p
 * MAIL, RCPT and DATA go out as one group (RFC 2920 PIPELINING, as MTAs
 * send when the server offers it) and the content after the 354.
 *
 *   smtp-load [-H host] -P port [-c sessions] [-n messages] [-s bytes]
 *             [-f from] -r rcpt [-p] [-w maildir-new [-t seconds]]
 *
 * With -w the run lasts until the directory holds N more entries than at
 * the start: a server that answers 250 once the message is QUEUED (not
 * yet in the Maildir) is then measured to the Maildir too. The rate is
 * messages / (time until every 250 arrived and, with -w, every file is
 * there). The sender defaults to load@client.test: mail from outside, as
 * an MX receives it (kantorpos refuses an unauthenticated sender in one of
 * its own domains). Output: one line of key=value pairs. */
#include "autoconf.h"

#include "bench/benchlib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

enum st { S_GREET, S_EHLO, S_MAIL, S_RCPT, S_DATA, S_DOT, S_QUIT, S_DONE };

struct sess {
	struct bl_conn c; /* first: the epoll owner is the session */
	enum st st;
	double t0; /* MAIL FROM sent */
};

struct run {
	int ep;
	long total, started, done, errors;
	const char *from, *rcpt;
	int pipelining;
	char *msg;
	size_t msglen;
	double *lat;
	double last;
};

/* A message of about size bytes: a few headers, then 76-character lines
 * (so no line needs dot-stuffing), then the end-of-data mark. */
static char *make_message(size_t size, size_t *len_r)
{
	static const char head[] =
		"From: load@client.test\r\nTo: rcpt@bench.test\r\n"
		"Subject: load\r\nMessage-ID: <load@bench.test>\r\n\r\n";
	size_t cap = size + 256, len;
	char *m = malloc(cap);

	if (m == NULL)
		bl_die(ENOMEM, "message");
	memcpy(m, head, sizeof head - 1);
	len = sizeof head - 1;
	while (len + 78 <= size) {
		memset(m + len, 'a' + (int)(len % 26), 76);
		memcpy(m + len + 76, "\r\n", 2);
		len += 78;
	}
	memcpy(m + len, ".\r\n", 3);
	*len_r = len + 3;
	return m;
}

static int start_mail(struct run *r, struct sess *s)
{
	char cmd[600];
	int n;

	if (r->started >= r->total) {
		s->st = S_QUIT;
		return bl_conn_send(&s->c, r->ep, "QUIT\r\n", 6);
	}
	r->started++;
	s->st = S_MAIL;
	s->t0 = bl_now();
	if (r->pipelining)
		n = snprintf(cmd, sizeof cmd,
			     "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n",
			     r->from, r->rcpt);
	else
		n = snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>\r\n", r->from);
	return bl_conn_send(&s->c, r->ep, cmd, (size_t)n);
}

/* One reply line: returns 0 to go on, -1 to drop the session. */
static int on_line(struct run *r, struct sess *s, const char *line,
		   ssize_t len)
{
	char cmd[600];
	int n, code;

	if (len < 3)
		return -1;
	if (len > 3 && line[3] == '-')
		return 0; /* continuation of a multi-line reply */
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	switch (s->st) {
	case S_GREET:
		if (code != 220)
			return -1;
		s->st = S_EHLO;
		return bl_conn_send(&s->c, r->ep, "EHLO load.bench.test\r\n", 22);
	case S_EHLO:
		return code == 250 ? start_mail(r, s) : -1;
	case S_MAIL:
		if (code != 250)
			return -1;
		s->st = S_RCPT;
		if (r->pipelining)
			return 0; /* RCPT and DATA are on their way */
		n = snprintf(cmd, sizeof cmd, "RCPT TO:<%s>\r\n", r->rcpt);
		return bl_conn_send(&s->c, r->ep, cmd, (size_t)n);
	case S_RCPT:
		if (code != 250)
			return -1;
		s->st = S_DATA;
		if (r->pipelining)
			return 0;
		return bl_conn_send(&s->c, r->ep, "DATA\r\n", 6);
	case S_DATA:
		if (code != 354)
			return -1;
		s->st = S_DOT;
		return bl_conn_send(&s->c, r->ep, r->msg, r->msglen);
	case S_DOT:
		if (code != 250)
			return -1;
		r->last = bl_now();
		r->lat[r->done++] = r->last - s->t0;
		return start_mail(r, s);
	case S_QUIT:
		s->st = S_DONE;
		return -1;
	case S_DONE:
		break;
	}
	return -1;
}

static void usage(void)
{
	fputs("usage: smtp-load [-H host] -P port [-c sessions] [-n messages] "
	      "[-s bytes] [-f from] -r rcpt [-p] [-w maildir-new [-t seconds]]\n",
	      stderr);
	exit(2);
}

/* What the command line sets beside struct run. */
struct opts {
	const char *host, *wait_dir;
	unsigned port;
	long conc, size;
	double timeout;
};

static void parse_args(int argc, char **argv, struct opts *o, struct run *r)
{
	int opt;

	while ((opt = getopt(argc, argv, "H:P:c:n:s:f:r:pw:t:")) != -1) {
		switch (opt) {
		case 'H': o->host = optarg; break;
		case 'P': o->port = (unsigned)atoi(optarg); break;
		case 'c': o->conc = atol(optarg); break;
		case 'n': r->total = atol(optarg); break;
		case 's': o->size = atol(optarg); break;
		case 'f': r->from = optarg; break;
		case 'r': r->rcpt = optarg; break;
		case 'p': r->pipelining = 1; break;
		case 'w': o->wait_dir = optarg; break;
		case 't': o->timeout = atof(optarg); break;
		default: usage();
		}
	}
	if (o->port == 0 || r->rcpt == NULL || o->conc < 1 || r->total < 1 ||
	    o->size < 1)
		usage();
}

/* One epoll event on s: 0 to go on, -1 when the session is over (it is
 * then closed, and counted as an error unless it ended with QUIT). */
static int on_event(struct run *r, struct sess *s, uint32_t events)
{
	const char *line;
	ssize_t len, got;
	int bad = 0;

	if (events & EPOLLOUT)
		bad = bl_conn_flush(&s->c, r->ep) < 0;
	if (!bad && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		got = bl_conn_read(&s->c);
		bad = got == 0 || got == -1;
		while (!bad && (len = bl_conn_line(&s->c, &line)) >= 0) {
			size_t used = (size_t)((const char *)memchr(
				line, '\n', s->c.inlen) - line) + 1;

			bad = on_line(r, s, line, len) < 0;
			bl_conn_consume(&s->c, used);
		}
	}
	if (!bad)
		return 0;
	if (s->st != S_DONE) {
		r->errors++;
		if (s->st >= S_MAIL && s->st <= S_DOT)
			r->started--;
	}
	bl_conn_close(&s->c, r->ep);
	return -1;
}

/* Open conc sessions, each waiting for its greeting, and run them until
 * every one is over or the deadline passed. */
static void run_sessions(struct run *r, struct sess *ss, const struct opts *o,
			 double deadline)
{
	long open_sessions = o->conc;

	for (long i = 0; i < o->conc; i++) {
		int fd = bl_dial(o->host, o->port, NULL);

		if (fd < 0)
			bl_die(errno, "connect %s:%u", o->host, o->port);
		bl_conn_init(&ss[i].c, r->ep, fd, &ss[i]);
		ss[i].st = S_GREET;
	}
	while (open_sessions > 0 && bl_now() < deadline) {
		struct epoll_event evs[64];
		int n = epoll_wait(r->ep, evs, 64, 1000);

		if (n < 0 && errno != EINTR)
			bl_die(errno, "epoll_wait");
		for (int k = 0; k < n; k++)
			if (on_event(r, evs[k].data.ptr, evs[k].events) < 0)
				open_sessions--;
	}
}

/* With -w: the end of the run once dir holds base + r->done entries (the
 * missing ones by the deadline count as errors). */
static double wait_for_files(struct run *r, const char *dir, long base,
			     double deadline)
{
	long want = base + r->done, have = bl_count_dir(dir);
	double t_end = r->last;

	/* Files already there after the last 250 count from that 250;
	 * otherwise the run ends when the last one appears. */
	if (have < want) {
		while (have < want && bl_now() < deadline) {
			usleep(1000);
			have = bl_count_dir(dir);
		}
		t_end = bl_now();
	}
	if (have < want)
		r->errors += want - have;
	return t_end;
}

int main(int argc, char **argv)
{
	struct opts o = { .host = "127.0.0.1", .conc = 1, .size = 1024,
			  .timeout = 120 };
	struct run r = { .total = 100, .from = "load@client.test" };
	double t_start, t_end, secs, p50, p99;
	struct sess *ss;
	long base = 0;

	parse_args(argc, argv, &o, &r);
	r.msg = make_message((size_t)o.size, &r.msglen);
	r.lat = calloc((size_t)r.total, sizeof *r.lat);
	ss = calloc((size_t)o.conc, sizeof *ss);
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	if (r.lat == NULL || ss == NULL || r.ep < 0)
		bl_die(errno, "setup");
	if (o.wait_dir != NULL && (base = bl_count_dir(o.wait_dir)) < 0)
		bl_die(errno, "%s", o.wait_dir);

	t_start = bl_now();
	run_sessions(&r, ss, &o, t_start + o.timeout);
	t_end = r.last;
	if (o.wait_dir != NULL)
		t_end = wait_for_files(&r, o.wait_dir, base,
				       t_start + o.timeout);
	secs = t_end - t_start;
	p50 = bl_percentile(r.lat, (size_t)r.done, 50);
	p99 = bl_percentile(r.lat, (size_t)r.done, 99);
	printf("messages=%ld errors=%ld seconds=%.3f rate=%.1f "
	       "p50_ms=%.2f p99_ms=%.2f\n", r.done, r.errors, secs,
	       secs > 0 ? (double)r.done / secs : 0, p50 * 1000, p99 * 1000);
	for (long i = 0; i < o.conc; i++)
		if (ss[i].c.fd > 0)
			bl_conn_close(&ss[i].c, r.ep);
	free(ss);
	free(r.lat);
	free(r.msg);
	close(r.ep);
	return r.errors == 0 ? 0 : 1;
}
