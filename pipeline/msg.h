/* pipeline/msg.h: the envelope of a message in the pipeline — where it
 * came from, its sender and MAIL parameters, the facts of the client that
 * sent it, its recipients with their route, their state and their DSN
 * request, and its id.
 * Plain data: pipeline/pipeline.h fills it, stages and sinks read it. */
#ifndef KANTORPOS_PIPELINE_MSG_H
#define KANTORPOS_PIPELINE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mail/address.h"
#include "common/mail/dsn.h"
#include "common/lookup/recipient.h"

/* Where a message entered. */
enum pipe_origin {
	PIPE_MX,         /* kantorpos-smtpd, port 25 */
	PIPE_SUBMISSION, /* kantorpos-smtpd, an authenticated user */
	PIPE_FETCH,      /* kantorpos fetch (MultiPOP, DomainPOP) */
	PIPE_DELIVER,    /* kantorpos deliver (an MDA), kantorpos queue add:
			  * standard input of the admin tool */
	PIPE_QUEUE,      /* the queue's local route */
	PIPE_DSN,        /* a delivery status notification of the queue */
	PIPE_SENDMAIL,   /* kantorpos-sendmail: a local user, picked up from
			  * the drop directory by kantorpos-smtpd */
};

/* MAIL ... BODY= (RFC 6152, RFC 3030). */
enum pipe_body {
	PIPE_BODY_7BIT = 0, /* none given, or 7BIT */
	PIPE_BODY_8BITMIME,
	PIPE_BODY_BINARYMIME,
};

/* Where a recipient goes (pipeline/route.h decides it). */
enum pipe_route {
	PIPE_ROUTE_NONE = 0, /* refused: not ours, not relayed */
	PIPE_ROUTE_LOCAL,    /* Maildirs of local users (targets) */
	PIPE_ROUTE_HELD,     /* the queue, held for an ETRN domain */
	PIPE_ROUTE_RELAY,    /* the queue, for the relay host */
	PIPE_ROUTE_QUEUE,    /* the queue, routed there by its domain (DSNs,
			      * kantorpos queue add) */
	PIPE_ROUTE_DIRECT,   /* the queue, for the domain's MX hosts */
};

/* A recipient's state: accepted at RCPT (after the end: stored), or what
 * a stage or a sink made of it. */
enum pipe_rcpt_state {
	PIPE_RCPT_ACCEPTED = 0,
	PIPE_RCPT_REJECTED,  /* permanent: reply says why */
	PIPE_RCPT_TEMPFAIL,  /* temporary: nothing stored for it */
	PIPE_RCPT_DISCARDED, /* accepted and dropped by a stage */
};

/* Reply text room: an SMTP reply line holds at most 512 octets. */
#define PIPE_TEXT_MAX 400

/* A reply: code, RFC 3463 enhanced code (static) and text. */
struct pipe_reply {
	int code;
	const char *enh;
	char text[PIPE_TEXT_MAX];
};

struct pipe_rcpt {
	char *addr;                  /* as given ("postmaster" when bare) */
	enum pipe_route route;
	struct rcpt_target *targets; /* PIPE_ROUTE_LOCAL: the users */
	size_t n_targets;
	enum pipe_rcpt_state state;
	struct pipe_reply reply;     /* the reply at its end */
	unsigned notify;             /* RCPT ... NOTIFY= (DSN_NOTIFY_*); 0:
				      * none */
	char *orcpt;                 /* RCPT ... ORCPT= as sent, or NULL */
};

/* What the client said and did before the message (empty strings: not
 * known or not done). */
struct pipe_client {
	char addr[64];                  /* numeric peer address */
	char helo[ADDR_DOMAIN_MAX + 1]; /* EHLO/HELO argument */
	bool esmtp;                     /* EHLO rather than HELO */
	char tls_version[32];
	char tls_cipher[64];
	char login[ADDR_KEY_SIZE];      /* authenticated mailbox key */
	char local_user[64];            /* PIPE_SENDMAIL: the Unix account */
	unsigned long local_uid;        /* ... and its uid */
};

struct pipe_msg {
	enum pipe_origin origin;
	char id[64];                 /* set when the content starts */
	bool has_sender;             /* a reverse path is known */
	char sender[ADDR_KEY_SIZE];  /* "" for <> */
	enum pipe_body body;
	bool smtputf8;
	bool has_size;
	uint64_t size;               /* SIZE= (RFC 1870), when has_size */
	enum dsn_ret ret;            /* MAIL ... RET= (RFC 3461) */
	char envid[DSN_ENVID_MAX + 1]; /* MAIL ... ENVID= as sent; "": none */
	struct pipe_client client;
	/* What stages say for the message's log line: key=value words
	 * ("dkim=signed d=example.org s=rsa1,ed1"); "" when nothing. */
	char notes[256];
	struct pipe_rcpt *rcpts;     /* the accepted recipients, in order */
	size_t n_rcpts;
};

#endif
