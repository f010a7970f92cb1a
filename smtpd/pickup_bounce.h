/* smtpd/pickup_bounce.h: the bounce of a picked-up message whose
 * recipients were refused for good — a delivery status notification
 * (outbound/dsn.h) to its sender, through the pipeline as the queue's
 * own DSNs are (origin PIPE_DSN, the null sender): into the Maildirs the
 * sender's address stands for (routed on the loop, through the aliases:
 * pickup_bounce_route), or into the queue for a foreign sender.
 * pickup_bounce blocks: run it on the io pool. */
#ifndef KANTORPOS_SMTPD_PICKUP_BOUNCE_H
#define KANTORPOS_SMTPD_PICKUP_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "pipeline/msg.h"

struct aliases;
struct config;
struct queue;
struct userdb;

/* A recipient refused for good, and why. */
struct pickup_refused {
	char *addr;
	struct pipe_reply reply;
};

/* Where the bounce goes. */
struct pickup_bounce_to {
	enum pipe_route route;        /* PIPE_ROUTE_NONE: nowhere */
	struct rcpt_target *targets;  /* PIPE_ROUTE_LOCAL (heap) */
	size_t n_targets;
};

/* Route the sender (a mailbox key's text, not "") as a recipient of
 * cfg's users and aliases al (may be NULL); loop thread, non-blocking.
 * A local address nobody has gets PIPE_ROUTE_NONE. Free to->targets. */
void pickup_bounce_route(const struct config *cfg, struct userdb *db,
			 const struct aliases *al, const char *sender,
			 struct pickup_bounce_to *to);

struct pickup_bounce {
	const struct pickup_bounce_to *to;
	const struct config *cfg;
	struct userdb *db;
	struct queue *queue;
	const char *sender;   /* the message's envelope sender (not "") */
	const char *id;       /* the message's id: the DSN's is derived */
	time_t arrival, now;
	bool expired;         /* it waited longer than queue_lifetime */
	const char *headers;  /* the message's header section */
	size_t headers_len;
	const struct pickup_refused *refused;
	size_t n_refused;
};

/* Queue the notification. Returns 0 (*stored_r: where, "queue:ID"; room
 * 256), or -1 when it could not be queued. */
int pickup_bounce(const struct pickup_bounce *b, char *stored_r,
		  size_t size);

#endif
