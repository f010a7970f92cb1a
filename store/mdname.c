/* store/mdname.c: build and read Maildir file names (pure string work). */
#include "autoconf.h"

#include "store/mdname.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int mdname_make(char *buf, size_t size, long long sec, long usec, pid_t pid,
		unsigned long counter, const char *host)
{
	int n = snprintf(buf, size, "%lld.M%06ldP%ldQ%lu.", sec, usec,
			 (long)pid, counter);
	size_t len;

	if (n < 0 || (size_t)n >= size)
		goto toolong;
	len = (size_t)n;
	for (const unsigned char *p = (const unsigned char *)host; *p; p++) {
		const char *esc = NULL;
		char one[2] = { (char)*p, '\0' };

		if (*p == '/')
			esc = "\\057";
		else if (*p == ':')
			esc = "\\072";
		else if (*p == ',')
			esc = "\\054";
		else if (*p < 0x21 || *p > 0x7e)
			one[0] = '_';
		if (esc == NULL)
			esc = one;
		size_t elen = strlen(esc);

		if (len + elen >= size)
			goto toolong;
		memcpy(buf + len, esc, elen);
		len += elen;
	}
	buf[len] = '\0';
	return 0;
toolong:
	if (size > 0)
		buf[0] = '\0';
	errno = ENAMETOOLONG;
	return -1;
}

size_t mdname_base_len(const char *name)
{
	return strcspn(name, ":");
}

int mdname_field(const char *name, char key, uint64_t *val_r)
{
	size_t base = mdname_base_len(name);

	for (size_t i = 0; i + 3 <= base; i++) {
		if (name[i] != ',' || name[i + 1] != key || name[i + 2] != '=')
			continue;
		size_t j = i + 3;
		uint64_t v = 0;

		if (j >= base || name[j] < '0' || name[j] > '9')
			continue;
		for (; j < base && name[j] >= '0' && name[j] <= '9'; j++) {
			unsigned d = (unsigned)(name[j] - '0');

			if (v > (UINT64_MAX - d) / 10)
				return 0;
			v = v * 10 + d;
		}
		if (j < base && name[j] != ',')
			continue;
		*val_r = v;
		return 1;
	}
	return 0;
}

long long mdname_time(const char *name)
{
	long long t = 0;

	for (; *name >= '0' && *name <= '9'; name++) {
		if (t > (LLONG_MAX - 9) / 10)
			return t;
		t = t * 10 + (*name - '0');
	}
	return t;
}

int mdname_uidl(const char *name, char out[MDNAME_UIDL_MAX + 1])
{
	size_t base = mdname_base_len(name);
	int printable = base > 0 && base <= MDNAME_UIDL_MAX;
	unsigned char hash[16];

	for (size_t i = 0; printable && i < base; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			printable = 0;
	if (printable) {
		memcpy(out, name, base);
		out[base] = '\0';
		return 0;
	}
	/* Longer names come from long host names or other Maildir tools;
	 * RFC 1939 caps the id at 70 characters, so hash the stable base. */
	if (sodium_init() < 0)
		return -1;
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)name,
			   base, NULL, 0);
	sodium_bin2hex(out, MDNAME_UIDL_MAX + 1, hash, sizeof(hash));
	return 0;
}
