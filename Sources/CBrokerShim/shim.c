// The few functions glibc declares only under _GNU_SOURCE, wrapped for Swift.
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "CBrokerShim.h"

int cbroker_accept4(int fd, struct sockaddr *_Nullable address, socklen_t *_Nullable length, int flags) {
    return accept4(fd, address, length, flags);
}

const char *_Nonnull cbroker_strerror(int code, char *_Nonnull buffer, size_t size) {
#if defined(__GLIBC__)
    // Under _GNU_SOURCE glibc's strerror_r is the GNU one: it returns the text, which
    // is often a static string rather than `buffer` (and then `buffer` is untouched),
    // so the returned pointer, not `buffer`, is what must be read.
    return strerror_r(code, buffer, size);
#else
    // Elsewhere (musl) it is the XSI one: the text goes into `buffer`; non-zero is failure.
    if (strerror_r(code, buffer, size) != 0) snprintf(buffer, size, "Unknown error %d", code);
    return buffer;
#endif
}
