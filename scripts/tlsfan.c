// tlsfan: fan-out over TLS (or plaintext) against the line broker or NATS, one client thread.
//
// N subscribers on topic `bench` and one publisher, each its own connection, all driven by one
// epoll loop. The publisher stays at most --window messages ahead of the slowest subscriber
// (end to end), so neither broker is asked to queue or drop; a line-protocol LAGGED is counted,
// not hidden. Prints one line: deliveries/s, published, delivered, lagged, elapsed.
//
//   cc -O2 -o tlsfan scripts/tlsfan.c -lssl -lcrypto       (scripts/bench-tls-peers.sh builds it)
//   tlsfan --proto line|nats --port P [--tls --ca FILE] [--subs 16] [--msgs 500000] [--size 16] [--window 4096]
//
// NATS sends its INFO in plaintext and the client then starts TLS (nats-server 2.9); the line
// broker's TLS port starts with the handshake.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { PROTO_LINE, PROTO_NATS };

typedef struct {
    int fd;
    SSL *ssl;
    char *in;           // unparsed bytes
    size_t in_len, in_cap;
    char *out;          // bytes to write (the publisher's batch)
    size_t out_len, out_off;
    uint64_t delivered; // subscribers: messages received
    int wants_write;    // blocked on EPOLLOUT
} conn_t;

static int proto = PROTO_LINE, use_tls = 0, subs = 16, size = 16;
static long msgs = 500000, window = 4096;
static const char *ca = NULL;
static int port = 0;
static SSL_CTX *ctx;
static uint64_t lagged = 0, replies = 0;

static void die(const char *what) {
    fprintf(stderr, "tlsfan: %s", what);
    if (errno) fprintf(stderr, ": %s", strerror(errno));
    unsigned long e = ERR_get_error();
    if (e) fprintf(stderr, " (%s)", ERR_error_string(e, NULL));
    fprintf(stderr, "\n");
    exit(1);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

// Blocking helpers for the setup phase (the socket is blocking then).
static void send_all(conn_t *c, const char *data, size_t len) {
    while (len > 0) {
        int n = c->ssl ? SSL_write(c->ssl, data, (int)len) : (int)write(c->fd, data, len);
        if (n <= 0) die("setup write");
        data += n;
        len -= (size_t)n;
    }
}

// Reads until `token` arrives (setup phase); what follows it stays buffered.
static void read_until(conn_t *c, const char *token) {
    for (;;) {
        if (c->in_len > 0) {
            char *hit = memmem(c->in, c->in_len, token, strlen(token));
            if (hit) {
                size_t used = (size_t)(hit - c->in) + strlen(token);
                memmove(c->in, c->in + used, c->in_len - used);
                c->in_len -= used;
                return;
            }
        }
        if (c->in_cap - c->in_len < 4096) {
            c->in_cap *= 2;
            c->in = realloc(c->in, c->in_cap);
        }
        int n = c->ssl ? SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len))
                       : (int)read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (n <= 0) die("setup read (closed?)");
        c->in_len += (size_t)n;
    }
}

static conn_t *open_conn(void) {
    conn_t *c = calloc(1, sizeof *c);
    c->in_cap = 1 << 20;
    c->in = malloc(c->in_cap);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = inet_addr("127.0.0.1");
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (proto == PROTO_NATS) read_until(c, "\r\n");  // INFO, always in plaintext
    if (use_tls) {
        c->ssl = SSL_new(ctx);
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_tlsext_host_name(c->ssl, "localhost");
        SSL_set1_host(c->ssl, "localhost");
        SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE);
        if (SSL_connect(c->ssl) != 1) die("TLS handshake");
    }
    if (proto == PROTO_NATS) {
        char connect_line[160];
        snprintf(connect_line, sizeof connect_line,
                 "CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":%s}\r\nPING\r\n", use_tls ? "true" : "false");
        send_all(c, connect_line, strlen(connect_line));
        read_until(c, "PONG\r\n");
    }
    return c;
}

static void subscribe(conn_t *c) {
    if (proto == PROTO_LINE) {
        send_all(c, "SUB bench\n", 10);
        read_until(c, "OK\n");
    } else {
        send_all(c, "SUB bench 1\r\nPING\r\n", 19);
        read_until(c, "PONG\r\n");
    }
}

// Reads what is there (non-blocking); returns bytes read, 0 when it would block, -1 at the end.
static long read_some(conn_t *c) {
    if (c->in_cap - c->in_len < 65536) {
        c->in_cap *= 2;
        c->in = realloc(c->in, c->in_cap);
    }
    if (c->ssl) {
        int n = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len));
        if (n > 0) {
            c->in_len += (size_t)n;
            return n;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
        return -1;
    }
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n > 0) {
        c->in_len += (size_t)n;
        return n;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    return -1;
}

// Counts the frames in a subscriber's (or the publisher's) buffer and drops them.
static void parse(conn_t *c) {
    size_t at = 0;
    while (at < c->in_len) {
        char *line = c->in + at;
        char *end = memchr(line, '\n', c->in_len - at);
        if (!end) break;
        size_t line_len = (size_t)(end - line) + 1;
        if (proto == PROTO_LINE) {
            if (line[0] == 'M') c->delivered++;
            else if (line[0] == 'L') lagged += strtoull(memrchr(line, ' ', line_len) + 1, NULL, 10);
            else if (line[0] == 'O') replies++;
            at += line_len;
        } else {
            if (line[0] == 'M') {  // MSG <subject> <sid> <size>\r\n<payload>\r\n
                const char *last = memrchr(line, ' ', line_len);
                size_t bytes = strtoul(last + 1, NULL, 10);
                if (c->in_len - at < line_len + bytes + 2) break;
                c->delivered++;
                at += line_len + bytes + 2;
            } else {
                at += line_len;  // PING from the server is rare in a short run; +OK/-ERR are not asked for
            }
        }
    }
    memmove(c->in, c->in + at, c->in_len - at);
    c->in_len -= at;
}

