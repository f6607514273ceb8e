// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcpd inter-daemon protocol: frames, HMAC-SHA256, HELLO handshake and
 * message bodies (see Documentation/tcpcpd-protocol.rst).  No I/O here.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "proto.h"

#define ROLE_INITIATOR 1
#define ROLE_RESPONDER 2
#define HELLO_LEN (8 + 2 * TCPCPD_NONCE_LEN + TCPCPD_NAME_LEN)
#define REDIRECT_LEN 72

static const char *const type_names[] = {
	[TCPCPD_HELLO] = "HELLO",	    [TCPCPD_PREPARE] = "PREPARE",
	[TCPCPD_PREPARED] = "PREPARED",	    [TCPCPD_REFUSED] = "REFUSED",
	[TCPCPD_COMMIT] = "COMMIT",	    [TCPCPD_COMMITTED] = "COMMITTED",
	[TCPCPD_ACTIVATED] = "ACTIVATED",   [TCPCPD_ABORT] = "ABORT",
	[TCPCPD_REDIRECT] = "REDIRECT",	    [TCPCPD_REDIRECTED] = "REDIRECTED",
	[TCPCPD_UNREDIRECT] = "UNREDIRECT", [TCPCPD_RELEASE] = "RELEASE",
};

const char *proto_type_name(int type)
{
	if (type <= 0 || type > TCPCPD_MSG_MAX || !type_names[type])
		return "UNKNOWN";
	return type_names[type];
}

