/* SPDX-License-Identifier: GPL-2.0 */
/* tcpcpd internals shared by its source files. */
#ifndef TCPCPD_H
#define TCPCPD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "ctl.h"
#include "local.h"
#include "proto.h"
#include "tcpcp.h"

#define LOG_E TCPCP_LOG_ERR
#define LOG_W TCPCP_LOG_WARN
#define LOG_I TCPCP_LOG_INFO
#define LOG_D TCPCP_LOG_DEBUG

struct conf {
	char name[TCPCPD_NAME_LEN]; /* this host in HELLO and hooks */
	char listen[128]; /* ADDR[:PORT], "*" any, "none" */
	char key_file[256];
	char socket_path[108];
	char pid_file[256];
	char group[64];
	gid_t gid;
	bool have_gid;
	unsigned int socket_mode;
	int log_level;
	bool syslog;
	char hook[256]; /* redirect hook script, "" none */
	char handler[256]; /* program for moved sockets, "" none */
	unsigned int prepare_timeout_ms; /* connect + HELLO + PREPARE */
	unsigned int redirect_timeout_ms; /* hook run time */
	unsigned int hold_ms; /* destination holds an isolated endpoint */
	unsigned int commit_timeout_ms; /* COMMIT -> ACTIVATED */
	unsigned int hello_timeout_ms; /* inbound connection to authenticate */
	unsigned int max_moves;
	/*
	 * Origin: moves started at once per destination (0: the default);
	 * the others wait in a queue, not yet dumped, for at most
	 * queue_timeout_ms (0: the default) before they are refused.
	 */
	unsigned int max_inflight;
	unsigned int queue_timeout_ms;
	unsigned int port; /* default destination port */
	int backend;
	char gateway[TCPCPD_DEST_LEN]; /* origin: redirect through this daemon */
	unsigned int redirect_mode; /* TCPCPD_REDIR_* asked of the gateway */
	bool gateway_role; /* accept REDIRECT from origins */
	unsigned int gateway_table; /* rule mode: first routing table */
	unsigned int gateway_pref; /* rule mode: rule preference */
	uint8_t key[TCPCPD_KEY_MAX];
	size_t key_len;
};

#define TCPCPD_INFLIGHT_DEFAULT 32
#define TCPCPD_QUEUE_TIMEOUT_DEFAULT 20000

extern struct conf conf;
extern struct lmsg_status stats;
extern volatile bool stopping;

/* config.c */
void conf_defaults(struct conf *c);
int conf_load(struct conf *c, const char *path);

/* dlog.c: the one log function */
void dlog(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void dlog_setup(int level, bool use_syslog);
const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t len);

/* main.c: event loop */
struct ev {
	int fd;
	void (*fn)(struct ev *ev, uint32_t events);
	uint32_t events; /* registered with epoll (armed) */
	bool armed;
};
int ev_add(struct ev *ev, uint32_t events);
int ev_mod(struct ev *ev, uint32_t events);
void ev_del(struct ev *ev);
uint64_t now_ms(void);
uint64_t now_us(void);

/* peer.c: inter-daemon connections */
enum pc_state { PC_CONNECTING, PC_HELLO, PC_READY, PC_CLOSED };
struct move;
struct pconn {
	struct ev ev;
	struct pconn *next, *prev;
	enum pc_state state;
	bool initiator;
	bool closing; /* close once wbuf is flushed */
	bool more; /* the next frame follows at once: MSG_MORE */
	bool eof; /* ended by the other side's FIN: all it sent was read */
	bool idle; /* initiator, authenticated, kept for the next move */
	bool notify; /* taken from the idle ones: tell the move (timers) */
	bool queued; /* in the list of peer_push, qnext */
	struct pconn *qnext;
	struct sockaddr_storage ss; /* initiator: where it connects */
	socklen_t sl;
	struct proto_sess sess;
	struct buf rbuf, wbuf;
	struct move *move;
	uint64_t deadline; /* ms, 0: none */
	char addr[80];
};
int peer_listen(void);
void peer_stop(void);
struct pconn *peer_connect(const struct sockaddr_storage *ss, socklen_t len,
			   struct move *m);
int peer_send(struct pconn *pc, const struct tcpcpd_msg *msg);
/* the same, in the kernel's send queue but held for the next frame */
int peer_send_more(struct pconn *pc, const struct tcpcpd_msg *msg);
/* the same, sent with the others of this event batch by peer_push */
int peer_queue(struct pconn *pc, const struct tcpcpd_msg *msg);
void peer_push(void); /* main loop: send what peer_queue queued */
void peer_close(struct pconn *pc, const char *why);
void peer_timers(uint64_t now, uint64_t *next);
void peer_close_all(void);
void peer_reap(void); /* free closed connections */
void peer_finish(struct pconn *pc); /* detach, flush, close */
/* detach; keep an authenticated initiator for the next move, or finish */
void peer_release(struct pconn *pc);
bool peer_flushed(const struct pconn *pc); /* all frames in the kernel */

/* local.c: the UNIX socket */
struct lconn;
int local_listen(void);
void local_stop(void);
void local_result(struct lconn *lc, uint32_t req,
		  const struct lmsg_result *res);
/* deliver to a registered application: 0 or -errno (-ENOENT: none) */
int local_deliver(uint16_t port, int fd, const uint8_t id[16],
		  const struct tcpcp_info *info, unsigned int lost,
		  const void *app, size_t app_len);
bool local_has_receiver(uint16_t port);

/* child.c: hook and handler programs */
struct child;
typedef void (*child_done_fn)(void *arg, int status);
struct child *child_spawn(char *const argv[], char *const envp[], int in_fd,
			  int extra_fd, child_done_fn done, void *arg);
void child_kill(struct child *c);
void child_forget(struct child *c); /* reap but no callback */
int run_sync(char *const argv[], char *const envp[], unsigned int timeout_ms);
/* the keeper of held endpoints (child.c): they outlive a killed daemon */
int keeper_start(void);
void keeper_hold(const uint8_t id[16], int fd, uint32_t hold_ms);
void keeper_drop(const uint8_t id[16]);
void keeper_flush(void); /* the DROPs queued: after each turn of the loop */
void keeper_stop(void);

/* move.c: the move state machines */
struct move;
void move_start(struct lconn *lc, uint32_t req, int fd, const char *dest,
		uint32_t timeout_ms, uint32_t flags, const void *app,
		size_t app_len);
void move_peer_connected(struct move *m, struct pconn *pc);
void move_peer_msg(struct pconn *pc, const struct tcpcpd_msg *msg);
void move_peer_lost(struct move *m, struct pconn *pc, int err, const char *why);
void move_timers(uint64_t now, uint64_t *next);
void move_forget_lconn(struct lconn *lc);
void move_shutdown(void);
const char *id_str(const uint8_t id[16], char buf[33]);

/* gateway.c: the gateway role; redirect.c: libnl-route-3 (-errno) */
void gateway_msg(struct pconn *pc, const struct tcpcpd_msg *m);
void gateway_peer_gone(const struct pconn *pc); /* its answers go nowhere */
void gateway_stop(void);
int nlr_route_replace(int family, const uint8_t *dst, const uint8_t *via,
		      uint32_t table);
int nlr_route_delete(int family, const uint8_t *dst, uint32_t table);
int nlr_route_get(int family, const uint8_t *dst, uint32_t table, uint8_t *via);
int nlr_rule(bool add, int family, const uint8_t *laddr, uint16_t lport,
	     const uint8_t *raddr, uint16_t rport, uint32_t table,
	     uint32_t pref);
void nlr_close(void);

#endif /* TCPCPD_H */
