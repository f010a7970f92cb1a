/* tests/helpers/dnsfmt.c: a DNS answer's records as text (dnsfmt.h). */
#include "autoconf.h"

#include "tests/helpers/dnsfmt.h"

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

/* A name with its final dot: "a.test." ("." for the root). */
static void put_name(struct out *w, const char *name)
{
	put(w, "%s.", name);
}

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

static void put_record(struct out *w, const struct dns_answer *a, size_t i)
{
	char addr[INET6_ADDRSTRLEN];

	switch (a->type) {
	case DNS_T_MX:
		put(w, "%u ", a->mx[i].pref);
		put_name(w, a->mx[i].host);
		break;
	case DNS_T_A:
	case DNS_T_AAAA:
		inet_ntop(a->addr[i].family, a->addr[i].addr, addr, sizeof(addr));
		put(w, "%s", addr);
		break;
	case DNS_T_TLSA:
		put(w, "%u %u %u ", a->tlsa[i].usage, a->tlsa[i].selector,
		    a->tlsa[i].mtype);
		for (size_t k = 0; k < a->tlsa[i].len; k++)
			put(w, "%02x", a->tlsa[i].data[k]);
		if (a->tlsa[i].len == 0)
			put(w, "-");
		break;
	case DNS_T_TXT:
		put_txt(w, a->txt[i]);
		break;
	case DNS_T_PTR:
		put_name(w, a->ptr[i]);
		break;
	case DNS_T_SRV:
		put(w, "%u %u %u ", a->srv[i].prio, a->srv[i].weight,
		    a->srv[i].port);
		put_name(w, a->srv[i].target);
		break;
	}
}

void dnsfmt_records(const struct dns_answer *a, char *out, size_t outlen)
{
	struct out w = { out, outlen, 0 };

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < a->n; i++) {
		if (i > 0)
			put(&w, " ");
		put_record(&w, a, i);
	}
}
