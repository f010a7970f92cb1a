/* common/net/conn.c: the buffered libev connection: watchers, idle timer, the
 * socket side of the line reader and of the output queue with back-pressure
 * (the buffers and the framing are common/net/buf), TLS (implicit, STARTTLS,
 * client) and deferred close; see conn.h. */
#include "autoconf.h"

#include "common/net/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/net/buf.h"
#include "common/net/net.h"
#include "common/net/tls.h"

/* Read room beyond the line limit: one read fills at most this much. */
#define CONN_READ_CHUNK 16384
/* One SSL_write at most; a retry after WANT_WRITE never shrinks below the
 * earlier attempt because output is only ever appended. */
#define CONN_TLS_WRITE_MAX 16384

enum conn_tls_state {
	CT_NONE,      /* plaintext */
	CT_FLUSHING,  /* upgrade requested: plaintext reply still going out */
	CT_HANDSHAKE, /* SSL_do_handshake in progress */
	CT_ON,        /* established */
};

struct conn {
	struct ev_loop *loop;
	struct conn_cb cb;
	void *arg;
	int fd;
	ev_io rio, wio;
	ev_timer timer; /* idle timeout */
	/* A zero-delay timer for "run me from the loop": deliver buffered
	 * input after a resume, finalize a close made outside a callback.
	 * (A fed event would wait for the next poll to return.) */
	ev_timer soon;
	double timeout;

	struct buf_in in;
	struct buf_out out;
	size_t high, low;

	SSL *ssl;
	enum conn_tls_state tls;
	bool tls_client, has_pin;
	long verify;                /* conn_tls_verify_result */
	unsigned char pin[TLS_FP_LEN];
	bool hs_want_read, hs_want_write;
	bool read_wants_write, write_wants_read;

	unsigned depth; /* callback frames in progress */
	bool raw, user_paused, bp_paused, eof, connecting;
	bool drain_armed, close_after_flush, closing, broken, finalizing;
	/* The last write stopped on a full socket (EAGAIN or TLS WANT_*):
	 * no eager write until the loop says it is writable again. */
	bool out_blocked;
	enum conn_close_reason reason;
	char detail[128];
	char peer[NET_ADDRSTRLEN];
	unsigned peer_port;
};

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void update_io(struct conn *c);
static void do_input(struct conn *c);
static void step(struct conn *c);
static void soon_cb(struct ev_loop *loop, ev_timer *w, int revents);

static void schedule(struct conn *c)
{
	if (!ev_is_active(&c->soon))
		ev_timer_start(c->loop, &c->soon);
}

/* The conn's line flags are the framing's. */
_Static_assert(CONN_LINE_CRLF == BUF_LINE_CRLF &&
	       CONN_LINE_BARE_CR == BUF_LINE_BARE_CR &&
	       CONN_LINE_NUL == BUF_LINE_NUL &&
	       CONN_LINE_OVERLONG == BUF_LINE_OVERLONG,
	       "conn and buf line flags differ");

static size_t out_pending(const struct conn *c)
{
	return buf_out_pending(&c->out);
}
static size_t in_avail(const struct conn *c) { return buf_in_avail(&c->in); }

/* Close for good (deferred): remember why and stop all I/O. */
static void close_hard(struct conn *c, enum conn_close_reason reason,
		       const char *detail, bool broken)
{
	if (c->finalizing) {
		c->broken = true; /* the last flush failed: nothing more */
		return;
	}
	if (c->closing)
		return;
	c->closing = true;
	c->broken = broken;
	c->reason = reason;
	if (detail != c->detail)
		snprintf(c->detail, sizeof c->detail, "%s",
			 detail != NULL ? detail : "closed");
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	ev_timer_stop(c->loop, &c->timer);
	if (c->depth == 0)
		schedule(c);
}

static void close_errno(struct conn *c, const char *what)
{
	char buf[200];

	snprintf(buf, sizeof buf, "%s: %s", what, strerror(errno));
	close_hard(c, CONN_CLOSE_ERROR, buf, true);
}

