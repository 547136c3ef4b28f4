/* pcap.c -- capture writer; see pcap.h. */
#define _GNU_SOURCE
#include "pcap.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "mysock_impl.h"

#define LINKTYPE_IPV4 228
#define PCAP_BUFFER   (1 << 20)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *out;
static uint16_t ip_id;

/* Expand "%p" to the process id. */
static void expand_name(const char *pattern, char *buf, size_t len)
{
    size_t n = 0;
    for (const char *p = pattern; *p && n + 1 < len; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            n += (size_t)snprintf(buf + n, len - n, "%ld", (long)getpid());
            p++;
        } else {
            buf[n++] = *p;
        }
        if (n >= len)
            n = len - 1;
    }
    buf[n] = '\0';
}

/* pcap's own headers are little-endian here (readers detect it from the
 * magic number); the IPv4 header inside is network order as usual. */
static void write_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void write_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void pcap_open(void)
{
    const char *pattern = getenv("STCP_PCAP");
    if (!pattern || !*pattern)
        return;
    char name[4096];
    expand_name(pattern, name, sizeof name);
    FILE *f = fopen(name, "wb");
    if (!f) {
        log_msg(STCP_LOG_ERROR, "pcap", "cannot write %s", name);
        return;
    }
    setvbuf(f, NULL, _IOFBF, PCAP_BUFFER);
    uint8_t hdr[24];
    write_u32(hdr, 0xa1b2c3d4); /* magic, microsecond stamps */
    write_u16(hdr + 4, 2);      /* version 2.4 */
    write_u16(hdr + 6, 4);
    write_u32(hdr + 8, 0);      /* timezone */
    write_u32(hdr + 12, 0);     /* accuracy */
    write_u32(hdr + 16, 65535); /* snap length */
    write_u32(hdr + 20, LINKTYPE_IPV4);
    fwrite(hdr, sizeof hdr, 1, f);
    out = f;
    atexit(pcap_flush);
}

bool pcap_enabled(void)
{
    pthread_once(&once, pcap_open);
    return out != NULL;
}

void pcap_capture(const void *seg, size_t len, const struct sockaddr_in *src,
                  const struct sockaddr_in *dst)
{
    pthread_once(&once, pcap_open);
    if (!out)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint8_t rec[16], ip[20];
    uint32_t total = (uint32_t)(len + sizeof ip);
    write_u32(rec, (uint32_t)tv.tv_sec);
    write_u32(rec + 4, (uint32_t)tv.tv_usec);
    write_u32(rec + 8, total);
    write_u32(rec + 12, total);

    pthread_mutex_lock(&lock);
    memset(ip, 0, sizeof ip);
    ip[0] = 0x45; /* IPv4, 20-byte header */
    uint16_t v16 = htons((uint16_t)total);
    memcpy(ip + 2, &v16, 2);
    v16 = htons(ip_id++);
    memcpy(ip + 4, &v16, 2);
    ip[8] = 64; /* TTL */
    ip[9] = IPPROTO_TCP;
    memcpy(ip + 12, &src->sin_addr.s_addr, 4);
    memcpy(ip + 16, &dst->sin_addr.s_addr, 4);
    v16 = htons((uint16_t)~net_sum(0, ip, sizeof ip));
    memcpy(ip + 10, &v16, 2);
    fwrite(rec, sizeof rec, 1, out);
    fwrite(ip, sizeof ip, 1, out);
    fwrite(seg, len, 1, out);
    pthread_mutex_unlock(&lock);
}

void pcap_flush(void)
{
    pthread_mutex_lock(&lock);
    if (out)
        fflush(out);
    pthread_mutex_unlock(&lock);
}

void pcap_capture_ip(const void *hdr, size_t hdr_len, const void *payload, size_t payload_len)
{
    pthread_once(&once, pcap_open);
    if (!out)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint8_t rec[16];
    uint32_t total = (uint32_t)(hdr_len + payload_len);
    write_u32(rec, (uint32_t)tv.tv_sec);
    write_u32(rec + 4, (uint32_t)tv.tv_usec);
    write_u32(rec + 8, total);
    write_u32(rec + 12, total);
    pthread_mutex_lock(&lock);
    fwrite(rec, sizeof rec, 1, out);
    fwrite(hdr, hdr_len, 1, out);
    if (payload_len)
        fwrite(payload, payload_len, 1, out);
    pthread_mutex_unlock(&lock);
}
