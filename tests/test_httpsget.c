/* tests/test_httpsget.c: the response head of common/client/httpsget.h
 * (status, media type without parameters, Content-Length,
 * Transfer-Encoding), as a table. The fetch itself is tested end to end
 * (tests/e2e_mtasts.py). */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <string.h>

#include "common/client/httpsget.h"

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

struct head_row {
	const char *head;
	int rc, status;
	const char *type;
	long long length;
	int chunked;
};

static const struct head_row rows[] = {
	{ "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12",
	  0, 200, "text/plain", 12, 0 },
	{ "HTTP/1.0 200 OK\ncontent-type: Text/Plain; charset=utf-8\n", 0, 200,
	  "text/plain", -1, 0 },
	{ "HTTP/1.1 301 Moved\r\nLocation: https://x.test/\r\n", 0, 301, "",
	  -1, 0 },
	{ "HTTP/1.1 200 OK\r\nContent-Type:text/html\r\n"
	  "Transfer-Encoding: chunked", 0, 200, "text/html", -1, 1 },
	{ "HTTP/1.1 404 Not Found", 0, 404, "", -1, 0 },
	{ "HTTP/2 200", -1, 0, "", -1, 0 },
	{ "SSH-2.0-OpenSSH", -1, 0, "", -1, 0 },
	{ "", -1, 0, "", -1, 0 },
};

Test(httpsget, head_table)
{
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct httpsget_head h;
		const char *why = NULL;
		int rc = httpsget_head_parse(rows[i].head, strlen(rows[i].head),
					     &h, &why);

		cr_expect_eq(rc, rows[i].rc, "row %zu", i);
		if (rc < 0) {
			cr_expect_not_null(why, "row %zu", i);
			continue;
		}
		cr_expect_eq(h.status, rows[i].status, "row %zu", i);
		cr_expect_str_eq(h.type, rows[i].type, "row %zu", i);
		cr_expect_eq(h.length, rows[i].length, "row %zu", i);
		cr_expect_eq(h.chunked, rows[i].chunked, "row %zu", i);
	}
}
