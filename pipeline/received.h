/* pipeline/received.h: the trace header block the server prepends to every
 * message it accepts (RFC 5321 §4.4): Return-Path on final delivery only,
 * then Received with the from/by/with/id/for clauses and the date, the
 * login of an authenticated client in a comment (RFC 3848 §2). Pure: no
 * I/O, no globals. */
#ifndef KANTORPOS_PIPELINE_RECEIVED_H
#define KANTORPOS_PIPELINE_RECEIVED_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Room that always holds the block built by received_format. */
#define RECEIVED_MAX 2048

struct received_info {
	const char *sender;     /* reverse-path without <>; "" for <> */
	const char *helo;       /* EHLO/HELO argument as given */
	const char *client_ip;  /* numeric peer address ("::1", "127.0.0.1") */
	const char *host;       /* our host name */
	const char *id;         /* message id */
	const char *for_rcpt;   /* the one recipient, or NULL (several) */
	const char *tls_version; /* NULL without TLS */
	const char *tls_cipher;
	bool esmtp;             /* EHLO rather than HELO */
	bool auth;              /* the client authenticated */
	const char *auth_user;  /* its login for the comment, or NULL */
	bool return_path;       /* final delivery: add Return-Path */
	bool utf8;              /* SMTPUTF8 transaction */
	/* Mail a local program handed over (kantorpos-sendmail): the Unix
	 * account; NULL for mail over SMTP. helo, client_ip, TLS and auth
	 * are not used then. */
	const char *local_user;
	unsigned long local_uid;
	time_t when;
	long utc_offset;        /* seconds east of UTC for the date */
};

/* The "with" protocol keyword: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA
 * (RFC 3848), or UTF8SMTP[S][A] for SMTPUTF8 (RFC 6531 §4.3). Static. */
const char *received_protocol(bool esmtp, bool tls, bool auth, bool utf8);

/* Build "Return-Path: <sender>\r\nReceived: ...\r\n" into buf (size >=
 * RECEIVED_MAX is always enough); Return-Path only with return_path (a
 * message relayed on carries none: RFC 5321 §4.4). The EHLO name is
 * written as given when it is a plain host name or address literal, else
 * with every character outside letters, digits and ".-_:[]" replaced by
 * "?", so it can never open a comment or end the clause. With auth_user,
 * "(authenticated as LOGIN)" follows the from clause (a comment of the
 * CFWS before "by"), with "(", ")", "\" and controls of the login
 * replaced by "?". With local_user the clauses are "from local user NAME
 * (uid N) by HOST (kantorpos) with local" (NAME cleaned as a login).
 * Lines are folded below 78 octets. Returns the length, or 0 when it does
 * not fit. */
size_t received_format(const struct received_info *ri, char *buf,
		       size_t size);

/* Seconds east of UTC at t (local time), for the dates written. */
long received_utc_offset(time_t t);

/* RFC 5322 §3.3 date-time "Thu, 13 Feb 2025 14:05:09 +0100" for t shifted
 * by utc_offset seconds, into buf (size >= 32). Returns the length. */
size_t received_date(time_t t, long utc_offset, char *buf, size_t size);

#endif
