/* tests/dnsq.c: look names up with kantorpos's resolver (common/dns) on a
 * libev loop and print one line per answer, for the end-to-end tests:
 *
 *   dnsq [-s ADDR@PORT]... [-t TRUST_ANCHOR] [-T SECONDS] TYPE NAME...
 *
 *   MX remote.test OK insecure ttl=300 canon=remote.test 10 a.remote.test. 20 b.remote.test.
 *   MX loop.test TEMPFAIL insecure ttl=0 canon=loop.test why="CNAME chain too long"
 *
 * Fields: the type and the name asked, the status, secure or insecure, the
 * TTL, the name after CNAMEs, "capped" when records were left out, the
 * reason of a TEMPFAIL or BOGUS, then the records (tests/helpers/dnsfmt.h).
 * All queries run at once; the lines come in the order of the names.
 * Without -s the servers of /etc/resolv.conf are asked; without -t
 * nothing is validated. Exit status 0 when every query was answered
 * (whatever the answer), 1 when the resolver could not start or a query
 * could not be made, 2 for bad usage. Not installed. */
#include "autoconf.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/dns/dns.h"
#include "tests/helpers/dnsfmt.h"

#define DNSQ_MAX_SERVERS 16

struct result {
	const char *name;
	char *line;        /* NULL until answered */
};

static void usage(void)
{
	fprintf(stderr, "usage: dnsq [-s ADDR@PORT]... [-t TRUST_ANCHOR] "
		"[-T SECONDS] MX|A|AAAA|TXT|TLSA|PTR|SRV NAME...\n");
	exit(2);
}

static int parse_type(const char *s, enum dns_type *t_r)
{
	static const enum dns_type all[] = {
		DNS_T_MX, DNS_T_A, DNS_T_AAAA, DNS_T_TXT, DNS_T_TLSA, DNS_T_PTR,
		DNS_T_SRV,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcasecmp(s, dns_type_str(all[i])) == 0) {
			*t_r = all[i];
			return 0;
		}
	return -1;
}

static void on_answer(void *arg, const struct dns_answer *a)
{
	struct result *r = arg;
	char records[65536], why[1024] = "";
	char *line = NULL;

	dnsfmt_records(a, records, sizeof(records));
	if (a->why != NULL)
		snprintf(why, sizeof(why), " why=\"%s\"", a->why);
	if (asprintf(&line, "%s %s %s %s ttl=%u canon=%s%s%s%s%s",
		     dns_type_str(a->type), r->name, dns_status_str(a->status),
		     a->security == DNS_SECURE ? "secure" : "insecure", a->ttl,
		     a->canon, a->capped ? " capped" : "", why,
		     records[0] != '\0' ? " " : "", records) < 0)
		line = NULL;
	r->line = line != NULL ? line : strdup("? out of memory");
}

int main(int argc, char **argv)
{
	const char *servers[DNSQ_MAX_SERVERS];
	struct dns_opts o = { .servers = servers };
	struct ev_loop *loop = ev_default_loop(0);
	struct result *res;
	enum dns_type type;
	char err[1024];
	struct dns *d;
	int c, rc = 0;

	while ((c = getopt(argc, argv, "s:t:T:")) != -1) {
		if (c == 's' && o.n_servers < DNSQ_MAX_SERVERS)
			servers[o.n_servers++] = optarg;
		else if (c == 't')
			o.trust_anchor = optarg;
		else if (c == 'T' && atoi(optarg) > 0)
			o.timeout = (unsigned)atoi(optarg);
		else
			usage();
	}
	if (argc - optind < 2 || parse_type(argv[optind], &type) < 0)
		usage();
	d = dns_new(loop, &o, err, sizeof(err));
	if (d == NULL) {
		fprintf(stderr, "dnsq: %s\n", err);
		return 1;
	}
	res = calloc((size_t)(argc - optind), sizeof(*res));
	if (res == NULL)
		return 1;
	for (int i = optind + 1; i < argc; i++) {
		res[i - optind - 1].name = argv[i];
		if (dns_lookup(d, argv[i], type, on_answer, &res[i - optind - 1]) == NULL) {
			fprintf(stderr, "dnsq: %s: %s\n", argv[i], strerror(errno));
			rc = 1;
		}
	}
	ev_run(loop, 0);
	for (int i = 0; i < argc - optind - 1; i++) {
		if (res[i].line != NULL)
			printf("%s\n", res[i].line);
		free(res[i].line);
	}
	free(res);
	dns_free(d);
	return rc;
}
