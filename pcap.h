/* pcap.h -- a packet capture of every segment a process sends and receives.
 *
 * With STCP_PCAP=FILE in the environment ("%p" in FILE becomes the process
 * id) each segment is written with a synthesized IPv4 header carrying the
 * real addresses, so Wireshark and tshark decode it as ordinary TCP.  On
 * the IP carriers (tun, vnet) the packets are written as they are.  Writes
 * go to a buffer that is flushed when full, by pcap_flush() and at exit. */
#ifndef PCAP_H
#define PCAP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* Is STCP_PCAP set (and its file open)?  Senders that never build a
 * segment in one piece ask this before they would have to. */
bool pcap_enabled(void);
/* Record one segment from src to dst (no-op unless STCP_PCAP is set). */
void pcap_capture(const void *seg, size_t len, const struct sockaddr_in *src,
                  const struct sockaddr_in *dst);
/* Record one whole IPv4 packet as it is on the wire (IP carriers), given as
 * a header and a payload (payload may be NULL). */
void pcap_capture_ip(const void *hdr, size_t hdr_len, const void *payload, size_t payload_len);
void pcap_flush(void);

#endif /* PCAP_H */
