/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tcpcpd inter-daemon protocol: framing, authentication (HMAC-SHA256
 * with a pre-shared key, per-connection nonces from both sides, per-direction
 * session keys and sequence numbers) and the message bodies.
 * Documentation/tcpcpd-protocol.rst is the specification; this file and
 * proto.c implement it and do no I/O of their own.
 */
#ifndef TCPCPD_PROTO_H
#define TCPCPD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCPCPD_PROTO_VERSION 1
#define TCPCPD_DEFAULT_PORT 7727

#define TCPCPD_HDR_LEN 16
#define TCPCPD_MAC_LEN 32
#define TCPCPD_NONCE_LEN 32
#define TCPCPD_NAME_LEN 64
#define TCPCPD_ID_LEN 16
#define TCPCPD_MIN_FRAME (TCPCPD_HDR_LEN + TCPCPD_MAC_LEN)
/* HELLO, the only frame accepted before authentication */
#define TCPCPD_HELLO_FRAME \
	(TCPCPD_MIN_FRAME + 8 + 2 * TCPCPD_NONCE_LEN + TCPCPD_NAME_LEN)
/* The hard maximum of one frame; a longer length field drops the connection */
#define TCPCPD_MAX_FRAME (16U << 20)
#define TCPCPD_MAX_APP (64U << 10) /* application state blob */
#define TCPCPD_MAX_TEXT 200 /* REFUSED reason text */
#define TCPCPD_KEY_MIN 16
#define TCPCPD_KEY_MAX 1024

enum tcpcpd_msg_type {
	TCPCPD_HELLO = 1,
	TCPCPD_PREPARE = 2,
	TCPCPD_PREPARED = 3,
	TCPCPD_REFUSED = 4,
	TCPCPD_COMMIT = 5,
	TCPCPD_COMMITTED = 6,
	TCPCPD_ACTIVATED = 7,
	TCPCPD_ABORT = 8,
	TCPCPD_REDIRECT =
		9, /* origin -> gateway: send this connection to via */
	TCPCPD_REDIRECTED = 10, /* gateway: done (err 0) or not */
	TCPCPD_UNREDIRECT = 11, /* origin -> gateway: undo REDIRECT id */
	/* owner -> gateway: the connection redirected as id ended (REDIRECTED) */
	TCPCPD_RELEASE = 12,
	TCPCPD_MSG_MAX = TCPCPD_RELEASE,
};

enum tcpcpd_redirect_mode {
	TCPCPD_REDIR_ROUTE =
		1, /* replace the host route of the local address */
	TCPCPD_REDIR_RULE = 2, /* one policy rule for this connection only */
	TCPCPD_REDIR_NFTMAP = 3, /* one nftables map element (mark) */
	TCPCPD_REDIR_ADDRESS = 4, /* destination: take over the address */
	TCPCPD_REDIR_MAX = TCPCPD_REDIR_ADDRESS,
};

/* One direction-aware session on one TCP connection */
struct proto_sess {
	uint8_t psk[TCPCPD_KEY_MAX];
	size_t psk_len;
	bool initiator;
	bool established; /* both HELLOs seen, session keys derived */
	uint8_t nonce_own[TCPCPD_NONCE_LEN];
	uint8_t nonce_peer[TCPCPD_NONCE_LEN];
	uint8_t k_hello[TCPCPD_MAC_LEN];
	uint8_t k_tx[TCPCPD_MAC_LEN];
	uint8_t k_rx[TCPCPD_MAC_LEN];
	uint64_t tx_seq; /* sequence number of the next frame sent */
	uint64_t rx_seq; /* sequence number the next frame must carry */
	char peer_name[TCPCPD_NAME_LEN + 1];
};

/* A decoded message body (pointers point into the frame) */
struct tcpcpd_msg {
	int type;
	uint8_t id[TCPCPD_ID_LEN]; /* move id */
	int32_t err; /* REFUSED, ACTIVATED, ABORT: errno, 0 ok */
	uint32_t flags; /* PREPARE: TCPCP_CREATE_* */
	uint32_t lost; /* PREPARED: TCPCP_LOST_* */
	uint32_t hold_ms; /* PREPARE: wanted, PREPARED: granted */
	const uint8_t *ici;
	uint32_t ici_len;
	const uint8_t *app;
	uint32_t app_len;
	char text[TCPCPD_MAX_TEXT + 1]; /* REFUSED, ABORT */
	/* REDIRECT, RELEASE (mode 0: any) */
	uint8_t mode; /* enum tcpcpd_redirect_mode */
	uint8_t family; /* 4 or 6 */
	uint8_t laddr[16], raddr[16], via[16];
	uint16_t lport, rport;
};

/* Growing byte buffer for frames in and out */
struct buf {
	uint8_t *p;
	size_t len, cap, off; /* off: bytes already consumed / written */
};

int buf_put(struct buf *b, const void *data, size_t n);
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);

/*
 * Read a key file: must be a regular file not accessible by group or others
 * (mode 0600 or stricter), TCPCPD_KEY_MIN..TCPCPD_KEY_MAX bytes after
 * stripping one trailing newline.  0 or -errno with the reason in why.
 */
int proto_key_load(const char *path, uint8_t *key, size_t *len, char *why,
		   size_t whylen);

/* Set up a session; draws this side's nonce.  0 or -errno. */
int proto_init(struct proto_sess *s, const uint8_t *psk, size_t len,
	       bool initiator);
void proto_wipe(struct proto_sess *s);

/* Append this side's HELLO frame to out. */
int proto_hello(struct proto_sess *s, const char *name, struct buf *out);

/*
 * Total length of the frame whose first 4 bytes are at p, checked against
 * the limits: > 0, or -EMSGSIZE (oversized) / -EBADMSG (shorter than a frame).
 */
long proto_frame_len(const uint8_t *p);

/*
 * Verify one complete frame.  Before the session is established only a
 * HELLO is accepted (and establishes it); afterwards only other messages,
 * each with the next sequence number.  On success fills m (for HELLO only
 * m->type) and returns 0.  -EACCES: bad MAC (wrong key, tampered or
 * replayed from another session); -EPROTO: wrong version, sequence number
 * or message out of place; -EBADMSG: malformed body.
 */
int proto_open(struct proto_sess *s, const uint8_t *frame, size_t len,
	       struct tcpcpd_msg *m, char *why, size_t whylen);

/* Encode m (its type selects the body) as the next frame, appended to out. */
int proto_send(struct proto_sess *s, const struct tcpcpd_msg *m,
	       struct buf *out);

const char *proto_type_name(int type);

#endif /* TCPCPD_PROTO_H */
