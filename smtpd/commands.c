/* smtpd/commands.c: the SMTP command table, its dispatch through
 * common/proto and its handlers (RFC 5321 §4.1 with the extensions of the
 * EHLO reply). Each handler checks its arguments and state first and
 * replies on error, then does its work; it returns PROTO_DONE,
 * PROTO_ASYNC or PROTO_CLOSE. */
#include "autoconf.h"

#include "smtpd/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/lookup/aliases.h"
#include "common/base/log.h"
#include "smtpd/authcmd.h"
#include "smtpd/etrncmd.h"
#include "smtpd/reply.h"
#include "smtpd/transaction.h"

static proto_handler_fn cmd_ehlo, cmd_helo, cmd_mail, cmd_rcpt, cmd_data,
	cmd_bdat, cmd_rset, cmd_noop, cmd_quit, cmd_vrfy, cmd_expn, cmd_help,
	cmd_starttls;

#define ST(x) PROTO_STATE(SMTP_S_##x)
#define CMD_STATES (ST(INIT) | ST(READY) | ST(MAIL) | ST(RCPT))

/* Commands allowed in each state; anything else is 503 (RFC 5321 §4.1.4). */
static const struct proto_cmd smtp_commands[] = {
	{ "EHLO", CMD_STATES, cmd_ehlo, 0 },
	{ "HELO", CMD_STATES, cmd_helo, 0 },
	{ "MAIL", ST(READY), cmd_mail, 0 },
	{ "RCPT", ST(MAIL) | ST(RCPT), cmd_rcpt, 0 },
	{ "DATA", ST(MAIL) | ST(RCPT), cmd_data, PROTO_CMD_NO_ARG },
	{ "BDAT", CMD_STATES, cmd_bdat, 0 },
	{ "RSET", CMD_STATES, cmd_rset, PROTO_CMD_NO_ARG },
	{ "NOOP", CMD_STATES, cmd_noop, 0 },
	{ "QUIT", CMD_STATES, cmd_quit, PROTO_CMD_NO_ARG },
	{ "VRFY", CMD_STATES, cmd_vrfy, 0 },
	{ "EXPN", CMD_STATES, cmd_expn, 0 },
	{ "HELP", CMD_STATES, cmd_help, 0 },
	{ "STARTTLS", ST(INIT) | ST(READY), cmd_starttls, PROTO_CMD_NO_ARG },
	{ "AUTH", ST(READY), smtp_cmd_auth, 0 },
	/* ETRN (RFC 1985): after EHLO/HELO, outside a transaction. */
	{ "ETRN", ST(READY), smtp_cmd_etrn, 0 },
	{ NULL, 0, NULL, 0 },
};

const struct proto_cmd *smtp_command_table(void)
{
	return smtp_commands;
}

static int syntax(struct smtp_session *s, const char *enh, const char *text)
{
	return smtp_bad(s, 501, enh, "%s", text);
}

/* A line the dispatcher did not run. RFC 5321 §4.1.2: invalid characters
 * in the argument of a known command are 501 (the address's enhanced code
 * for MAIL and RCPT, RFC 3463); anything else is 500. §4.3.2: an argument
 * to a command that takes none is a syntax error whatever the state. */
