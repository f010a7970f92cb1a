/* outbound/tlsrpt.c: RFC 8460 result types from delivery outcomes
 * (outbound/tlsrpt.h). */
#include "autoconf.h"

#include "outbound/tlsrpt.h"

#include "common/net/tls.h"

const char *tlsrpt_policy_name(enum tlsrpt_policy p)
{
	switch (p) {
	case TLSRPT_POLICY_TLSA:
		return "tlsa";
	case TLSRPT_POLICY_STS:
		return "sts";
	case TLSRPT_POLICY_NONE:
		break;
	}
	return NULL;
}

static const char *cert_result(long verify)
{
	switch (tls_verify_class(verify)) {
	case TLS_VC_HOST:
		return "certificate-host-mismatch";
	case TLS_VC_EXPIRED:
		return "certificate-expired";
	case TLS_VC_UNTRUSTED:
		return "certificate-not-trusted";
	case TLS_VC_DANE:
		return "tlsa-invalid";
	case TLS_VC_OK:
	case TLS_VC_OTHER:
		break;
	}
	return "validation-failure";
}

const char *tlsrpt_session(enum tlsrpt_policy p, bool unusable, bool mx_ok,
			   enum smtpc_tlso o, long verify)
{
	if (p == TLSRPT_POLICY_NONE)
		return NULL;
	switch (o) {
	case SMTPC_TLSO_NONE:
		return NULL;
	case SMTPC_TLSO_NOT_OFFERED:
		return "starttls-not-supported";
	case SMTPC_TLSO_HANDSHAKE:
		return "validation-failure";
	case SMTPC_TLSO_CERT:
		return cert_result(verify);
	case SMTPC_TLSO_UNVERIFIED:
		return unusable ? "tlsa-invalid" : NULL;
	case SMTPC_TLSO_VERIFIED:
		break;
	}
	if (p == TLSRPT_POLICY_STS && !mx_ok)
		return "certificate-host-mismatch";
	return "success";
}

const char *tlsrpt_tlsa_failed(void)
{
	return "dnssec-invalid";
}

const char *tlsrpt_sts_fetch(bool got_body, bool cert_failed)
{
	if (got_body)
		return "sts-policy-invalid";
	return cert_failed ? "sts-webpki-invalid" : "sts-policy-fetch-error";
}
