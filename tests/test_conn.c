/* tests/test_conn.c: the buffered connection over socketpairs: line reader
 * under every chunking, raw mode, pause/resume, back-pressure and drain,
 * deferred close, close after flush, idle timeout. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/net/conn.h"

#define MAXREC 64

struct rec {
	struct conn *c;
	int n;
	char *line[MAXREC];
	size_t len[MAXREC];
	unsigned flags[MAXREC];
	int seq[MAXREC];
	int seqno;
	/* raw mode: bytes still wanted, and what was taken */
	size_t raw_want;
	char raw[4096];
	size_t raw_len;
	int drains, drain_seq, timeouts, closes;
	enum conn_close_reason reason;
	char detail[128];
	/* behaviour switches */
	bool pause_after_first;
	bool close_in_cb;
	bool bulk_on_go;
	bool reply_timeout;
	bool close_after_flush;
};

static struct ev_loop *loop;
static int sv[2];
static struct rec rec;

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	memset(&rec, 0, sizeof rec);
	loop = ev_loop_new(EVFLAG_AUTO);
	cr_assert_not_null(loop);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void teardown(void)
{
	int i;

	for (i = 0; i < rec.n; i++)
		free(rec.line[i]);
	if (sv[1] >= 0)
		close(sv[1]);
	ev_loop_destroy(loop);
}

TestSuite(conn, .init = setup, .fini = teardown, .timeout = 20);

static void record_line(struct rec *r, const char *data, size_t len,
			unsigned flags)
{
	cr_assert_lt(r->n, MAXREC);
	r->line[r->n] = malloc(len + 1);
	memcpy(r->line[r->n], data, len);
	r->line[r->n][len] = '\0';
	r->len[r->n] = len;
	r->flags[r->n] = flags;
	r->seq[r->n] = ++r->seqno;
	r->n++;
}

static void on_readable(struct conn *c, void *arg)
{
	struct rec *r = arg;
	struct conn_line l;
	const char *data;
	size_t n;

	for (;;) {
		if (r->raw_want > 0) {
			n = conn_read_raw(c, &data, r->raw_want);
			if (n == 0)
				return;
			cr_assert_leq(r->raw_len + n, sizeof r->raw);
			memcpy(r->raw + r->raw_len, data, n);
			r->raw_len += n;
			r->raw_want -= n;
			if (r->raw_want == 0)
				conn_set_raw(c, false);
			continue;
		}
		if (conn_next_line(c, &l) != 1)
			return;
		record_line(r, l.data, l.len, l.flags);
		if (strncmp(l.data, "BDAT ", 5) == 0) {
			r->raw_want = strtoul(l.data + 5, NULL, 10);
			conn_set_raw(c, true);
		}
		if (r->close_in_cb) {
			cr_assert_eq(conn_printf(c, "bye\r\n"), 0);
			conn_close(c, "done");
			/* Still safe to use until the callback returns. */
			cr_assert(conn_is_closing(c));
			cr_assert_eq(conn_next_line(c, &l), 0);
			cr_assert_eq(conn_printf(c, "more\r\n"), -1);
			cr_assert_eq(errno, EPIPE);
			conn_close(c, "again");
			return;
		}
		if (r->close_after_flush) {
			conn_printf(c, "221 bye\r\n");
			conn_close_after_flush(c, "quit");
			return;
		}
		if (r->bulk_on_go && strcmp(l.data, "GO") == 0) {
			size_t total = 1024 * 1024, i;
			char *big = malloc(total);

			for (i = 0; i < total; i++)
				big[i] = (char)('a' + i % 26);
			cr_assert_eq(conn_write(c, big, total), 0);
			free(big);
			cr_assert_gt(conn_output_pending(c), 4096);
		}
		if (r->pause_after_first && r->n == 1) {
			conn_pause_input(c);
			cr_assert_eq(conn_next_line(c, &l), 0, "paused: no line");
			return;
		}
	}
}

static void on_drain(struct conn *c, void *arg)
{
	struct rec *r = arg;

	(void)c;
	r->drains++;
	r->drain_seq = ++r->seqno;
}