static int refuse(void *session, const struct proto_refusal *r)
{
	struct smtp_session *s = session;
	const char *verb = r->cmd != NULL ? r->cmd->verb : "";

	switch (r->kind) {
	case PROTO_REFUSE_BYTES:
		if (r->cmd == NULL)
			return smtp_bad(s, 500, "5.5.2", "Syntax error: %s",
					proto_line_fault_str(r->fault));
		return smtp_bad(s, 501, strcmp(verb, "MAIL") == 0 ? "5.1.7"
				: strcmp(verb, "RCPT") == 0 ? "5.1.3" : "5.5.4",
				"Syntax error in parameters: %s",
				proto_line_fault_str(r->fault));
	case PROTO_REFUSE_EMPTY:
		return smtp_bad(s, 500, "5.5.2", "Syntax error: command expected");
	case PROTO_REFUSE_LENGTH:
		return smtp_bad(s, 500, "5.5.2", "Line too long");
	case PROTO_REFUSE_UNKNOWN:
		return smtp_bad(s, 500, "5.5.2", "Command unrecognized");
	case PROTO_REFUSE_STATE:
		if (!proto_args_ok(r->cmd, r->args))
			return syntax(s, "5.5.4", "Syntax error: no parameters allowed");
		return smtp_bad(s, 503, "5.5.1", "Bad sequence of commands");
	case PROTO_REFUSE_ARGS:
	default:
		return smtp_bad(s, 501, "5.5.4", "Syntax: %s", verb);
	}
}

/* MAIL and RCPT lines may carry the parameters offered. */
static size_t max_len(const char *verb)
{
	return (strcasecmp(verb, "MAIL") == 0 || strcasecmp(verb, "RCPT") == 0
		? SMTP_MAILRCPT_MAX : SMTP_CMD_MAX) - 2;
}

static const struct proto_dispatcher dispatcher = {
	smtp_commands, max_len, refuse,
};

int smtp_command(struct smtp_session *s, char *line, size_t len)
{
	return proto_dispatch(&dispatcher, s->state, line, len, s);
}

int smtp_command_line(struct smtp_session *s, struct conn_line *line)
{
	if (s->state == SMTP_S_AUTH)
		return smtp_sasl_line(s, line);
	if (line->flags & CONN_LINE_OVERLONG)
		return smtp_bad(s, 500, "5.5.2", "Line too long");
	return smtp_command(s, line->data, line->len);
}

/* ---- session setup ---- */

/* RFC 5321 §4.1.4 / CONFORMANCE §5 item 12: refuse an empty name and
 * control characters (already refused for the line); tolerate the rest. */
static bool helo_ok(const char *args)
{
	return *args != '\0' && *args != ' ' &&
	       strlen(args) <= ADDR_DOMAIN_MAX;
}

static void set_helo(struct smtp_session *s, const char *args, bool esmtp)
{
	const char *sp = strchr(args, ' ');
	size_t n = sp != NULL ? (size_t)(sp - args) : strlen(args);

	snprintf(s->helo, sizeof(s->helo), "%.*s", (int)n, args);
	smtp_tx_reset(s);
	if (esmtp)
		s->flags |= SMTP_F_EHLO;
	else
		s->flags &= ~SMTP_F_EHLO;
	smtp_set_state(s, SMTP_S_READY);
}

static int cmd_ehlo(void *session, char *args)
{
	struct smtp_session *s = session;

	if (!helo_ok(args))
		return syntax(s, "5.5.4", "Syntax: EHLO hostname");
	set_helo(s, args, true);
	smtp_reply_more(s, 250, NULL, "%s Hello %s [%s]", s->cfg->hostname,
			s->helo, s->peer);
	smtp_reply_more(s, 250, NULL, "PIPELINING");
	smtp_reply_more(s, 250, NULL, "SIZE %llu",
			(unsigned long long)s->cfg->max_message_size);
	smtp_reply_more(s, 250, NULL, "8BITMIME");
	smtp_reply_more(s, 250, NULL, "ENHANCEDSTATUSCODES");
	smtp_reply_more(s, 250, NULL, "SMTPUTF8");
	smtp_reply_more(s, 250, NULL, "BINARYMIME");
	/* RFC 3461: RET, ENVID, NOTIFY and ORCPT are taken and honoured. */
	smtp_reply_more(s, 250, NULL, "DSN");
	if (smtp_starttls_offered(s))
		smtp_reply_more(s, 250, NULL, "STARTTLS");
	/* RFC 4954 §4 / RFC 8314: no plaintext mechanism before TLS. */
	if (smtp_auth_allowed(s) && !(s->flags & SMTP_F_AUTH))
		smtp_reply_more(s, 250, NULL, "AUTH PLAIN LOGIN");
	/* ETRN: RFC 1985 section 3, offered when a domain is held here. */
	if (s->cfg->n_etrn_domains > 0)
		smtp_reply_more(s, 250, NULL, "ETRN");
	smtp_reply(s, 250, NULL, "CHUNKING");
	return PROTO_DONE;
}

