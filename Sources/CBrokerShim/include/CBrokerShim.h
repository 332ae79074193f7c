// System headers Glibc does not export to Swift (epoll, eventfd, signalfd), plus
// tiny inline helpers for macros Swift cannot call. Nothing else lives here.
#ifndef CBROKERSHIM_H
#define CBROKERSHIM_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

/// accept4(2), which glibc declares only under _GNU_SOURCE (see shim.c).
int cbroker_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

/// The calling thread's errno (a macro in C).
static inline int cbroker_errno(void) { return errno; }

#endif
