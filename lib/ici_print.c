// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tcpcp_ici_print(): an ICI as one line of ss-style key:value tokens, or as
 * one JSON object.
 *
 * Everything goes through one set of print helpers that serve both outputs,
 * as iproute2's include/json_print.h does: pr_uint(p, PR_ANY, "mss", v)
 * writes "mss:1448" in text and "mss": 1448 in JSON.  PR_TEXT and PR_JSON
 * restrict a call to one of the two outputs.  JSON keys are the field names
 * of include/uapi/linux/tcpcp.h, grouped by element.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

enum pr_mode {
	PR_ANY, /* text and JSON */
	PR_TEXT, /* text only */
	PR_JSON, /* JSON only */
};

struct printer {
	FILE *f;
	bool json;
	bool pretty;
	int depth; /* JSON nesting */
	bool comma; /* JSON: a member precedes at this depth */
	bool sep; /* text: a token precedes on this line */
};

static bool pr_on(const struct printer *p, enum pr_mode mode)
{
	return mode == PR_ANY || (mode == PR_JSON) == p->json;
}

static void pr_indent(struct printer *p)
{
	int i;

	if (!p->pretty)
		return;
	fputc('\n', p->f);
	for (i = 0; i < p->depth; i++)
		fputs("    ", p->f);
}

/* JSON: separator, indentation and "key": (key may be NULL in arrays) */
static void pr_key(struct printer *p, const char *key)
{
	if (p->comma)
		fputc(',', p->f);
	p->comma = true;
	pr_indent(p);
	if (key)
		fprintf(p->f, p->pretty ? "\"%s\": " : "\"%s\":", key);
}

/* Text: a separator before every token but the first on a line */
static void pr_sep(struct printer *p)
{
	if (p->sep)
		fputc(' ', p->f);
	p->sep = true;
}