static void on_timeout(struct conn *c, void *arg)
{
	struct rec *r = arg;

	r->timeouts++;
	if (r->reply_timeout) {
		conn_printf(c, "421 idle\r\n");
		conn_close(c, "timeout");
	}
}

static void on_close(struct conn *c, void *arg, enum conn_close_reason reason,
		     const char *detail)
{
	struct rec *r = arg;

	cr_assert_not_null(conn_peer(c));
	r->closes++;
	r->reason = reason;
	snprintf(r->detail, sizeof r->detail, "%s", detail);
}

static const struct conn_cb cbs = {
	.on_readable = on_readable,
	.on_drain = on_drain,
	.on_timeout = on_timeout,
	.on_close = on_close,
};

static const struct conn_cb cbs_no_timeout = {
	.on_readable = on_readable,
	.on_close = on_close,
};

static void start(const struct conn_cb *cb)
{
	rec.c = conn_new(loop, sv[0], cb, &rec);
	cr_assert_not_null(rec.c);
}

/* Feed input in chunks of `chunk` bytes (0: all at once), one loop
 * iteration per chunk, then EOF, and run until the conn closed. */
static void feed(const char *in, size_t len, size_t chunk)
{
	size_t off = 0, n;

	if (chunk == 0)
		chunk = len;
	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		cr_assert_eq(write(sv[1], in + off, n), (ssize_t)n);
		off += n;
		ev_run(loop, EVRUN_ONCE);
	}
	shutdown(sv[1], SHUT_WR);
	while (rec.closes == 0)
		ev_run(loop, EVRUN_ONCE);
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static const size_t chunks[] = { 1, 2, 7, 0 };

struct want {
	const char *data;
	size_t len;
	unsigned flags;
};

#define W(s, f) { s, sizeof(s) - 1, f }
#define CRLF CONN_LINE_CRLF

Test(conn, line_reader_all_chunkings)
{
	static const char in[] =
		"HELO a\r\n"
		"bare\n"
		"x\ry\r\n"
		"nu\0l\r\n"
		"\r\n"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
		"after\r\n"
		"BBBBBBBBBBBBBB\r\n"  /* 14 + CRLF = 16: at the limit */
		"CCCCCCCCCCCCCCC\r\n" /* 15 + CRLF = 17: overlong */
		"DDDDDDDDDDDDDDD\n"   /* 15 + LF = 16: at the limit */
		"EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE"
		"EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE\n"
		"end\r\n"
		"partial";
	static const struct want want[] = {
		W("HELO a", CRLF),
		W("bare", 0),
		W("x\ry", CRLF | CONN_LINE_BARE_CR),
		W("nu\0l", CRLF | CONN_LINE_NUL),
		W("", CRLF),
		W("AAAAAAAAAAAAAAA", CONN_LINE_OVERLONG),
		W("after", CRLF),
		W("BBBBBBBBBBBBBB", CRLF),
		W("CCCCCCCCCCCCCCC", CONN_LINE_OVERLONG),
		W("DDDDDDDDDDDDDDD", 0),
		W("EEEEEEEEEEEEEEE", CONN_LINE_OVERLONG),
		W("end", CRLF),
	};
	size_t k, i, nwant = sizeof want / sizeof want[0];

	for (k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
		if (k > 0) {
			/* fresh pair for each chunking */
			teardown();
			setup();
		}
		start(&cbs);
		conn_set_max_line(rec.c, 16);
		feed(in, sizeof in - 1, chunks[k]);
		cr_assert_eq(rec.n, (int)nwant, "chunk %zu: %d lines", chunks[k], rec.n);
		for (i = 0; i < nwant; i++) {
			cr_assert_eq(rec.len[i], want[i].len, "chunk %zu line %zu len %zu",
				     chunks[k], i, rec.len[i]);
			cr_assert_eq(memcmp(rec.line[i], want[i].data, want[i].len), 0,
				     "chunk %zu line %zu: %s", chunks[k], i, rec.line[i]);
			cr_assert_eq(rec.flags[i], want[i].flags,
				     "chunk %zu line %zu flags %u", chunks[k], i,
				     rec.flags[i]);
		}
		cr_assert_eq(rec.reason, CONN_CLOSE_EOF);
	}
}

