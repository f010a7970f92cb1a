/* tests/helpers/tlscert.c: self-signed test certificates (see tlscert.h). */
#include "autoconf.h"

#include "tests/helpers/tlscert.h"

#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests/helpers/testutil.h"

static void die(const char *what)
{
	fprintf(stderr, "tu_make_cert: %s failed\n", what);
	abort();
}

static void write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		die(path);
	if (key != NULL &&
	    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1)
		die("PEM_write_PrivateKey");
	if (cert != NULL && PEM_write_X509(f, cert) != 1)
		die("PEM_write_X509");
	if (fclose(f) != 0)
		die("fclose");
}

void tu_make_cert(const char *dir, char **cert_r, char **key_r,
		  char fp_r[TLS_FP_STRLEN])
{
	unsigned char fp[TLS_FP_LEN];
	unsigned int fplen = 0;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	X509_NAME *name;
	EVP_PKEY *key;
	X509 *cert;

	key = EVP_EC_gen("P-256");
	cert = X509_new();
	if (key == NULL || cert == NULL)
		die("key generation");
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 7L * 24 * 3600);
	X509_set_pubkey(cert, key);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
				  "DNS:localhost,IP:127.0.0.1,IP:::1");
	if (ext == NULL || X509_add_ext(cert, ext, -1) != 1)
		die("subjectAltName");
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "CA:TRUE");
	if (ext == NULL || X509_add_ext(cert, ext, -1) != 1)
		die("basicConstraints");
	X509_EXTENSION_free(ext);
	if (X509_sign(cert, key, EVP_sha256()) == 0)
		die("X509_sign");
	*cert_r = tu_path(dir, "cert.pem");
	*key_r = tu_path(dir, "key.pem");
	write_pem(*cert_r, NULL, cert);
	write_pem(*key_r, key, NULL);
	/* A private key readable by others is refused at start-up. */
	if (chmod(*key_r, 0600) != 0)
		die("chmod");
	if (X509_digest(cert, EVP_sha256(), fp, &fplen) != 1 || fplen != TLS_FP_LEN)
		die("X509_digest");
	tls_fp_format(fp, fp_r, TLS_FP_STRLEN);
	X509_free(cert);
	EVP_PKEY_free(key);
}