/* A text-only token in printf format */
static void pr_text(struct printer *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void pr_text(struct printer *p, const char *fmt, ...)
{
	va_list ap;

	if (p->json)
		return;
	pr_sep(p);
	va_start(ap, fmt);
	vfprintf(p->f, fmt, ap);
	va_end(ap);
}

static void pr_open(struct printer *p, const char *key, char c)
{
	if (!p->json)
		return;
	if (p->depth > 0)
		pr_key(p, key);
	fputc(c, p->f);
	p->depth++;
	p->comma = false;
}

static void pr_close(struct printer *p, char c)
{
	if (!p->json)
		return;
	p->depth--;
	if (p->comma)
		pr_indent(p);
	fputc(c, p->f);
	p->comma = true;
}

static void pr_open_object(struct printer *p, const char *key)
{
	pr_open(p, key, '{');
}

static void pr_close_object(struct printer *p)
{
	pr_close(p, '}');
}

static void pr_open_array(struct printer *p, const char *key)
{
	pr_open(p, key, '[');
}

static void pr_close_array(struct printer *p)
{
	pr_close(p, ']');
}

/* "key:value" / "key": value */
static void pr_uint(struct printer *p, enum pr_mode mode, const char *key,
		    unsigned long long v)
{
	if (!pr_on(p, mode))
		return;
	if (p->json) {
		pr_key(p, key);
		fprintf(p->f, "%llu", v);
	} else {
		pr_sep(p);
		fprintf(p->f, "%s:%llu", key, v);
	}
}

/* "key:0x1f" / "key": 31 (JSON has no hex numbers) */
static void pr_hex(struct printer *p, enum pr_mode mode, const char *key,
		   unsigned long long v)
{
	if (!pr_on(p, mode))
		return;
	if (p->json) {
		pr_key(p, key);
		fprintf(p->f, "%llu", v);
	} else {
		pr_sep(p);
		fprintf(p->f, "%s:0x%llx", key, v);
	}
}

/* "key" if set / "key": true|false */
static void pr_bool(struct printer *p, enum pr_mode mode, const char *key,
		    bool v)
{
	if (!pr_on(p, mode))
		return;
	if (p->json) {
		pr_key(p, key);
		fputs(v ? "true" : "false", p->f);
	} else if (v) {
		pr_sep(p);
		fputs(key, p->f);
	}
}

/* JSON string body: escapes quotes, backslashes, controls and non-ASCII */
static void json_escape(FILE *f, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			/* bytes >= 0x7f as Latin-1 code points: always valid */
			if (c < 0x20 || c >= 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
}

/* Text: anything but printable ASCII other than space and '\' as \xNN */
static void text_escape(FILE *f, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c <= 0x20 || c >= 0x7f || c == '\\')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

/* "key:value" (value alone if key is NULL) / "key": "value"; n bytes of s */
static void pr_strn(struct printer *p, enum pr_mode mode, const char *key,
		    const char *s, size_t n)
{
	if (!pr_on(p, mode))
		return;
	if (p->json) {
		pr_key(p, key);
		fputc('"', p->f);
		json_escape(p->f, s, n);
		fputc('"', p->f);
	} else {
		pr_sep(p);
		if (key)
			fprintf(p->f, "%s:", key);
		text_escape(p->f, s, n);
	}
}

static void pr_str(struct printer *p, enum pr_mode mode, const char *key,
		   const char *s)
{
	pr_strn(p, mode, key, s, strlen(s));
}

static void hex_bytes(FILE *f, const uint8_t *d, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char buf[512];
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		buf[o++] = digits[d[i] >> 4];
		buf[o++] = digits[d[i] & 15];
		if (o == sizeof(buf)) {
			fwrite(buf, 1, o, f);
			o = 0;
		}
	}
	if (o)
		fwrite(buf, 1, o, f);
}

/*
 * Queue bytes: JSON "key": "hex"; text a block of lines below the token
 * line, 32 bytes a line in groups of 4 after their offset, only for
 * non-empty data.
 */
static void pr_data(struct printer *p, const char *key, const uint8_t *d,
		    size_t n)
{
	size_t off;

	if (p->json) {
		pr_key(p, key);
		fputc('"', p->f);
		hex_bytes(p->f, d, n);
		fputc('"', p->f);
		return;
	}
	if (!n)
		return;
	fprintf(p->f, "%s:", key);
	for (off = 0; off < n; off += 4) {
		if (off % 32 == 0)
			fprintf(p->f, "\n\t%08zx ", off);
		fputc(' ', p->f);
		hex_bytes(p->f, d + off, n - off < 4 ? n - off : 4);
	}
	fputc('\n', p->f);
}

/* ss's names for the TCP states an ICI may hold */
static const char *ss_state(uint8_t state)
{
	switch (state) {
	case TCPCP_STATE_ESTABLISHED:
		return "ESTAB";
	case TCPCP_STATE_FIN_WAIT1:
		return "FIN-WAIT-1";
	case TCPCP_STATE_FIN_WAIT2:
		return "FIN-WAIT-2";
	case TCPCP_STATE_CLOSE_WAIT:
		return "CLOSE-WAIT";
	case TCPCP_STATE_LAST_ACK:
		return "LAST-ACK";
	case TCPCP_STATE_CLOSING:
		return "CLOSING";
	}
	return "UNKNOWN";
}

static void fmt_addr(const struct ici *ici, const uint8_t *addr, char *buf,
		     size_t len)
{
	int af = ici->family == TCPCP_FAMILY_INET6 ? AF_INET6 : AF_INET;

	if (!inet_ntop(af, addr, buf, len))
		snprintf(buf, len, "?");
}

static void print_conn(struct printer *p, const struct ici *ici)
{
	char la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN];
	bool v6 = ici->family == TCPCP_FAMILY_INET6;

	fmt_addr(ici, ici->laddr, la, sizeof(la));
	fmt_addr(ici, ici->raddr, ra, sizeof(ra));

	pr_text(p, "%s", ss_state(ici->state));
	pr_text(p, v6 ? "[%s]:%u" : "%s:%u", la, ici->lport);
	pr_text(p, v6 ? "[%s]:%u" : "%s:%u", ra, ici->rport);

	pr_open_object(p, "conn");
	pr_uint(p, PR_JSON, "family", ici->family);
	pr_uint(p, PR_JSON, "state", ici->state);
	pr_str(p, PR_JSON, "state_name", ss_state(ici->state));
	pr_uint(p, PR_JSON, "lport", ici->lport);
	pr_uint(p, PR_JSON, "rport", ici->rport);
	pr_str(p, PR_JSON, "laddr", la);
	pr_str(p, PR_JSON, "raddr", ra);
	pr_close_object(p);
}

