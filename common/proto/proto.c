/* common/proto/proto.c: command-line splitting, table lookup with state gating,
 * the dispatcher built on them, bad-command counting, strict numbers and
 * forbidden-byte checks. Pure. */
#include "autoconf.h"

#include "common/proto/proto.h"

#include <errno.h>
#include <string.h>

static int ascii_lower(int c);
static bool verb_eq(const char *a, const char *b);

/* Locale-independent on purpose: strcasecmp follows the C library's locale,
 * and a verb is plain ASCII in both RFC 5321 (2.4) and RFC 1939 (3). */
static int ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool verb_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
			return false;
	return *a == *b;
}

int proto_split(char *line, char **verb_r, char **args_r)
{
	char *sp = strchr(line, ' ');

	if (sp == NULL) {
		*verb_r = line;
		*args_r = line + strlen(line);
		return *line == '\0' ? -1 : 0;
	}
	/* RFC 1939 (3) and RFC 5321 (4.1.1) separate verb and argument by one
	 * SP; whatever follows it is the argument, kept byte for byte. */
	*sp = '\0';
	*verb_r = line;
	*args_r = sp + 1;
	if (sp == line) {
		*args_r = sp + 1 + strlen(sp + 1);
		return -1;
	}
	return 0;
}

char *proto_next_word(char **cursor)
{
	char *p = *cursor, *word;

	while (*p == ' ')
		p++;
	if (*p == '\0') {
		*cursor = p;
		return NULL;
	}
	word = p;
	while (*p != '\0' && *p != ' ')
		p++;
	if (*p == ' ')
		*p++ = '\0';
	*cursor = p;
	return word;
}

enum proto_lookup_result proto_lookup(const struct proto_cmd *table,
	const char *verb, unsigned state, const struct proto_cmd **cmd_r)
{
	const struct proto_cmd *first = NULL;
	unsigned bit = state < 32 ? PROTO_STATE(state) : 0;

	for (const struct proto_cmd *c = table; c->verb != NULL; c++) {
		if (!verb_eq(c->verb, verb))
			continue;
		if (c->states & bit) {
			*cmd_r = c;
			return PROTO_FOUND;
		}
		if (first == NULL)
			first = c;
	}
	*cmd_r = first;
	return first == NULL ? PROTO_UNKNOWN : PROTO_WRONG_STATE;
}

bool proto_args_ok(const struct proto_cmd *cmd, const char *args)
{
	if ((cmd->flags & PROTO_CMD_NEEDS_ARG) && *args == '\0')
		return false;
	if ((cmd->flags & PROTO_CMD_NO_ARG) && *args != '\0')
		return false;
	return true;
}

void proto_bad_init(struct proto_bad *bad, unsigned limit)
{
	bad->count = 0;
	bad->limit = limit;
}

bool proto_bad_hit(struct proto_bad *bad)
{
	if (bad->count < (unsigned)-1)
		bad->count++;
	return proto_bad_reached(bad);
}

bool proto_bad_reached(const struct proto_bad *bad)
{
	return bad->limit != 0 && bad->count >= bad->limit;
}

int proto_parse_uint(const char *s, uint64_t max, uint64_t *val_r)
{
	uint64_t v = 0;
	bool range = false;

	if (*s == '\0') {
		errno = EINVAL;
		return -1;
	}
	/* Check every byte before reporting a range error, so "99999999999999999999x"
	 * is a syntax error, not an overflow. */
	for (; *s != '\0'; s++) {
		unsigned d;

		if (*s < '0' || *s > '9') {
			errno = EINVAL;
			return -1;
		}
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			range = true;
		else
			v = v * 10 + d;
	}
	if (range || v > max) {
		errno = ERANGE;
		return -1;
	}
	*val_r = v;
	return 0;
}

enum proto_line_fault proto_check_line(const char *line, size_t len,
	size_t *pos_r)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		enum proto_line_fault f;

		if (c >= 0x20 && c != 0x7f)
			continue;
		if (c == '\t')
			continue;
		if (c == '\0')
			f = PROTO_LINE_NUL;
		else if (c == '\r')
			f = PROTO_LINE_BARE_CR;
		else if (c == '\n')
			f = PROTO_LINE_BARE_LF;
		else
			f = PROTO_LINE_CTRL;
		if (pos_r != NULL)
			*pos_r = i;
		return f;
	}
	if (pos_r != NULL)
		*pos_r = len;
	return PROTO_LINE_OK;
}

const char *proto_line_fault_str(enum proto_line_fault fault)
{
	switch (fault) {
	case PROTO_LINE_OK:
		return "no fault";
	case PROTO_LINE_NUL:
		return "NUL byte in line";
	case PROTO_LINE_BARE_CR:
		return "bare CR in line";
	case PROTO_LINE_BARE_LF:
		return "bare LF in line";
	case PROTO_LINE_CTRL:
		return "control character in line";
	}
	return "unknown fault";
}

/* The row of the verb that ends at the line's first space, when that space
 * comes before pos (the first forbidden byte): the bytes are then in the
 * arguments of a known command. The line is split for the lookup and put
 * back as it was. */
static const struct proto_cmd *verb_before(const struct proto_cmd *table,
					   char *line, size_t len, size_t pos,
					   unsigned state)
{
	const struct proto_cmd *cmd = NULL;
	char *sp = memchr(line, ' ', len);

	if (sp == NULL || (size_t)(sp - line) >= pos || sp == line)
		return NULL;
	*sp = '\0';
	if (proto_lookup(table, line, state, &cmd) == PROTO_UNKNOWN)
		cmd = NULL;
	*sp = ' ';
	return cmd;
}

int proto_dispatch(const struct proto_dispatcher *d, unsigned state,
		   char *line, size_t len, void *session)
{
	struct proto_refusal r = { .verb = "", .args = "" };
	char *verb, *args;

	r.fault = proto_check_line(line, len, &r.pos);
	if (r.fault != PROTO_LINE_OK) {
		r.kind = PROTO_REFUSE_BYTES;
		r.cmd = verb_before(d->table, line, len, r.pos, state);
		return d->refuse(session, &r);
	}
	if (proto_split(line, &verb, &args) < 0) {
		r.kind = PROTO_REFUSE_EMPTY;
		return d->refuse(session, &r);
	}
	r.verb = verb;
	r.args = args;
	if (d->max_len != NULL && len > d->max_len(verb)) {
		r.kind = PROTO_REFUSE_LENGTH;
		return d->refuse(session, &r);
	}
	switch (proto_lookup(d->table, verb, state, &r.cmd)) {
	case PROTO_UNKNOWN:
		r.kind = PROTO_REFUSE_UNKNOWN;
		break;
	case PROTO_WRONG_STATE:
		r.kind = PROTO_REFUSE_STATE;
		break;
	case PROTO_FOUND:
	default:
		if (proto_args_ok(r.cmd, args))
			return r.cmd->run(session, args);
		r.kind = PROTO_REFUSE_ARGS;
		break;
	}
	return d->refuse(session, &r);
}