Test(conn, overlong_without_newline_stays_bounded)
{
	char buf[8192];
	int i;

	memset(buf, 'Z', sizeof buf);
	start(&cbs);
	conn_set_max_line(rec.c, 64);
	set_nonblock(sv[1]);
	for (i = 0; i < 64; i++) {
		cr_assert_eq(write(sv[1], buf, sizeof buf), (ssize_t)sizeof buf);
		ev_run(loop, EVRUN_ONCE);
		cr_assert_lt(conn_input_pending(rec.c), 64 + 16384 + 1,
			     "input never grows without bound");
	}
	cr_assert_eq(write(sv[1], "\r\nok\r\n", 6), 6);
	shutdown(sv[1], SHUT_WR);
	while (rec.closes == 0)
		ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(rec.n, 2, "reported once, then the next line");
	cr_assert_eq(rec.flags[0], CONN_LINE_OVERLONG);
	cr_assert_eq(rec.len[0], 63);
	cr_assert_str_eq(rec.line[1], "ok");
}

Test(conn, raw_mode_between_lines_all_chunkings)
{
	static const char in[] = "BDAT 12\r\nab\r\n.\n\0\rxyz\nQUIT\r\n";
	size_t k;

	for (k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
		if (k > 0) {
			teardown();
			setup();
		}
		start(&cbs);
		feed(in, sizeof in - 1, chunks[k]);
		cr_assert_eq(rec.n, 2, "chunk %zu", chunks[k]);
		cr_assert_str_eq(rec.line[0], "BDAT 12");
		cr_assert_eq(rec.raw_len, 12);
		cr_assert_eq(memcmp(rec.raw, "ab\r\n.\n\0\rxyz\n", 12), 0);
		cr_assert_str_eq(rec.line[1], "QUIT");
	}
}

Test(conn, pause_and_resume_redeliver_buffered_lines)
{
	static const char in[] = "one\r\ntwo\r\nthree\r\n";
	int i;

	rec.pause_after_first = true;
	start(&cbs);
	cr_assert_eq(write(sv[1], in, sizeof in - 1), (ssize_t)(sizeof in - 1));
	ev_run(loop, EVRUN_ONCE);
	for (i = 0; i < 5; i++)
		ev_run(loop, EVRUN_NOWAIT);
	cr_assert_eq(rec.n, 1, "paused after the first line");
	cr_assert_gt(conn_input_pending(rec.c), 0);
	conn_resume_input(rec.c);
	cr_assert_eq(rec.n, 1, "no callback inside resume");
	ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(rec.n, 3, "buffered lines delivered without new input");
	cr_assert_str_eq(rec.line[2], "three");
	conn_close(rec.c, NULL);
	ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(rec.closes, 1);
}

Test(conn, backpressure_pauses_input_until_drained)
{
	int small = 8192;
	size_t total = 1024 * 1024, got = 0, i;
	char buf[65536];
	ssize_t n;
	int rounds;

	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	rec.bulk_on_go = true;
	start(&cbs);
	conn_set_watermarks(rec.c, 4096, 1024);
	cr_assert_eq(write(sv[1], "GO\r\n", 4), 4);
	while (rec.n < 1)
		ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(write(sv[1], "MORE\r\n", 6), 6);
	for (rounds = 0; rounds < 20; rounds++)
		ev_run(loop, EVRUN_NOWAIT);
	cr_assert_eq(rec.n, 1, "input paused while output is above high water");
	cr_assert_eq(rec.drains, 0);
	cr_assert_gt(conn_output_pending(rec.c), 4096);

	set_nonblock(sv[1]);
	for (rounds = 0; rounds < 1000000 && (got < total || rec.n < 2); rounds++) {
		n = read(sv[1], buf, sizeof buf);
		if (n > 0) {
			for (i = 0; i < (size_t)n; i++)
				cr_assert_eq(buf[i], (char)('a' + (got + i) % 26));
			got += (size_t)n;
		}
		ev_run(loop, EVRUN_NOWAIT);
	}
	cr_assert_eq(got, total);
	cr_assert_eq(rec.n, 2);
	cr_assert_str_eq(rec.line[1], "MORE");
	cr_assert_eq(rec.drains, 1);
	cr_assert_lt(rec.drain_seq, rec.seq[1], "drain fires, then input resumes");
	conn_close(rec.c, NULL);
	ev_run(loop, EVRUN_ONCE);
}