static void print_hdr(struct printer *p, const struct ici *ici, size_t len)
{
	pr_text(p, "v%u.%u", ici->major, ici->minor);
	pr_open_object(p, "hdr");
	pr_uint(p, PR_JSON, "major", ici->major);
	pr_uint(p, PR_JSON, "minor", ici->minor);
	pr_hex(p, PR_JSON, "flags", ici->hdr_flags);
	pr_bool(p, PR_ANY, "checkpoint",
		ici->hdr_flags & TCPCP_ICI_F_CHECKPOINT);
	pr_uint(p, PR_JSON, "len", len);
	pr_close_object(p);
}

static const struct {
	uint16_t flag;
	const char *text, *json;
} opt_names[] = {
	{ TCPCP_OPT_SACK, "sack", "sack" },
	{ TCPCP_OPT_TSTAMP, "ts", "tstamp" },
	{ TCPCP_OPT_WSCALE, "wscale", "wscale" },
	{ TCPCP_OPT_ECN, "ecn", "ecn" },
	{ TCPCP_OPT_USEC_TS, "usec_ts", "usec_ts" },
};

static void print_opts(struct printer *p, const struct ici *ici)
{
	size_t i;

	pr_uint(p, PR_TEXT, "mss", ici->mss);
	if (ici->user_mss)
		pr_uint(p, PR_TEXT, "user_mss", ici->user_mss);
	if (ici->opts & TCPCP_OPT_WSCALE)
		pr_text(p, "wscale:%u,%u", ici->snd_wscale, ici->rcv_wscale);
	for (i = 0; i < sizeof(opt_names) / sizeof(opt_names[0]); i++)
		if (opt_names[i].flag != TCPCP_OPT_WSCALE &&
		    (ici->opts & opt_names[i].flag))
			pr_text(p, "%s", opt_names[i].text);

	pr_open_object(p, "opts");
	pr_uint(p, PR_JSON, "mss", ici->mss);
	pr_uint(p, PR_JSON, "user_mss", ici->user_mss);
	pr_uint(p, PR_JSON, "snd_wscale", ici->snd_wscale);
	pr_uint(p, PR_JSON, "rcv_wscale", ici->rcv_wscale);
	pr_hex(p, PR_JSON, "flags", ici->opts);
	for (i = 0; i < sizeof(opt_names) / sizeof(opt_names[0]); i++)
		pr_bool(p, PR_JSON, opt_names[i].json,
			ici->opts & opt_names[i].flag);
	pr_close_object(p);
}

static void print_ts(struct printer *p, const struct ici *ici)
{
	if (!ici->has_ts)
		return;
	pr_open_object(p, "ts");
	pr_uint(p, PR_ANY, "ts_val", ici->ts_val);
	if (!p->json && !(ici->ts_flags & TCPCP_TS_RECENT_VALID)) {
		pr_close_object(p);
		return;
	}
	pr_uint(p, PR_ANY, "ts_recent", ici->ts_recent);
	pr_uint(p, PR_ANY, "ts_recent_age", ici->ts_recent_age);
	pr_hex(p, PR_JSON, "flags", ici->ts_flags);
	pr_bool(p, PR_JSON, "recent_valid",
		ici->ts_flags & TCPCP_TS_RECENT_VALID);
	pr_close_object(p);
}

