// System headers Glibc does not export to Swift (epoll, eventfd, signalfd), plus
// tiny inline helpers for macros Swift cannot call. Nothing else lives here.
#ifndef CBROKERSHIM_H
#define CBROKERSHIM_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

// TLS through the system's OpenSSL 3, loaded at run time (tls.c).
#include "CBrokerTLS.h"

/// accept4(2), which glibc declares only under _GNU_SOURCE (see shim.c).
int cbroker_accept4(int fd, struct sockaddr *_Nullable address, socklen_t *_Nullable length, int flags);

/// The system's text for `code`, thread-safe (strerror_r; see shim.c for which one).
/// The result is `buffer` or a string that lives as long as the process; copy it
/// before `buffer` goes away.
const char *_Nonnull cbroker_strerror(int code, char *_Nonnull buffer, size_t size);

/// The calling thread's errno (a macro in C).
static inline int cbroker_errno(void) { return errno; }

/// Sets the calling thread's errno (a macro in C); for tests of the errno funnel.
static inline void cbroker_set_errno(int value) { errno = value; }

#endif
