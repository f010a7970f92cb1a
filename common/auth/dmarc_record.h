/* common/auth/dmarc_record.h: a DMARC policy record (RFC 7489 §6.3,
 * §6.4), the TXT data at _dmarc.DOMAIN: "v=DMARC1" first, then p= (the
 * policy), sp= (for subdomains), adkim= and aspf= (alignment modes),
 * pct=, rua= and ruf= (report addresses), fo=, rf=, ri=.
 *
 * Tags are separated by ";" with WSP around names, "=" and values; tag
 * names compare without case, and so do the keyword values (ABNF strings,
 * RFC 5234 §2.3); "DMARC1" must match exactly. Unknown tags are ignored,
 * and so is a tag given again after its first occurrence. A known optional
 * tag with a bad value is dropped for its default (§6.3: "syntax errors
 * in the remainder of the record SHOULD be discarded in favor of default
 * values"). p= may stand anywhere after v=. A missing or bad p=, or a bad
 * sp=, makes the record unusable unless rua= holds a valid URI, in which
 * case it counts as "p=none" (§6.6.3 step 6).
 *
 * Pure code: no allocation, no globals. */
#ifndef KANTORPOS_COMMON_DMARC_RECORD_H
#define KANTORPOS_COMMON_DMARC_RECORD_H

#include <stdbool.h>
#include <stddef.h>

/* Requested handling of mail that fails, least severe first (§6.6.4). */
enum dmarc_policy {
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

/* fo= failure reporting options (§6.3), a bit each. */
#define DMARC_FO_0 0x1u  /* all mechanisms failed (the default) */
#define DMARC_FO_1 0x2u  /* any mechanism failed */
#define DMARC_FO_D 0x4u  /* DKIM failed */
#define DMARC_FO_S 0x8u  /* SPF failed */

/* A part of the record's text: txt[off .. off + len). */
struct dmarc_span {
	size_t off, len;
};

struct dmarc_record {
	enum dmarc_policy p;
	enum dmarc_policy sp;     /* p when there is no sp= */
	bool p_assumed;           /* p=none taken for a bad p= or sp= (rua=) */
	bool adkim_strict;        /* adkim=s; default relaxed */
	bool aspf_strict;         /* aspf=s */
	unsigned pct;             /* 0..100, default 100 */
	unsigned fo;              /* DMARC_FO_* bits, default DMARC_FO_0 */
	bool rf_afrf;             /* rf= names afrf (the default) */
	unsigned long ri;         /* seconds between aggregate reports */
	struct dmarc_span rua;    /* the URI lists as given, len 0 when absent */
	struct dmarc_span ruf;    /* or without one valid URI */
};

enum dmarc_parse {
	DMARC_REC_OK,
	DMARC_REC_NOT_DMARC, /* no "v=DMARC1" first: no DMARC record at all,
			      * discarded (§6.6.3 steps 2 and 4) */
	DMARC_REC_UNUSABLE,  /* a DMARC record, but without a valid p= (or
			      * with a bad sp=) and no valid rua=: no DMARC
			      * processing (§6.6.3 step 6) */
};

/* Does txt[0..len) start with the tag "v=DMARC1"? */
bool dmarc_record_is_dmarc(const char *txt, size_t len);

/* Read the record txt[0..len) (its TXT strings joined) into *r. Returns
 * DMARC_REC_OK (*why_r "" or what was dropped for a default, for the
 * log), or another status with *why_r a static reason. */
enum dmarc_parse dmarc_record_parse(const char *txt, size_t len,
				    struct dmarc_record *r,
				    const char **why_r);

/* "none", "quarantine", "reject". */
const char *dmarc_policy_str(enum dmarc_policy p);

#endif
