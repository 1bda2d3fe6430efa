// A small gRPC server over the gRPC C core, for Swift.
//
// It owns the transport only: listening, receiving each call's single request message, running a handler on a
// thread of its own per call, sending streamed messages and the final status, and graceful shutdown. Messages
// are opaque bytes here; the engine encodes and decodes them with protobuf-c.
#ifndef NUCLEUS_GRPC_SHIM_H
#define NUCLEUS_GRPC_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ngs_server ngs_server;
typedef struct ngs_call ngs_call;

// Called on a dedicated thread for every incoming call. The handler must end the call with ngs_call_finish.
typedef void (*ngs_handler_fn)(void *context, ngs_call *call);

// Ignores SIGPIPE (a client that goes away must not kill the engine). Call first thing in main.
void ngs_ignore_sigpipe(void);

// Checks a Unix socket path before binding: removes a stale socket nobody listens on, refuses a path that is in
// use or is not a socket. Returns 0, or -1 with a message in `error`.
int ngs_prepare_unix_socket(const char *path, char *error, size_t error_len);

// Creates and starts a server on `address` ("unix:/path" or "127.0.0.1:PORT"; port 0 picks a free port).
// A Unix socket is created with mode 0600. Returns NULL with a message in `error` on failure.
ngs_server *ngs_server_start(const char *address, size_t max_message_bytes, int *bound_port, char *error,
                             size_t error_len);

// Requires every call to carry the metadata "authorization: Bearer <token>" (compared in constant time); calls
// without it end with UNAUTHENTICATED before the handler runs. Call before ngs_server_run.
void ngs_server_require_token(ngs_server *server, const char *token);

// Serves calls until shutdown completes. In-flight calls get `grace_ms` to finish, then are cancelled.
void ngs_server_run(ngs_server *server, ngs_handler_fn handler, void *context, int grace_ms);

// Begins a graceful shutdown; thread-safe and idempotent. ngs_server_run returns once it completes.
void ngs_server_shutdown(ngs_server *server);
int ngs_server_is_shutting_down(ngs_server *server);
int ngs_server_in_flight(ngs_server *server);

// Shuts the server down gracefully on SIGTERM, SIGINT or SIGHUP (a second signal exits at once).
void ngs_server_watch_signals(ngs_server *server);
// Starts a thread that shuts the server down when standard input reaches end of file (the parent died).
void ngs_server_watch_stdin(ngs_server *server);
// Frees the server after ngs_server_run returned (and removes its Unix socket file).
void ngs_server_destroy(ngs_server *server);

// The full method path, e.g. "/nucleus.engine.v1.Engine/GetInfo".
const char *ngs_call_method(const ngs_call *call);
// The request message as received (valid until the call ends); has_message is 0 when the client sent none.
const uint8_t *ngs_call_request(const ngs_call *call, size_t *length, int *has_message);
// A buffer of `length` bytes owned by the call, for packing the final response message in place (a second call
// replaces the first buffer); ngs_call_finish_with_response_buffer sends it without a copy.
uint8_t *ngs_call_response_buffer(ngs_call *call, size_t length);
// Sends one message of a server-streaming call. Returns 0, or -1 when the call is gone (cancelled, peer closed).
int ngs_call_send(ngs_call *call, const uint8_t *data, size_t length);
// Ends the call with a status (0 = OK) and an optional final message (data may be NULL). Returns 0 or -1.
int ngs_call_finish(ngs_call *call, int status_code, const char *status_message, const uint8_t *data,
                    size_t length);
// Ends the call with a status and the message packed into ngs_call_response_buffer.
int ngs_call_finish_with_response_buffer(ngs_call *call, int status_code, const char *status_message);
// 1 once the client cancelled the call, its deadline passed or the connection broke.
int ngs_call_is_cancelled(ngs_call *call);

#ifdef __cplusplus
}
#endif

#endif