Test(conn, request_drain_fires_from_loop)
{
	start(&cbs);
	conn_request_drain(rec.c);
	cr_assert_eq(rec.drains, 0, "never inside the call");
	ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(rec.drains, 1);
	ev_run(loop, EVRUN_NOWAIT);
	cr_assert_eq(rec.drains, 1, "one-shot");
	conn_close(rec.c, NULL);
	ev_run(loop, EVRUN_ONCE);
}

static size_t read_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got < cap && (n = read(fd, buf + got, cap - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return got;
}

Test(conn, close_inside_callback_is_deferred)
{
	char buf[256];

	rec.close_in_cb = true;
	start(&cbs);
	cr_assert_eq(write(sv[1], "QUIT\r\nNOOP\r\n", 12), 12);
	while (rec.closes == 0)
		ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(rec.closes, 1);
	cr_assert_eq(rec.n, 1, "nothing delivered after close");
	cr_assert_eq(rec.reason, CONN_CLOSE_LOCAL);
	cr_assert_str_eq(rec.detail, "done");
	read_all(sv[1], buf, sizeof buf - 1);
	cr_assert_str_eq(buf, "bye\r\n", "queued reply flushed, then EOF");
}

Test(conn, close_outside_callback_is_deferred)
{
	start(&cbs);
	conn_close(rec.c, "shutdown");
	cr_assert_eq(rec.closes, 0, "on_close never runs inside conn_close");
	ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(rec.closes, 1);
	cr_assert_str_eq(rec.detail, "shutdown");
}

Test(conn, close_after_flush_sends_reply_first)
{
	char buf[256];

	rec.close_after_flush = true;
	start(&cbs);
	cr_assert_eq(write(sv[1], "QUIT\r\nRSET\r\n", 12), 12);
	while (rec.closes == 0)
		ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.reason, CONN_CLOSE_LOCAL);
	cr_assert_str_eq(rec.detail, "quit");
	read_all(sv[1], buf, sizeof buf - 1);
	cr_assert_str_eq(buf, "221 bye\r\n");
}

Test(conn, idle_timeout_calls_owner)
{
	char buf[256];

	rec.reply_timeout = true;
	start(&cbs);
	conn_set_timeout(rec.c, 0.05);
	while (rec.closes == 0)
		ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(rec.timeouts, 1);
	cr_assert_eq(rec.reason, CONN_CLOSE_LOCAL);
	read_all(sv[1], buf, sizeof buf - 1);
	cr_assert_str_eq(buf, "421 idle\r\n");
}

Test(conn, idle_timeout_without_callback_closes)
{
	start(&cbs_no_timeout);
	conn_set_timeout(rec.c, 0.05);
	while (rec.closes == 0)
		ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(rec.reason, CONN_CLOSE_TIMEOUT);
}

Test(conn, partial_line_does_not_reset_idle_timer)
{
	/* A trickle of bytes without LF (slowloris) must not keep the
	 * connection alive: only complete lines restart the timer. */
	start(&cbs_no_timeout);
	conn_set_timeout(rec.c, 0.2);
	set_nonblock(sv[1]);
	while (rec.closes == 0) {
		cr_assert_eq(write(sv[1], "x", 1), 1);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(2000);
	}
	cr_assert_eq(rec.closes, 1);
	cr_assert_eq(rec.reason, CONN_CLOSE_TIMEOUT);
	cr_assert_eq(rec.n, 0);
}
