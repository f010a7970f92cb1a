/* pop3d/main.c: kantorpos-pop3d: the POP3 server's hooks into the shared
 * daemon runtime (common/runtime/server.h), and nothing else. */
#include "autoconf.h"

#include "common/config/config.h"
#include "common/runtime/server.h"
#include "pop3d/client.h"

int main(int argc, char **argv)
{
	static const struct server_ops ops = {
		.name = "kantorpos-pop3d",
		.proto = CONFIG_PROTO_POP3,
		.accept = pop3_client_accept,
		.refuse = pop3_client_refuse,
	};

	return server_main(argc, argv, &ops);
}