static int why_set(char *why, size_t len, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int why_set(char *why, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int buf_put(struct buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len) {
		b->off = b->len = 0;
	} else if (b->off > 65536 && b->off * 2 > b->len) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
}

void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int proto_key_load(const char *path, uint8_t *key, size_t *len, char *why,
		   size_t whylen)
{
	struct stat st;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return why_set(why, whylen, -errno, "%s: %s", path,
			       strerror(errno));
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = why_set(why, whylen, -EINVAL, "%s: not a regular file",
			      path);
		goto out;
	}
	if (st.st_mode & 077) {
		ret = why_set(
			why, whylen, -EPERM,
			"%s: mode %04o lets group or others read the key; chmod 0600 it",
			path, (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	n = read(fd, key, TCPCPD_KEY_MAX + 1);
	if (n < 0) {
		ret = why_set(why, whylen, -errno, "%s: %s", path,
			      strerror(errno));
		goto out;
	}
	if (n > 0 && key[n - 1] == '\n')
		n--;
	if (n < TCPCPD_KEY_MIN || n > TCPCPD_KEY_MAX) {
		ret = why_set(why, whylen, -EINVAL,
			      "%s: key must be %d to %d bytes, not %zd", path,
			      TCPCPD_KEY_MIN, TCPCPD_KEY_MAX, n);
		goto out;
	}
	*len = (size_t)n;
	ret = 0;
out:
	close(fd);
	return ret;
}

/*
 * HMAC-SHA256 (RFC 2104) over d1 || d2, with SHA-256 fetched once and one
 * digest context reused: OpenSSL 3's one-shot HMAC() fetches the algorithm,
 * allocates and frees a context for every frame.
 */
static int hmac(const uint8_t *key, size_t klen, const void *d1, size_t n1,
		const void *d2, size_t n2, uint8_t out[TCPCPD_MAC_LEN])
{
	static EVP_MD *md;
	static EVP_MD_CTX *ctx;
	uint8_t k[64], pad[64], inner[32];
	unsigned int i, mlen = 0;
	int ok;

	if (!md)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!ctx)
		ctx = EVP_MD_CTX_new();
	if (!md || !ctx)
		return -ENOMEM;
	memset(k, 0, sizeof(k));
	if (klen > sizeof(k)) {
		if (!EVP_Digest(key, klen, k, &mlen, md, NULL))
			return -EIO;
	} else {
		memcpy(k, key, klen);
	}
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	ok = EVP_DigestInit_ex(ctx, md, NULL) &&
	     EVP_DigestUpdate(ctx, pad, sizeof(pad)) &&
	     EVP_DigestUpdate(ctx, d1, n1) &&
	     (!n2 || EVP_DigestUpdate(ctx, d2, n2)) &&
	     EVP_DigestFinal_ex(ctx, inner, &mlen) && mlen == sizeof(inner);
	for (i = 0; ok && i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	ok = ok && EVP_DigestInit_ex(ctx, md, NULL) &&
	     EVP_DigestUpdate(ctx, pad, sizeof(pad)) &&
	     EVP_DigestUpdate(ctx, inner, sizeof(inner)) &&
	     EVP_DigestFinal_ex(ctx, out, &mlen) && mlen == TCPCPD_MAC_LEN;
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	return ok ? 0 : -EIO;
}

int proto_init(struct proto_sess *s, const uint8_t *psk, size_t len,
	       bool initiator)
{
	static const char label[] = "tcpcpd-v1 hello";

	if (len < TCPCPD_KEY_MIN || len > TCPCPD_KEY_MAX)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	memcpy(s->psk, psk, len);
	s->psk_len = len;
	s->initiator = initiator;
	if (RAND_bytes(s->nonce_own, TCPCPD_NONCE_LEN) != 1)
		return -EIO;
	return hmac(psk, len, label, sizeof(label) - 1, NULL, 0, s->k_hello);
}

void proto_wipe(struct proto_sess *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}

static int derive(struct proto_sess *s)
{
	uint8_t n[2 * TCPCPD_NONCE_LEN];
	uint8_t i2r[TCPCPD_MAC_LEN], r2i[TCPCPD_MAC_LEN];
	const uint8_t *ni = s->initiator ? s->nonce_own : s->nonce_peer;
	const uint8_t *nr = s->initiator ? s->nonce_peer : s->nonce_own;
	int ret;

	memcpy(n, ni, TCPCPD_NONCE_LEN);
	memcpy(n + TCPCPD_NONCE_LEN, nr, TCPCPD_NONCE_LEN);
	ret = hmac(s->psk, s->psk_len, "tcpcpd-v1 i2r", 13, n, sizeof(n), i2r);
	if (!ret)
		ret = hmac(s->psk, s->psk_len, "tcpcpd-v1 r2i", 13, n,
			   sizeof(n), r2i);
	if (ret)
		return ret;
	memcpy(s->k_tx, s->initiator ? i2r : r2i, TCPCPD_MAC_LEN);
	memcpy(s->k_rx, s->initiator ? r2i : i2r, TCPCPD_MAC_LEN);
	OPENSSL_cleanse(i2r, sizeof(i2r));
	OPENSSL_cleanse(r2i, sizeof(r2i));
	s->tx_seq = 1;
	s->rx_seq = 1;
	s->established = true;
	return 0;
}

/* Append header + body + MAC(key) */
static int seal(const uint8_t *key, int type, uint64_t seq, const void *body,
		size_t blen, struct buf *out)
{
	uint8_t hdr[TCPCPD_HDR_LEN], mac[TCPCPD_MAC_LEN];
	size_t total = TCPCPD_HDR_LEN + blen + TCPCPD_MAC_LEN;
	uint32_t l = htonl((uint32_t)total);
	uint64_t q = htobe64(seq);
	size_t start = out->len;
	int ret;

	if (total > TCPCPD_MAX_FRAME)
		return -EMSGSIZE;
	memcpy(hdr, &l, 4);
	hdr[4] = (uint8_t)type;
	hdr[5] = TCPCPD_PROTO_VERSION;
	hdr[6] = hdr[7] = 0;
	memcpy(hdr + 8, &q, 8);
	ret = buf_put(out, hdr, sizeof(hdr));
	if (!ret && blen)
		ret = buf_put(out, body, blen);
	if (!ret)
		ret = hmac(key, TCPCPD_MAC_LEN, out->p + start,
			   out->len - start, NULL, 0, mac);
	if (!ret)
		ret = buf_put(out, mac, sizeof(mac));
	if (ret)
		out->len = start;
	return ret;
}

int proto_hello(struct proto_sess *s, const char *name, struct buf *out)
{
	uint8_t b[HELLO_LEN];
	uint32_t mf = htonl(TCPCPD_MAX_FRAME);

	memset(b, 0, sizeof(b));
	b[0] = s->initiator ? ROLE_INITIATOR : ROLE_RESPONDER;
	memcpy(b + 4, &mf, 4);
	memcpy(b + 8, s->nonce_own, TCPCPD_NONCE_LEN);
	if (!s->initiator)
		memcpy(b + 8 + TCPCPD_NONCE_LEN, s->nonce_peer,
		       TCPCPD_NONCE_LEN);
	strncpy((char *)b + 8 + 2 * TCPCPD_NONCE_LEN, name ? name : "",
		TCPCPD_NAME_LEN - 1);
	return seal(s->k_hello, TCPCPD_HELLO, 0, b, sizeof(b), out);
}

long proto_frame_len(const uint8_t *p)
{
	uint32_t l;

	memcpy(&l, p, 4);
	l = ntohl(l);
	if (l > TCPCPD_MAX_FRAME)
		return -EMSGSIZE;
	if (l < TCPCPD_MIN_FRAME)
		return -EBADMSG;
	return l;
}

static int open_hello(struct proto_sess *s, const uint8_t *b, size_t n,
		      char *why, size_t whylen)
{
	static const uint8_t zero[TCPCPD_NONCE_LEN];
	const uint8_t *peer_echo = b + 8 + TCPCPD_NONCE_LEN;
	int want = s->initiator ? ROLE_RESPONDER : ROLE_INITIATOR;

	if (n != HELLO_LEN)
		return why_set(why, whylen, -EBADMSG, "HELLO of %zu bytes", n);
	if (b[0] != want || b[1] || b[2] || b[3])
		return why_set(why, whylen, -EPROTO, "HELLO with role %u",
			       b[0]);
	if (s->initiator) {
		/* the responder must answer our challenge */
		if (CRYPTO_memcmp(peer_echo, s->nonce_own, TCPCPD_NONCE_LEN))
			return why_set(
				why, whylen, -EACCES,
				"HELLO does not answer our nonce (replayed?)");
	} else if (memcmp(peer_echo, zero, TCPCPD_NONCE_LEN)) {
		return why_set(why, whylen, -EPROTO,
			       "initiator HELLO echoes a nonce");
	}
	memcpy(s->nonce_peer, b + 8, TCPCPD_NONCE_LEN);
	memcpy(s->peer_name, b + 8 + 2 * TCPCPD_NONCE_LEN, TCPCPD_NAME_LEN);
	s->peer_name[TCPCPD_NAME_LEN] = '\0';
	for (char *c = s->peer_name; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	return derive(s);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static int decode_text(const uint8_t *b, size_t n, struct tcpcpd_msg *m)
{
	size_t tl;

	if (n < 24)
		return -EBADMSG;
	m->err = (int32_t)get32(b + 16);
	tl = (size_t)b[20] << 8 | b[21];
	if (b[22] || b[23] || tl > TCPCPD_MAX_TEXT || n != 24 + tl)
		return -EBADMSG;
	memcpy(m->text, b + 24, tl);
	m->text[tl] = '\0';
	for (size_t i = 0; i < tl; i++)
		if (m->text[i] < 0x20 || m->text[i] > 0x7e)
			m->text[i] = '?';
	return 0;
}

static int decode(int type, const uint8_t *b, size_t n, struct tcpcpd_msg *m)
{
	if (n < TCPCPD_ID_LEN)
		return -EBADMSG;
	memcpy(m->id, b, TCPCPD_ID_LEN);
	switch (type) {
	case TCPCPD_PREPARE:
		if (n < 32)
			return -EBADMSG;
		m->flags = get32(b + 16);
		m->hold_ms = get32(b + 20);
		m->ici_len = get32(b + 24);
		m->app_len = get32(b + 28);
		if (m->app_len > TCPCPD_MAX_APP || m->ici_len > n ||
		    n != 32 + (size_t)m->ici_len + m->app_len)
			return -EBADMSG;
		m->ici = b + 32;
		m->app = b + 32 + m->ici_len;
		return 0;
	case TCPCPD_PREPARED:
		if (n != 24)
			return -EBADMSG;
		m->lost = get32(b + 16);
		m->hold_ms = get32(b + 20);
		return 0;
	case TCPCPD_REFUSED:
	case TCPCPD_ABORT:
		return decode_text(b, n, m);
	case TCPCPD_COMMIT:
	case TCPCPD_COMMITTED:
	case TCPCPD_UNREDIRECT:
		return n == TCPCPD_ID_LEN ? 0 : -EBADMSG;
	case TCPCPD_ACTIVATED:
	case TCPCPD_REDIRECTED:
		if (n != 20)
			return -EBADMSG;
		m->err = (int32_t)get32(b + 16);
		return 0;
	case TCPCPD_REDIRECT:
	case TCPCPD_RELEASE: /* the same body; RELEASE: mode 0 is "any" */
		if (n != REDIRECT_LEN)
			return -EBADMSG;
		m->mode = b[16];
		m->family = b[17];
		if (b[18] || b[19] || (m->family != 4 && m->family != 6) ||
		    m->mode > TCPCPD_REDIR_MAX ||
		    (!m->mode && type != TCPCPD_RELEASE))
			return -EBADMSG;
		memcpy(m->laddr, b + 20, 16);
		memcpy(m->raddr, b + 36, 16);
		memcpy(m->via, b + 52, 16);
		m->lport = (uint16_t)(b[68] << 8 | b[69]);
		m->rport = (uint16_t)(b[70] << 8 | b[71]);
		return 0;
	}
	return -EPROTO;
}

int proto_open(struct proto_sess *s, const uint8_t *frame, size_t len,
	       struct tcpcpd_msg *m, char *why, size_t whylen)
{
	uint8_t mac[TCPCPD_MAC_LEN];
	size_t blen = len - TCPCPD_HDR_LEN - TCPCPD_MAC_LEN;
	const uint8_t *key;
	uint64_t seq;
	long flen;
	int type, ret;

	if (len < TCPCPD_MIN_FRAME)
		return why_set(why, whylen, -EBADMSG, "frame of %zu bytes",
			       len);
	flen = proto_frame_len(frame);
	if (flen < 0 || (size_t)flen != len)
		return why_set(why, whylen, -EBADMSG,
			       "frame length field mismatch");
	type = frame[4];
	key = s->established ? s->k_rx : s->k_hello;
	ret = hmac(key, TCPCPD_MAC_LEN, frame, len - TCPCPD_MAC_LEN, NULL, 0,
		   mac);
	if (ret)
		return why_set(why, whylen, ret, "HMAC failed");
	if (CRYPTO_memcmp(mac, frame + len - TCPCPD_MAC_LEN, TCPCPD_MAC_LEN))
		return why_set(
			why, whylen, -EACCES,
			"bad MAC on %s frame (wrong key, tampered or replayed)",
			proto_type_name(type));
	if (frame[5] != TCPCPD_PROTO_VERSION || frame[6] || frame[7])
		return why_set(why, whylen, -EPROTO,
			       "protocol version %u flags %u", frame[5],
			       frame[6] << 8 | frame[7]);
	memcpy(&seq, frame + 8, 8);
	seq = be64toh(seq);
	memset(m, 0, sizeof(*m));
	m->type = type;
	if (!s->established) {
		if (type != TCPCPD_HELLO || seq != 0)
			return why_set(why, whylen, -EPROTO, "%s before HELLO",
				       proto_type_name(type));
		return open_hello(s, frame + TCPCPD_HDR_LEN, blen, why, whylen);
	}
	if (type == TCPCPD_HELLO)
		return why_set(why, whylen, -EPROTO, "second HELLO");
	if (seq != s->rx_seq)
		return why_set(
			why, whylen, -EPROTO,
			"sequence number %llu, expected %llu (replayed?)",
			(unsigned long long)seq, (unsigned long long)s->rx_seq);
	ret = decode(type, frame + TCPCPD_HDR_LEN, blen, m);
	if (ret)
		return why_set(why, whylen, ret, "malformed %s body",
			       proto_type_name(type));
	s->rx_seq++;
	return 0;
}

static int encode_text(uint8_t *b, const struct tcpcpd_msg *m)
{
	size_t tl = strnlen(m->text, TCPCPD_MAX_TEXT);

	put32(b + 16, (uint32_t)m->err);
	b[20] = (uint8_t)(tl >> 8);
	b[21] = (uint8_t)tl;
	b[22] = b[23] = 0;
	memcpy(b + 24, m->text, tl);
	return (int)(24 + tl);
}

int proto_send(struct proto_sess *s, const struct tcpcpd_msg *m,
	       struct buf *out)
{
	uint8_t small[24 + TCPCPD_MAX_TEXT];
	uint8_t *b = small;
	size_t n;
	int ret;

	if (!s->established || m->type <= TCPCPD_HELLO ||
	    m->type > TCPCPD_MSG_MAX)
		return -EPROTO;
	memcpy(small, m->id, TCPCPD_ID_LEN);
	switch (m->type) {
	case TCPCPD_PREPARE:
		if (m->app_len > TCPCPD_MAX_APP ||
		    (size_t)m->ici_len + m->app_len + 32 >
			    TCPCPD_MAX_FRAME - TCPCPD_MIN_FRAME)
			return -EMSGSIZE;
		n = 32 + (size_t)m->ici_len + m->app_len;
		b = malloc(n);
		if (!b)
			return -ENOMEM;
		memcpy(b, m->id, TCPCPD_ID_LEN);
		put32(b + 16, m->flags);
		put32(b + 20, m->hold_ms);
		put32(b + 24, m->ici_len);
		put32(b + 28, m->app_len);
		if (m->ici_len)
			memcpy(b + 32, m->ici, m->ici_len);
		if (m->app_len)
			memcpy(b + 32 + m->ici_len, m->app, m->app_len);
		break;
	case TCPCPD_PREPARED:
		put32(b + 16, m->lost);
		put32(b + 20, m->hold_ms);
		n = 24;
		break;
	case TCPCPD_REFUSED:
	case TCPCPD_ABORT:
		n = (size_t)encode_text(b, m);
		break;
	case TCPCPD_ACTIVATED:
	case TCPCPD_REDIRECTED:
		put32(b + 16, (uint32_t)m->err);
		n = 20;
		break;
	case TCPCPD_REDIRECT:
	case TCPCPD_RELEASE:
		b[16] = m->mode;
		b[17] = m->family;
		b[18] = b[19] = 0;
		memcpy(b + 20, m->laddr, 16);
		memcpy(b + 36, m->raddr, 16);
		memcpy(b + 52, m->via, 16);
		b[68] = (uint8_t)(m->lport >> 8);
		b[69] = (uint8_t)m->lport;
		b[70] = (uint8_t)(m->rport >> 8);
		b[71] = (uint8_t)m->rport;
		n = REDIRECT_LEN;
		break;
	default:
		n = TCPCPD_ID_LEN;
		break;
	}
	ret = seal(s->k_tx, m->type, s->tx_seq, b, n, out);
	if (b != small)
		free(b);
	if (!ret)
		s->tx_seq++;
	return ret;
}
