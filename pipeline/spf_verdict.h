/* pipeline/spf_verdict.h: what an SPF check of a message found (RFC 7208:
 * the result, the identity and domain checked, the term that decided, the
 * explanation of a fail) and how it is written down: the Received-SPF
 * trace field of §9.1 and the default explanation of §8.4. Plain data
 * and pure code: no I/O, no globals. pipeline/stage_spf.h gives a
 * message's verdict to the stages after the check. */
#ifndef KANTORPOS_PIPELINE_SPF_VERDICT_H
#define KANTORPOS_PIPELINE_SPF_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/auth/spf_result.h"
#include "common/mail/address.h"

/* Room that always holds the field spf_received_format builds. */
#define SPF_RECEIVED_MAX 2048
/* Longest explanation, mechanism or problem kept (octets). */
#define SPF_TEXT_MAX 300

struct spf_verdict {
	enum spf_result result;
	bool helo_identity;        /* "helo": the null sender's check */
	char identity[ADDR_TEXT_SIZE]; /* the sender checked: MAIL FROM's
				    * address, or postmaster@HELO */
	char domain[ADDR_DOMAIN_MAX + 1]; /* whose record decided first */
	char client_ip[64];
	char helo[ADDR_DOMAIN_MAX + 1];  /* "" when the client gave none */
	char mechanism[SPF_TEXT_MAX];    /* "-all"; "" for none */
	char explanation[SPF_TEXT_MAX];  /* a fail's exp= text, or "" */
	char problem[SPF_TEXT_MAX];      /* why none/temperror/permerror */
};

/* "Received-SPF: RESULT (RECEIVER: COMMENT) key=value; ...\r\n" into
 * buf (size >= SPF_RECEIVED_MAX is always enough): the comment says the
 * result in words, then receiver=, client-ip=, envelope-from= (not for
 * the HELO identity of the null sender), helo= (when known), identity=
 * (mailfrom or helo), mechanism= when a term decided and problem= for
 * temperror and permerror. A value
 * that is no dot-atom is a quoted-string; controls become "?". Folded
 * below 78 octets a line. Returns the length, or 0 when it does not fit. */
size_t spf_received_format(const struct spf_verdict *v, const char *receiver,
			   char *buf, size_t size);

/* The reply text of a fail (§8.4): the record's explanation when it gave
 * one, else "SPF: DOMAIN does not designate IP as permitted sender"; an
 * explanation's octets outside visible ASCII and blank become "?". Into
 * buf, cut to size. */
void spf_fail_text(const struct spf_verdict *v, char *buf, size_t size);

#endif