static void close_tls(struct conn *c, const char *what, int sslerr)
{
	char buf[200];
	long vr;

	if (sslerr == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		if (errno != 0)
			close_errno(c, what);
		else
			close_hard(c, CONN_CLOSE_EOF, "connection closed by peer"
				   " during TLS", true);
		return;
	}
	if (c->tls_client && c->tls == CT_HANDSHAKE)
		c->verify = SSL_get_verify_result(c->ssl);
	if (c->tls_client && c->tls == CT_HANDSHAKE &&
	    (vr = c->verify) != X509_V_OK) {
		snprintf(buf, sizeof buf, "%s: certificate verification failed: %s",
			 what, X509_verify_cert_error_string(vr));
		ERR_clear_error();
	} else {
		tls_errstr(what, buf, sizeof buf);
	}
	close_hard(c, CONN_CLOSE_TLS, buf, true);
}

/* Write queued output until it is gone or the socket is full. */
static void flush_out(struct conn *c)
{
	/* Never plaintext in the middle of a handshake. */
	if (c->tls == CT_HANDSHAKE)
		return;
	while ((!c->closing || c->finalizing) && !c->broken &&
	       out_pending(c) > 0) {
		size_t len = out_pending(c);
		ssize_t n;

		if (c->tls == CT_ON) {
			int r, e;

			if (len > CONN_TLS_WRITE_MAX)
				len = CONN_TLS_WRITE_MAX;
			ERR_clear_error();
			errno = 0;
			r = SSL_write(c->ssl, buf_out_head(&c->out), (int)len);
			if (r <= 0) {
				e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE) {
					c->write_wants_read = false;
					c->out_blocked = true;
					break;
				}
				if (e == SSL_ERROR_WANT_READ) {
					/* Crossed: TLS must read before it can
					 * write again. */
					c->write_wants_read = true;
					c->out_blocked = true;
					break;
				}
				close_tls(c, "TLS write", e);
				return;
			}
			c->write_wants_read = false;
			n = r;
		} else {
			n = send(c->fd, buf_out_head(&c->out), len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					c->out_blocked = true;
					break;
				}
				close_errno(c, "write");
				return;
			}
		}
		/* Frees the queue's memory once it is empty. */
		buf_out_consume(&c->out, (size_t)n);
		c->out_blocked = false;
	}
	if (c->bp_paused && out_pending(c) <= c->low) {
		c->bp_paused = false;
		c->drain_armed = true;
		/* Lines that waited in the buffer get delivered again. */
		if (in_avail(c) > 0 && !c->closing)
			schedule(c);
	}
}

static void finalize(struct conn *c)
{
	struct conn_cb cb = c->cb;

	/* No event may be fed for this conn from here on. */
	c->depth = 1;
	c->finalizing = true;
	if (!c->broken) {
		/* Best effort: the last reply and a TLS close_notify (RFC 8314
		 * section 3.4); never waits. */
		flush_out(c);
		if (c->tls == CT_ON && !c->broken) {
			ERR_clear_error();
			SSL_shutdown(c->ssl);
		}
	}
	/* Stopping also clears any event pending for a watcher. */
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	ev_timer_stop(c->loop, &c->timer);
	ev_timer_stop(c->loop, &c->soon);
	if (cb.on_close != NULL)
		cb.on_close(c, c->arg, c->reason, c->detail);
	ERR_clear_error();
	SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	buf_in_free(&c->in);
	buf_out_free(&c->out);
	free(c);
}

static void enter(struct conn *c) { c->depth++; }

static void leave(struct conn *c)
{
	if (--c->depth == 0 && c->closing)
		finalize(c);
}

static void timer_restart(struct conn *c)
{
	if (c->closing || c->timeout <= 0 || c->user_paused) {
		ev_timer_stop(c->loop, &c->timer);
		return;
	}
	c->timer.repeat = c->timeout;
	ev_timer_again(c->loop, &c->timer);
}

