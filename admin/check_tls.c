/* admin/check_tls.c: the tls_cert and tls_key checks of `kantorpos check`
 * — both readable and parseable, the key belonging to the first
 * certificate, every certificate in its validity period (a warning when
 * one ends within CHECK_TLS_WARN_DAYS) and in chain order (each one issued
 * by the next, leaf first). Messages carry OpenSSL's reason strings. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "admin/check.h"
#include "common/config/config.h"
#include "common/config/config_load.h"

/* Certificates ending sooner than this give a warning. */
#define CHECK_TLS_WARN_DAYS 14
/* More than a chain file ever holds. */
#define CHECK_TLS_MAX_CERTS 16

/* The first (root-cause) reason of the OpenSSL error queue, which is
 * emptied. */
static void ossl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_get_error(), more;
	const char *why;

	while ((more = ERR_get_error()) != 0)
		;
	if (e == 0) {
		snprintf(buf, size, "unknown error");
		return;
	}
	if (ERR_SYSTEM_ERROR(e))
		why = strerror(ERR_GET_REASON(e));
	else
		why = ERR_reason_error_string(e);
	if (why != NULL)
		snprintf(buf, size, "%s", why);
	else
		ERR_error_string_n(e, buf, size);
}

/* "CN=mail.example.org" (RFC 2253), or "?" */
static void subject_of(X509 *x, char *buf, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	snprintf(buf, size, "?");
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
			       XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(b, buf, (int)size - 1)) > 0)
		buf[n] = '\0';
	BIO_free(b);
}

static void time_text(const ASN1_TIME *t, char *buf, size_t size)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "an unreadable date");
}

/* "the certificate (CN=x)" for the leaf, "certificate 2 (CN=y)" else. */
static void label(X509 *const *certs, size_t i, char *buf, size_t size)
{
	char subject[256];

	subject_of(certs[i], subject, sizeof(subject));
	if (i == 0)
		snprintf(buf, size, "the certificate (%s)", subject);
	else
		snprintf(buf, size, "certificate %zu (%s)", i + 1, subject);
}

/* Every certificate of the PEM file, leaf first; returns how many (0 when
 * none could be read: reported). */
static size_t load_certs(struct check_report *r, const struct config *cfg,
			 X509 **certs)
{
	unsigned line = config_line(cfg, "tls_cert");
	char why[256];
	size_t n = 0;
	FILE *fp = fopen(cfg->tls_cert, "re");

	if (fp == NULL) {
		check_add(r, CHECK_ERROR, cfg->file, line, "tls_cert %s: %s",
			  cfg->tls_cert, strerror(errno));
		return 0;
	}
	ERR_clear_error();
	while (n < CHECK_TLS_MAX_CERTS) {
		unsigned long e;

		if ((certs[n] = PEM_read_X509_AUX(fp, NULL, NULL, NULL)) != NULL) {
			n++;
			continue;
		}
		e = ERR_peek_last_error();
		if (n > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM &&
		    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
			ERR_clear_error(); /* the end of the file */
			break;
		}
		ossl_reason(why, sizeof(why));
		check_add(r, CHECK_ERROR, cfg->file, line, "tls_cert %s: %s: %s",
			  cfg->tls_cert,
			  n == 0 ? "no PEM certificate in it"
				 : "a certificate after the first cannot be read",
			  why);
		break;
	}
	fclose(fp);
	return n;
}

/* An encrypted key cannot be used by the daemons: no passphrase prompt. */
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return -1;
}

static EVP_PKEY *load_key(struct check_report *r, const struct config *cfg)
{
	unsigned line = config_line(cfg, "tls_key");
	EVP_PKEY *key;
	char why[256];
	FILE *fp = fopen(cfg->tls_key, "re");

	if (fp == NULL) {
		check_add(r, CHECK_ERROR, cfg->file, line, "tls_key %s: %s",
			  cfg->tls_key, strerror(errno));
		return NULL;
	}
	ERR_clear_error();
	key = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL);
	fclose(fp);
	if (key == NULL) {
		ossl_reason(why, sizeof(why));
		check_add(r, CHECK_ERROR, cfg->file, line,
			  "tls_key %s: no usable PEM private key in it: %s",
			  cfg->tls_key, why);
	}
	return key;
}

