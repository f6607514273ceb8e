/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcpcp-dispatch: accept on a service address, peek at the opening of each
 * request, ask a long-running dispatch script which back end, and pass the
 * connection there through the local tcpcpd (or libtcpcp in direct mode).
 *
 *   main.c    options, the event loop: accept, peek, deadlines
 *   script.c  the dispatch script: process, line protocol, restarts
 *   hand.c    what happens to a connection: move, direct, fallback
 */
#ifndef TCPCP_DISPATCH_H
#define TCPCP_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DISP_MAX_BACKENDS 64
#define DISP_NAME_LEN 64
#define DISP_DEST_LEN 256

enum fallback_kind {
	FB_CLOSE = 0, /* read what the client sent, then FIN */
	FB_503, /* a static HTTP 503, then FIN */
	FB_EXEC, /* a local program with the socket as stdin/stdout */
};

struct backend {
	char name[DISP_NAME_LEN];
	char dest[DISP_DEST_LEN]; /* tcpcpd HOST[:PORT], or PROGRAM (direct) */
	/* updated by hand-off threads: use __atomic */
	uint64_t moved, failed;
	uint32_t inflight;
};

struct dconf {
	const char *listen; /* ADDR:PORT as given */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *tcpcpd_sock; /* NULL: the default */
	bool direct;
	char **script; /* argv of the dispatch script */
	size_t peek_max; /* bytes to peek at most */
	char delim[16]; /* stop peeking once this is seen */
	size_t delim_len;
	unsigned int peek_timeout_ms; /* ask with what came by then */
	unsigned int script_timeout_ms; /* no answer by then: fall back */
	unsigned int move_timeout_ms; /* for tcpcpd; 0: its default */
	unsigned int max_conns; /* connections being peeked/asked */
	enum fallback_kind fallback;
	const char *fallback_prog;
	int nbackends;
	struct backend be[DISP_MAX_BACKENDS];
	int verbose;
};

extern struct dconf dconf;

/* Statistics, printed on SIGUSR1 and at exit (atomic) */
struct dstats {
	uint64_t accepted, asked, moved, move_failed, fallback, rejected,
		script_restarts, script_timeouts, bad_answers;
	/* sums for the averages printed with -v: microseconds */
	uint64_t script_us, answered; /* asked -> answer read */
	uint64_t phase_us[8]; /* tcpcpd's RESULT t_us, moves that succeeded */
};
extern struct dstats dstats;

void dlog(int verbose_level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint64_t now_ms(void);
uint64_t now_us(void);
/* main.c: fd, which the loop may be watching, is about to be closed */
void loop_forget(int fd);
/* opts.c: the command line into dconf; 0, or -1 after a message */
int parse_args(int argc, char **argv);

/* script.c */
enum answer_kind { ANS_NONE = 0, ANS_BACKEND, ANS_KEEP, ANS_REJECT };

int script_fd(void); /* its stdout to watch, or -1 */
/* Start the script unless it runs (not within 200 ms of the last start) */
int script_ensure(void);
/* When the script may start again (UINT64_MAX: it runs) */
uint64_t script_restart_at(void);
/* Until then the script is starting: deadlines count from there */
uint64_t script_grace_until(void);
int script_ask(uint64_t id, const struct sockaddr_storage *client,
	       const struct sockaddr_storage *local, const uint8_t *prefix,
	       size_t len);
/*
 * Requests are queued; script_flush() writes them (the main loop: once a
 * turn).  When the pipe is full, watch this fd for EPOLLOUT (-1: none wait)
 */
int script_out_fd(void);
void script_flush(void);
/* Read what the script said; calls answer(id, kind, backend) per line */
typedef void (*answer_fn)(uint64_t id, enum answer_kind kind, int backend);
int script_read(answer_fn answer);
void script_kill(const char *why);
/* Changes whenever a script is killed: requests asked before are lost */
unsigned int script_gen(void);
void script_reap(void);
size_t prefix_escape(const uint8_t *p, size_t len, char *out, size_t outlen);

/*
 * hand.c: each takes ownership of fd and finishes in its own thread, or
 * (moves through tcpcpd) as the main loop reads tcpcpd's RESULT
 */
void hand_move(int fd, int backend); /* queued until hand_flush() */
void hand_flush(void); /* the queued moves: MOVEs sent at once */
/* The daemon's connection to watch for RESULTs (-1: none) */
int hand_fd(void);
void hand_read(void);
void hand_fallback(int fd, const char *why);
void hand_reject(int fd);
int hand_wait_all(unsigned int timeout_ms);

#endif /* TCPCP_DISPATCH_H */