static int cmd_helo(void *session, char *args)
{
	struct smtp_session *s = session;

	if (!helo_ok(args))
		return syntax(s, "5.5.4", "Syntax: HELO hostname");
	set_helo(s, args, false);
	smtp_reply(s, 250, NULL, "%s Hello %s [%s]", s->cfg->hostname, s->helo,
		   s->peer);
	return PROTO_DONE;
}

/* ---- envelope ---- */

/* "FROM:" / "TO:" then the path; a space after the colon is tolerated
 * (CONFORMANCE §4.3). Returns the text after the colon or NULL. */
static char *after_keyword(char *args, const char *kw)
{
	size_t n = strlen(kw);

	if (strncasecmp(args, kw, n) != 0)
		return NULL;
	return args + n;
}

static int addr_reply(struct smtp_session *s, const struct addr_error *e,
		      bool rcpt)
{
	switch (e->part) {
	case ADDR_ERR_UTF8:
		smtp_reply(s, rcpt ? 553 : 550, "5.6.7",
			   "Address is not ASCII and SMTPUTF8 was not given");
		return PROTO_DONE;
	case ADDR_ERR_LOCAL:
	case ADDR_ERR_DOMAIN:
		smtp_reply(s, 501, rcpt ? "5.1.3" : "5.1.7", "Bad address: %s",
			   e->why);
		return PROTO_DONE;
	default:
		return smtp_bad(s, 501, "5.5.4", "Syntax error in address: %s", e->why);
	}
}

/* MAIL's checks: the listener's rules, the path, the parameters. False
 * after a reply, with the outcome in *rc_r; true with the path parsed
 * (its argument at *p_r). */
static bool mail_checks(struct smtp_session *s, char *args,
			struct addr_path *path, char **p_r, int *rc_r)
{
	struct smtp_tx *tx = &s->tx;
	struct params_error perr;
	struct addr_error aerr;
	char *p = after_keyword(args, "FROM:");

	*rc_r = PROTO_DONE;
	if (smtp_is_submission(s) && !(s->flags & SMTP_F_AUTH)) {
		if (!(s->flags & SMTP_F_TLS) && !s->lc->plaintext_ok)
			smtp_reply(s, 530, "5.7.0",
				   "Must issue a STARTTLS command first");
		else
			smtp_reply(s, 530, "5.7.0", "Authentication required");
		return false;
	}
	if (p == NULL) {
		*rc_r = syntax(s, "5.5.4", "Syntax: MAIL FROM:<address>");
		return false;
	}
	if (addr_parse_path(p, strlen(p), ADDR_OPT_UTF8, path, &aerr) < 0) {
		*rc_r = addr_reply(s, &aerr, false);
		return false;
	}
	if (path->rest_len > 0 && !(s->flags & SMTP_F_EHLO)) {
		smtp_reply(s, 555, "5.5.4", "Parameters need EHLO");
		return false;
	}
	/* The size limit is the pipeline's (pipeline/stage_size.c). */
	if (params_parse_mail(path->rest, path->rest_len, 0, &tx->params,
			      &perr) < 0) {
		smtp_log_reject(s, "MAIL", p, perr.code, perr.why);
		if (perr.code != 552)
			*rc_r = smtp_bad(s, perr.code, perr.enh, "%s", perr.why);
		else
			smtp_reply(s, perr.code, perr.enh, "%s", perr.why);
		return false;
	}
	if ((path->mailbox.flags & ADDR_MB_UTF8) && !tx->params.smtputf8) {
		memset(&tx->params, 0, sizeof(tx->params));
		smtp_reply(s, 550, "5.6.7",
			   "Address is not ASCII and SMTPUTF8 was not given");
		return false;
	}
	*p_r = p;
	return true;
}

