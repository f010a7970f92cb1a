/* smtpd/authcmd.c: SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN,
 * on top of the shared SASL decoding and the session's environment's
 * asynchronous login. */
#include "autoconf.h"

#include "smtpd/authcmd.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common/proto/proto.h"
#include "common/proto/sasl.h"

enum { MECH_NONE = 0, MECH_PLAIN, MECH_LOGIN };

/* Decoded responses: a 12288-octet line decodes to at most 9216. */
#define SASL_BUF SASL_DECODED_MAX(SMTP_SASL_MAX)

void smtp_auth_done(struct smtp_session *s, enum smtp_login_result result,
		    const char *mailbox)
{
	smtp_set_state(s, SMTP_S_READY);
	switch (result) {
	case SMTP_LOGIN_OK:
		s->flags |= SMTP_F_AUTH;
		snprintf(s->user, sizeof(s->user), "%s", mailbox);
		smtp_reply(s, 235, "2.7.0", "Authentication successful");
		break;
	case SMTP_LOGIN_FAIL:
		smtp_reply(s, 535, "5.7.8", "Authentication credentials invalid");
		break;
	case SMTP_LOGIN_TEMP:
	default:
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		break;
	}
	smtp_resume(s);
}

/* Hand the credentials to the login; the session waits for
 * smtp_auth_done. */
static int start_login(struct smtp_session *s, const char *user,
		       const char *pw, size_t pwlen)
{
	const char *mech = s->sasl_mech == MECH_PLAIN ? "PLAIN" : "LOGIN";

	s->sasl_mech = MECH_NONE;
	if (smtp_login(s, mech, user, pw, pwlen) < 0) {
		smtp_set_state(s, SMTP_S_READY);
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return PROTO_DONE;
	}
	return PROTO_ASYNC;
}

/* Reply to a SASL decoding failure and leave the exchange. */
static int sasl_fail(struct smtp_session *s, enum sasl_result r)
{
	s->sasl_mech = MECH_NONE;
	smtp_set_state(s, SMTP_S_READY);
	switch (r) {
	case SASL_CANCEL:
		smtp_reply(s, 501, "5.7.0", "Authentication cancelled");
		return PROTO_DONE;
	case SASL_AUTHZID:
		smtp_reply(s, 535, "5.7.8", "Authentication credentials invalid");
		return PROTO_DONE;
	case SASL_TOO_LONG:
		return smtp_bad(s, 500, "5.5.6", "Authentication exchange line is too long");
	default:
		return smtp_bad(s, 501, "5.5.2", "Invalid authentication data: %s",
			   sasl_strerror(r));
	}
}

static int plain(struct smtp_session *s, const char *resp, size_t len)
{
	char buf[SASL_BUF];
	struct sasl_plain p;
	size_t n = 0;
	enum sasl_result r;
	int rc;

	r = sasl_response_decode(resp, len, buf, sizeof(buf) - 1, &n);
	if (r == SASL_OK)
		r = sasl_plain_parse(buf, n, &p);
	if (r != SASL_OK) {
		sodium_memzero(buf, sizeof(buf));
		return sasl_fail(s, r);
	}
	rc = start_login(s, p.user, p.pass, p.pass_len);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

static int login_step(struct smtp_session *s, const char *resp, size_t len)
{
	char buf[SASL_BUF];
	size_t n = 0;
	enum sasl_result r;
	int rc;

	r = sasl_login_decode(resp, len, buf, sizeof(buf), &n);
	if (r != SASL_OK) {
		sodium_memzero(buf, sizeof(buf));
		return sasl_fail(s, r);
	}
	if (!s->sasl_have_user) {
		if (n >= sizeof(s->sasl_user)) {
			sodium_memzero(buf, sizeof(buf));
			return sasl_fail(s, SASL_TOO_LONG);
		}
		memcpy(s->sasl_user, buf, n + 1);
		s->sasl_have_user = true;
		smtp_set_state(s, SMTP_S_AUTH);
		smtp_reply(s, 334, NULL, SASL_LOGIN_PASS_PROMPT);
		return PROTO_DONE;
	}
	rc = start_login(s, s->sasl_user, buf, n);
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(s->sasl_user, sizeof(s->sasl_user));
	return rc;
}

int smtp_sasl_line(struct smtp_session *s, const struct conn_line *line)
{
	/* RFC 4954 §4: the exchange is cancelled. */
	if (line->flags & CONN_LINE_OVERLONG)
		return sasl_fail(s, SASL_TOO_LONG);
	if (s->sasl_mech == MECH_PLAIN)
		return plain(s, line->data, line->len);
	return login_step(s, line->data, line->len);
}

int smtp_cmd_auth(void *session, char *args)
{
	struct smtp_session *s = session;
	char *cursor = args, *mech = proto_next_word(&cursor);
	char *ir = proto_next_word(&cursor);

	if (s->flags & SMTP_F_AUTH) {
		return smtp_bad(s, 503, "5.5.1", "Already authenticated");
	}
	if (!(s->flags & SMTP_F_EHLO)) {
		return smtp_bad(s, 503, "5.5.1", "Send EHLO first");
	}
	if (mech == NULL || proto_next_word(&cursor) != NULL) {
		return smtp_bad(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
	}
	/* RFC 4954 §4: the same refusal whatever the credentials. */
	if (!smtp_auth_allowed(s)) {
		smtp_reply(s, 538, "5.7.11",
			   "Encryption required for requested authentication mechanism");
		return PROTO_DONE;
	}
	s->sasl_have_user = false;
	if (strcasecmp(mech, "PLAIN") == 0) {
		s->sasl_mech = MECH_PLAIN;
		if (ir != NULL)
			return plain(s, ir, strlen(ir));
		smtp_set_state(s, SMTP_S_AUTH);
		smtp_reply(s, 334, NULL, "%s", "");
		return PROTO_DONE;
	}
	if (strcasecmp(mech, "LOGIN") == 0) {
		s->sasl_mech = MECH_LOGIN;
		if (ir != NULL)
			return login_step(s, ir, strlen(ir));
		smtp_set_state(s, SMTP_S_AUTH);
		smtp_reply(s, 334, NULL, SASL_LOGIN_USER_PROMPT);
		return PROTO_DONE;
	}
	smtp_reply(s, 504, "5.5.4", "Unrecognized authentication type");
	return PROTO_DONE;
}
