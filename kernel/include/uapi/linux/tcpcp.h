/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * tcpcp - TCP connection passing: socket options and the Internal Connection
 * Information (ICI) wire format.
 *
 * This header is the contract between the kernel (CONFIG_TCPCP), libtcpcp's
 * two backends and every tool that reads or writes an ICI.  The format is
 * specified in Documentation/networking/tcpcp.rst.
 *
 * All multi-byte ICI fields are big-endian.  Every structure has a fixed
 * size, explicit padding, and reserved fields that must be zero.
 */
#ifndef _UAPI_LINUX_TCPCP_H
#define _UAPI_LINUX_TCPCP_H

#include <linux/types.h>

/* SOL_TCP socket options, in a block well above mainline's numbers */
#define TCP_MAXICISIZE	80	/* get: upper bound of this socket's ICI size now */
#define TCP_ICI		81	/* get: dump ICI and isolate; set: create from ICI */
#define TCP_CP_FN	82	/* set: run a TCPCP_* sub-function */

/* TCP_CP_FN sub-functions (int argument) */
#define TCPCP_ACTIVATE	1	/* start an endpoint created from an ICI */
#define TCPCP_UNISOLATE	2	/* roll back a dump at the origin */
#define TCPCP_DISCARD	3	/* drop an isolated endpoint silently */
#define TCPCP_ISOLATE	4	/* isolate without dumping (reserved) */

/* ICI header */
#define TCPCP_ICI_MAGIC		0x74637069	/* "tcpi" */
#define TCPCP_ICI_MAJOR		1	/* incompatible changes bump this */
#define TCPCP_ICI_MINOR		0	/* ignorable additions bump this */
#define TCPCP_ICI_MAX_LEN	(1U << 28)	/* 256 MiB: larger is invalid */
#define TCPCP_ICI_ALIGN		4	/* element payloads padded to this */

/* tcpcp_ici_hdr.flags */
#define TCPCP_ICI_F_CHECKPOINT	0x0001	/* dumped without isolating (fail-over) */
#define TCPCP_ICI_F_ALL		TCPCP_ICI_F_CHECKPOINT

struct tcpcp_ici_hdr {
	__be32	magic;		/* TCPCP_ICI_MAGIC */
	__u8	major;		/* TCPCP_ICI_MAJOR */
	__u8	minor;		/* TCPCP_ICI_MINOR of the writer */
	__be16	flags;		/* TCPCP_ICI_F_* */
	__be32	len;		/* whole ICI in bytes, this header included */
	__be32	reserved;	/* must be 0 */
};

/* Every element: this header, len payload bytes, zero padding to 4 bytes */
struct tcpcp_ici_elem {
	__be16	type;		/* TCPCP_EL_* */
	__be16	flags;		/* TCPCP_ELF_* */
	__be32	len;		/* payload bytes, header and padding excluded */
};

/* tcpcp_ici_elem.flags */
#define TCPCP_ELF_MANDATORY	0x0001	/* a reader that does not know it fails */

/* Element types; each appears at most once, CONN first */
enum {
	TCPCP_EL_UNSPEC,
	TCPCP_EL_CONN,		/* struct tcpcp_el_conn, mandatory */
	TCPCP_EL_OPTS,		/* struct tcpcp_el_opts, mandatory */
	TCPCP_EL_SEQ,		/* struct tcpcp_el_seq, mandatory */
	TCPCP_EL_WIN,		/* struct tcpcp_el_win, mandatory */
	TCPCP_EL_TS,		/* struct tcpcp_el_ts, mandatory iff TCPCP_OPT_TSTAMP */
	TCPCP_EL_SNDQ,		/* send queue bytes from snd_una, mandatory */
	TCPCP_EL_RCVQ,		/* unread receive bytes from copied_seq, mandatory */
	TCPCP_EL_OFOQ,		/* out-of-order segments, ignorable */
	TCPCP_EL_CONG,		/* struct tcpcp_el_cong, ignorable */
	TCPCP_EL_SOCKOPT,	/* struct tcpcp_el_sockopt, ignorable */
	__TCPCP_EL_MAX
};

#define TCPCP_EL_MAX	(__TCPCP_EL_MAX - 1)

/* tcpcp_el_conn.family: not AF_* (those are not portable) */
#define TCPCP_FAMILY_INET	4
#define TCPCP_FAMILY_INET6	6

/* tcpcp_el_conn.state: Linux's TCP state numbers */
#define TCPCP_STATE_ESTABLISHED	1
#define TCPCP_STATE_FIN_WAIT1	4
#define TCPCP_STATE_FIN_WAIT2	5
#define TCPCP_STATE_CLOSE_WAIT	8
#define TCPCP_STATE_LAST_ACK	9
#define TCPCP_STATE_CLOSING	11

