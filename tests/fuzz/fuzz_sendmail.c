/* tests/fuzz/fuzz_sendmail.c: kantorpos-sendmail's reader of its standard
 * input (sendmail/message.h) on arbitrary input. Header (1 byte): bit 0
 * -i, bit 1 -t, the rest the seed of the piece lengths. Checked: fed in
 * pieces it gives what it gives fed whole (header, body, end, size); the
 * header section goes out once and ends in its empty line; no line end
 * that the input had as a bare LF stays bare; the size is what went out. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "sendmail/message.h"

struct out {
	char *header, *body;
	size_t hlen, blen;
	int headers;
	size_t rcpts;
};

static int on_header(void *arg, const struct sm_header *h)
{
	struct out *o = arg;

	o->headers++;
	o->header = malloc(h->len + 1);
	FUZZ_CHECK(o->header != NULL);
	memcpy(o->header, h->text, h->len);
	o->hlen = h->len;
	o->rcpts = h->n_rcpts;
	return 0;
}

static int on_body(void *arg, const char *buf, size_t len)
{
	struct out *o = arg;
	char *grown = realloc(o->body, o->blen + len);

	FUZZ_CHECK(grown != NULL);
	memcpy(grown + o->blen, buf, len);
	o->body = grown;
	o->blen += len;
	return 0;
}

/* Read in[0..len) in pieces (seed 0: whole) into *o; its status. */
static int read_all(const struct sm_msg_opts *opts, const char *in,
		    size_t len, unsigned seed, struct out *o, bool *ended,
		    uint64_t *size)
{
	struct sm_msg_sink sink = { on_header, on_body, o };
	struct sm_msg *m = sm_msg_new(opts, &sink);
	size_t pos = 0;
	int rc = 0;

	FUZZ_CHECK(m != NULL);
	while (rc == 0 && pos < len) {
		size_t n = seed == 0 ? len - pos : 1 + (seed % 7);

		seed = seed * 1103515245u + 12345u;
		if (n > len - pos)
			n = len - pos;
		rc = sm_msg_feed(m, in + pos, n);
		pos += n;
	}
	if (rc == 0)
		rc = sm_msg_finish(m);
	*ended = sm_msg_ended(m);
	*size = sm_msg_size(m);
	sm_msg_free(m);
	return rc;
}

static void no_bare_lf(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\n')
			FUZZ_CHECK(i > 0 && s[i - 1] == '\r');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sm_msg_opts opts = { false, false, "example.test",
				    "me@example.test", "Me" };
	struct out whole = { 0 }, parts = { 0 };
	bool ended_w, ended_p;
	uint64_t size_w, size_p;
	int rc_w, rc_p;

	if (size == 0)
		return 0;
	opts.ignore_dots = data[0] & 1;
	opts.extract = (data[0] & 2) != 0;
	rc_w = read_all(&opts, (const char *)data + 1, size - 1, 0, &whole,
			&ended_w, &size_w);
	rc_p = read_all(&opts, (const char *)data + 1, size - 1,
			1 + (data[0] >> 2), &parts, &ended_p, &size_p);
	FUZZ_CHECK(rc_w == rc_p && ended_w == ended_p && size_w == size_p);
	FUZZ_CHECK(whole.headers == parts.headers && whole.headers <= 1);
	FUZZ_CHECK(whole.hlen == parts.hlen && whole.blen == parts.blen);
	FUZZ_CHECK(whole.hlen == 0 ||
		   memcmp(whole.header, parts.header, whole.hlen) == 0);
	FUZZ_CHECK(whole.blen == 0 ||
		   memcmp(whole.body, parts.body, whole.blen) == 0);
	FUZZ_CHECK(whole.rcpts == parts.rcpts);
	if (rc_w == 0) {
		FUZZ_CHECK(whole.headers == 1);
		FUZZ_CHECK(whole.hlen >= 2 && whole.header[whole.hlen - 1] == '\n' &&
			   whole.header[whole.hlen - 2] == '\r');
		FUZZ_CHECK(size_w == whole.hlen + whole.blen);
		no_bare_lf(whole.header, whole.hlen);
		no_bare_lf(whole.body, whole.blen);
	}
	free(whole.header);
	free(whole.body);
	free(parts.header);
	free(parts.body);
	return 0;
}