static struct conn *conn_alloc(struct ev_loop *loop, int fd,
			       const struct conn_cb *cb, void *arg)
{
	struct conn *c = calloc(1, sizeof *c);

	if (c == NULL)
		return NULL;
	c->loop = loop;
	c->cb = *cb;
	c->arg = arg;
	c->fd = fd;
	buf_in_set_max_line(&c->in, CONN_DEFAULT_MAX_LINE);
	c->high = CONN_DEFAULT_HIGH_WATER;
	c->low = CONN_DEFAULT_LOW_WATER;
	ev_io_init(&c->rio, io_cb, fd, EV_READ);
	ev_io_init(&c->wio, io_cb, fd, EV_WRITE);
	ev_init(&c->timer, timer_cb);
	ev_timer_init(&c->soon, soon_cb, 0., 0.);
	c->rio.data = c->wio.data = c->timer.data = c->soon.data = c;
	return c;
}

struct conn *conn_new(struct ev_loop *loop, int fd, const struct conn_cb *cb,
		      void *arg)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct conn *c;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return NULL;
	c = conn_alloc(loop, fd, cb, arg);
	if (c == NULL)
		return NULL;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		net_addr_string((struct sockaddr *)&ss, c->peer, sizeof c->peer,
				&c->peer_port);
	else
		snprintf(c->peer, sizeof c->peer, "?");
	update_io(c);
	return c;
}

struct conn *conn_connect(struct ev_loop *loop, const struct sockaddr *sa,
			  socklen_t salen, const struct conn_cb *cb, void *arg)
{
	return conn_connect_from(loop, sa, salen, NULL, 0, cb, arg);
}

/* Bind fd to src before its connect; the port is chosen at connect time
 * (IP_BIND_ADDRESS_NO_PORT), so many connections from one address do not
 * run out of ports early. 0 or -1. */
static int bind_source(int fd, const struct sockaddr *src, socklen_t srclen)
{
#ifdef IP_BIND_ADDRESS_NO_PORT
	int one = 1;

	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			 sizeof(one));
#endif
	return bind(fd, src, srclen);
}

struct conn *conn_connect_from(struct ev_loop *loop, const struct sockaddr *sa,
			       socklen_t salen, const struct sockaddr *src,
			       socklen_t srclen, const struct conn_cb *cb,
			       void *arg)
{
	struct conn *c;
	int fd, saved;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if ((src != NULL && bind_source(fd, src, srclen) < 0) ||
	    (connect(fd, sa, salen) < 0 && errno != EINPROGRESS)) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	c = conn_alloc(loop, fd, cb, arg);
	if (c == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	net_addr_string(sa, c->peer, sizeof c->peer, &c->peer_port);
	/* Completion, immediate or not, is reported from the write watcher
	 * so the owner never sees a callback inside this call. */
	c->connecting = true;
	update_io(c);
	return c;
}

static void finish_connect(struct conn *c)
{
	socklen_t len = sizeof(int);
	int err = 0;
	char buf[200];

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		snprintf(buf, sizeof buf, "connect to %s port %u: %s", c->peer,
			 c->peer_port, strerror(err));
		close_hard(c, CONN_CLOSE_CONNECT, buf, true);
		return;
	}
	c->connecting = false;
	timer_restart(c);
	if (c->cb.on_connected != NULL)
		c->cb.on_connected(c, c->arg);
}

void conn_set_timeout(struct conn *c, double seconds)
{
	c->timeout = seconds > 0 ? seconds : 0;
	timer_restart(c);
}

void conn_set_max_line(struct conn *c, size_t max_line)
{
	buf_in_set_max_line(&c->in, max_line);
}

void conn_set_watermarks(struct conn *c, size_t high, size_t low)
{
	c->high = high;
	c->low = low < high ? low : high / 2;
}

void conn_set_raw(struct conn *c, bool raw) { c->raw = raw; }