struct tcpcp_el_conn {
	__u8	family;		/* TCPCP_FAMILY_* */
	__u8	state;		/* TCPCP_STATE_* */
	__be16	reserved;	/* must be 0 */
	__be16	lport;		/* local port, != 0 */
	__be16	rport;		/* remote port, != 0 */
	__u8	laddr[16];	/* IPv4: first 4 bytes, rest 0 */
	__u8	raddr[16];
	__be32	reserved2;	/* must be 0 */
};

/* tcpcp_el_opts.flags: options negotiated in the handshake */
#define TCPCP_OPT_SACK		0x0001
#define TCPCP_OPT_TSTAMP	0x0002
#define TCPCP_OPT_WSCALE	0x0004
#define TCPCP_OPT_ECN		0x0008
#define TCPCP_OPT_USEC_TS	0x0010	/* timestamps tick in microseconds */
#define TCPCP_OPT_ALL		0x001f

struct tcpcp_el_opts {
	__be16	mss;		/* MSS the peer announced (mss_clamp), 64..65535 */
	__be16	user_mss;	/* TCP_MAXSEG the user set, 0 if none */
	__u8	snd_wscale;	/* 0..14, 0 without TCPCP_OPT_WSCALE */
	__u8	rcv_wscale;	/* 0..14, 0 without TCPCP_OPT_WSCALE */
	__be16	flags;		/* TCPCP_OPT_* */
	__be32	reserved;	/* must be 0 */
};

/* Sequence numbers as the endpoint had them; write_seq counts a sent FIN */
struct tcpcp_el_seq {
	__be32	snd_una;	/* oldest unacknowledged */
	__be32	snd_nxt;	/* next to send */
	__be32	write_seq;	/* end of the send queue */
	__be32	rcv_nxt;	/* next expected, counts a received FIN */
	__be32	copied_seq;	/* next the application reads */
};

struct tcpcp_el_win {
	__be32	snd_wl1;	/* seq of the segment that last updated snd_wnd */
	__be32	snd_wnd;	/* peer's window, unscaled bytes */
	__be32	max_window;	/* largest window the peer offered */
	__be32	rcv_wnd;	/* window we offered, unscaled bytes */
	__be32	rcv_wup;	/* rcv_nxt when rcv_wnd was announced */
};

/* tcpcp_el_ts.flags */
#define TCPCP_TS_RECENT_VALID	0x0001	/* ts_recent and ts_recent_age are set */

struct tcpcp_el_ts {
	__be32	ts_val;		/* timestamp clock value at the dump */
	__be32	ts_recent;	/* last TSval from the peer (our next TSecr) */
	__be32	ts_recent_age;	/* ms since ts_recent was taken */
	__be32	flags;		/* TCPCP_TS_* */
};

/* TCPCP_EL_OFOQ payload: a sequence of these, each followed by len bytes of
 * data and zero padding to 4 bytes; sorted by seq, disjoint.
 */
struct tcpcp_ofo_seg {
	__be32	seq;
	__be32	len;		/* > 0 */
};

/* tcpcp_el_cong.flags */
#define TCPCP_CONG_F_RESTORE	0x0001	/* writer asks the reader to restore */

struct tcpcp_el_cong {
	__be32	cwnd;		/* segments */
	__be32	ssthresh;	/* segments */
	__be32	srtt_us;	/* smoothed RTT, microseconds */
	__be32	rttvar_us;	/* RTT variance, microseconds */
	__be32	flags;		/* TCPCP_CONG_F_* */
	char	algorithm[16];	/* NUL-terminated, NUL-padded */
};

/* tcpcp_el_sockopt.set: which options the user set explicitly */
#define TCPCP_SO_NODELAY	0x0001
#define TCPCP_SO_KEEPALIVE	0x0002	/* with keepidle, keepintvl, keepcnt */
#define TCPCP_SO_USER_TIMEOUT	0x0004
#define TCPCP_SO_SNDBUF		0x0008
#define TCPCP_SO_RCVBUF		0x0010
#define TCPCP_SO_MARK		0x0020
#define TCPCP_SO_TOS		0x0040	/* IP_TOS or IPV6_TCLASS */
#define TCPCP_SO_NOTSENT_LOWAT	0x0080
#define TCPCP_SO_ALL		0x00ff

struct tcpcp_el_sockopt {
	__be32	set;		/* TCPCP_SO_* */
	__u8	nodelay;	/* 0 or 1 */
	__u8	keepalive;	/* 0 or 1 */
	__u8	tos;		/* IPv4 TOS or IPv6 traffic class */
	__u8	reserved;	/* must be 0 */
	__be32	keepidle;	/* seconds */
	__be32	keepintvl;	/* seconds */
	__be32	keepcnt;
	__be32	user_timeout;	/* ms */
	__be32	sndbuf;		/* bytes, as SO_SNDBUF reads */
	__be32	rcvbuf;		/* bytes, as SO_RCVBUF reads */
	__be32	mark;
	__be32	notsent_lowat;
};

#endif /* _UAPI_LINUX_TCPCP_H */