/* A new transaction sees the user db and the aliases as their files are
 * now: the environment refreshes them off the loop first, and the MAIL
 * line is checked again when they are. */
static int cmd_mail(void *session, char *args)
{
	struct smtp_session *s = session;
	struct addr_path path;
	char *p;
	int rc;

	if (!mail_checks(s, args, &path, &p, &rc))
		return rc;
	/* Out of memory: this transaction sees the loaded tables. */
	s->refresh_arg = strdup(args);
	if (s->refresh_arg == NULL || s->ops->refresh(s->env) == 0) {
		free(s->refresh_arg);
		s->refresh_arg = NULL;
		return smtp_txn_mail(s, &path, p);
	}
	smtp_pause(s);
	return PROTO_ASYNC;
}

void smtp_refresh_done(struct smtp_session *s)
{
	char *args = s->refresh_arg;
	struct addr_path path;
	char *p;
	int rc;

	s->refresh_arg = NULL;
	smtp_set_state(s, SMTP_S_READY);
	if (mail_checks(s, args, &path, &p, &rc))
		rc = smtp_txn_mail(s, &path, p);
	free(args);
	smtp_async_done(s, rc);
}

static int cmd_rcpt(void *session, char *args)
{
	struct smtp_session *s = session;
	struct smtp_tx *tx = &s->tx;
	struct params_error perr;
	struct params_rcpt rp;
	struct addr_error aerr;
	struct addr_path path;
	char *p = after_keyword(args, "TO:");
	unsigned opts = ADDR_OPT_POSTMASTER | ADDR_OPT_UTF8;

	if (p == NULL)
		return syntax(s, "5.5.4", "Syntax: RCPT TO:<address>");
	if (addr_parse_path(p, strlen(p), opts, &path, &aerr) < 0)
		return addr_reply(s, &aerr, true);
	if ((path.mailbox.flags & ADDR_MB_UTF8) && !tx->params.smtputf8) {
		smtp_reply(s, 553, "5.6.7",
			   "Address is not ASCII and SMTPUTF8 was not given");
		return PROTO_DONE;
	}
	if (params_parse_rcpt(path.rest, path.rest_len, &rp, &perr) < 0)
		return smtp_bad(s, perr.code, perr.enh, "%s", perr.why);
	/* RFC 5321 §4.5.3.1.10: 452 for our limit, the client sends the rest
	 * later. */
	if (s->cfg->max_recipients != 0 &&
	    smtp_txn_rcpts(s) >= s->cfg->max_recipients) {
		smtp_reply(s, 452, "4.5.3", "Too many recipients");
		return PROTO_DONE;
	}
	/* Routing (pipeline/route.h), then the stages (the quota). */
	return smtp_txn_rcpt(s, &path, &rp, p);
}

/* ---- content ---- */

static int cmd_data(void *session, char *args)
{
	struct smtp_session *s = session;

	if (*args != '\0')
		return syntax(s, "5.5.4", "Syntax: DATA");
	if (s->tx.bdat) {
		return smtp_bad(s, 503, "5.5.1", "DATA cannot follow BDAT");
	}
	if (s->tx.params.body == PARAMS_BODY_BINARYMIME) {
		return smtp_bad(s, 503, "5.5.1", "BINARYMIME needs BDAT");
	}
	if (s->state != SMTP_S_RCPT) {
		smtp_reply(s, 554, "5.5.1", "No valid recipients");
		return PROTO_DONE;
	}
	/* The message starts in the pipeline; then the 354. */
	return smtp_txn_data(s);
}

