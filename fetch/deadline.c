/* fetch/deadline.c: the deadline of one step of a fetch run. */
#include "autoconf.h"

#include "fetch/deadline.h"

double fdl_deadline(unsigned floor_s, uint64_t rate, uint64_t got,
		    uint64_t cap)
{
	if (got > cap)
		got = cap;
	return (double)floor_s + (double)got / (double)(rate > 0 ? rate : 1);
}
