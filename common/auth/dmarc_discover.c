/* common/auth/dmarc_discover.c: DMARC policy discovery (RFC 7489
 * §6.6.3), one answer at a time. */
#include "autoconf.h"

#include "common/auth/dmarc_discover.h"

#include <string.h>

static void done(struct dmarc_discover *d, enum dmarc_found found,
		 const char *why)
{
	d->stage = DMARC_DONE;
	d->found = found;
	d->why = why;
	d->qname[0] = '\0';
}

/* Ask for _dmarc.NAME next; a name too long to carry the prefix has no
 * record there (the query could not be sent). */
static bool ask(struct dmarc_discover *d, enum dmarc_stage stage,
		const char *name)
{
	size_t len = strlen(name);

	if (len + 7 > ORGDOMAIN_NAME_MAX)
		return false;
	d->stage = stage;
	memcpy(d->qname, "_dmarc.", 7);
	memcpy(d->qname + 7, name, len + 1);
	return true;
}

/* No record at the author domain (or a name too long to ask for): on
 * to the Organizational Domain. */
static void none_here(struct dmarc_discover *d)
{
	if (d->stage == DMARC_ASK_FROM && strcmp(d->org, d->from) != 0 &&
	    ask(d, DMARC_ASK_ORG, d->org))
		return;
	done(d, DMARC_FOUND_NONE, "no DMARC record");
}

void dmarc_discover_start(struct dmarc_discover *d,
			  const struct orgdomain *od, const char *from)
{
	memset(d, 0, sizeof(*d));
	d->stage = DMARC_ASK_FROM;
	d->why = "";
	if (orgdomain_normalize(from, d->from) < 0 ||
	    orgdomain_get(od, d->from, d->org) < 0) {
		done(d, DMARC_FOUND_PERMERROR, "author domain is no domain name");
		return;
	}
	if (!ask(d, DMARC_ASK_FROM, d->from))
		none_here(d);
}

const char *dmarc_discover_query(const struct dmarc_discover *d)
{
	return d->stage == DMARC_DONE ? NULL : d->qname;
}

/* The one DMARC record of the answer's records, or NULL; *count_r how
 * many there were. */
static const char *only_record(char *const *txt, size_t n, size_t *count_r)
{
	const char *one = NULL;

	*count_r = 0;
	for (size_t i = 0; i < n; i++) {
		if (!dmarc_record_is_dmarc(txt[i], strlen(txt[i])))
			continue;
		one = txt[i];
		(*count_r)++;
	}
	return *count_r == 1 ? one : NULL;
}

static void take(struct dmarc_discover *d, const char *record)
{
	size_t len = strlen(record);
	const char *why;

	if (len > DNS_TXT_MAX)
		len = DNS_TXT_MAX;
	memcpy(d->text, record, len);
	d->text[len] = '\0';
	d->text_len = len;
	d->at_org = d->stage == DMARC_ASK_ORG;
	if (dmarc_record_parse(d->text, len, &d->rec, &why) != DMARC_REC_OK) {
		done(d, DMARC_FOUND_NONE, why);
		return;
	}
	done(d, DMARC_FOUND_RECORD, why);
}

void dmarc_discover_answer(struct dmarc_discover *d, enum dns_status status,
			   char *const *txt, size_t n)
{
	const char *one;
	size_t count;

	if (d->stage == DMARC_DONE)
		return;
	switch (status) {
	case DNS_OK:
		break;
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		none_here(d);
		return;
	case DNS_TEMPFAIL:
		done(d, DMARC_FOUND_TEMPERROR, "DNS lookup failed");
		return;
	case DNS_BOGUS:
		done(d, DMARC_FOUND_TEMPERROR, "DNSSEC validation failed");
		return;
	}
	one = only_record(txt, n, &count);
	if (count == 0)
		none_here(d);
	else if (one == NULL)
		done(d, DMARC_FOUND_NONE, "several DMARC records");
	else
		take(d, one);
}
