/* fetch/trace.c: the Received field of fetched mail: formatting, and the
 * loop guard's test for one of ours. */
#include "autoconf.h"

#include "fetch/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 5322 atext. */
static bool ftrace_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-/?^_`{|}~", c) != NULL);
}

/* id as an Atom into out (room for 3 * strlen(id) + 1). */
static void ftrace_atom(const char *id, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)id; *p != '\0';
	     p++) {
		if (ftrace_atext(*p)) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '=';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
}

size_t ftrace_received(const struct ftrace_info *t, char *buf, size_t size)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed",
					    "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
					      "May", "Jun", "Jul", "Aug",
					      "Sep", "Oct", "Nov", "Dec" };
	char from[300], id[3 * 70 + 8] = "", idline[sizeof(id) + 8] = "";
	bool v6 = strchr(t->pop_host, ':') != NULL;
	bool v4 = !v6 && strspn(t->pop_host, "0123456789.") ==
				 strlen(t->pop_host);
	struct tm tm;
	int n;

	if (v6 || v4)
		snprintf(from, sizeof(from), "[%s%s]", v6 ? "IPv6:" : "",
			 t->pop_host);
	else if (t->peer != NULL)
		snprintf(from, sizeof(from), "%s ([%s%s])", t->pop_host,
			 strchr(t->peer, ':') != NULL ? "IPv6:" : "", t->peer);
	else
		snprintf(from, sizeof(from), "%s", t->pop_host);
	if (t->id != NULL && strlen(t->id) <= 70) {
		ftrace_atom(t->id, id);
		snprintf(idline, sizeof(idline), "\r\n\tid %s", id);
	}
	gmtime_r(&t->when, &tm);
	n = snprintf(buf, size,
		     "Received: from %s\r\n\tby %s with POP3 (account %s)%s;"
		     " %s, %d %s %04d %02d:%02d:%02d +0000\r\n",
		     from, t->hostname, t->account, idline, days[tm.tm_wday],
		     tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
		     tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

bool ftrace_is_ours(const char *v, size_t len, const char *hostname,
		    const char *account)
{
	char *flat = malloc(len + 1), *want = NULL, *hit;
	size_t o = 0;
	bool ours = false;

	if (flat == NULL)
		return false;
	/* One space for every run of blanks. */
	for (size_t i = 0; i < len; i++) {
		bool blank = v[i] == ' ' || v[i] == '\t';

		if (!blank)
			flat[o++] = v[i];
		else if (o > 0 && flat[o - 1] != ' ')
			flat[o++] = ' ';
	}
	flat[o] = '\0';
	if (asprintf(&want, "by %s with POP3 (account %s)", hostname,
		     account) >= 0) {
		for (hit = strcasestr(flat, want); hit != NULL && !ours;
		     hit = strcasestr(hit + 1, want))
			ours = hit == flat || hit[-1] == ' ' || hit[-1] == ')';
	}
	free(want);
	free(flat);
	return ours;
}
