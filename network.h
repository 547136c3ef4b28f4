/* network.h -- the network layer: STCP segments over a datagram carrier.
 *
 * One datagram carries exactly one segment.  On the way out the layer fills
 * the ports and the real TCP checksum (IPv4 pseudo-header from the actual
 * addresses), applies network emulation on unreliable sockets, and hands the
 * datagram to the carrier.  On the way in it checks length, header offset,
 * ports and checksum, and drops (and counts) what is bad.
 *
 * The carrier is the only part that knows about UDP; it sits behind
 * struct net_carrier so a second one (raw IPv4 over TUN) can be added
 * without touching anything above this file.
 */
#ifndef NETWORK_H
#define NETWORK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Largest segment the layer carries: header, 40 bytes of options, and an
 * MSS of payload.  Anything longer is dropped as malformed. */
#define NET_MAX_SEGMENT (20 + 40 + 536)

/* ---- Checksum ------------------------------------------------------------- */

/* Ones'-complement sum of buf, folded to 16 bits, starting from sum. */
uint32_t net_sum(uint32_t sum, const void *buf, size_t len);
/* TCP checksum of a segment between src and dst (network byte order), as
 * stored in th_sum.  With th_sum already in place, a correct segment gives 0. */
uint16_t net_tcp_checksum(uint32_t src_ip, uint32_t dst_ip, const void *seg, size_t len);

/* ---- Counters ------------------------------------------------------------- */

struct net_counters {
    uint64_t segs_sent;      /* datagrams that left (duplicates included) */
    uint64_t segs_received;  /* valid segments delivered upwards */
    uint64_t dropped;        /* emulation: not sent */
    uint64_t duplicated;     /* emulation: sent twice */
    uint64_t reordered;      /* emulation: held back behind a later one */
    uint64_t corrupted;      /* emulation: bits flipped after the checksum */
    uint64_t delayed;        /* emulation: sent after the configured delay */
    uint64_t bad_checksum;   /* received with a wrong checksum, dropped */
    uint64_t malformed;      /* received too short/long, bad th_off or ports */
    uint64_t no_connection;  /* arrived at a listener for no connection, dropped */
};
/* Relaxed atomic increments: counters are bumped from several threads. */
#define NET_COUNT(ctr, field) __atomic_add_fetch(&(ctr)->field, 1, __ATOMIC_RELAXED)
void net_counters_read(const struct net_counters *ctr, struct net_counters *out);

/* ---- Network emulation ---------------------------------------------------- */

struct netem_profile {
    double loss;       /* probability a segment is dropped */
    double dup;        /* ... sent twice */
    double reorder;    /* ... held back and sent after a later one */
    double corrupt;    /* ... has one bit flipped after the checksum */
    uint32_t delay_us; /* fixed delay added to every segment */
    uint64_t seed;     /* random stream; 0 means choose one */
};

/* The classic -U profile: 1 in 32 dropped, duplicated, reordered. */
void netem_classic(struct netem_profile *p);
/* Parse "loss=0.1,dup=0.02,reorder=0.05,corrupt=0.01,delay=1ms,seed=7".
 * Keys may be omitted (0).  Returns 0, or -1 with a message in err. */
int netem_parse(const char *spec, struct netem_profile *p, char *err, size_t errlen);
/* The profile for unreliable sockets of this process: STCP_NETEM if set,
 * else the classic one.  Returns -1 (and logs why) if STCP_NETEM is bad. */
int netem_process_profile(struct netem_profile *p);

/* ---- Endpoints -------------------------------------------------------------- */

struct net_ep;

/* A carrier moves datagrams; it knows nothing of segments. */
struct net_carrier {
    const char *name;
    /* Open an endpoint at local (port 0: any); connect it to peer if given. */
    int (*open)(struct net_ep *ep, const struct sockaddr_in *local,
                const struct sockaddr_in *peer, bool share_port);
    /* Let later endpoints share this one's local port (listeners). */
    int (*share)(struct net_ep *ep);
    /* Send one datagram; src is the local address to send from. */
    ssize_t (*send)(struct net_ep *ep, const struct sockaddr_in *src,
                    const struct sockaddr_in *dst, const void *buf, size_t len);
    /* Receive one datagram without blocking: its length, or -1 with errno
     * (EAGAIN: none; ECONNREFUSED etc.: the path's error).  *truncated is
     * set when it did not fit in buf. */
    ssize_t (*recv)(struct net_ep *ep, void *buf, size_t cap, struct sockaddr_in *src,
                    struct sockaddr_in *dst, bool *truncated);
    void (*close)(struct net_ep *ep);
};
extern const struct net_carrier net_udp_carrier;

/* Open an endpoint.  peer NULL: an unconnected endpoint that receives from
 * anyone (a listener).  share_port: may bind a port a listener holds.
 * Returns NULL with errno on failure. */
struct net_ep *net_ep_open(const struct sockaddr_in *local, const struct sockaddr_in *peer,
                           bool share_port);
/* Connect an open, unconnected endpoint to peer. */
int net_ep_connect(struct net_ep *ep, const struct sockaddr_in *peer);
/* Allow connections' endpoints to share this endpoint's port. */
int net_ep_share(struct net_ep *ep);
void net_ep_close(struct net_ep *ep);

/* The file descriptor to poll for input, or -1. */
int net_ep_fd(const struct net_ep *ep);
/* Local address (for a listener bound to any address: 0.0.0.0). */
void net_ep_local(const struct net_ep *ep, struct sockaddr_in *out);

/* Turn on emulation of the endpoint's outgoing segments (NULL: off), and set
 * where its events are counted (may be shared between endpoints). */
void net_ep_set_netem(struct net_ep *ep, const struct netem_profile *profile);
void net_ep_set_counters(struct net_ep *ep, struct net_counters *ctr);
/* A name for log lines and the pcap writer. */
void net_ep_set_name(struct net_ep *ep, const char *name);

/* Send a segment (the pieces are concatenated: header first).  The layer
 * fills th_sport, th_dport and th_sum from local and peer.  Returns the
 * segment length, or -1 with errno. */
ssize_t net_send_segment(struct net_ep *ep, const struct sockaddr_in *local,
                         const struct sockaddr_in *peer, const struct iovec *iov, int iovcnt);

/* Receive the next valid segment without blocking.  Bad segments are
 * counted and skipped.  Returns its length, or -1 with errno (EAGAIN: none
 * pending; another value: an error the path reported).  *local is the
 * address the datagram was sent to. */
ssize_t net_recv_segment(struct net_ep *ep, void *buf, size_t cap, struct sockaddr_in *peer,
                         struct sockaddr_in *local);

/* Check a received segment between peer and local: length, th_off, ports
 * and checksum.  Returns 0, or -1 after counting why in ctr (may be NULL). */
int net_check_segment(const void *seg, size_t len, const struct sockaddr_in *peer,
                      const struct sockaddr_in *local, struct net_counters *ctr);

#endif /* NETWORK_H */
