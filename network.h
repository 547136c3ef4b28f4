/* network.h -- the network layer: STCP segments over a carrier.
 *
 * On the way out the layer fills the ports and the real TCP checksum (IPv4
 * pseudo-header from the actual addresses), applies network emulation on
 * unreliable sockets, and hands the segment to the carrier.  On the way in
 * it checks length, header offset, ports and checksum, and drops (and
 * counts) what is bad.
 *
 * Carriers, one per process (STCP_CARRIER): udp (one UDP datagram per
 * segment, one UDP socket per connection, the kernel demultiplexes), and
 * the IP carriers tun and vnet (raw IPv4 packets through one link shared
 * by every socket of the process; the stack in net_ip.c demultiplexes).
 * Both kinds sit behind struct net_carrier: nothing above this layer knows
 * which one it runs on, beyond the addresses and the default MSS.
 */
#ifndef NETWORK_H
#define NETWORK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Largest segment the layer carries (STCP_MAX_SEGMENT_LEN: what fits in an
 * IPv4 packet).  What a carrier really delivers is net_carrier_max_segment(). */
#define NET_MAX_SEGMENT 65515

/* ---- Checksum ------------------------------------------------------------- */

/* Ones'-complement sum of buf, folded to 16 bits, starting from sum. */
uint32_t net_sum(uint32_t sum, const void *buf, size_t len);
/* TCP checksum of a segment between src and dst (network byte order), as
 * stored in th_sum.  With th_sum already in place, a correct segment gives 0. */
uint16_t net_tcp_checksum(uint32_t src_ip, uint32_t dst_ip, const void *seg, size_t len);

/* ---- Counters ------------------------------------------------------------- */

struct net_counters {
    uint64_t segs_sent;     /* datagrams that left (duplicates included) */
    uint64_t segs_received; /* valid segments delivered upwards */
    uint64_t dropped;       /* emulation: not sent */
    uint64_t duplicated;    /* emulation: sent twice */
    uint64_t reordered;     /* emulation: held back behind a later one */
    uint64_t corrupted;     /* emulation: bits flipped after the checksum */
    uint64_t delayed;       /* emulation: sent after the configured delay */
    uint64_t bad_checksum;  /* received with a wrong checksum, dropped */
    uint64_t malformed;     /* received too short/long, bad th_off or ports */
    uint64_t no_connection; /* arrived at a listener for no connection, dropped */
    uint64_t queue_full;    /* IP carriers: the socket's receive queue was full */
    /* The stack's process-wide counters (net_stack_counters) use these too: */
    uint64_t ip_malformed; /* bad version, IHL or total length */
    uint64_t ip_bad_checksum;
    uint64_t ip_fragments;   /* MF set or an offset: not reassembled */
    uint64_t ip_not_ours;    /* not for our address (or vnet: from a stranger) */
    uint64_t ip_other_proto; /* a protocol we do not speak */
    uint64_t no_socket;      /* a TCP segment for no connection and no listener */
    uint64_t rst_sent;       /* RSTs the stack sent for segments that reach nobody */
    uint64_t rst_limited;    /* ... withheld by the rate limit */
};
/* Relaxed atomic increments: counters are bumped from several threads. */
#define NET_COUNT(ctr, field) __atomic_add_fetch(&(ctr)->field, 1, __ATOMIC_RELAXED)
void net_counters_read(const struct net_counters *ctr, struct net_counters *out);

/* The stack's counters for what belongs to no socket (IP checks, segments
 * for nobody, the RSTs that answer them). */
struct net_counters *net_stack_counters(void);

/* ---- The process's carrier (STCP_CARRIER) ------------------------------------ */

/* Read STCP_CARRIER (once per process) and open the carrier it names:
 * "udp" (the default), "tun:DEV,ADDR" or "vnet:FILE".  Returns 0, or -1
 * with errno EINVAL after logging why (every later call fails the same). */
int net_carrier_init(void);
/* The carrier is one link shared by all sockets (tun, vnet). */
bool net_carrier_shared(void);
/* The default MSS limit: 536 on udp, the link's MTU less 40 on tun/vnet. */
long net_carrier_mss(void);
/* The longest segment the carrier can deliver. */
size_t net_carrier_max_segment(void);
/* Our address towards peer on an IP carrier (network order); INADDR_ANY on
 * udp, where the kernel's routing decides. */
uint32_t net_carrier_local_ip(uint32_t peer);

struct net_ep;

/* ---- RST for segments that reach nobody --------------------------------------- */

/* The RST answering seg (RFC 9293 3.10.7.1): with ACK set <SEQ=SEG.ACK>
 * <CTL=RST>, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.  Ports are the
 * caller's (the network layer fills them).  Returns false for a segment
 * that must not be answered (it is a RST, or too short). */
