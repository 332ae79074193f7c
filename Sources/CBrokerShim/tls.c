// TLS through the system's OpenSSL 3, loaded at run time (see CBrokerTLS.h). The prototypes of
// the functions used are declared here from OpenSSL's documented API; the library is found with
// dlopen, so building needs no OpenSSL header or library.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "CBrokerTLS.h"

// Opaque OpenSSL types.
typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;
typedef struct ssl_cipher_st SSL_CIPHER;
typedef struct bio_st BIO;
typedef struct bio_method_st BIO_METHOD;
typedef struct x509_st X509;
typedef struct X509_name_st X509_NAME;
typedef struct X509_VERIFY_PARAM_st X509_VERIFY_PARAM;
typedef struct stack_st_X509_NAME STACK_OF_X509_NAME;

// Constants of OpenSSL's headers (ssl.h, bio.h, obj_mac.h, x509_vfy.h), stable across 3.x.
enum {
    SSL_ERROR_NONE = 0, SSL_ERROR_SSL = 1, SSL_ERROR_WANT_READ = 2, SSL_ERROR_WANT_WRITE = 3,
    SSL_ERROR_SYSCALL = 5, SSL_ERROR_ZERO_RETURN = 6,
    SSL_FILETYPE_PEM = 1,
    SSL_VERIFY_NONE = 0, SSL_VERIFY_PEER = 1, SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 2,
    SSL_CTRL_MODE = 33, SSL_CTRL_SET_TLSEXT_HOSTNAME = 55, SSL_CTRL_SET_MIN_PROTO_VERSION = 123,
    TLSEXT_NAMETYPE_host_name = 0, TLS1_2_VERSION = 0x0303,
    BIO_TYPE_SOURCE_SINK = 0x0400, BIO_CTRL_FLUSH = 11,
    BIO_FLAGS_READ = 0x01, BIO_FLAGS_WRITE = 0x02, BIO_FLAGS_IO_SPECIAL = 0x04, BIO_FLAGS_SHOULD_RETRY = 0x08,
    NID_commonName = 13, X509_V_OK = 0,
};
// SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS:
// a write returns after each record; a retried write may come from another address; an idle
// connection gives its 34 KiB of record buffers back.
static const long connection_modes = 0x1 | 0x2 | 0x10;
// SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF (a peer that
// closes without close_notify ends the stream like one that sent it: the protocol's own frames
// say whether anything was cut).
static const uint64_t context_options = (1ULL << 17) | (1ULL << 30) | (1ULL << 7);

