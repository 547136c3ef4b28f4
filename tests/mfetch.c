/* mfetch.c -- many fetches at once from one process, using only mysock.h.
 *
 *   mfetch HOST:PORT OUTDIR NAME...
 *
 * Starts one thread per NAME; each connects to the file server, asks for
 * NAME with the classic request line ("NAME\r\n"), and stores the bytes
 * after the reply line in OUTDIR/NAME.  All connections share the process's
 * carrier: on tun, that is one TUN device for all of them (a TUN queue
 * belongs to one process, so many client processes cannot share it).
 * Prints one line per failure; exit 0 if every fetch got its whole file
 * and the server's FIN, 1 otherwise, 2 on misuse. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysock.h"
#include "fileproto.h"

#define MAX_FETCHES 256

struct fetch {
    pthread_t thread;
    const char *name;
    char path[4096];
    int ok;
};

static struct sockaddr_in server;

static void *fetch_one(void *arg)
{
    struct fetch *f = arg;
    mysocket_t sd = mysocket(TRUE);
    if (sd < 0 || myconnect(sd, (struct sockaddr *)&server, sizeof server) < 0) {
        fprintf(stderr, "mfetch: %s: connect: %s\n", f->name, strerror(errno));
        return NULL;
    }
    char req[1100];
    int len = snprintf(req, sizeof req, "%s\r\n", f->name);
    long long length = -1, got = 0;
    FILE *out = NULL;
    if (len < 0 || (size_t)len >= sizeof req || mywrite(sd, req, (size_t)len) != len ||
        fileproto_read_reply(sd, &length) < 0 || !(out = fopen(f->path, "wb"))) {
        fprintf(stderr, "mfetch: %s: no valid reply: %s\n", f->name, strerror(errno));
    } else {
        char buf[16384];
        int n;
        while ((n = myread(sd, buf, sizeof buf)) > 0) {
            fwrite(buf, 1, (size_t)n, out);
            got += n;
        }
        if (n < 0)
            fprintf(stderr, "mfetch: %s: read: %s\n", f->name, strerror(errno));
        else if (got != length)
            fprintf(stderr, "mfetch: %s: %lld of %lld bytes\n", f->name, got, length);
        else
            f->ok = 1;
    }
    if (out)
        fclose(out);
    myclose(sd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc - 3 > MAX_FETCHES) {
        fprintf(stderr, "usage: %s HOST:PORT OUTDIR NAME... (at most %d names)\n", argv[0],
                MAX_FETCHES);
        return 2;
    }
    char host[64];
    const char *colon = strrchr(argv[1], ':');
    if (!colon || (size_t)(colon - argv[1]) >= sizeof host) {
        fprintf(stderr, "%s: bad address %s\n", argv[0], argv[1]);
        return 2;
    }
    memcpy(host, argv[1], (size_t)(colon - argv[1]));
    host[colon - argv[1]] = '\0';
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &server.sin_addr) != 1) {
        fprintf(stderr, "%s: bad address %s\n", argv[0], argv[1]);
        return 2;
    }
    int n = argc - 3;
    struct fetch *f = calloc((size_t)n, sizeof *f);
    if (!f)
        return 1;
    int started = 0;
    for (int i = 0; i < n; i++) {
        f[i].name = argv[i + 3];
        snprintf(f[i].path, sizeof f[i].path, "%s/%s", argv[2], f[i].name);
        if (pthread_create(&f[i].thread, NULL, fetch_one, &f[i]) != 0)
            break;
        started++;
    }
    int ok = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(f[i].thread, NULL);
        ok += f[i].ok;
    }
    free(f);
    printf("mfetch: %d of %d fetches complete\n", ok, n);
    return ok == n ? 0 : 1;
}
