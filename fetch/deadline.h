/* fetch/deadline.h: the deadline arithmetic of a fetch run (documented in
 * kantorpos.conf(5): message_timeout, min_rate). Each step of a run (the
 * login, the listings, each message, each DELE or QUIT waited for) gets
 * message_timeout seconds, plus one second for every min_rate octets it
 * has carried so far, counting at most `cap` of them: for a message the
 * size LIST announced, so that it never gets more than message_timeout +
 * SIZE / min_rate, and a server that trickles falls behind the deadline
 * however large a size it announced. Pure. */
#ifndef KANTORPOS_FETCH_DEADLINE_H
#define KANTORPOS_FETCH_DEADLINE_H

#include <stdint.h>

/* Seconds after its start by which a step that has carried got octets
 * must be over (rate >= 1). */
double fdl_deadline(unsigned floor_s, uint64_t rate, uint64_t got,
		    uint64_t cap);

#endif