// Every function used: library, return type, name, parameters.
#define CBROKER_TLS_FUNCTIONS(X) \
    X(ssl, int, OPENSSL_init_ssl, (uint64_t, const void *)) \
    X(ssl, const SSL_METHOD *, TLS_server_method, (void)) \
    X(ssl, const SSL_METHOD *, TLS_client_method, (void)) \
    X(ssl, SSL_CTX *, SSL_CTX_new, (const SSL_METHOD *)) \
    X(ssl, void, SSL_CTX_free, (SSL_CTX *)) \
    X(ssl, long, SSL_CTX_ctrl, (SSL_CTX *, int, long, void *)) \
    X(ssl, uint64_t, SSL_CTX_set_options, (SSL_CTX *, uint64_t)) \
    X(ssl, int, SSL_CTX_set_num_tickets, (SSL_CTX *, size_t)) \
    X(ssl, int, SSL_CTX_use_certificate_chain_file, (SSL_CTX *, const char *)) \
    X(ssl, int, SSL_CTX_use_PrivateKey_file, (SSL_CTX *, const char *, int)) \
    X(ssl, int, SSL_CTX_check_private_key, (const SSL_CTX *)) \
    X(ssl, int, SSL_CTX_load_verify_locations, (SSL_CTX *, const char *, const char *)) \
    X(ssl, int, SSL_CTX_set_default_verify_paths, (SSL_CTX *)) \
    X(ssl, void, SSL_CTX_set_verify, (SSL_CTX *, int, void *)) \
    X(ssl, int, SSL_CTX_set_session_id_context, (SSL_CTX *, const unsigned char *, unsigned int)) \
    X(ssl, STACK_OF_X509_NAME *, SSL_load_client_CA_file, (const char *)) \
    X(ssl, void, SSL_CTX_set_client_CA_list, (SSL_CTX *, STACK_OF_X509_NAME *)) \
    X(ssl, SSL *, SSL_new, (SSL_CTX *)) \
    X(ssl, void, SSL_free, (SSL *)) \
    X(ssl, void, SSL_set_bio, (SSL *, BIO *, BIO *)) \
    X(ssl, void, SSL_set_accept_state, (SSL *)) \
    X(ssl, void, SSL_set_connect_state, (SSL *)) \
    X(ssl, int, SSL_do_handshake, (SSL *)) \
    X(ssl, int, SSL_read, (SSL *, void *, int)) \
    X(ssl, int, SSL_write, (SSL *, const void *, int)) \
    X(ssl, int, SSL_get_error, (const SSL *, int)) \
    X(ssl, int, SSL_shutdown, (SSL *)) \
    X(ssl, int, SSL_pending, (const SSL *)) \
    X(ssl, long, SSL_ctrl, (SSL *, int, long, void *)) \
    X(ssl, int, SSL_set1_host, (SSL *, const char *)) \
    X(ssl, X509_VERIFY_PARAM *, SSL_get0_param, (SSL *)) \
    X(ssl, X509 *, SSL_get1_peer_certificate, (const SSL *)) \
    X(ssl, long, SSL_get_verify_result, (const SSL *)) \
    X(ssl, const char *, SSL_get_version, (const SSL *)) \
    X(ssl, const SSL_CIPHER *, SSL_get_current_cipher, (const SSL *)) \
    X(ssl, const char *, SSL_CIPHER_get_name, (const SSL_CIPHER *)) \
    X(crypto, unsigned long, ERR_get_error, (void)) \
    X(crypto, void, ERR_error_string_n, (unsigned long, char *, size_t)) \
    X(crypto, void, ERR_clear_error, (void)) \
    X(crypto, void, X509_free, (X509 *)) \
    X(crypto, X509_NAME *, X509_get_subject_name, (const X509 *)) \
    X(crypto, int, X509_NAME_get_text_by_NID, (X509_NAME *, int, char *, int)) \
    X(crypto, const char *, X509_verify_cert_error_string, (long)) \
    X(crypto, int, X509_VERIFY_PARAM_set1_ip_asc, (X509_VERIFY_PARAM *, const char *)) \
    X(crypto, int, BIO_get_new_index, (void)) \
    X(crypto, BIO_METHOD *, BIO_meth_new, (int, const char *)) \
    X(crypto, int, BIO_meth_set_write, (BIO_METHOD *, int (*)(BIO *, const char *, int))) \
    X(crypto, int, BIO_meth_set_read, (BIO_METHOD *, int (*)(BIO *, char *, int))) \
    X(crypto, int, BIO_meth_set_ctrl, (BIO_METHOD *, long (*)(BIO *, int, long, void *))) \
    X(crypto, int, BIO_meth_set_create, (BIO_METHOD *, int (*)(BIO *))) \
    X(crypto, BIO *, BIO_new, (const BIO_METHOD *)) \
    X(crypto, int, BIO_free, (BIO *)) \
    X(crypto, void, BIO_set_data, (BIO *, void *)) \
    X(crypto, void *, BIO_get_data, (BIO *)) \
    X(crypto, void, BIO_set_init, (BIO *, int)) \
    X(crypto, void, BIO_set_flags, (BIO *, int)) \
    X(crypto, void, BIO_clear_flags, (BIO *, int))

#define CBROKER_TLS_POINTER(lib, ret, name, params) static ret (*p_##name) params;
CBROKER_TLS_FUNCTIONS(CBROKER_TLS_POINTER)

struct CBrokerTLS {
    SSL *ssl;
    int fd;
    /// errno of the last failed recv/send (0: none since the call began).
    int system_errno;
    /// More records follow the one being written: its send carries MSG_MORE (one segment, one
    /// wake-up of the peer for the whole batch instead of one per record).
    int more;
};

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_status = -1;
static char load_error[256] = "not loaded";
static BIO_METHOD *socket_method;

static void copy_text(char *buffer, size_t size, const char *text) {
    if (size == 0) return;
    snprintf(buffer, size, "%s", text);
}