static void print_seq_win(struct printer *p, const struct ici *ici)
{
	pr_open_object(p, "seq");
	pr_uint(p, PR_ANY, "snd_una", ici->snd_una);
	pr_uint(p, PR_ANY, "snd_nxt", ici->snd_nxt);
	pr_uint(p, PR_ANY, "write_seq", ici->write_seq);
	pr_uint(p, PR_ANY, "rcv_nxt", ici->rcv_nxt);
	pr_uint(p, PR_ANY, "copied_seq", ici->copied_seq);
	pr_bool(p, PR_JSON, "fin_sent", ici_fin_sent(ici->state));
	pr_bool(p, PR_JSON, "fin_rcvd", ici_fin_rcvd(ici->state));
	pr_close_object(p);

	pr_open_object(p, "win");
	pr_uint(p, PR_ANY, "snd_wl1", ici->snd_wl1);
	pr_uint(p, PR_ANY, "snd_wnd", ici->snd_wnd);
	pr_uint(p, PR_ANY, "max_window", ici->max_window);
	pr_uint(p, PR_ANY, "rcv_wnd", ici->rcv_wnd);
	pr_uint(p, PR_ANY, "rcv_wup", ici->rcv_wup);
	pr_close_object(p);
}

static void print_queue(struct printer *p, const char *key, const uint8_t *d,
			uint32_t n, bool data)
{
	pr_uint(p, PR_TEXT, key, n);
	pr_open_object(p, key);
	pr_uint(p, PR_JSON, "len", n);
	if (data && p->json)
		pr_data(p, "data", d, n);
	pr_close_object(p);
}

static void print_ofo(struct printer *p, const struct ici *ici, bool data)
{
	const uint8_t *d;
	uint32_t seq, n;
	size_t off = 0;

	pr_text(p, "ofo:%u/%u", ici->ofo_segs, ici->ofo_bytes);
	if (!p->json)
		return;
	pr_open_object(p, "ofoq");
	pr_uint(p, PR_JSON, "segs", ici->ofo_segs);
	pr_uint(p, PR_JSON, "bytes", ici->ofo_bytes);
	pr_open_array(p, "segments");
	while (ici_ofo_next(ici, &off, &seq, &d, &n) > 0) {
		pr_open_object(p, NULL);
		pr_uint(p, PR_JSON, "seq", seq);
		pr_uint(p, PR_JSON, "len", n);
		if (data)
			pr_data(p, "data", d, n);
		pr_close_object(p);
	}
	pr_close_array(p);
	pr_close_object(p);
}

static void print_cong(struct printer *p, const struct ici *ici)
{
	const struct ici_cong *c = &ici->cong;

	if (!ici->has_cong)
		return;
	pr_open_object(p, "cong");
	pr_uint(p, PR_ANY, "cwnd", c->cwnd);
	pr_uint(p, PR_ANY, "ssthresh", c->ssthresh);
	/* ss prints rtt:srtt/rttvar in milliseconds */
	pr_text(p, "rtt:%u.%03u/%u.%03u", c->srtt_us / 1000, c->srtt_us % 1000,
		c->rttvar_us / 1000, c->rttvar_us % 1000);
	pr_uint(p, PR_JSON, "srtt_us", c->srtt_us);
	pr_uint(p, PR_JSON, "rttvar_us", c->rttvar_us);
	pr_hex(p, PR_JSON, "flags", c->flags);
	pr_bool(p, PR_ANY, "cong_restore", c->flags & TCPCP_CONG_F_RESTORE);
	pr_strn(p, PR_TEXT, "cc", c->algorithm,
		strnlen(c->algorithm, sizeof(c->algorithm)));
	pr_strn(p, PR_JSON, "algorithm", c->algorithm,
		strnlen(c->algorithm, sizeof(c->algorithm)));
	pr_close_object(p);
}

