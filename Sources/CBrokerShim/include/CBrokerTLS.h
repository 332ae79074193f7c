// TLS through the system's OpenSSL 3 (libssl.so.3, libcrypto.so.3), loaded at run time with
// dlopen: no OpenSSL header or library is needed to build. Only the few functions below are
// used; their prototypes are declared in tls.c. Nothing here is loaded until
// cbroker_tls_load is called, so a process that never configures TLS never touches OpenSSL.
//
// Threads: cbroker_tls_load and the context functions may be called from any thread. A
// connection (CBrokerTLS) belongs to one thread at a time. Error text comes from OpenSSL's
// per-thread error queue, so it is read on the thread that saw the failure.
#ifndef CBROKERTLS_H
#define CBROKERTLS_H

#include <stddef.h>
#include <stdint.h>

/// What a non-blocking TLS call did, beside a positive count of bytes.
enum {
    /// The call needs the socket readable, then the same call again.
    CBROKER_TLS_WANT_READ = -2,
    /// The call needs the socket writable, then the same call again.
    CBROKER_TLS_WANT_WRITE = -3,
    /// The peer closed the TLS session (close_notify) or the connection (end of file).
    CBROKER_TLS_CLOSED = -4,
    /// A failure: its text is in cbroker_tls_error_text, its errno (0 when none) in cbroker_tls_errno.
    CBROKER_TLS_FAILED = -1,
};

/// A connection: an SSL object whose I/O goes through the socket with recv/send
/// (MSG_NOSIGNAL: no SIGPIPE, whatever the process's signal settings).
typedef struct CBrokerTLS CBrokerTLS;

/// Loads libssl.so.3 and libcrypto.so.3 once per process (or the files the environment variables
/// BROKER_LIBSSL and BROKER_LIBCRYPTO name). 0 when loaded; -1 with the reason in `error` (e.g.
/// the library is missing, or a function is absent).
int cbroker_tls_load(char *_Nonnull error, size_t size);

/// A server context: TLS 1.2 at least, the certificate chain and key of the PEM files, and when
/// `client_ca_file` is not NULL, client certificates required and verified against it.
/// NULL on failure, with the reason in `error`.
void *_Nullable cbroker_tls_server_context(const char *_Nonnull cert_file, const char *_Nonnull key_file,
                                           const char *_Nullable client_ca_file, char *_Nonnull error, size_t size);

/// A client context: TLS 1.2 at least; the server's certificate verified against `ca_file` (NULL:
/// the system's store) unless `verify` is 0; `cert_file` and `key_file` (both or neither) sent
/// when the server asks for a client certificate. NULL on failure, with the reason in `error`.
void *_Nullable cbroker_tls_client_context(const char *_Nullable ca_file, const char *_Nullable cert_file,
                                           const char *_Nullable key_file, int verify, char *_Nonnull error, size_t size);

/// Releases a context (connections made from it keep it alive until they are freed).
void cbroker_tls_context_free(void *_Nonnull context);

/// A connection on the connected socket `fd` (not owned). Server side when `server` is not 0;
/// a client sends `host_name` as SNI and checks that the certificate names it (a name or an
/// IP literal) when the context verifies. NULL when it cannot be made.
CBrokerTLS *_Nullable cbroker_tls_new(void *_Nonnull context, int fd, int server, const char *_Nullable host_name);

/// Moves a connection to another descriptor of the same socket (a dup), for a handover.
void cbroker_tls_set_fd(CBrokerTLS *_Nonnull tls, int fd);

/// Frees a connection (the socket is not closed).
void cbroker_tls_free(CBrokerTLS *_Nonnull tls);

/// Advances the handshake: 1 when it is complete, else a CBROKER_TLS_ code.
int cbroker_tls_handshake(CBrokerTLS *_Nonnull tls);

/// Reads up to `size` bytes of plaintext: a count > 0, or a CBROKER_TLS_ code.
int cbroker_tls_read(CBrokerTLS *_Nonnull tls, void *_Nonnull buffer, int size);

/// Writes up to `size` bytes of plaintext (one TLS record or more): the count taken > 0, or a
/// CBROKER_TLS_ code. After a WANT code the next call must offer at least the same bytes again
/// (they may be at another address: moving write buffers are accepted). `more` not 0: more
/// writes follow at once, so the record is sent with MSG_MORE (the last write of a batch clears it).
int cbroker_tls_write(CBrokerTLS *_Nonnull tls, const void *_Nonnull buffer, int size, int more);

/// Plaintext bytes already decrypted and not yet read (the socket may not be readable for them).
int cbroker_tls_pending(CBrokerTLS *_Nonnull tls);

/// Sends close_notify, best effort (never waits).
void cbroker_tls_shutdown(CBrokerTLS *_Nonnull tls);

/// The common name of the peer's verified certificate, into `buffer` (NUL-terminated): its
/// length, or -1 when the peer sent no certificate or it was not verified.
int cbroker_tls_peer_common_name(CBrokerTLS *_Nonnull tls, char *_Nonnull buffer, int size);

/// The protocol version and cipher agreed, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384".
void cbroker_tls_description(CBrokerTLS *_Nonnull tls, char *_Nonnull buffer, size_t size);

/// The reason of the last CBROKER_TLS_FAILED on this connection (NULL: of the context calls) on
/// this thread: OpenSSL's error queue, a certificate verification result, or a system error.
void cbroker_tls_error_text(CBrokerTLS *_Nullable tls, char *_Nonnull buffer, size_t size);

#endif
