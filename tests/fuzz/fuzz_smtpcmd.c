/* tests/fuzz/fuzz_smtpcmd.c: the pure part of SMTP command dispatch, as
 * smtp_command does it before a handler runs (the handlers need a
 * connection): proto_check_line, proto_split, the line length limits,
 * proto_lookup in smtp_command_table() for a state, then for MAIL and RCPT
 * the path (addr_parse_path) and its parameters (params_parse_mail,
 * params_parse_rcpt). The first byte picks the state and the options. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>
#include <strings.h>

#include "common/mail/address.h"
#include "common/proto/proto.h"
#include "smtpd/params.h"
#include "smtpd/commands.h"

static void path_args(char *args, bool rcpt, unsigned opts)
{
	const char *kw = rcpt ? "TO:" : "FROM:";
	struct params_error perr;
	struct params_mail pm;
	struct addr_error aerr;
	struct addr_path path;
	char *p;

	if (strncasecmp(args, kw, strlen(kw)) != 0)
		return;
	p = args + strlen(kw);
	if (addr_parse_path(p, strlen(p), opts, &path, &aerr) < 0)
		return;
	FUZZ_CHECK(path.rest >= p && path.rest + path.rest_len <= p + strlen(p));
	if (rcpt)
		(void)params_parse_rcpt(path.rest, path.rest_len, NULL, &perr);
	else if (params_parse_mail(path.rest, path.rest_len, 10485760, &pm,
				   &perr) == 0)
		FUZZ_CHECK(!pm.has_size || pm.size <= 10485760);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct proto_cmd *table = smtp_command_table(), *cmd = NULL;
	enum smtp_state state;
	unsigned opts;
	char *line, *verb, *args;
	size_t len;

	if (size < 1)
		return 0;
	state = (enum smtp_state)(data[0] % SMTP_S_COUNT);
	opts = ADDR_OPT_UTF8 | ((data[0] & 0x80) ? ADDR_OPT_POSTMASTER : 0);
	data++;
	size--;

	if (proto_check_line((const char *)data, size, NULL) != PROTO_LINE_OK)
		return 0;
	line = fuzz_cstr(data, size);
	FUZZ_CHECK(line != NULL);
	len = size;
	if (proto_split(line, &verb, &args) < 0)
		goto out;
	if (len + 2 > ((strcasecmp(verb, "MAIL") == 0 ||
			strcasecmp(verb, "RCPT") == 0) ? SMTP_MAILRCPT_MAX
						       : SMTP_CMD_MAX))
		goto out;
	switch (proto_lookup(table, verb, state, &cmd)) {
	case PROTO_FOUND:
		FUZZ_CHECK(cmd != NULL && cmd->run != NULL &&
			   strcasecmp(cmd->verb, verb) == 0 &&
			   (cmd->states & PROTO_STATE(state)));
		if (strcasecmp(verb, "MAIL") == 0)
			path_args(args, false, opts);
		else if (strcasecmp(verb, "RCPT") == 0)
			path_args(args, true, opts);
		break;
	case PROTO_WRONG_STATE:
		FUZZ_CHECK(cmd != NULL && !(cmd->states & PROTO_STATE(state)));
		break;
	case PROTO_UNKNOWN:
		for (const struct proto_cmd *c = table; c->verb != NULL; c++)
			FUZZ_CHECK(strcasecmp(c->verb, verb) != 0);
		break;
	}
out:
	free(line);
	return 0;
}
