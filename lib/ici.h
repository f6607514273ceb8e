/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ICI codec: the decoded, host-order form of an ICI and the functions that
 * turn bytes into it (checking everything) and back.
 */
#ifndef TCPCP_ICI_H
#define TCPCP_ICI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linux/tcpcp.h"

struct ici_cong {
	uint32_t cwnd, ssthresh, srtt_us, rttvar_us, flags;
	char algorithm[16];
};

struct ici_sockopt {
	uint32_t set; /* TCPCP_SO_* */
	uint8_t nodelay, keepalive, tos;
	uint32_t keepidle, keepintvl, keepcnt, user_timeout;
	uint32_t sndbuf, rcvbuf, mark, notsent_lowat;
};

/*
 * Decoded ICI.  Queue pointers point into the buffer that was decoded (or,
 * for encoding, into the caller's memory); struct ici never owns memory.
 */
struct ici {
	uint8_t major, minor;
	uint16_t hdr_flags; /* TCPCP_ICI_F_* */

	uint8_t family; /* TCPCP_FAMILY_* */
	uint8_t state; /* TCPCP_STATE_* */
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;

	uint16_t mss, user_mss;
	uint8_t snd_wscale, rcv_wscale;
	uint16_t opts; /* TCPCP_OPT_* */

	uint32_t snd_una, snd_nxt, write_seq, rcv_nxt, copied_seq;
	uint32_t snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup;

	bool has_ts;
	uint32_t ts_val, ts_recent, ts_recent_age, ts_flags;

	const uint8_t *sndq; /* bytes from snd_una, FIN excluded */
	uint32_t sndq_len;
	const uint8_t *rcvq; /* bytes from copied_seq, FIN excluded */
	uint32_t rcvq_len;
	const uint8_t *ofoq; /* raw TCPCP_EL_OFOQ payload, or NULL */
	uint32_t ofoq_len; /* payload bytes */
	uint32_t ofo_segs, ofo_bytes; /* counted by ici_decode */

	bool has_cong;
	struct ici_cong cong;
	bool has_sockopt;
	struct ici_sockopt so;
};

/* Largest queue an ICI may carry, each of send, receive and out-of-order */
#define ICI_MAX_QUEUE (64U << 20)

/* A FIN was sent by this endpoint (counted in write_seq) */
bool ici_fin_sent(uint8_t state);
/* A FIN was received from the peer (counted in rcv_nxt) */
bool ici_fin_rcvd(uint8_t state);
const char *ici_state_name(uint8_t state);

/*
 * Check and decode len bytes.  Returns 0, -EINVAL (malformed or
 * inconsistent) or -EPROTONOSUPPORT (other major version, unknown
 * mandatory element); why (may be NULL) receives a one-line reason.
 */
int ici_decode(const void *buf, size_t len, struct ici *out, char *why,
	       size_t whylen);

/* Check the decoded form for consistency (ici_decode calls this too) */
int ici_validate(const struct ici *ici, char *why, size_t whylen);

/* Bytes ici_encode will write */
size_t ici_encoded_size(const struct ici *ici);

/* Encode into buf (at least ici_encoded_size bytes); returns bytes or -errno */
long ici_encode(const struct ici *ici, void *buf, size_t len);

/* Encode into a malloc'd buffer */
int ici_encode_alloc(const struct ici *ici, void **buf, size_t *len);

/* Iterate the OFO payload: *off starts at 0; returns 1, 0 at the end */
int ici_ofo_next(const struct ici *ici, size_t *off, uint32_t *seq,
		 const uint8_t **data, uint32_t *len);

#endif /* TCPCP_ICI_H */
