/* pipeline/hops.c: the streamed count of Received fields (pipeline/hops.h). */
#include "autoconf.h"

#include "pipeline/hops.h"

#include <ctype.h>
#include <string.h>

static const char NAME[] = "received";
#define NAME_LEN (sizeof(NAME) - 1)
/* matched: 0..NAME_LEN the letters so far; then these. */
#define M_BLANKS (NAME_LEN + 1) /* the name, then blanks before ':' */
#define M_NO (NAME_LEN + 2)     /* not a Received field */

void hops_init(struct hops *h)
{
	memset(h, 0, sizeof(*h));
}

static void octet(struct hops *h, char c)
{
	if (c == '\n') {
		/* An empty line ("\n" or "\r\n") ends the header section. */
		if (h->line_len == 0 || (h->line_len == 1 && h->last == '\r'))
			h->done = true;
		h->line_len = 0;
		h->matched = 0;
		h->last = c;
		return;
	}
	h->line_len++;
	h->last = c;
	if (h->matched < NAME_LEN) {
		h->matched = tolower((unsigned char)c) == NAME[h->matched]
				     ? h->matched + 1 : M_NO;
	} else if (h->matched == NAME_LEN || h->matched == M_BLANKS) {
		if (c == ':') {
			h->count++;
			h->matched = M_NO;
		} else {
			h->matched = c == ' ' || c == '\t' ? M_BLANKS : M_NO;
		}
	}
}

void hops_feed(struct hops *h, const char *buf, size_t len)
{
	for (size_t i = 0; i < len && !h->done; i++)
		octet(h, buf[i]);
}