/* Input may be read from the socket now. */
static bool want_input(const struct conn *c)
{
	return !c->closing && !c->close_after_flush && !c->user_paused &&
	       !c->bp_paused && !c->eof && !c->connecting &&
	       (c->tls == CT_NONE || c->tls == CT_ON) &&
	       (c->in.data == NULL || in_avail(c) < c->in.cap);
}

/* Buffered input may be handed to the owner now. */
static bool can_deliver(const struct conn *c)
{
	return !c->closing && !c->close_after_flush && !c->user_paused &&
	       !c->bp_paused && !c->connecting &&
	       (c->tls == CT_NONE || c->tls == CT_ON);
}

static void set_io(struct conn *c, ev_io *w, bool on)
{
	if (on && !ev_is_active(w))
		ev_io_start(c->loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(c->loop, w);
}

static void update_io(struct conn *c)
{
	bool r = false, w = false;

	if (c->closing)
		return;
	if (c->connecting) {
		w = true;
	} else if (c->tls == CT_HANDSHAKE) {
		r = c->hs_want_read;
		w = c->hs_want_write;
	} else {
		bool tls = c->tls == CT_ON;

		if (want_input(c)) {
			if (tls && c->read_wants_write)
				w = true;
			else
				r = true;
		}
		if (out_pending(c) > 0) {
			if (tls && c->write_wants_read)
				r = true;
			else
				w = true;
		}
		/* Nothing to write, but something to decide once the loop
		 * runs: a drain request, a close after flush, an upgrade. */
		if (c->drain_armed || c->close_after_flush || c->tls == CT_FLUSHING)
			w = true;
	}
	set_io(c, &c->rio, r);
	set_io(c, &c->wio, w);
}

static bool deliverable(struct conn *c)
{
	return c->raw ? buf_in_raw_ready(&c->in) : buf_in_has_line(&c->in);
}

/* Hand buffered input to the owner while it keeps taking some. */
static void dispatch(struct conn *c)
{
	size_t before;

	while (can_deliver(c) && c->cb.on_readable != NULL && deliverable(c)) {
		before = c->in.start;
		timer_restart(c);
		c->cb.on_readable(c, c->arg);
		if (c->in.start == before || c->in.data == NULL)
			break;
	}
}

/* Read what the socket (or TLS) has, up to one buffer, then deliver. */
static void do_input(struct conn *c)
{
	while (want_input(c)) {
		size_t room;
		ssize_t n;
		char *space;

		space = buf_in_space(&c->in, c->in.max_line + CONN_READ_CHUNK,
				     &room);
		if (space == NULL) {
			close_hard(c, CONN_CLOSE_ERROR, "out of memory", true);
			return;
		}
		if (room == 0)
			break;
		if (c->tls == CT_ON) {
			int r, e;

			ERR_clear_error();
			errno = 0;
			r = SSL_read(c->ssl, space,
				     room > INT_MAX ? INT_MAX : (int)room);
			if (r <= 0) {
				e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ) {
					c->read_wants_write = false;
					break;
				}
				if (e == SSL_ERROR_WANT_WRITE) {
					/* Crossed: TLS must write first. */
					c->read_wants_write = true;
					break;
				}
				if (e == SSL_ERROR_ZERO_RETURN) {
					c->eof = true;
					break;
				}
				close_tls(c, "TLS read", e);
				return;
			}
			c->read_wants_write = false;
			n = r;
		} else {
			n = read(c->fd, space, room);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				close_errno(c, "read");
				return;
			}
			if (n == 0) {
				c->eof = true;
				break;
			}
		}
		buf_in_commit(&c->in, (size_t)n, c->raw);
		/* A short read emptied the socket: another read would only
		 * say EAGAIN (the level-triggered watcher reports more). */
		if (c->tls != CT_ON && (size_t)n < room)
			break;
	}
	dispatch(c);
}

