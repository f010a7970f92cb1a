/* smtpd/main.c: kantorpos-smtpd — the runtime from common/runtime/server with the
 * SMTP session as its client (smtpd/daemon.c). */
#include "autoconf.h"

#include "smtpd/daemon.h"

int main(int argc, char **argv)
{
	return server_main(argc, argv, &smtpd_server_ops);
}