static void print_sockopt(struct printer *p, const struct ici *ici)
{
	const struct ici_sockopt *so = &ici->so;

	if (!ici->has_sockopt)
		return;
	if (!p->json) {
		if (so->set & TCPCP_SO_NODELAY)
			pr_uint(p, PR_TEXT, "nodelay", so->nodelay);
		if (so->set & TCPCP_SO_KEEPALIVE)
			pr_text(p, "keepalive:%u,%u,%u,%u", so->keepalive,
				so->keepidle, so->keepintvl, so->keepcnt);
		if (so->set & TCPCP_SO_USER_TIMEOUT)
			pr_uint(p, PR_TEXT, "user_timeout", so->user_timeout);
		if (so->set & TCPCP_SO_SNDBUF)
			pr_uint(p, PR_TEXT, "sndbuf", so->sndbuf);
		if (so->set & TCPCP_SO_RCVBUF)
			pr_uint(p, PR_TEXT, "rcvbuf", so->rcvbuf);
		if (so->set & TCPCP_SO_MARK)
			pr_hex(p, PR_TEXT, "mark", so->mark);
		if (so->set & TCPCP_SO_TOS)
			pr_hex(p, PR_TEXT, "tos", so->tos);
		if (so->set & TCPCP_SO_NOTSENT_LOWAT)
			pr_uint(p, PR_TEXT, "notsent_lowat", so->notsent_lowat);
		return;
	}
	pr_open_object(p, "sockopt");
	pr_hex(p, PR_JSON, "set", so->set);
	pr_uint(p, PR_JSON, "nodelay", so->nodelay);
	pr_uint(p, PR_JSON, "keepalive", so->keepalive);
	pr_uint(p, PR_JSON, "tos", so->tos);
	pr_uint(p, PR_JSON, "keepidle", so->keepidle);
	pr_uint(p, PR_JSON, "keepintvl", so->keepintvl);
	pr_uint(p, PR_JSON, "keepcnt", so->keepcnt);
	pr_uint(p, PR_JSON, "user_timeout", so->user_timeout);
	pr_uint(p, PR_JSON, "sndbuf", so->sndbuf);
	pr_uint(p, PR_JSON, "rcvbuf", so->rcvbuf);
	pr_uint(p, PR_JSON, "mark", so->mark);
	pr_uint(p, PR_JSON, "notsent_lowat", so->notsent_lowat);
	pr_close_object(p);
}

/* Text: hex dumps of the queues below the token line */
static void print_text_data(struct printer *p, const struct ici *ici)
{
	const uint8_t *d;
	uint32_t seq, n;
	size_t off = 0;
	char key[32];

	pr_data(p, "sndq", ici->sndq, ici->sndq_len);
	pr_data(p, "rcvq", ici->rcvq, ici->rcvq_len);
	while (ici_ofo_next(ici, &off, &seq, &d, &n) > 0) {
		snprintf(key, sizeof(key), "ofo seq %u", seq);
		pr_data(p, key, d, n);
	}
}

TCPCP_EXPORT
int tcpcp_ici_print(const void *buf, size_t len, FILE *f, unsigned int flags)
{
	bool data = flags & TCPCP_PRINT_DATA;
	struct printer p = { .f = f };
	struct ici ici;
	int ret;

	if (!buf || !f ||
	    (flags &
	     ~(TCPCP_PRINT_JSON | TCPCP_PRINT_PRETTY | TCPCP_PRINT_DATA)))
		return -EINVAL;
	ret = ici_decode(buf, len, &ici, NULL, 0);
	if (ret < 0)
		return ret;
	/* ici_decode accepts only len == the header's length: print len */
	p.json = flags & TCPCP_PRINT_JSON;
	p.pretty = p.json && (flags & TCPCP_PRINT_PRETTY);

	pr_open_object(&p, NULL);
	print_conn(&p, &ici);
	print_hdr(&p, &ici, len);
	print_opts(&p, &ici);
	print_ts(&p, &ici);
	print_seq_win(&p, &ici);
	print_queue(&p, "sndq", ici.sndq, ici.sndq_len, data);
	print_queue(&p, "rcvq", ici.rcvq, ici.rcvq_len, data);
	print_ofo(&p, &ici, data);
	print_cong(&p, &ici);
	print_sockopt(&p, &ici);
	pr_close_object(&p);
	if (p.json || p.sep)
		fputc('\n', f);
	if (data && !p.json)
		print_text_data(&p, &ici);

	if (fflush(f) == EOF || ferror(f))
		return -EIO;
	return 0;
}
