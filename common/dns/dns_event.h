/* common/dns/dns_event.h: libunbound's pluggable event base
 * (unbound-event.h) on a libev loop, so that libunbound does its sockets
 * and timers on the daemon's own loop: no thread of its own, and none of
 * the libevent calls that Debian's libev would take over (its libevent
 * compatibility functions have the same names and other structures).
 * libunbound's watchers keep no loop running (ev_unref). */
#ifndef KANTORPOS_COMMON_DNS_EVENT_H
#define KANTORPOS_COMMON_DNS_EVENT_H

struct ev_loop;
struct ub_event_base;

/* An event base on loop for ub_ctx_create_ub_event; NULL when out of
 * memory. Free it after the context (ub_ctx_delete frees its events). */
struct ub_event_base *dns_event_base_new(struct ev_loop *loop);
void dns_event_base_free(struct ub_event_base *base);

#endif
