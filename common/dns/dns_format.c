/* common/dns/dns_format.c: one record of an answer as a zone file writes
 * its RDATA (dns_types.h). */
#include "autoconf.h"

#include "common/dns/dns_types.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct out {
	char *p;
	size_t len, o;
};

static void put(struct out *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct out *w, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (w->o + 1 >= w->len)
		return;
	va_start(ap, fmt);
	k = vsnprintf(w->p + w->o, w->len - w->o, fmt, ap);
	va_end(ap);
	if (k > 0)
		w->o = w->o + (size_t)k < w->len ? w->o + (size_t)k : w->len - 1;
}

/* A TXT record as one quoted string: '"', '\' and octets outside
 * ' '..'~' escaped as in zone files (RFC 1035 §5.1). */
static void put_txt(struct out *w, const char *s)
{
	put(w, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			put(w, "\\%c", c);
		else if (c < ' ' || c > '~')
			put(w, "\\%03u", c);
		else
			put(w, "%c", c);
	}
	put(w, "\"");
}

void dns_record_format(const struct dns_answer *a, size_t i, char *out,
		       size_t outlen)
{
	struct out w = { out, outlen, 0 };
	char addr[INET6_ADDRSTRLEN];

	if (outlen == 0)
		return;
	out[0] = '\0';
	switch (a->type) {
	case DNS_T_MX:
		put(&w, "%u %s.", a->mx[i].pref, a->mx[i].host);
		break;
	case DNS_T_A:
	case DNS_T_AAAA:
		inet_ntop(a->addr[i].family, a->addr[i].addr, addr, sizeof(addr));
		put(&w, "%s", addr);
		break;
	case DNS_T_TLSA:
		put(&w, "%u %u %u ", a->tlsa[i].usage, a->tlsa[i].selector,
		    a->tlsa[i].mtype);
		for (size_t k = 0; k < a->tlsa[i].len; k++)
			put(&w, "%02x", a->tlsa[i].data[k]);
		if (a->tlsa[i].len == 0)
			put(&w, "-");
		break;
	case DNS_T_TXT:
		put_txt(&w, a->txt[i]);
		break;
	case DNS_T_PTR:
		put(&w, "%s.", a->ptr[i]);
		break;
	case DNS_T_SRV:
		put(&w, "%u %u %u %s.", a->srv[i].prio, a->srv[i].weight,
		    a->srv[i].port, a->srv[i].target);
		break;
	}
}
