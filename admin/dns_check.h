/* admin/dns_check.h: `kantorpos dns DOMAIN --check` — the records a
 * domain needs (admin/dnsrec.h) looked up through the configured resolver
 * and compared, one line each. */
#ifndef KANTORPOS_ADMIN_DNS_CHECK_H
#define KANTORPOS_ADMIN_DNS_CHECK_H

struct config;
struct dnsrec_set;

/* Look up every record of set that can be checked, and the PTR of each
 * address HOSTNAME has; print "LABEL NAME.: ok|missing|differs: got ..."
 * per record. Returns ADM_OK when all are ok, 1 when one is missing or
 * differs, ADM_TEMPFAIL when a lookup failed (the check is incomplete),
 * ADM_CONFIG when there is no resolver. */
int dns_check_run(const struct config *cfg, const struct dnsrec_set *set);

#endif
