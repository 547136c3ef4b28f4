/* mysock.h -- the mysocket application interface.
 *
 * The first part is the classic STCP framework's interface, unchanged in name,
 * signature and meaning, so an application written against it builds here.
 * The second part is additions (options and statistics); nothing classic
 * depends on them.  Defining STCP_CLASSIC_ONLY before including this header
 * hides the additions, leaving exactly the classic interface (a test builds
 * a transport that way, so the classic part never comes to need them).
 *
 * C (gnu89 to C11) and C++ can include it.
 *
 * Errors follow POSIX: a call that fails returns -1 and sets errno.
 */
#ifndef MYSOCK_H
#define MYSOCK_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef FALSE
#define FALSE 0
#endif

#ifndef TRUE
#define TRUE 1
#endif

typedef int bool_t;
typedef int mysocket_t; /* mysocket descriptor */

/* Maximum number of mysockets per process (listening sockets, connections,
 * and connections still finishing after myclose all count). */
#define MAX_NUM_CONNECTIONS 1024

#if (MAX_NUM_CONNECTIONS & (MAX_NUM_CONNECTIONS - 1)) != 0
#error MAX_NUM_CONNECTIONS should be a power of two
#endif

/* ---- Classic interface ---------------------------------------------------- */

/* is_reliable FALSE turns on network emulation (loss, duplication, reordering,
 * ...) for the segments this socket sends; see STCP_NETEM in the README. */
extern mysocket_t mysocket(bool_t is_reliable);
extern int mybind(mysocket_t sd, struct sockaddr *addr, int addrlen);
extern int mylisten(mysocket_t sd, int backlog);
extern int myconnect(mysocket_t sd, struct sockaddr *name, int namelen);
extern int myaccept(mysocket_t sd, struct sockaddr *addr, int *addrlen);
extern int myclose(mysocket_t sd);
extern int myread(mysocket_t sd, void *buffer, size_t length);
extern int mywrite(mysocket_t sd, const void *buffer, size_t length);
extern int mygetsockname(mysocket_t sd, struct sockaddr *addr, socklen_t *addrlen);
extern int mygetpeername(mysocket_t sd, struct sockaddr *addr, socklen_t *addrlen);

/* Return the IP address of the interface on which packets to/from peer_addr
 * are delivered.  peer_addr and the result are in network byte order. */
extern uint32_t mylocalip(uint32_t peer_addr);

/* ---- Additions ------------------------------------------------------------ */
#ifndef STCP_CLASSIC_ONLY

/* Socket options, for mysetsockopt/mygetsockopt.  Set them before mylisten or
 * myconnect; a listening socket passes its options on to the connections it
 * accepts. */
enum mysock_option {
    MYSO_WINDOW = 1,      /* largest receive window advertised, and the send window:
                             1..16777216 bytes (beyond 65535 through window
                             scaling), default 3072 (the STCP value) */
    MYSO_RCVBUF = 2,      /* receive queue between transport and myread, bytes;
                             default max(2 * MYSO_WINDOW, 64 KiB) rounded up
                             to a whole number of MYSO_MSS */
    MYSO_SNDBUF = 3,      /* send queue between mywrite and transport, bytes
                             (with our transport it also holds the bytes in
                             flight); default max(3 * MYSO_WINDOW, 64 KiB) */
    MYSO_SYNCOOKIES = 4,  /* listening socket: answer SYNs with SYN cookies (0/1) */
    MYSO_ISN = 5,         /* testing: force the initial sequence number (0..2^32-1),
                             -1 for a random one (the default) */
    MYSO_RCVTIMEO = 6,    /* myread gives up after this many milliseconds without
                             data, returning -1 with errno EAGAIN (0: wait forever) */
    MYSO_MSS = 7,         /* largest payload we send in one segment, and the MSS option
                             we announce: 64..65495 bytes; default 536 (STCP_MSS) on
                             the udp carrier, the path MTU less 40 on IP carriers */
    MYSO_CC = 8,          /* congestion control, a name: "none" (classic STCP: the
                             window is the only limit), "newreno" or "cubic"; default
                             STCP_CC from the environment, else "cubic".  A string:
                             set and read it with mysetsockopt_str/mygetsockopt_str */
    MYSO_USER_TIMEOUT = 9 /* give up on a silent peer after this many milliseconds
                            without an answer (and 16 unanswered tries), as Linux's
                            TCP_USER_TIMEOUT; 0: STCP_USER_TIMEOUT_MS, else RFC 1122's
                            100 s (3 min for a SYN).  (No comma after the last entry:
                            C89 has none) */
};

/* The largest MYSO_WINDOW: 16 MiB. */
#define MYSO_WINDOW_MAX (16L * 1024 * 1024)

/* The largest MYSO_USER_TIMEOUT: one day, in milliseconds. */
#define MYSO_USER_TIMEOUT_MAX (24L * 3600 * 1000)

extern int mysetsockopt(mysocket_t sd, int option, long value);
extern int mygetsockopt(mysocket_t sd, int option, long *value);

/* String-valued options (MYSO_CC).  mysetsockopt_str copies value; an
 * unknown name is EINVAL.  mygetsockopt_str writes the value and its NUL
 * into buf (ERANGE if len is too small).  The long-valued calls refuse
 * MYSO_CC with EINVAL, and these refuse the other options (ENOPROTOOPT). */
#define MYSO_STR_MAX 16 /* longest string value, with its NUL */
extern int mysetsockopt_str(mysocket_t sd, int option, const char *value);
extern int mygetsockopt_str(mysocket_t sd, int option, char *buf, size_t len);

/* What a socket has seen.  The network part counts datagrams at this
 * socket's endpoint; the transport part is a snapshot the connection's
 * transport publishes (a few times a second, and at every state change). */
