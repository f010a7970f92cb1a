/* common/dns/dns_event.c: libunbound's event base on libev (dns_event.h).
 * libunbound's events follow libevent's rules: an event watches an fd for
 * reading and/or writing, with an optional timeout; without PERSIST it
 * is deactivated when it fires; with PERSIST its timeout starts again. */
#include "autoconf.h"

#include "common/dns/dns_event.h"

#include <ev.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unbound.h>
#include <unbound-event.h>

struct base {
	struct ub_event_base ub;  /* first: libunbound sees this */
	struct ev_loop *loop;
};

struct event {
	struct ub_event ub;       /* first: libunbound sees this */
	struct base *b;
	int fd;
	short bits;
	void (*cb)(int, short, void *);
	void *arg;
	ev_io io;
	ev_timer timer;
	bool io_on, timer_on;
	double timeout;           /* of the last add; 0: none */
};

/* libunbound's watchers keep no loop alive: unref while active. */
static void io_start(struct event *e)
{
	if (!e->io_on) {
		ev_io_start(e->b->loop, &e->io);
		ev_unref(e->b->loop);
		e->io_on = true;
	}
}

static void io_stop(struct event *e)
{
	if (e->io_on) {
		ev_ref(e->b->loop);
		ev_io_stop(e->b->loop, &e->io);
		e->io_on = false;
	}
}

static void timer_start(struct event *e, double after)
{
	if (e->timer_on) {
		ev_ref(e->b->loop);
		ev_timer_stop(e->b->loop, &e->timer);
	}
	ev_timer_set(&e->timer, after, 0.);
	ev_timer_start(e->b->loop, &e->timer);
	ev_unref(e->b->loop);
	e->timer_on = true;
}

static void timer_stop(struct event *e)
{
	if (e->timer_on) {
		ev_ref(e->b->loop);
		ev_timer_stop(e->b->loop, &e->timer);
		e->timer_on = false;
	}
}

static int ev_del(struct ub_event *ub)
{
	struct event *e = (struct event *)ub;

	io_stop(e);
	timer_stop(e);
	return 0;
}

/* The event fired with bits: deactivate or re-arm it first, as the
 * callback may free it. */
static void fire(struct event *e, short bits)
{
	if (!(e->bits & UB_EV_PERSIST))
		ev_del(&e->ub);
	else if (e->timeout > 0)
		timer_start(e, e->timeout);
	e->cb(e->fd, bits, e->arg);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct event *e = w->data;
	short bits = 0;

	(void)loop;
	if (revents & EV_READ)
		bits |= UB_EV_READ;
	if (revents & EV_WRITE)
		bits |= UB_EV_WRITE;
	fire(e, bits);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct event *e = w->data;

	(void)loop;
	(void)revents;
	e->timer_on = false;
	ev_ref(e->b->loop);     /* a fired timer is no longer active */
	fire(e, UB_EV_TIMEOUT);
}

static double seconds(const struct timeval *tv)
{
	return tv == NULL ? 0. : (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static int ev_add(struct ub_event *ub, struct timeval *tv)
{
	struct event *e = (struct event *)ub;
	int what = (e->bits & UB_EV_READ ? EV_READ : 0) |
		   (e->bits & UB_EV_WRITE ? EV_WRITE : 0);

	ev_del(ub);
	if (what != 0 && e->fd >= 0) {
		ev_io_set(&e->io, e->fd, what);
		io_start(e);
	}
	e->timeout = seconds(tv);
	if (tv != NULL)
		timer_start(e, e->timeout);
	return 0;
}

static void ev_add_bits(struct ub_event *ub, short bits)
{
	((struct event *)ub)->bits |= bits;
}

static void ev_del_bits(struct ub_event *ub, short bits)
{
	((struct event *)ub)->bits &= (short)~bits;
}

static void ev_set_fd(struct ub_event *ub, int fd)
{
	((struct event *)ub)->fd = fd;
}

static void ev_free(struct ub_event *ub)
{
	ev_del(ub);
	free(ub);
}

static int ev_add_timer(struct ub_event *ub, struct ub_event_base *base,
			void (*cb)(int, short, void *), void *arg,
			struct timeval *tv)
{
	struct event *e = (struct event *)ub;

	(void)base;
	ev_del(ub);
	e->cb = cb;
	e->arg = arg;
	e->bits = UB_EV_TIMEOUT;
	e->timeout = 0;
	timer_start(e, seconds(tv));
	return 0;
}

static int ev_del_timer(struct ub_event *ub)
{
	timer_stop((struct event *)ub);
	return 0;
}

/* Signals and Windows events: libunbound never asks for them here. */
static int ev_signal_noop(struct ub_event *ub, struct timeval *tv)
{
	(void)ub;
	(void)tv;
	return -1;
}

static int ev_del_signal(struct ub_event *ub)
{
	(void)ub;
	return 0;
}

static void ev_winsock_unregister(struct ub_event *ub)
{
	(void)ub;
}

static void ev_winsock_wouldblock(struct ub_event *ub, int bit)
{
	(void)ub;
	(void)bit;
}

static struct ub_event_vmt event_vmt = {
	ev_add_bits, ev_del_bits, ev_set_fd, ev_free, ev_add, ev_del,
	ev_add_timer, ev_del_timer, ev_signal_noop, ev_del_signal,
	ev_winsock_unregister, ev_winsock_wouldblock,
};

static struct ub_event *base_new_event(struct ub_event_base *ub, int fd,
				       short bits,
				       void (*cb)(int, short, void *),
				       void *arg)
{
	struct event *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->ub.magic = UB_EVENT_MAGIC;
	e->ub.vmt = &event_vmt;
	e->b = (struct base *)ub;
	e->fd = fd;
	e->bits = bits;
	e->cb = cb;
	e->arg = arg;
	ev_init(&e->io, on_io);
	e->io.data = e;
	ev_init(&e->timer, on_timer);
	e->timer.data = e;
	return &e->ub;
}

static void base_free(struct ub_event_base *ub)
{
	free(ub);
}

/* The loop is the daemon's: libunbound neither runs nor ends it. */
static int base_dispatch(struct ub_event_base *ub)
{
	(void)ub;
	return -1;
}

static int base_loopexit(struct ub_event_base *ub, struct timeval *tv)
{
	(void)ub;
	(void)tv;
	return 0;
}

static struct ub_event *base_new_signal(struct ub_event_base *ub, int fd,
					void (*cb)(int, short, void *),
					void *arg)
{
	(void)ub;
	(void)fd;
	(void)cb;
	(void)arg;
	return NULL;
}

static struct ub_event *base_winsock(struct ub_event_base *ub, void *wsaevent,
				     void (*cb)(int, short, void *), void *arg)
{
	(void)ub;
	(void)wsaevent;
	(void)cb;
	(void)arg;
	return NULL;
}

static struct ub_event_base_vmt base_vmt = {
	base_free, base_dispatch, base_loopexit, base_new_event,
	base_new_signal, base_winsock,
};

struct ub_event_base *dns_event_base_new(struct ev_loop *loop)
{
	struct base *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->ub.magic = UB_EVENT_MAGIC;
	b->ub.vmt = &base_vmt;
	b->loop = loop;
	return &b->ub;
}

void dns_event_base_free(struct ub_event_base *base)
{
	free(base);
}
