/* carrier_tun.c -- the tun link: raw IPv4 packets through an existing TUN
 * device (IFF_TUN | IFF_NO_PI: each read or write is exactly one packet).
 * The kernel routes ADDR to the device, so its TCP is our peer. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "carrier.h"

struct tun_link {
    struct net_link link; /* first: a struct net_link * is a struct tun_link * */
    int fd;
    char dev[IFNAMSIZ + 1];
};

static int tun_send(struct net_link *l, uint32_t dst, const struct iovec *iov, int iovcnt)
{
    (void)dst; /* the kernel routes it */
    const struct tun_link *t = (const struct tun_link *)l;
    return writev(t->fd, iov, iovcnt) < 0 ? -1 : 0;
}

static ssize_t tun_recv(struct net_link *l, void *buf, size_t cap)
{
    const struct tun_link *t = (const struct tun_link *)l;
    return read(t->fd, buf, cap);
}

static bool tun_is_local(const struct net_link *l, uint32_t addr)
{
    return addr == l->addr;
}

static uint32_t tun_source_for(const struct net_link *l, uint32_t dst)
{
    (void)dst;
    return l->addr;
}

static int tun_describe(const struct net_link *l, bool routes, char *buf, size_t len)
{
    const struct tun_link *t = (const struct tun_link *)l;
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &l->addr, a, sizeof a);
    if (routes)
        return snprintf(buf, len, "tun %s: every destination, through the kernel's routing\n",
                        t->dev);
    return snprintf(buf, len, "tun %s: our address %s, MTU %zu\n", t->dev, a, l->mtu);
}

/* The device's MTU, or -1. */
static int device_mtu(const char *dev)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, dev, strlen(dev)); /* shorter than IFNAMSIZ: checked */
    int rc = ioctl(s, SIOCGIFMTU, &ifr);
    close(s);
    return rc < 0 ? -1 : ifr.ifr_mtu;
}

static int tun_attach(const char *dev, char *err, size_t errlen)
{
    if (!if_nametoindex(dev)) {
        snprintf(err, errlen, "no device %s (create it first: ip tuntap add dev %s mode tun)", dev,
                 dev);
        return -1;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    memcpy(ifr.ifr_name, dev, strlen(dev));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        snprintf(err, errlen, "TUNSETIFF %s: %s", dev, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

struct net_link *carrier_tun_open(const char *spec, char *err, size_t errlen)
{
    char dev[IFNAMSIZ + 1];
    const char *comma = strchr(spec, ',');
    size_t dlen = comma ? (size_t)(comma - spec) : 0;
    struct in_addr addr;
    if (!comma || !dlen || dlen >= IFNAMSIZ || inet_pton(AF_INET, comma + 1, &addr) != 1 ||
        addr.s_addr == htonl(INADDR_ANY)) {
        snprintf(err, errlen, "expected tun:DEV,ADDR (e.g. tun:tun0,198.18.0.2)");
        return NULL;
    }
    memcpy(dev, spec, dlen);
    dev[dlen] = '\0';
    int mtu = device_mtu(dev);
    if (mtu >= 0 && mtu < 68 + IP_HDR_LEN) {
        snprintf(err, errlen, "%s: MTU %d is too small", dev, mtu);
        return NULL;
    }
    int fd = tun_attach(dev, err, errlen);
    if (fd < 0)
        return NULL;
    struct tun_link *t = calloc(1, sizeof *t);
    if (!t) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->fd = fd;
    memcpy(t->dev, dev, dlen + 1);
    t->link = (struct net_link){.kind = "tun",
                                .addr = addr.s_addr,
                                .mtu = mtu > 0 ? (size_t)mtu : 1500,
                                .ttl = 64,
                                .send = tun_send,
                                .recv = tun_recv,
                                .is_local = tun_is_local,
                                .source_for = tun_source_for,
                                .describe = tun_describe};
    if (t->link.mtu > 65535)
        t->link.mtu = 65535;
    return &t->link;
}