// Writes the publisher's pending bytes; returns 0 when it would block.
static int flush_out(conn_t *c) {
    while (c->out_off < c->out_len) {
        int n;
        if (c->ssl) {
            n = SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
            if (n <= 0) {
                int e = SSL_get_error(c->ssl, n);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) return 0;
                die("publisher write");
            }
        } else {
            n = (int)write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) return 0;
                die("publisher write");
            }
        }
        c->out_off += (size_t)n;
    }
    c->out_len = c->out_off = 0;
    return 1;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--proto")) { proto = strcmp(v, "nats") == 0 ? PROTO_NATS : PROTO_LINE; i++; }
        else if (!strcmp(a, "--port")) { port = atoi(v); i++; }
        else if (!strcmp(a, "--tls")) use_tls = 1;
        else if (!strcmp(a, "--ca")) { ca = v; i++; }
        else if (!strcmp(a, "--subs")) { subs = atoi(v); i++; }
        else if (!strcmp(a, "--msgs")) { msgs = atol(v); i++; }
        else if (!strcmp(a, "--size")) { size = atoi(v); i++; }
        else if (!strcmp(a, "--window")) { window = atol(v); i++; }
        else { fprintf(stderr, "usage: tlsfan --proto line|nats --port P [--tls --ca FILE] [--subs N] [--msgs M] [--size S] [--window W]\n"); return 64; }
    }
    if (port <= 0 || subs < 1 || msgs < 1 || size < 1) { fprintf(stderr, "tlsfan: bad arguments\n"); return 64; }
    if (use_tls) {
        ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        if (ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) die("CA file");
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    conn_t **sub = calloc((size_t)subs, sizeof *sub);
    for (int i = 0; i < subs; i++) {
        sub[i] = open_conn();
        subscribe(sub[i]);
    }
    conn_t *pub = open_conn();
    int ep = epoll_create1(0);
    for (int i = 0; i <= subs; i++) {
        conn_t *c = i < subs ? sub[i] : pub;
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
    }
    // One message as the protocol writes it; a batch is up to 64 of them.
    char payload[65536];
    memset(payload, 'x', (size_t)size);
    char message[66000];
    int message_len = proto == PROTO_LINE ? snprintf(message, sizeof message, "PUB bench %.*s\n", size, payload)
                                          : snprintf(message, sizeof message, "PUB bench %d\r\n%.*s\r\n", size, size, payload);
    pub->out = malloc((size_t)message_len * 64);
    long published = 0;
    double started = now(), last_progress = started;
    uint64_t expected = (uint64_t)msgs * (uint64_t)subs;
    struct epoll_event events[64];
    for (;;) {
        uint64_t total = 0, slowest = UINT64_MAX;
        for (int i = 0; i < subs; i++) {
            total += sub[i]->delivered;
            if (sub[i]->delivered < slowest) slowest = sub[i]->delivered;
        }
        if (total + lagged >= expected) break;
        // Publish while the slowest subscriber is within the window.
        while (published < msgs && pub->out_len == 0 && (uint64_t)published < slowest + (uint64_t)window) {
            long batch = msgs - published;
            if (batch > 64) batch = 64;
            if ((uint64_t)(published + batch) > slowest + (uint64_t)window) batch = (long)(slowest + (uint64_t)window) - published;
            for (long k = 0; k < batch; k++) memcpy(pub->out + (size_t)k * (size_t)message_len, message, (size_t)message_len);
            pub->out_len = (size_t)batch * (size_t)message_len;
            pub->out_off = 0;
            published += batch;
            if (!flush_out(pub)) {
                struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = pub};
                epoll_ctl(ep, EPOLL_CTL_MOD, pub->fd, &e);
                pub->wants_write = 1;
            }
        }
        int n = epoll_wait(ep, events, 64, 1000);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        double t = now();
        if (n > 0) last_progress = t;
        if (t - last_progress > 10) {
            fprintf(stderr, "tlsfan: no progress for 10 s (published %ld, delivered %llu of %llu)\n", published,
                    (unsigned long long)total, (unsigned long long)expected);
            return 1;
        }
        for (int k = 0; k < n; k++) {
            conn_t *c = events[k].data.ptr;
            if (c == pub && (events[k].events & EPOLLOUT) && flush_out(pub) && pub->wants_write) {
                struct epoll_event e = {.events = EPOLLIN, .data.ptr = pub};
                epoll_ctl(ep, EPOLL_CTL_MOD, pub->fd, &e);
                pub->wants_write = 0;
            }
            if (events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                long got;
                while ((got = read_some(c)) > 0) parse(c);
                if (got < 0) die("a connection ended");
            }
        }
    }
    double elapsed = now() - started;
    uint64_t delivered = 0;
    for (int i = 0; i < subs; i++) delivered += sub[i]->delivered;
    printf("deliver_rate %.0f published %ld delivered %llu lagged %llu elapsed %.3f proto %s tls %d subs %d size %d\n",
           (double)delivered / elapsed, published, (unsigned long long)delivered, (unsigned long long)lagged, elapsed,
           proto == PROTO_LINE ? "line" : "nats", use_tls, subs, size);
    return 0;
}
