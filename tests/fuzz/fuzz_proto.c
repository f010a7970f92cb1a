/* tests/fuzz/fuzz_proto.c: the line-protocol engine as a daemon's input
 * loop uses it: proto_check_line, proto_split, proto_lookup in a command
 * table, proto_args_ok, proto_next_word and proto_parse_uint on the words.
 * The first byte picks the session state and the number limit. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <string.h>

#include "common/proto/proto.h"

static int run(void *session, char *args)
{
	(void)session;
	(void)args;
	return PROTO_DONE;
}

enum { ST_AUTH, ST_TRANS, ST_UPDATE };

static const struct proto_cmd table[] = {
	{ "USER", PROTO_STATE(ST_AUTH), run, PROTO_CMD_NEEDS_ARG },
	{ "PASS", PROTO_STATE(ST_AUTH), run, 0 },
	{ "STAT", PROTO_STATE(ST_TRANS), run, PROTO_CMD_NO_ARG },
	{ "TOP", PROTO_STATE(ST_TRANS), run, PROTO_CMD_NEEDS_ARG },
	{ "QUIT", PROTO_STATE(ST_AUTH) | PROTO_STATE(ST_TRANS), run, 0 },
	{ "QUIT", PROTO_STATE(ST_UPDATE), run, PROTO_CMD_DAEMON_FLAG(0) },
	{ NULL, 0, NULL, 0 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t maxes[] = { 0, 1, 65535, UINT32_MAX, UINT64_MAX };
	const struct proto_cmd *cmd;
	struct proto_bad bad;
	char *line, *verb, *args, *cursor, *word;
	enum proto_line_fault fault;
	unsigned state;
	uint64_t max, val;
	size_t pos = 0;

	if (size < 1)
		return 0;
	state = data[0] % 4; /* 3 is a state no command allows */
	max = maxes[(data[0] >> 2) % (sizeof(maxes) / sizeof(maxes[0]))];
	data++;
	size--;

	fault = proto_check_line((const char *)data, size, &pos);
	FUZZ_CHECK(proto_line_fault_str(fault) != NULL);
	if (fault != PROTO_LINE_OK) {
		FUZZ_CHECK(pos < size);
		return 0;
	}
	line = fuzz_cstr(data, size);
	FUZZ_CHECK(line != NULL);
	proto_bad_init(&bad, 3);
	if (proto_split(line, &verb, &args) < 0) {
		FUZZ_CHECK(*verb == '\0' && *args == '\0');
		(void)proto_bad_hit(&bad);
		free(line);
		return 0;
	}
	FUZZ_CHECK(*verb != '\0' && strchr(verb, ' ') == NULL);
	switch (proto_lookup(table, verb, state, &cmd)) {
	case PROTO_FOUND:
		FUZZ_CHECK(cmd != NULL && (cmd->states & PROTO_STATE(state)));
		if (!proto_args_ok(cmd, args))
			(void)proto_bad_hit(&bad);
		break;
	case PROTO_WRONG_STATE:
		FUZZ_CHECK(cmd != NULL);
		(void)proto_bad_hit(&bad);
		break;
	case PROTO_UNKNOWN:
		FUZZ_CHECK(cmd == NULL);
		FUZZ_CHECK(!proto_bad_hit(&bad) && !proto_bad_reached(&bad));
		break;
	}
	cursor = args;
	while ((word = proto_next_word(&cursor)) != NULL) {
		FUZZ_CHECK(*word != '\0' && strchr(word, ' ') == NULL);
		val = max + 1;
		errno = 0;
		if (proto_parse_uint(word, max, &val) == 0)
			FUZZ_CHECK(val <= max);
		else
			FUZZ_CHECK((errno == EINVAL || errno == ERANGE) &&
				   val == max + 1);
	}
	free(line);
	return 0;
}