// The socket BIO: recv/send with MSG_NOSIGNAL, EINTR retried, EAGAIN as "retry".
static int bio_write(BIO *bio, const char *data, int length) {
    struct CBrokerTLS *tls = p_BIO_get_data(bio);
    p_BIO_clear_flags(bio, BIO_FLAGS_READ | BIO_FLAGS_WRITE | BIO_FLAGS_IO_SPECIAL | BIO_FLAGS_SHOULD_RETRY);
    for (;;) {
        ssize_t sent = send(tls->fd, data, (size_t)length, MSG_NOSIGNAL | (tls->more ? MSG_MORE : 0));
        if (sent >= 0) return (int)sent;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            p_BIO_set_flags(bio, BIO_FLAGS_WRITE | BIO_FLAGS_SHOULD_RETRY);
        } else {
            tls->system_errno = errno;
        }
        return -1;
    }
}

static int bio_read(BIO *bio, char *data, int length) {
    struct CBrokerTLS *tls = p_BIO_get_data(bio);
    p_BIO_clear_flags(bio, BIO_FLAGS_READ | BIO_FLAGS_WRITE | BIO_FLAGS_IO_SPECIAL | BIO_FLAGS_SHOULD_RETRY);
    for (;;) {
        ssize_t got = recv(tls->fd, data, (size_t)length, 0);
        if (got >= 0) return (int)got;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            p_BIO_set_flags(bio, BIO_FLAGS_READ | BIO_FLAGS_SHOULD_RETRY);
        } else {
            tls->system_errno = errno;
        }
        return -1;
    }
}

static long bio_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)bio; (void)number; (void)pointer;
    return command == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *bio) {
    p_BIO_set_init(bio, 1);
    return 1;
}