static void do_handshake(struct conn *c)
{
	int r, e;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		e = SSL_get_error(c->ssl, r);
		c->hs_want_read = e == SSL_ERROR_WANT_READ;
		c->hs_want_write = e == SSL_ERROR_WANT_WRITE;
		if (!c->hs_want_read && !c->hs_want_write)
			close_tls(c, "TLS handshake", e);
		return;
	}
	c->hs_want_read = c->hs_want_write = false;
	c->tls = CT_ON;
	if (c->tls_client)
		c->verify = SSL_get_verify_result(c->ssl);
	if (c->tls_client && c->has_pin && tls_check_pin(c->ssl, c->pin) != 1) {
		close_hard(c, CONN_CLOSE_TLS,
			   "TLS handshake: certificate fingerprint mismatch", true);
		return;
	}
	timer_restart(c);
	if (c->cb.on_tls_ready != NULL)
		c->cb.on_tls_ready(c, c->arg);
	/* Data may already sit inside OpenSSL; the socket will not say so. */
	if (!c->closing)
		do_input(c);
}

/* After every event: state changes that follow from what happened. */
static void step(struct conn *c)
{
	if (c->closing)
		return;
	/* Write what this event queued now, not after another poll: a reply
	 * then costs one send and no write-watcher change. Not while the
	 * socket is known to be full (the write watcher waits for it). */
	if (out_pending(c) > 0 && !c->out_blocked && !c->connecting) {
		flush_out(c);
		if (c->closing)
			return;
	}
	if (c->tls == CT_FLUSHING && out_pending(c) == 0) {
		SSL_set_fd(c->ssl, c->fd);
		c->tls = CT_HANDSHAKE;
		do_handshake(c);
		if (c->closing)
			return;
	}
	if (c->close_after_flush && out_pending(c) == 0 &&
	    c->tls != CT_HANDSHAKE) {
		close_hard(c, CONN_CLOSE_LOCAL, c->detail, false);
		return;
	}
	if (c->drain_armed && out_pending(c) <= c->low && !c->connecting &&
	    (c->tls == CT_NONE || c->tls == CT_ON)) {
		c->drain_armed = false;
		if (c->cb.on_drain != NULL)
			c->cb.on_drain(c, c->arg);
		if (c->closing)
			return;
	}
	if (c->eof && !c->user_paused && !deliverable(c) &&
	    out_pending(c) == 0) {
		close_hard(c, CONN_CLOSE_EOF, "connection closed by peer", false);
		return;
	}
	buf_in_release(&c->in);
	update_io(c);
	/* Decrypted bytes left inside OpenSSL after the buffer filled. */
	if (c->tls == CT_ON && want_input(c) && SSL_pending(c->ssl) > 0)
		schedule(c);
}

/* One readiness event (is_write: the write side), or a scheduled kick. */
static void handle(struct conn *c, bool is_write)
{
	enter(c);
	if (c->closing) {
		/* a kick that raced with close: only finalize */
	} else if (c->connecting) {
		if (is_write)
			finish_connect(c);
	} else if (c->tls == CT_HANDSHAKE) {
		do_handshake(c);
	} else {
		if (is_write)
			c->out_blocked = false;
		if (is_write || (c->tls == CT_ON && c->write_wants_read))
			flush_out(c);
		if (!c->closing &&
		    (!is_write || (c->tls == CT_ON && c->read_wants_write)))
			do_input(c);
	}
	step(c);
	leave(c);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;

	(void)loop;
	(void)revents;
	handle(c, w == &c->wio);
}

static void soon_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	handle(w->data, false);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;

	(void)loop;
	enter(c);
	if ((revents & EV_TIMER) && !c->closing) {
		bool owner_decides = c->cb.on_timeout != NULL && !c->connecting &&
				     !c->close_after_flush &&
				     (c->tls == CT_NONE || c->tls == CT_ON);

		if (owner_decides)
			c->cb.on_timeout(c, c->arg);
		else
			close_hard(c, CONN_CLOSE_TIMEOUT, "idle timeout",
				   c->close_after_flush);
		step(c);
	}
	leave(c);
}

