/* fileproto.h -- the client side of the STCP file protocol, for the test
 * tools that fetch through mysock.h (tests/mfetch.c, tests/mconn.c).
 *
 * The server answers a request line with "NAME,LENGTH,MESSAGE\r\n" and then
 * LENGTH bytes; LENGTH is -1 when it refuses. */
#ifndef FILEPROTO_H
#define FILEPROTO_H

#include <stdlib.h>
#include <string.h>

#include "mysock.h"

/* Read the reply line and its LENGTH.  0 for a file, -1 for a refusal, a
 * line over 2047 bytes, or a connection that ended first. */
static inline int fileproto_read_reply(mysocket_t sd, long long *length)
{
    char line[2048];
    size_t n = 0;
    for (;;) {
        char ch;
        if (myread(sd, &ch, 1) != 1)
            return -1;
        if (ch == '\n')
            break;
        if (n + 1 >= sizeof line)
            return -1;
        line[n++] = ch;
    }
    line[n] = '\0';
    char *last = strrchr(line, ',');
    if (!last)
        return -1;
    *last = '\0';
    char *len = strrchr(line, ',');
    if (!len)
        return -1;
    *length = atoll(len + 1);
    return *length < 0 ? -1 : 0;
}

#endif /* FILEPROTO_H */