bool net_build_rst(const void *seg, size_t len, void *rst20);
/* Take a token from the process-wide RST budget (a burst of 20, then 100
 * a second), so garbage cannot make us an amplifier.  Thread-safe. */
bool net_rst_allowed(void);
/* Answer seg, which arrived at ep from peer to local, with a RST (if the
 * budget allows), counted in the stack's counters. */
void net_send_rst(struct net_ep *ep, const struct sockaddr_in *local,
                  const struct sockaddr_in *peer, const void *seg, size_t len);

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

/* A carrier moves segments between endpoints and the wire. */
struct net_carrier {
    const char *name;
    bool captures; /* writes the capture itself (IP carriers: whole packets) */
    /* Open an endpoint at local (port 0: any); connect it to peer if given. */
    int (*open)(struct net_ep *ep, const struct sockaddr_in *local, const struct sockaddr_in *peer,
                bool share_port);
    /* Connect an open, unconnected endpoint to peer (ep->local updated). */
    int (*connect)(struct net_ep *ep, const struct sockaddr_in *peer);
    /* Let later endpoints share this one's local port (listeners). */
    int (*share)(struct net_ep *ep);
    /* Send one datagram; src is the local address to send from. */
    ssize_t (*send)(struct net_ep *ep, const struct sockaddr_in *src, const struct sockaddr_in *dst,
                    const void *buf, size_t len);
    /* Receive one datagram without blocking: its length, or -1 with errno
     * (EAGAIN: none; ECONNREFUSED etc.: the path's error).  *truncated is
     * set when it did not fit in buf. */
    ssize_t (*recv)(struct net_ep *ep, void *buf, size_t cap, struct sockaddr_in *src,
                    struct sockaddr_in *dst, bool *truncated);
    void (*close)(struct net_ep *ep);
};
extern const struct net_carrier net_udp_carrier;
extern const struct net_carrier net_ip_carrier; /* tun and vnet (net_ip.c) */

/* Open an endpoint on the process's carrier.  peer NULL: an unconnected
 * endpoint that receives from anyone (a listener).  share_port: may bind a
 * port a listener holds.  Returns NULL with errno on failure (EADDRINUSE:
 * the port is taken). */
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
/* Let the carrier's socket queue about window bytes of segments in each
 * direction (udp: SO_RCVBUF/SO_SNDBUF, raised only, capped by the kernel's
 * limits), so a window larger than the kernel's default buffer is not cut
 * short by datagrams the kernel drops.  Best effort; IP carriers: nothing. */
void net_ep_size_buffers(struct net_ep *ep, size_t window);

/* Cork the endpoint (on) or send what it holds (off).  While corked, the
 * udp carrier's segments on a connected endpoint are held (their headers
 * copied, their payload pieces NOT: those must stay as they are until the
 * uncork) and go out together with one sendmmsg at the uncork, or when
 * NET_BATCH_MAX are held.  Where sendmmsg is missing (ENOSYS), or
 * STCP_SENDMMSG=0 is set, they go out one sendmsg each.  Only the thread
 * that owns the endpoint's sends may cork it. */
#define NET_BATCH_MAX 16
void net_ep_cork(struct net_ep *ep, bool on);
/* Whether the process sends batches with sendmmsg (else one by one). */
bool net_sendmmsg_enabled(void);

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

/* Where net_recv_segment_split puts a segment: its first hdr_len bytes in
 * hdr, then up to room_len in room, and the rest after the first hdr_len
 * bytes of hdr (hdr has hdr_len + spill_cap bytes).  So a payload can land
 * straight where it is wanted (the receive queue) with the header apart. */
struct net_rx_split {
    uint8_t *hdr;
    size_t hdr_len, spill_cap;
    uint8_t *room;
    size_t room_len;
    size_t in_room; /* set: bytes that went into room (the segment's bytes
                       hdr_len .. hdr_len + in_room); the rest, if any, is
                       at hdr + hdr_len */
};
/* net_recv_segment into rx's pieces, checked the same way.  Where the
 * carrier cannot scatter (an IP carrier, or a capture being written) the
 * whole segment goes to hdr (in_room 0). */
ssize_t net_recv_segment_split(struct net_ep *ep, struct net_rx_split *rx, struct sockaddr_in *peer,
                               struct sockaddr_in *local);

/* Check a received segment between peer and local: length, th_off, ports
 * and checksum.  Returns 0, or -1 after counting why in ctr (may be NULL). */
int net_check_segment(const void *seg, size_t len, const struct sockaddr_in *peer,
                      const struct sockaddr_in *local, struct net_counters *ctr);

#endif /* NETWORK_H */
