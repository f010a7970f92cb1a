/* pipeline/dkimcheck.h: the DKIM signatures of a message checked while
 * its content streams (RFC 6376 §6): a bounded copy of the header section
 * (pipeline/signhdr.h), the DKIM-Signature fields found in it when it
 * ends (the first `max` of them, top down, each read by dkim_sig_parse),
 * one streaming body hash per distinct body canonicalization and l= among
 * them (no copy of the body), and at the end each signature checked
 * against the key record its caller fetched (dkim_verify_one).
 *
 * Which key to fetch is known as soon as the header section ends
 * (dkimcheck_feed says so), so the lookups overlap with the body. A
 * header section longer than DKIMCHECK_HDR_MAX makes every signature
 * found in its first DKIMCHECK_HDR_MAX octets (or one, when none is)
 * a permerror "header too long", with nothing to look up.
 *
 * Pure: no I/O, no globals; memory bounded by the copy, `max` signatures
 * and as many body hashes. */
#ifndef KANTORPOS_PIPELINE_DKIMCHECK_H
#define KANTORPOS_PIPELINE_DKIMCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/auth/dkim_bodyhash.h"
#include "common/auth/dkim_sig.h"
#include "common/auth/dkim_verify.h"
#include "pipeline/signhdr.h"

#define DKIMCHECK_HDR_MAX (64 * 1024)
#define DKIMCHECK_SIGS_MAX 16 /* the bound of dkim_max_signatures */

/* One signature: where its field is, what it says, what it got. */
struct dkimcheck_sig {
	const char *field;        /* the whole field, into the copy */
	size_t field_len;
	struct dkim_sig *sig;     /* NULL: it did not parse (permerror) */
	size_t body;              /* its body hash in dkimcheck.bodies */
	bool decided;             /* result known without a key */
	enum dkim_result result;  /* after dkimcheck_verify (or decided) */
	const char *reason;       /* static; "" for pass */
};

/* One body hash and the signatures that share it. */
struct dkimcheck_body {
	enum dkim_canon canon;
	bool limited;
	uint64_t l;
	struct dkim_bodyhash h;
};

struct dkimcheck {
	struct signhdr h;
	size_t max;             /* signatures taken at most */
	bool started;           /* the header section ended: sigs known */
	bool finished;          /* the content ended: hashes done */
	size_t found;           /* DKIM-Signature fields in the section */
	size_t n;               /* those taken: sigs[0..n) */
	struct dkimcheck_sig sigs[DKIMCHECK_SIGS_MAX];
	size_t n_bodies;
	struct dkimcheck_body *bodies; /* n_bodies, malloc'd */
};

/* Start; max: dkim_max_signatures (at most DKIMCHECK_SIGS_MAX). */
void dkimcheck_init(struct dkimcheck *c, size_t max);
void dkimcheck_free(struct dkimcheck *c);

/* Read the next len octets of content (CRLF line ends, not
 * dot-stuffed). True when this piece ended the header section: the
 * signatures are known now, their keys may be looked up. */
bool dkimcheck_feed(struct dkimcheck *c, const char *buf, size_t len);

/* The content ended. True when only this ended the header section (a
 * message without an empty line, hence without a body). */
bool dkimcheck_end(struct dkimcheck *c);

/* Does signature i need its key record (not decided without one)? */
bool dkimcheck_wants_key(const struct dkimcheck *c, size_t i);

/* Write SELECTOR._domainkey.DOMAIN of signature i into name (size
 * octets). Returns 0, or -1 when it does not fit (then the signature is
 * decided: permerror). */
int dkimcheck_key_name(struct dkimcheck *c, size_t i, char *name,
		       size_t size);

/* Decide signature i without its key: result r, reason (static), as a
 * failed lookup does (a DNS timeout: temperror). */
void dkimcheck_decide(struct dkimcheck *c, size_t i, enum dkim_result r,
		      const char *reason);

/* After dkimcheck_end: check signature i (unless decided) against its key
 * record rec[0..len) (NULL: none was found) at time now. */
void dkimcheck_verify(struct dkimcheck *c, size_t i, const char *rec,
		      size_t len, time_t now);

#endif
