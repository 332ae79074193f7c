// minibroker: the least a line-protocol server can do for fanbench's fan-out workload, as a
// ceiling to set the broker beside (scripts/large-payload-ceiling.sh).
//
// One thread, one epoll loop for input. Every complete `PUB <topic> <payload>` line read is
// rewritten in place to `MSG <topic> <payload>` and written, with one blocking writev per read,
// to every subscriber (whatever its topic); then one `OK` per publish goes to the publisher.
// `SUB` answers `OK`, `PING` answers `PONG`, which is all fanbench's churn cycle needs too
// (connect, subscribe, round trip, close). No ring, no queue, no copy in user space: the
// only copies are the kernel's. Not a broker: a slow subscriber stalls it, and it keeps no
// state beyond the list of subscribers.
//
//   cc -O2 -o minibroker scripts/minibroker.c
//   minibroker --port 17400
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FD 1024
#define BUFFER_BYTES (256 * 1024 + 70000)
#define MAX_LINES 4096

typedef struct { char *bytes; size_t count; } input;

static input *inputs[MAX_FD];
static int subscribers[MAX_FD];
static int subscriber_count;

// Writes every piece, waiting as long as it takes; false when the peer is gone.
static int write_all(int fd, struct iovec *pieces, int count) {
    while (count > 0) {
        ssize_t written = writev(fd, pieces, count > IOV_MAX ? IOV_MAX : count);
        if (written < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return 0;
        }
        while (count > 0 && (size_t)written >= pieces->iov_len) { written -= (ssize_t)pieces->iov_len; pieces++; count--; }
        if (count > 0) { pieces->iov_base = (char *)pieces->iov_base + written; pieces->iov_len -= (size_t)written; }
    }
    return 1;
}

// Closing the descriptor takes it out of the epoll set too (it is never duplicated).
static void drop(int fd) {
    close(fd);
    for (int s = 0; s < subscriber_count; s++)
        if (subscribers[s] == fd) subscribers[s--] = subscribers[--subscriber_count];
    free(inputs[fd]->bytes);
    free(inputs[fd]);
    inputs[fd] = NULL;
}

int main(int argc, char **argv) {
    int port = 17400, one = 1;
    for (int k = 1; k + 1 < argc; k++) if (!strcmp(argv[k], "--port")) port = atoi(argv[k + 1]);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0) { perror("socket"); return 1; }
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 128)) { perror("listen"); return 1; }
    int epoll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    if (epoll < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event)) { perror("epoll"); return 1; }
    printf("listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    static struct iovec lines[MAX_LINES], copy[MAX_LINES];
    static char replies[MAX_LINES * 8];
    for (;;) {
        struct epoll_event ready[64];
        int count = epoll_wait(epoll, ready, 64, -1);
        if (count < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
        for (int i = 0; i < count; i++) {
            int fd = ready[i].data.fd;
            if (fd == listener) {
                int connection = accept(listener, NULL, NULL);
                if (connection < 0) continue;
                if (connection >= MAX_FD) { close(connection); continue; }
                setsockopt(connection, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                inputs[connection] = calloc(1, sizeof(input));
                inputs[connection]->bytes = malloc(BUFFER_BYTES);
                struct epoll_event added = {.events = EPOLLIN, .data.fd = connection};
                epoll_ctl(epoll, EPOLL_CTL_ADD, connection, &added);
                continue;
            }
            input *in = inputs[fd];
            if (!in) continue;
            ssize_t got = read(fd, in->bytes + in->count, BUFFER_BYTES - in->count);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (got <= 0) { drop(fd); continue; }
            in->count += (size_t)got;
            size_t position = 0, reply_bytes = 0;
            int line_count = 0;
            for (;;) {
                char *line = in->bytes + position;
                char *end = memchr(line, '\n', in->count - position);
                if (!end) break;
                size_t length = (size_t)(end - line) + 1;
                if (length > 4 && !memcmp(line, "PUB ", 4)) {
                    memcpy(line, "MSG", 3);
                    lines[line_count++] = (struct iovec){line, length};
                    memcpy(replies + reply_bytes, "OK\n", 3); reply_bytes += 3;
                } else if (length > 4 && !memcmp(line, "SUB ", 4)) {
                    subscribers[subscriber_count++] = fd;
                    memcpy(replies + reply_bytes, "OK\n", 3); reply_bytes += 3;
                } else if (length >= 5 && !memcmp(line, "PING", 4)) {
                    memcpy(replies + reply_bytes, "PONG\n", 5); reply_bytes += 5;
                }
                position += length;
                if (line_count == MAX_LINES || reply_bytes > sizeof replies - 8) break;
            }
            for (int s = 0; s < subscriber_count; s++) {
                memcpy(copy, lines, (size_t)line_count * sizeof *lines);
                if (!write_all(subscribers[s], copy, line_count)) { drop(subscribers[s]); s--; }
            }
            struct iovec reply = {replies, reply_bytes};
            if (reply_bytes && inputs[fd] && !write_all(fd, &reply, 1)) { drop(fd); continue; }
            if (!inputs[fd]) continue;
            memmove(in->bytes, in->bytes + position, in->count - position);
            in->count -= position;
        }
    }
}
