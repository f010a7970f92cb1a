/* common/base/log_escape.c: what a log line may show of client bytes: control
 * bytes, C1 controls, bidirectional and invisible format characters and
 * invalid UTF-8 escaped (see log_escape.h). Pure functions. */
#include "autoconf.h"

#include "common/base/log_escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Code points shown escaped: C1 controls, then the format characters
 * that reorder (bidi), hide (zero width, tags) or break (line and
 * paragraph separators) the text around them. */
static const struct { uint32_t lo, hi; } escaped_ranges[] = {
	{ 0x0080, 0x009f }, { 0x061c, 0x061c }, { 0x180e, 0x180e },
	{ 0x200b, 0x200f }, { 0x2028, 0x202e }, { 0x2060, 0x2064 },
	{ 0x2066, 0x206f }, { 0xfeff, 0xfeff }, { 0xfff9, 0xfffb },
	{ 0xe0000, 0xe007f },
};

static bool is_escaped(uint32_t cp)
{
	for (size_t i = 0; i < sizeof escaped_ranges / sizeof *escaped_ranges;
	     i++)
		if (cp >= escaped_ranges[i].lo && cp <= escaped_ranges[i].hi)
			return true;
	return false;
}

/* Length of the valid UTF-8 sequence at s (2 to 4) and its code point,
 * or 0: overlong forms, surrogates, values past U+10FFFF and cut
 * sequences are invalid (RFC 3629 section 4). */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp_r)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;
	uint32_t cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	/* Only the second byte has the narrower range; the NUL ends it. */
	for (i = 1; i < len; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp_r = cp;
	return len;
}

size_t log_escape(char *out, size_t outlen, const char *in)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0, len;
	char esc[12];
	uint32_t cp = 0;

	if (outlen == 0)
		return 0;
	while (*s != '\0') {
		len = 1;
		esc[0] = '\0';
		if (*s < 0x20 || *s == 0x7f)
			snprintf(esc, sizeof esc, "\\x%02x", *s);
		else if (*s >= 0x80 && (len = utf8_decode(s, &cp)) == 0) {
			len = 1;
			snprintf(esc, sizeof esc, "\\x%02x", *s);
		} else if (*s >= 0x80 && is_escaped(cp)) {
			snprintf(esc, sizeof esc, cp > 0xffff ? "\\U%08X"
							      : "\\u%04X",
				 (unsigned)cp);
		}
		if (esc[0] != '\0') {
			size_t n = strlen(esc);

			if (o + n >= outlen)
				break;
			memcpy(out + o, esc, n);
			o += n;
		} else {
			if (o + len >= outlen)
				break;
			memcpy(out + o, s, len);
			o += len;
		}
		s += len;
	}
	out[o] = '\0';
	return o;
}

static bool token_plain(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
}

const char *log_escape_token(char *out, size_t max, const char *in)
{
	const unsigned char *s;
	size_t full = 0, room = max, o = 0;

	for (s = (const unsigned char *)in; *s != '\0'; s++)
		full += token_plain(*s) ? 1 : 4;
	if (full > max) /* cut: keep room for the "..." */
		room = max > 3 ? max - 3 : 0;
	for (s = (const unsigned char *)in; *s != '\0'; s++) {
		size_t need = token_plain(*s) ? 1 : 4;

		if (o + need > room)
			break;
		if (need == 1)
			out[o++] = (char)*s;
		else
			o += (size_t)snprintf(out + o, 5, "\\x%02x", *s);
	}
	if (full > max)
		for (size_t i = 0; i < 3 && o < max; i++)
			out[o++] = '.';
	out[o] = '\0';
	return out;
}
