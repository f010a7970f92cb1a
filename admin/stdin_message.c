/* admin/stdin_message.c: a message on the admin tool's standard input
 * into a pipeline transaction (kantorpos deliver, kantorpos queue add):
 * the -f sender's check, and the content copied with crlf_copy_fd, the
 * one CRLF copier. */
#include "autoconf.h"

#include "admin/stdin_message.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin.h"
#include "common/base/crlf.h"
#include "pipeline/pipeline.h"
#include "store/maildir.h"

int admin_sender_path(const char *sender, struct addr_path *path)
{
	struct addr_error err;

	memset(path, 0, sizeof(*path));
	if (sender[0] == '\0') {
		path->flags = ADDR_PATH_NULL;
		return ADM_OK;
	}
	/* RFC 5321 4.5.3.1.3: a path is at most 256 octets, "<>" included;
	 * a mailbox alone may be longer (64 + 1 + 255). */
	if (strlen(sender) > ADDR_PATH_MAX - 2) {
		fprintf(stderr, "kantorpos: sender %s: longer than %d octets\n",
			sender, ADDR_PATH_MAX - 2);
		return ADM_DATAERR;
	}
	if (addr_parse_mailbox(sender, strlen(sender), ADDR_OPT_UTF8,
			       &path->mailbox, &err) < 0) {
		fprintf(stderr, "kantorpos: sender %s: %s\n", sender, err.why);
		return ADM_DATAERR;
	}
	return ADM_OK;
}

/* crlf_copy_fd's sink: the converted input into the transaction (its
 * write errors are sticky and show at the end). */
static int put_in_tx(void *tx, const char *buf, size_t len)
{
	pipe_tx_write(tx, buf, len);
	return 0;
}

void admin_pipe_stdin(struct pipe_tx *tx, const char *id)
{
	pipe_tx_begin(tx, id);
	if (pipe_tx_reply(tx)->code >= 300)
		return;
	if (crlf_copy_fd(STDIN_FILENO, put_in_tx, tx) != 0)
		pipe_tx_fail(tx, MD_ERR_IO);
	pipe_tx_end(tx);
}