int conn_next_line(struct conn *c, struct conn_line *line_r)
{
	struct buf_line line;

	if (c->raw || !can_deliver(c) || c->in.data == NULL ||
	    buf_in_next_line(&c->in, &line) == 0)
		return 0;
	line_r->data = line.data;
	line_r->len = line.len;
	line_r->flags = line.flags;
	return 1;
}

size_t conn_read_raw(struct conn *c, const char **data_r, size_t max)
{
	if (!can_deliver(c) || c->in.data == NULL)
		return 0;
	return buf_in_take(&c->in, data_r, max);
}

void conn_unread_raw(struct conn *c, size_t n)
{
	if (c->in.data != NULL)
		buf_in_untake(&c->in, n);
}

size_t conn_input_pending(const struct conn *c) { return in_avail(c); }

void conn_pause_input(struct conn *c)
{
	c->user_paused = true;
	timer_restart(c);
	update_io(c);
}

/* Deliver buffered input (or a pending EOF) from the loop, not from here. */
static void kick_input(struct conn *c)
{
	if (c->closing || c->connecting || !can_deliver(c))
		return;
	if (in_avail(c) > 0 || c->eof ||
	    (c->tls == CT_ON && SSL_pending(c->ssl) > 0))
		schedule(c);
}

void conn_resume_input(struct conn *c)
{
	if (!c->user_paused)
		return;
	c->user_paused = false;
	timer_restart(c);
	update_io(c);
	kick_input(c);
}

/* Room for len bytes (and a NUL) at the end of the output queue. */
static char *out_reserve(struct conn *c, size_t len)
{
	if (c->closing || c->close_after_flush) {
		errno = EPIPE;
		return NULL;
	}
	return buf_out_reserve(&c->out, len, CONN_OUT_MAX);
}

/* More output was queued: back-pressure and the write watcher. */
/* Output queued outside the conn's own events (an answer from a worker's
 * completion, a greeting) is sent at once when the socket takes it: one
 * send instead of a write watcher started, polled and stopped. What the
 * socket does not take, and any error, is left to the write watcher,
 * which handles errors; closing here would free the conn under the
 * caller. TLS output always goes through flush_out. While input waits in
 * the buffer (a pipelined group behind an answer that took a while), the
 * output goes with the replies to that input instead, sent by the event
 * that delivers it: one segment, and no small one left for Nagle to hold
 * until the peer's delayed ACK. */
