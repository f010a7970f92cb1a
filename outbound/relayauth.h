/* outbound/relayauth.h: the relayhost's AUTH password (relayhost ... auth
 * USER PASSWORD_FILE), read by whoever builds a queue runner
 * (kantorpos-smtpd at start and on SIGHUP, `kantorpos queue flush`) and
 * handed to it in runner_opts.relay_password: held in memory only. */
#ifndef KANTORPOS_OUTBOUND_RELAYAUTH_H
#define KANTORPOS_OUTBOUND_RELAYAUTH_H

#include <stddef.h>

struct config;

/* Read cfg's relayhost password file by the rule of every password file
 * (common/config/secret.h), as the account this process runs as (after
 * its privilege drop). Returns 0 with *pw_r (NULL when the relayhost has
 * no auth; else give it back with secret_free), or -1 with one line in
 * err: "FILE:LINE: relayhost: password_file PATH: why". BLOCKING: one
 * small file. */
int relay_password_read(const struct config *cfg, char **pw_r, char *err,
			size_t errlen);

#endif
