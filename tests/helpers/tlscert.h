/* tests/helpers/tlscert.h: a throw-away self-signed certificate for TLS
 * tests (EC P-256, CN and DNS name "localhost", IP 127.0.0.1 and ::1). */
#ifndef KANTORPOS_TESTS_TLSCERT_H
#define KANTORPOS_TESTS_TLSCERT_H

#include "common/net/tls.h"

/* Write cert.pem and key.pem into dir; return their paths (heap strings
 * for the caller to free) and the certificate's "sha256:AB:..."
 * fingerprint in fp_r. Aborts the test on failure. */
void tu_make_cert(const char *dir, char **cert_r, char **key_r,
		  char fp_r[TLS_FP_STRLEN]);

#endif