/* BDAT size [LAST] (RFC 3030 §2). A chunk that cannot be taken is still
 * read off the connection, so its octets are never run as commands; one
 * whose size is malformed or too big cannot be delimited: the session
 * ends after the reply. */
static int cmd_bdat(void *session, char *args)
{
	struct smtp_session *s = session;
	struct smtp_tx *tx = &s->tx;
	struct params_error perr;
	uint64_t size, max = s->cfg->max_message_size;
	bool last;

	if (params_parse_bdat(args, &size, &last, &perr) < 0) {
		smtp_reply(s, perr.code, perr.enh, "%s", perr.why);
		return PROTO_CLOSE;
	}
	if ((max != 0 && size > max) ||
	    (max != 0 && data_size(&tx->dp) + size > max)) {
		smtp_reply(s, 552, "5.3.4",
			   "Message size exceeds fixed maximum message size");
		return PROTO_CLOSE;
	}
	if (s->state != SMTP_S_RCPT) {
		smtp_discard_chunk(s, size, s->state == SMTP_S_MAIL ? 554 : 503,
				   "5.5.1", s->state == SMTP_S_MAIL
						    ? "No valid recipients"
						    : "Bad sequence of commands");
		return PROTO_DONE;
	}
	/* The first chunk starts the message in the pipeline. */
	if (!tx->bdat)
		return smtp_txn_bdat(s, size, last);
	tx->bdat_last = last;
	smtp_start_chunk(s, size);
	return PROTO_DONE;
}

/* ---- the rest ---- */

static int cmd_rset(void *session, char *args)
{
	struct smtp_session *s = session;

	(void)args; /* none: PROTO_CMD_NO_ARG */
	smtp_tx_reset(s);
	if (s->state != SMTP_S_INIT)
		smtp_set_state(s, SMTP_S_READY);
	smtp_reply(s, 250, "2.0.0", "OK");
	return PROTO_DONE;
}

static int cmd_noop(void *session, char *args)
{
	(void)args;
	smtp_reply(session, 250, "2.0.0", "OK");
	return PROTO_DONE;
}

static int cmd_quit(void *session, char *args)
{
	struct smtp_session *s = session;

	(void)args; /* none: PROTO_CMD_NO_ARG */
	smtp_reply(s, 221, "2.0.0", "%s Bye", s->cfg->hostname);
	return PROTO_CLOSE;
}

/* RFC 5321 §7.3: never confirm or deny a mailbox. */
static int cmd_vrfy(void *session, char *args)
{
	struct smtp_session *s = session;

	if (*args == '\0')
		return syntax(s, "5.5.4", "Syntax: VRFY address");
	smtp_reply(s, 252, "2.0.0",
		   "Cannot VRFY user, but will accept message and attempt delivery");
	return PROTO_DONE;
}

static int cmd_expn(void *session, char *args)
{
	(void)args;
	smtp_reply(session, 502, "5.5.1", "EXPN not available");
	return PROTO_DONE;
}

static int cmd_help(void *session, char *args)
{
	struct smtp_session *s = session;

	(void)args;
	smtp_reply_more(s, 214, "2.0.0", "kantorpos-smtpd, commands:");
	smtp_reply_more(s, 214, "2.0.0",
			"EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT");
	smtp_reply(s, 214, "2.0.0", "VRFY EXPN HELP STARTTLS AUTH ETRN");
	return PROTO_DONE;
}

static int cmd_starttls(void *session, char *args)
{
	struct smtp_session *s = session;

	(void)args; /* none: PROTO_CMD_NO_ARG */
	if (s->flags & SMTP_F_TLS) {
		return smtp_bad(s, 503, "5.5.1", "TLS already active");
	}
	if (!smtp_starttls_offered(s)) {
		smtp_reply(s, 454, "4.7.0", "TLS not available");
		return PROTO_DONE;
	}
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	smtp_start_tls(s);
	return PROTO_DONE;
}