static void load(void) {
    // BROKER_LIBSSL and BROKER_LIBCRYPTO name another build of OpenSSL 3 (a path or a file name).
    const char *ssl_name = getenv("BROKER_LIBSSL");
    const char *crypto_name = getenv("BROKER_LIBCRYPTO");
    if (ssl_name == NULL || ssl_name[0] == 0) ssl_name = "libssl.so.3";
    if (crypto_name == NULL || crypto_name[0] == 0) crypto_name = "libcrypto.so.3";
    void *ssl = dlopen(ssl_name, RTLD_NOW | RTLD_LOCAL);
    if (ssl == NULL) {
        snprintf(load_error, sizeof load_error, "cannot load OpenSSL 3 (%s): %s", ssl_name, dlerror());
        return;
    }
    void *crypto = dlopen(crypto_name, RTLD_NOW | RTLD_LOCAL);
    if (crypto == NULL) {
        snprintf(load_error, sizeof load_error, "cannot load OpenSSL 3 (%s): %s", crypto_name, dlerror());
        return;
    }
#define CBROKER_TLS_LOOKUP(lib, ret, name, params) \
    *(void **)(&p_##name) = dlsym(lib, #name); \
    if (p_##name == NULL) { \
        snprintf(load_error, sizeof load_error, "OpenSSL 3 lacks %s (is lib" #lib ".so.3 older than 3.0?)", #name); \
        return; \
    }
    CBROKER_TLS_FUNCTIONS(CBROKER_TLS_LOOKUP)
    if (p_OPENSSL_init_ssl(0, NULL) != 1) {
        copy_text(load_error, sizeof load_error, "OpenSSL 3 failed to initialize");
        return;
    }
    int index = p_BIO_get_new_index();
    socket_method = index < 0 ? NULL : p_BIO_meth_new(index | BIO_TYPE_SOURCE_SINK, "broker socket");
    if (socket_method == NULL || p_BIO_meth_set_write(socket_method, bio_write) != 1
        || p_BIO_meth_set_read(socket_method, bio_read) != 1 || p_BIO_meth_set_ctrl(socket_method, bio_ctrl) != 1
        || p_BIO_meth_set_create(socket_method, bio_create) != 1) {
        copy_text(load_error, sizeof load_error, "OpenSSL 3: cannot make the socket BIO");
        return;
    }
    load_status = 0;
}

int cbroker_tls_load(char *error, size_t size) {
    pthread_once(&load_once, load);
    if (load_status != 0) copy_text(error, size, load_error);
    return load_status;
}

/// The first error of OpenSSL's error queue of this thread (the root cause; what follows it
/// only says which layers it crossed) as text; the queue is emptied.
static void queue_text(char *buffer, size_t size, const char *fallback) {
    if (size == 0) return;
    unsigned long first = p_ERR_get_error();
    while (p_ERR_get_error() != 0) {}
    if (first == 0) {
        copy_text(buffer, size, fallback);
        return;
    }
    p_ERR_error_string_n(first, buffer, size);
}

static SSL_CTX *new_context(const SSL_METHOD *method, char *error, size_t size) {
    p_ERR_clear_error();
    SSL_CTX *context = p_SSL_CTX_new(method);
    if (context == NULL) {
        queue_text(error, size, "cannot make a TLS context");
        return NULL;
    }
    p_SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
    p_SSL_CTX_ctrl(context, SSL_CTRL_MODE, connection_modes, NULL);
    p_SSL_CTX_set_options(context, context_options);
    return context;
}

static void *fail(SSL_CTX *context, char *error, size_t size, const char *what, const char *file) {
    char reason[512];
    queue_text(reason, sizeof reason, "no reason given");
    snprintf(error, size, "%s %s: %s", what, file, reason);
    p_SSL_CTX_free(context);
    return NULL;
}

void *cbroker_tls_server_context(const char *cert_file, const char *key_file, const char *client_ca_file,
                                 char *error, size_t size) {
    if (cbroker_tls_load(error, size) != 0) return NULL;
    SSL_CTX *context = new_context(p_TLS_server_method(), error, size);
    if (context == NULL) return NULL;
    if (p_SSL_CTX_use_certificate_chain_file(context, cert_file) != 1)
        return fail(context, error, size, "cannot use the certificate of", cert_file);
    if (p_SSL_CTX_use_PrivateKey_file(context, key_file, SSL_FILETYPE_PEM) != 1)
        return fail(context, error, size, "cannot use the private key of", key_file);
    if (p_SSL_CTX_check_private_key(context) != 1)
        return fail(context, error, size, "the private key does not match the certificate:", key_file);
    static const unsigned char session_context[] = "broker";
    p_SSL_CTX_set_session_id_context(context, session_context, sizeof session_context - 1);
    p_SSL_CTX_set_num_tickets(context, 0);
    if (client_ca_file != NULL) {
        if (p_SSL_CTX_load_verify_locations(context, client_ca_file, NULL) != 1)
            return fail(context, error, size, "cannot use the client CA certificates of", client_ca_file);
        STACK_OF_X509_NAME *names = p_SSL_load_client_CA_file(client_ca_file);
        if (names != NULL) p_SSL_CTX_set_client_CA_list(context, names);
        p_SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return context;
}

void *cbroker_tls_client_context(const char *ca_file, const char *cert_file, const char *key_file, int verify,
                                 char *error, size_t size) {
    if (cbroker_tls_load(error, size) != 0) return NULL;
    SSL_CTX *context = new_context(p_TLS_client_method(), error, size);
    if (context == NULL) return NULL;
    if (ca_file != NULL) {
        if (p_SSL_CTX_load_verify_locations(context, ca_file, NULL) != 1)
            return fail(context, error, size, "cannot use the CA certificates of", ca_file);
    } else if (p_SSL_CTX_set_default_verify_paths(context) != 1) {
        return fail(context, error, size, "cannot use the system's CA certificates", "");
    }
    if (cert_file != NULL && key_file != NULL) {
        if (p_SSL_CTX_use_certificate_chain_file(context, cert_file) != 1)
            return fail(context, error, size, "cannot use the certificate of", cert_file);
        if (p_SSL_CTX_use_PrivateKey_file(context, key_file, SSL_FILETYPE_PEM) != 1)
            return fail(context, error, size, "cannot use the private key of", key_file);
        if (p_SSL_CTX_check_private_key(context) != 1)
            return fail(context, error, size, "the private key does not match the certificate:", key_file);
    }
    p_SSL_CTX_set_verify(context, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    return context;
}

void cbroker_tls_context_free(void *context) {
    p_SSL_CTX_free(context);
}

CBrokerTLS *cbroker_tls_new(void *context, int fd, int server, const char *host_name) {
    struct CBrokerTLS *tls = calloc(1, sizeof *tls);
    if (tls == NULL) return NULL;
    tls->fd = fd;
    p_ERR_clear_error();
    tls->ssl = p_SSL_new(context);
    BIO *bio = tls->ssl == NULL ? NULL : p_BIO_new(socket_method);
    if (bio == NULL) {
        if (tls->ssl != NULL) p_SSL_free(tls->ssl);
        free(tls);
        return NULL;
    }
    p_BIO_set_data(bio, tls);
    p_SSL_set_bio(tls->ssl, bio, bio);  // one reference, taken by the SSL object
    if (server) {
        p_SSL_set_accept_state(tls->ssl);
    } else {
        p_SSL_set_connect_state(tls->ssl);
        if (host_name != NULL && host_name[0] != 0) {
            unsigned char address[16];
            int literal = inet_pton(AF_INET, host_name, address) == 1 || inet_pton(AF_INET6, host_name, address) == 1;
            if (literal) {
                p_X509_VERIFY_PARAM_set1_ip_asc(p_SSL_get0_param(tls->ssl), host_name);
            } else {
                p_SSL_ctrl(tls->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)host_name);
                p_SSL_set1_host(tls->ssl, host_name);
            }
        }
    }
    return tls;
}

void cbroker_tls_set_fd(CBrokerTLS *tls, int fd) {
    tls->fd = fd;
}

void cbroker_tls_free(CBrokerTLS *tls) {
    p_SSL_free(tls->ssl);  // frees the BIO too
    free(tls);
}

/// What a call's result `value` (<= 0) means.
static int outcome(struct CBrokerTLS *tls, int value) {
    switch (p_SSL_get_error(tls->ssl, value)) {
    case SSL_ERROR_WANT_READ: return CBROKER_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return CBROKER_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return CBROKER_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        // No system error and nothing in the queue: the peer closed the connection.
        if (tls->system_errno == 0) {
            char unused[8];
            queue_text(unused, sizeof unused, "");
            if (unused[0] == 0) return CBROKER_TLS_CLOSED;
        }
        return CBROKER_TLS_FAILED;
    default: return CBROKER_TLS_FAILED;
    }
}

static void begin_call(struct CBrokerTLS *tls) {
    p_ERR_clear_error();
    tls->system_errno = 0;
}

int cbroker_tls_handshake(CBrokerTLS *tls) {
    begin_call(tls);
    int value = p_SSL_do_handshake(tls->ssl);
    return value == 1 ? 1 : outcome(tls, value);
}

int cbroker_tls_read(CBrokerTLS *tls, void *buffer, int size) {
    begin_call(tls);
    int value = p_SSL_read(tls->ssl, buffer, size);
    return value > 0 ? value : outcome(tls, value);
}

int cbroker_tls_write(CBrokerTLS *tls, const void *buffer, int size, int more) {
    begin_call(tls);
    tls->more = more;
    int value = p_SSL_write(tls->ssl, buffer, size);
    tls->more = 0;
    return value > 0 ? value : outcome(tls, value);
}

int cbroker_tls_pending(CBrokerTLS *tls) {
    return p_SSL_pending(tls->ssl);
}

void cbroker_tls_shutdown(CBrokerTLS *tls) {
    begin_call(tls);
    p_SSL_shutdown(tls->ssl);
    p_ERR_clear_error();
}

int cbroker_tls_peer_common_name(CBrokerTLS *tls, char *buffer, int size) {
    X509 *certificate = p_SSL_get1_peer_certificate(tls->ssl);
    if (certificate == NULL) return -1;
    int length = -1;
    if (p_SSL_get_verify_result(tls->ssl) == X509_V_OK) {
        X509_NAME *subject = p_X509_get_subject_name(certificate);
        if (subject != NULL) length = p_X509_NAME_get_text_by_NID(subject, NID_commonName, buffer, size);
    }
    p_X509_free(certificate);
    return length;
}

void cbroker_tls_description(CBrokerTLS *tls, char *buffer, size_t size) {
    const SSL_CIPHER *cipher = p_SSL_get_current_cipher(tls->ssl);
    snprintf(buffer, size, "%s %s", p_SSL_get_version(tls->ssl), cipher == NULL ? "(none)" : p_SSL_CIPHER_get_name(cipher));
}

void cbroker_tls_error_text(CBrokerTLS *tls, char *buffer, size_t size) {
    if (size == 0) return;
    char queue[512];
    queue_text(queue, sizeof queue, "");
    long verify = tls == NULL ? X509_V_OK : p_SSL_get_verify_result(tls->ssl);
    if (verify != X509_V_OK) {
        snprintf(buffer, size, "certificate verification failed: %s%s%s", p_X509_verify_cert_error_string(verify),
                 queue[0] ? " (" : "", queue[0] ? queue : "");
        if (queue[0]) strncat(buffer, ")", size - strlen(buffer) - 1);
    } else if (queue[0] != 0) {
        copy_text(buffer, size, queue);
    } else if (tls != NULL && tls->system_errno != 0) {
        char text[128];
        snprintf(buffer, size, "%s", strerror_r(tls->system_errno, text, sizeof text));
    } else {
        copy_text(buffer, size, "the connection ended");
    }
}