static void write_through(struct conn *c)
{
	if (c->depth > 0 || c->tls != CT_NONE || c->closing || c->broken ||
	    c->connecting || c->out_blocked || c->bp_paused)
		return;
	if (in_avail(c) > 0) {
		schedule(c);
		return;
	}
	while (out_pending(c) > 0) {
		ssize_t n = send(c->fd, buf_out_head(&c->out), out_pending(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			return;
		buf_out_consume(&c->out, (size_t)n);
	}
}

static void out_queued(struct conn *c)
{
	write_through(c);
	if (!c->bp_paused && out_pending(c) > c->high) {
		c->bp_paused = true;
		c->drain_armed = true;
	}
	update_io(c);
}

int conn_write(struct conn *c, const void *data, size_t len)
{
	char *p;

	if (len == 0)
		return 0;
	if ((p = out_reserve(c, len)) == NULL)
		return -1;
	memcpy(p, data, len);
	buf_out_commit(&c->out, len);
	out_queued(c);
	return 0;
}

int conn_vprintf(struct conn *c, const char *fmt, va_list ap)
{
	if (c->closing || c->close_after_flush) {
		errno = EPIPE;
		return -1;
	}
	if (buf_out_vprintf(&c->out, CONN_OUT_MAX, fmt, ap) < 0)
		return -1;
	out_queued(c);
	return 0;
}

int conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = conn_vprintf(c, fmt, ap);
	va_end(ap);
	return r;
}

size_t conn_output_pending(const struct conn *c) { return out_pending(c); }

void conn_request_drain(struct conn *c)
{
	if (c->closing)
		return;
	c->drain_armed = true;
	update_io(c);
}

/* Common part of both upgrades: drop plaintext, arm the handshake. */
static int start_tls(struct conn *c, SSL *ssl, size_t *discarded_r)
{
	/* CVE-2011-0411: bytes that came before the handshake were sent in
	 * plaintext and must never be read as if they had come over TLS. */
	size_t dropped = buf_in_drop(&c->in);

	if (discarded_r != NULL)
		*discarded_r = dropped;
	c->ssl = ssl;
	c->tls = CT_FLUSHING;
	update_io(c);
	return 0;
}

int conn_start_tls(struct conn *c, SSL_CTX *ctx, size_t *discarded_r)
{
	SSL *ssl;

	if (c->closing || c->tls != CT_NONE || c->connecting)
		return -1;
	ssl = SSL_new(ctx);
	if (ssl == NULL)
		return -1;
	SSL_set_accept_state(ssl);
	return start_tls(c, ssl, discarded_r);
}

int conn_start_tls_client(struct conn *c, SSL_CTX *ctx, const char *host,
			  const char *pin, size_t *discarded_r)
{
	char err[256];
	SSL *ssl;

	if (c->closing || c->tls != CT_NONE || c->connecting)
		return -1;
	if (pin != NULL) {
		if (tls_fp_parse(pin, c->pin) < 0)
			return -1;
		c->has_pin = true;
	}
	ssl = SSL_new(ctx);
	if (ssl == NULL)
		return -1;
	if (tls_client_prepare(ssl, host, pin != NULL ? c->pin : NULL, err,
			       sizeof err) < 0) {
		SSL_free(ssl);
		return -1;
	}
	SSL_set_connect_state(ssl);
	c->tls_client = true;
	return start_tls(c, ssl, discarded_r);
}

int conn_start_tls_dane(struct conn *c, SSL_CTX *ctx,
			const struct tls_dane *d, size_t *discarded_r,
			char *err, size_t errlen)
{
	SSL *ssl;

	if (c->closing || c->tls != CT_NONE || c->connecting) {
		snprintf(err, errlen, "not in a state to start TLS");
		return -1;
	}
	if ((ssl = SSL_new(ctx)) == NULL) {
		tls_errstr("SSL_new", err, errlen);
		return -1;
	}
	if (tls_client_prepare_dane(ssl, d, err, errlen) < 0) {
		SSL_free(ssl);
		return -1;
	}
	SSL_set_connect_state(ssl);
	c->tls_client = true;
	return start_tls(c, ssl, discarded_r);
}

void conn_close(struct conn *c, const char *reason)
{
	close_hard(c, CONN_CLOSE_LOCAL, reason, false);
}

void conn_close_after_flush(struct conn *c, const char *reason)
{
	if (c->closing || c->close_after_flush)
		return;
	c->close_after_flush = true;
	snprintf(c->detail, sizeof c->detail, "%s",
		 reason != NULL ? reason : "closed");
	update_io(c);
}

bool conn_is_closing(const struct conn *c)
{
	return c->closing || c->close_after_flush;
}

const char *conn_peer(const struct conn *c) { return c->peer; }

long conn_tls_verify_result(const struct conn *c)
{
	return c->tls_client ? c->verify : -1;
}

long conn_tls_check_peer(struct conn *c, SSL_CTX *trust, const char *host)
{
	if (c->tls != CT_ON || trust == NULL)
		return X509_V_ERR_UNSPECIFIED;
	return tls_verify_peer(c->ssl, trust, host);
}

bool conn_tls_active(const struct conn *c) { return c->tls == CT_ON; }

const char *conn_tls_version(const struct conn *c)
{
	return c->tls == CT_ON ? SSL_get_version(c->ssl) : NULL;
}

const char *conn_tls_cipher(const struct conn *c)
{
	return c->tls == CT_ON ? SSL_get_cipher_name(c->ssl) : NULL;
}
