/* smtpd/resolver.h: kantorpos-smtpd's resolver for the pipeline's DNS
 * checks (pipeline_env.dns): made from dns_resolver and dns_trust_anchor
 * at start, made again at each reload (the servers or the anchors may have
 * changed), the replaced one freed once no query of it is pending. The
 * queue runner keeps a resolver of its own (outbound/runner.h). */
#ifndef KANTORPOS_SMTPD_RESOLVER_H
#define KANTORPOS_SMTPD_RESOLVER_H

struct dns;
struct server;
struct smtpd;

/* Start the resolver of d (a failure is logged: the checks are then not
 * made). Returns 0, or -1 when out of memory. */
int smtpd_resolver_start(struct server *srv, struct smtpd *d);

/* A reload: a new resolver for the new configuration; the old one stays
 * until its pending queries are answered. Keeps the old one when the new
 * one cannot start (logged). */
void smtpd_resolver_reload(struct server *srv, struct smtpd *d);

/* The current resolver, or NULL. */
struct dns *smtpd_resolver(const struct smtpd *d);

/* Free every resolver (pending queries are dropped: at the end only). */
void smtpd_resolver_cleanup(struct smtpd *d);

#endif
