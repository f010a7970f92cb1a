/* outbound/tlsrpt.h: the results that would go into TLS reports (RFC
 * 8460 section 4.3), named as a report names them, from what a delivery
 * attempt came to. Reports are not sent (yet): direct delivery and the
 * MTA-STS cache log each result as "tlsrpt=RESULT policy=TYPE" on their
 * lines, with the domain and the MX host, so the daily report can be
 * built from the log. Pure.
 *
 * The policy type of an attempt is "tlsa" when DANE decides it (a
 * secure TLSA RRset, usable or not, or a TLSA lookup that failed) and
 * "sts" when the domain's MTA-STS policy does; an attempt with neither
 * is not reported. */
#ifndef KANTORPOS_OUTBOUND_TLSRPT_H
#define KANTORPOS_OUTBOUND_TLSRPT_H

#include <stdbool.h>

#include "common/client/smtpclient.h"

enum tlsrpt_policy {
	TLSRPT_POLICY_NONE = 0,
	TLSRPT_POLICY_TLSA,
	TLSRPT_POLICY_STS,
};

/* "tlsa", "sts"; NULL for none. */
const char *tlsrpt_policy_name(enum tlsrpt_policy p);

/* What a session says, given what TLS came to (smtpc_tls_outcome: o and
 * its X509_V_* result verify):
 *   success                    verified as the policy asks
 *   starttls-not-supported     no STARTTLS offered, or refused
 *   certificate-host-mismatch  a name that does not match; for MTA-STS
 *                              also an MX host outside the policy
 *                              (mx_ok false)
 *   certificate-expired        outside the validity dates
 *   certificate-not-trusted    a chain to no trust anchor
 *   tlsa-invalid               DANE: the certificate matches no record,
 *                              or no record is usable (unusable)
 *   validation-failure         any other failure of the handshake
 * NULL: nothing to report (no policy, TLS never tried). */
const char *tlsrpt_session(enum tlsrpt_policy p, bool unusable, bool mx_ok,
			   enum smtpc_tlso o, long verify);

/* A host skipped because its TLSA lookup failed (bogus, SERVFAIL):
 * "dnssec-invalid". */
const char *tlsrpt_tlsa_failed(void);

/* A policy fetch that gave no policy: "sts-policy-invalid" when a body
 * came but did not parse, "sts-webpki-invalid" when the policy host's
 * certificate did not verify, else "sts-policy-fetch-error". */
const char *tlsrpt_sts_fetch(bool got_body, bool cert_failed);

#endif
