/* carrier.h -- the IP carriers: links that move whole IPv4 packets for a
 * process, shared by all its sockets (network layer internals).
 *
 * A link only moves packets: carrier_tun.c reads and writes a TUN device,
 * carrier_vnet.c wraps packets in UDP datagrams to virtual-link neighbours.
 * Everything above -- the IPv4 header, demultiplexing by 4-tuple, listener
 * lookup, port allocation, RSTs for segments that reach nobody -- is the
 * stack's, in net_ip.c, and the same for every link.
 */
#ifndef CARRIER_H
#define CARRIER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "network.h"

#define IP_HDR_LEN      20
#define IP_PROTO_TCP    6
#define IP_PROTO_ROUTES 200 /* vnet: route announcements */

struct net_link {
    const char *kind; /* "tun" or "vnet" */
    uint32_t addr;    /* our (first) IPv4 address, network order */
    size_t mtu;       /* largest IPv4 packet, header included */
    uint8_t ttl;
    /* Send one IPv4 packet, given as pieces.  Returns 0, or -1 with errno. */
    int (*send)(struct net_link *l, uint32_t dst, const struct iovec *iov, int iovcnt);
    /* Block until one packet arrives; its length, or -1 with errno.  Packets
     * the link itself rejects (vnet: from a stranger) are counted and
     * skipped inside. */
    ssize_t (*recv)(struct net_link *l, void *buf, size_t cap);
    /* Is addr one of our addresses? */
    bool (*is_local)(const struct net_link *l, uint32_t addr);
    /* The address we send from towards dst. */
    uint32_t (*source_for)(const struct net_link *l, uint32_t dst);
    /* A packet for us of a protocol other than TCP: true if the link used
     * it (vnet's route requests), false to count it as unknown. */
    bool (*other_protocol)(struct net_link *l, uint8_t proto, uint32_t src, const uint8_t *data,
                           size_t len);
    /* Describe the link for people (tcpnode's li and lr): its interfaces,
     * or with routes its routes, as lines ending in '\n'.  snprintf's
     * contract: the full length, buf truncated to len. */
    int (*describe)(const struct net_link *l, bool routes, char *buf, size_t len);
};

/* Append printf-style text to buf at *used (describe's helper): buf stays
 * NUL-terminated and truncated to len, *used counts the full length. */
void net_text_add(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Open a link from the text after "tun:" / "vnet:" in STCP_CARRIER.
 * NULL with a message in err on failure. */
struct net_link *carrier_tun_open(const char *spec, char *err, size_t errlen);
struct net_link *carrier_vnet_open(const char *path, char *err, size_t errlen);

/* ---- Endpoints ----------------------------------------------------------------- */

/* A segment waiting in an endpoint's receive queue (IP carriers). */
struct rx_seg {
    struct rx_seg *next;
    struct sockaddr_in src, dst;
    size_t len;
    uint8_t data[]; /* len bytes: exactly what arrived */
};

struct net_ep {
    const struct net_carrier *carrier;
    int fd; /* udp: the socket; IP carriers: an eventfd, readable while rxq holds one */
    struct sockaddr_in local, peer;
    bool connected;
    char name[48];
    struct net_counters *ctr;
    struct net_counters own_ctr;

    /* Emulation, guarded by lock (sends come from transport, listener and
     * timer threads). */
    pthread_mutex_t lock;
    bool netem_on;
    struct netem_profile em;
    /* Segments held while corked (net_ep_cork), sent together. */
    struct net_batch *batch;
    bool corked;
    uint64_t rng;
    unsigned held; /* datagrams held back for reordering */

    /* IP carriers: the stack's table entry and receive queue.  The table
     * fields are guarded by the table lock, the queue by rx_lock. */
    struct net_ep *table_next;
    bool in_table, listening, sharing;
    pthread_mutex_t rx_lock;
    struct rx_seg *rx_head, *rx_tail;
    unsigned rx_count;
};

/* ---- IPv4 (net_ip.c) -------------------------------------------------------- */

struct ip_packet {
    uint32_t src, dst; /* network order */
    uint8_t proto;
    const uint8_t *data; /* the payload, after any options */
    size_t len;
};

/* Why ip_parse rejected a packet. */
enum ip_verdict { IP_OK, IP_MALFORMED, IP_BAD_CHECKSUM, IP_FRAGMENT };

/* Check a received packet of len bytes: version 4, IHL >= 5 (options are
 * skipped), total length within what was read (bytes beyond it are link
 * padding), header checksum, no fragment.  Fills *out on IP_OK. */
enum ip_verdict ip_parse(const uint8_t *pkt, size_t len, struct ip_packet *out);
/* Fill a 20-byte header: DF set, the next packet ID, checksum. */
void ip_build(uint8_t hdr[IP_HDR_LEN], uint32_t src, uint32_t dst, uint8_t proto,
              size_t payload_len, uint8_t ttl);
/* Make l the process's link and start its receive thread.  0, or -1 with a
 * message in err. */
int net_ip_start(struct net_link *l, char *err, size_t errlen);
/* Send payload to dst through the process's link, from our address. */
int net_ip_send(struct net_link *l, uint32_t dst, uint8_t proto, const void *payload, size_t len);

#endif /* CARRIER_H */
