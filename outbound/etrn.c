/* outbound/etrn.c: ETRN argument, policy and replies (pure). */
#include "autoconf.h"

#include "outbound/etrn.h"

#include "common/base/cidr.h"
#include "common/config/config.h"
#include "common/config/config_value.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int refuse(struct etrn_reply *r, int code, const char *enh,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int refuse(struct etrn_reply *r, int code, const char *enh,
		  const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	r->enh = enh;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
	return 0;
}

static bool may_ask(const struct config_etrn_domain *e, const char *client,
		    const char *user)
{
	for (size_t i = 0; client != NULL && i < e->n_allow; i++)
		if (cidr_match(&e->allow[i], client))
			return true;
	for (size_t i = 0; user != NULL && i < e->n_users; i++)
		if (strcmp(e->users[i], user) == 0)
			return true;
	return false;
}

int etrn_check(const struct config *cfg, const char *args, const char *client,
	       const char *user, struct etrn_request *req_r,
	       struct etrn_reply *reply_r)
{
	const struct config_etrn_domain *e;
	const char *d = args;
	size_t len;

	memset(req_r, 0, sizeof(*req_r));
	if (*d == '\0' || strchr(d, ' ') != NULL)
		return refuse(reply_r, 501, "5.5.4",
			      "Syntax: ETRN domain or ETRN @domain%s", "");
	/* RFC 1985 section 5: "#" names a queue; sendmail has queue groups,
	 * kantorpos has one queue per domain. */
	if (*d == '#')
		return refuse(reply_r, 501, "5.5.4",
			      "Queue names (%s) are not supported, use ETRN domain or ETRN @domain",
			      "#...");
	if (*d == '@') {
		req_r->subdomains = true;
		d++;
	}
	len = strlen(d);
	if (len > 0 && d[len - 1] == '.')
		len--; /* a fully qualified "example.net." */
	if (len == 0 || len > ADDR_DOMAIN_MAX)
		return refuse(reply_r, 501, "5.5.4",
			      "Syntax error in parameters%s", "");
	for (size_t i = 0; i < len; i++)
		req_r->domain[i] = (char)tolower((unsigned char)d[i]);
	req_r->domain[len] = '\0';
	if (!config_is_domain(req_r->domain))
		return refuse(reply_r, 501, "5.5.4",
			      "Syntax error in parameters%s", "");
	e = config_find_etrn(cfg, req_r->domain);
	if (e == NULL)
		return refuse(reply_r, 459, "4.7.1",
			      "Node %s not allowed: mail for it is not held here",
			      req_r->domain);
	if (!may_ask(e, client, user))
		return refuse(reply_r, 459, "4.7.1",
			      "Node %s not allowed: this client may not ask for it",
			      req_r->domain);
	req_r->entry = e;
	return 1;
}

void etrn_result(const struct etrn_request *req, bool failed, bool busy,
		 size_t count, struct etrn_reply *reply_r)
{
	const char *d = req->domain;

	if (failed) {
		refuse(reply_r, 458, "4.3.0",
		       "Unable to queue messages for node %s", d);
	} else if (busy) {
		refuse(reply_r, 250, "2.0.0", "OK, queuing for node %s started",
		       d);
	} else if (count == 0) {
		refuse(reply_r, 251, "2.0.0", "OK, no messages waiting for node %s",
		       d);
	} else {
		reply_r->code = 253;
		reply_r->enh = "2.0.0";
		snprintf(reply_r->text, sizeof(reply_r->text),
			 "OK, %zu pending message%s for node %s started", count,
			 count == 1 ? "" : "s", d);
	}
}
