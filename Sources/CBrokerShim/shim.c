// The few functions glibc declares only under _GNU_SOURCE, wrapped for Swift.
#define _GNU_SOURCE
#include <sys/socket.h>
#include "CBrokerShim.h"

int cbroker_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(fd, address, length, flags);
}