static void check_dates(struct check_report *r, const struct config *cfg,
			X509 *const *certs, size_t i)
{
	unsigned line = config_line(cfg, "tls_cert");
	const ASN1_TIME *end = X509_get0_notAfter(certs[i]);
	const ASN1_TIME *start = X509_get0_notBefore(certs[i]);
	char what[320], when[64];
	int days = 0, secs = 0;

	label(certs, i, what, sizeof(what));
	if (X509_cmp_time(end, NULL) <= 0) {
		time_text(end, when, sizeof(when));
		check_add(r, CHECK_ERROR, cfg->file, line,
			  "tls_cert %s: %s expired on %s; fix: renew it",
			  cfg->tls_cert, what, when);
		return;
	}
	if (X509_cmp_time(start, NULL) >= 0) {
		time_text(start, when, sizeof(when));
		check_add(r, CHECK_ERROR, cfg->file, line,
			  "tls_cert %s: %s is not valid before %s",
			  cfg->tls_cert, what, when);
		return;
	}
	if (ASN1_TIME_diff(&days, &secs, NULL, end) == 1 &&
	    days < CHECK_TLS_WARN_DAYS) {
		int within = days + (secs > 0);

		time_text(end, when, sizeof(when));
		check_add(r, CHECK_WARNING, cfg->file, line,
			  "tls_cert %s: %s expires on %s, in less than %d "
			  "day%s; fix: renew it", cfg->tls_cert, what, when,
			  within, within == 1 ? "" : "s");
	}
}

/* Certificate i must be issued by certificate i + 1. */
static void check_order(struct check_report *r, const struct config *cfg,
			X509 *const *certs, size_t i)
{
	char lower[320], upper[320];
	int rc = X509_check_issued(certs[i + 1], certs[i]);

	if (rc == X509_V_OK)
		return;
	label(certs, i, lower, sizeof(lower));
	label(certs, i + 1, upper, sizeof(upper));
	if (X509_check_issued(certs[i], certs[i + 1]) == X509_V_OK)
		check_add(r, CHECK_ERROR, cfg->file, config_line(cfg, "tls_cert"),
			  "tls_cert %s: wrong order: %s issued %s, which comes "
			  "after it; fix: put the leaf first, then each issuer",
			  cfg->tls_cert, lower, upper);
	else
		check_add(r, CHECK_ERROR, cfg->file, config_line(cfg, "tls_cert"),
			  "tls_cert %s: %s is not the issuer of %s before it: "
			  "%s; fix: put the leaf first, then each issuer",
			  cfg->tls_cert, upper, lower,
			  X509_verify_cert_error_string(rc));
}

static void check_match(struct check_report *r, const struct config *cfg,
			X509 *leaf, EVP_PKEY *key)
{
	char why[256];

	ERR_clear_error();
	if (X509_check_private_key(leaf, key) == 1)
		return;
	ossl_reason(why, sizeof(why));
	check_add(r, CHECK_ERROR, cfg->file, config_line(cfg, "tls_key"),
		  "tls_key %s does not belong to the certificate in %s: %s; "
		  "fix: use the key the certificate was issued for",
		  cfg->tls_key, cfg->tls_cert, why);
}

void check_tls(struct check_report *r, const struct config *cfg)
{
	X509 *certs[CHECK_TLS_MAX_CERTS];
	EVP_PKEY *key;
	size_t n;

	if (cfg->tls_cert == NULL || cfg->tls_key == NULL)
		return;
	n = load_certs(r, cfg, certs);
	key = load_key(r, cfg);
	for (size_t i = 0; i < n; i++)
		check_dates(r, cfg, certs, i);
	for (size_t i = 0; i + 1 < n; i++)
		check_order(r, cfg, certs, i);
	if (n > 0 && key != NULL)
		check_match(r, cfg, certs[0], key);
	for (size_t i = 0; i < n; i++)
		X509_free(certs[i]);
	EVP_PKEY_free(key);
}