struct mystats {
    /* network layer */
    uint64_t segs_sent;     /* datagrams that left (emulated duplicates too) */
    uint64_t segs_received; /* valid segments received */
    uint64_t emu_dropped, emu_duplicated, emu_reordered, emu_corrupted, emu_delayed;
    uint64_t bad_checksum;  /* received with a wrong checksum, dropped */
    uint64_t malformed;     /* received too short, bad th_off or ports, dropped */
    uint64_t no_connection; /* listener: for no connection / backlog full, dropped */
    /* transport */
    uint64_t bytes_sent;     /* payload sent, first copies */
    uint64_t bytes_received; /* payload delivered to the application */
    uint64_t rexmit_timeout; /* segments resent on a timeout */
    uint64_t rexmit_other;   /* ... on duplicate or partial ACKs */
    uint64_t rexmit_bytes;
    uint64_t dup_received; /* segments with nothing new */
    uint64_t ooo_received; /* segments kept out of order */
    uint64_t dupacks_received;
    uint64_t window_probes;
    uint64_t dropped_transport; /* valid segments the transport dropped (unacceptable) */
    uint64_t acks_throttled;    /* answers to such segments not sent (RFC 5961 7) */
    uint32_t srtt_us, rttvar_us, rto_us;
    uint32_t snd_wnd;       /* peer's window */
    uint32_t rcv_wnd;       /* window we last advertised */
    uint32_t in_flight;     /* bytes sent and not acknowledged */
    char state[16];         /* "ESTABLISHED", ...; "" before any report */
    uint64_t rsts_sent;     /* RSTs the transport sent */
    uint64_t rsts_received; /* RSTs that reached the transport */
    /* network layer, IP carriers (tun, vnet; always 0 on udp) */
    uint64_t queue_full; /* segments for this socket dropped: its queue was full */
    /* ... and what the process's stack dropped before any socket (process-wide) */
    uint64_t ip_malformed; /* bad IPv4 version, IHL or total length */
    uint64_t ip_bad_checksum;
    uint64_t ip_fragments;   /* fragments (not reassembled) */
    uint64_t ip_not_ours;    /* for another address (vnet: or from a stranger) */
    uint64_t ip_other_proto; /* a protocol other than TCP (and vnet's routes) */
    uint64_t stack_malformed, stack_bad_checksum; /* TCP segments for no socket */
    uint64_t no_socket;   /* valid segments for no connection and no listener */
    uint64_t rst_sent;    /* RSTs sent for segments that reached nobody (every carrier) */
    uint64_t rst_limited; /* ... withheld by the rate limit */
    /* congestion control (transport) */
    uint64_t cc_recoveries; /* fast recovery episodes (congestion events) */
    uint64_t cc_timeouts;   /* retransmission timeouts (episodes) */
    uint32_t cwnd;          /* congestion window, bytes */
    uint32_t ssthresh;      /* slow start threshold, bytes; UINT32_MAX: not set yet */
    char cc[16];            /* the algorithm: "cubic", ...; "" if not reported */
    /* SACK and window scaling (transport): in use when both SYNs offered them */
    uint8_t sack;                  /* 1: SACK in use */
    uint8_t wscale;                /* 1: window scaling in use ... */
    uint8_t snd_wscale;            /* ... the peer's shift (applied to its windows) */
    uint8_t rcv_wscale;            /* ... and ours (applied to what we advertise) */
    uint64_t sack_blocks_sent;     /* SACK blocks in our ACKs */
    uint64_t sack_blocks_received; /* SACK blocks in the peer's ACKs (valid ones) */
    uint64_t rexmit_sack;          /* segments resent on SACK information */
    /* The data path (transport): of bytes_received, those handed to myread
     * where the network layer had received them (no copy in between). */
    uint64_t bytes_in_place;
};
extern int mygetstats(mysocket_t sd, struct mystats *stats);

/* myclose, then *stats = the connection's final figures: those its
 * transport published last, when everything we sent had been acknowledged
 * (or the connection failed).  stats may be NULL.  For -v style reports,
 * which mygetstats before myclose would take too early. */
extern int myclose_stats(mysocket_t sd, struct mystats *stats);

/* Half-close, as POSIX shutdown() (how: SHUT_RD, SHUT_WR or SHUT_RDWR from
 * <sys/socket.h>).  SHUT_WR: our FIN follows the data already written;
 * myread keeps returning the peer's data until its FIN, and later mywrite
 * calls fail with EPIPE (no signal is raised).  SHUT_RD: later myread calls
 * return 0, and data still arriving is acknowledged and discarded.  myclose
 * is still needed to release the socket.  Errors: EBADF (not a socket),
 * EINVAL (bad how), ENOTCONN (not a connection, or the connection is over). */
extern int myshutdown(mysocket_t sd, int how);

/* The process's carrier (STCP_CARRIER) described for people, as lines
 * ending in '\n': MYCARRIER_INTERFACES (udp: the host's addresses; tun: the
 * device and our address; vnet: each link, our and the neighbour's virtual
 * address and its UDP endpoint) or MYCARRIER_ROUTES (udp, tun: the host's
 * routing; vnet: the neighbours, the only hosts an end host reaches).  Like
 * snprintf: returns the full length and truncates buf to len; -1 with
 * errno EINVAL for another what, or when the carrier cannot be opened. */
enum mycarrier_what { MYCARRIER_INTERFACES = 1, MYCARRIER_ROUTES = 2 };
extern int mycarrier_info(int what, char *buf, size_t len);

#endif /* !STCP_CLASSIC_ONLY */

#ifdef __cplusplus
}
#endif

#endif /* MYSOCK_H */
