/* tests/fuzz/fuzz_hostport.c: net_parse_hostport ("host:port", "[v6]:port",
 * "*:port") with the port required or defaulted; the first byte picks. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>
#include <sys/socket.h>

#include "common/net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int defaults[] = { -1, 0, 25, 65535 };
	struct net_hostport hp;
	const char *err = NULL;
	char *s;
	int def;

	if (size < 1)
		return 0;
	def = defaults[data[0] % 4];
	s = fuzz_cstr(data + 1, size - 1);
	FUZZ_CHECK(s != NULL);
	if (net_parse_hostport(s, def, &hp, &err) == 0) {
		FUZZ_CHECK(memchr(hp.host, '\0', sizeof(hp.host)) != NULL);
		FUZZ_CHECK(hp.port <= 65535);
		FUZZ_CHECK(hp.family == AF_UNSPEC || hp.family == AF_INET ||
			   hp.family == AF_INET6);
		if (hp.wildcard)
			FUZZ_CHECK(hp.family == AF_UNSPEC);
	} else {
		FUZZ_CHECK(err != NULL);
	}
	free(s);
	return 0;
}
