// gRPC C core server shim: one notification queue polled by ngs_server_run, one thread and one pluck queue per
// call. See grpc_shim.h for the contract.
#define _GNU_SOURCE
#include "grpc_shim.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

struct ngs_server {
  grpc_server *server;
  grpc_completion_queue *queue;
  atomic_int shutting_down;
  int shutdown_complete;
  char *unix_path;
  pthread_mutex_t lock;
  pthread_cond_t idle;
  int in_flight;
  ngs_handler_fn handler;
  void *context;
  char shutdown_tag;
  char *expected_authorization;  // "Bearer <token>", or NULL when calls need no token
};

typedef struct pending_call {
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array metadata;
  grpc_completion_queue *call_queue;
} pending_call;

struct ngs_call {
  ngs_server *server;
  grpc_call *call;
  grpc_completion_queue *queue;
  char *method;
  grpc_slice request;   // the whole request message, as the C core received it (no copy when it is one slice)
  int has_request;
  grpc_slice response;  // a response message the handler packed in place (ngs_call_response_buffer)
  int has_response;
  int initial_metadata_sent;
  int finished;
  int close_received;
  int cancelled;
  int authorized;
  pthread_mutex_t lock;
  char recv_tag, close_tag, send_tag;
  struct ngs_call *next;  // in the queue of calls waiting for an idle thread
};

static void set_error(char *error, size_t error_len, const char *format, const char *detail) {
  if (error && error_len > 0) snprintf(error, error_len, format, detail);
}

static gpr_timespec after_ms(int ms) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

static grpc_event pluck(grpc_completion_queue *queue, void *tag, gpr_timespec deadline) {
  return grpc_completion_queue_pluck(queue, tag, deadline, NULL);
}

static void drain_and_destroy(grpc_completion_queue *queue, int is_pluck) {
  grpc_completion_queue_shutdown(queue);
  for (;;) {
    grpc_event event = is_pluck ? pluck(queue, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC))
                                : grpc_completion_queue_next(queue, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (event.type == GRPC_QUEUE_SHUTDOWN) break;
  }
  grpc_completion_queue_destroy(queue);
}

void ngs_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

int ngs_prepare_unix_socket(const char *path, char *error, size_t error_len) {
  struct sockaddr_un address;
  if (strlen(path) >= sizeof(address.sun_path)) {
    set_error(error, error_len, "socket path is too long for a Unix socket (at most 107 bytes): %s", path);
    return -1;
  }
  struct stat info;
  if (lstat(path, &info) != 0) {
    if (errno == ENOENT) return 0;
    set_error(error, error_len, "cannot inspect socket path %s", path);
    return -1;
  }
  if (!S_ISSOCK(info.st_mode)) {
    set_error(error, error_len, "%s exists and is not a socket; choose another --socket path", path);
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) {
    set_error(error, error_len, "cannot create a Unix socket to probe %s", path);
    return -1;
  }
  memset(&address, 0, sizeof(address));
  address.sun_family = AF_UNIX;
  strcpy(address.sun_path, path);
  int connected = connect(fd, (struct sockaddr *)&address, sizeof(address)) == 0;
  int connect_errno = errno;
  close(fd);
  if (connected) {
    set_error(error, error_len, "another process is already listening on %s; stop it or choose another --socket path",
              path);
    return -1;
  }
  if (connect_errno == ECONNREFUSED && unlink(path) == 0) return 0;
  set_error(error, error_len, "cannot reuse the stale socket %s; remove it by hand", path);
  return -1;
}

ngs_server *ngs_server_start(const char *address, size_t max_message_bytes, int *bound_port, char *error,
                             size_t error_len) {
  int is_unix = strncmp(address, "unix:", 5) == 0;
  grpc_init();

  grpc_arg args[5];
  memset(args, 0, sizeof(args));
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = max_message_bytes > 0x7fffffff ? 0x7fffffff : (int)max_message_bytes;
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
  args[1].value.integer = -1;
  // Tensors of megabytes arrive in one go: a receive window that holds a whole request (instead of 64 KiB,
  // answered by a window update every 64 KiB) and frames up to the HTTP/2 maximum.
  args[2].type = GRPC_ARG_INTEGER;
  args[2].key = GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES;
  args[2].value.integer = 64 << 20;
  args[3].type = GRPC_ARG_INTEGER;
  args[3].key = GRPC_ARG_HTTP2_MAX_FRAME_SIZE;
  args[3].value.integer = (1 << 24) - 1;
  // No bandwidth-delay probes: the receive window above is already as large as a request can be, and each probe
  // is a PING the client must wake up to answer, often in the middle of a Denoise round trip.
  args[4].type = GRPC_ARG_INTEGER;
  args[4].key = GRPC_ARG_HTTP2_BDP_PROBE;
  args[4].value.integer = 0;
  grpc_channel_args channel_args = {5, args};

  ngs_server *server = calloc(1, sizeof(ngs_server));
  pthread_mutex_init(&server->lock, NULL);
  pthread_cond_init(&server->idle, NULL);
  server->server = grpc_server_create(&channel_args, NULL);
  server->queue = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(server->server, server->queue, NULL);

  grpc_server_credentials *credentials = grpc_insecure_server_credentials_create();
  mode_t previous_mask = is_unix ? umask(0077) : 0;
  int port = grpc_server_add_http2_port(server->server, address, credentials);
  if (is_unix) umask(previous_mask);
  grpc_server_credentials_release(credentials);
  if (port == 0) {
    set_error(error, error_len, "cannot listen on %s (address in use, or not a valid address)", address);
    grpc_server_destroy(server->server);
    drain_and_destroy(server->queue, 0);
    free(server);
    return NULL;
  }
  if (is_unix) {
    const char *path = address + 5;
    while (path[0] == '/' && path[1] == '/') path++;
    server->unix_path = strdup(path);
    chmod(server->unix_path, 0600);
  }
  grpc_server_start(server->server);
  if (bound_port) *bound_port = port;
  return server;
}

static pending_call *request_call(ngs_server *server) {
  pending_call *pending = calloc(1, sizeof(pending_call));
  grpc_call_details_init(&pending->details);
  grpc_metadata_array_init(&pending->metadata);
  pending->call_queue = grpc_completion_queue_create_for_pluck(NULL);
  grpc_call_error result = grpc_server_request_call(server->server, &pending->call, &pending->details,
                                                    &pending->metadata, pending->call_queue, server->queue, pending);
  if (result != GRPC_CALL_OK) {
    grpc_call_details_destroy(&pending->details);
    grpc_metadata_array_destroy(&pending->metadata);
    drain_and_destroy(pending->call_queue, 1);
    free(pending);
    return NULL;
  }
  return pending;
}

static void start_batch(ngs_call *call, const grpc_op *ops, size_t count, void *tag) {
  grpc_call_error result = grpc_call_start_batch(call->call, ops, count, tag, NULL);
  if (result != GRPC_CALL_OK) {
    fprintf(stderr, "nucleus-engine: grpc_call_start_batch failed: %s\n", grpc_call_error_to_string(result));
  }
}

static int run_batch(ngs_call *call, const grpc_op *ops, size_t count, void *tag) {
  if (grpc_call_start_batch(call->call, ops, count, tag, NULL) != GRPC_CALL_OK) return -1;
  grpc_event event = pluck(call->queue, tag, gpr_inf_future(GPR_CLOCK_MONOTONIC));
  return event.type == GRPC_OP_COMPLETE && event.success ? 0 : -1;
}

static void receive_request(ngs_call *call) {
  grpc_byte_buffer *buffer = NULL;
  grpc_op op;
  memset(&op, 0, sizeof(op));
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &buffer;
  if (run_batch(call, &op, 1, &call->recv_tag) != 0 || buffer == NULL) return;
  grpc_byte_buffer_reader reader;
  if (grpc_byte_buffer_reader_init(&reader, buffer)) {
    // One plain slice for the whole message (the reader decompresses): a reference when it arrived as one slice,
    // a single merge copy otherwise. The buffer is freed at once, so the message is held once.
    call->request = grpc_byte_buffer_reader_readall(&reader);
    call->has_request = 1;
    grpc_byte_buffer_reader_destroy(&reader);
  }
  grpc_byte_buffer_destroy(buffer);
}

void ngs_server_require_token(ngs_server *server, const char *token) {
  free(server->expected_authorization);
  size_t length = strlen("Bearer ") + strlen(token) + 1;
  server->expected_authorization = malloc(length);
  snprintf(server->expected_authorization, length, "Bearer %s", token);
}

// Compares in time that depends only on the expected value's length, so the answer time tells nothing about
// how much of a guess was right.
static int constant_time_equal(const uint8_t *given, size_t given_length, const char *expected) {
  size_t expected_length = strlen(expected);
  volatile unsigned char difference = given_length != expected_length;
  for (size_t i = 0; i < expected_length; i++) {
    unsigned char byte = i < given_length ? given[i] : 0;
    difference |= byte ^ (unsigned char)expected[i];
  }
  return difference == 0;
}

static int is_authorized(const ngs_server *server, const grpc_metadata_array *metadata) {
  if (server->expected_authorization == NULL) return 1;
  int authorized = 0;
  for (size_t i = 0; i < metadata->count; i++) {
    const grpc_metadata *entry = &metadata->metadata[i];
    if (grpc_slice_str_cmp(entry->key, "authorization") != 0) continue;
    authorized |= constant_time_equal(GRPC_SLICE_START_PTR(entry->value), GRPC_SLICE_LENGTH(entry->value),
                                      server->expected_authorization);
  }
  return authorized;
}

static void *serve_call(void *argument) {
  ngs_call *call = argument;
  ngs_server *server = call->server;

  grpc_op close_op;
  memset(&close_op, 0, sizeof(close_op));
  close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  close_op.data.recv_close_on_server.cancelled = &call->cancelled;
  start_batch(call, &close_op, 1, &call->close_tag);

  if (call->authorized) {
    // An unauthorized caller's message is never read (it could be 512 MB).
    receive_request(call);
    server->handler(server->context, call);
  } else {
    ngs_call_finish(call, GRPC_STATUS_UNAUTHENTICATED,
                    "missing or wrong token: send the metadata 'authorization: Bearer <token>' with the token the "
                    "engine was started with (--token or NUCLEUS_ENGINE_TOKEN)",
                    NULL, 0);
  }
  if (!call->finished) ngs_call_finish(call, GRPC_STATUS_INTERNAL, "the engine ended the call without a status", NULL, 0);
  if (!call->close_received) pluck(call->queue, &call->close_tag, gpr_inf_future(GPR_CLOCK_MONOTONIC));

  grpc_call_unref(call->call);
  drain_and_destroy(call->queue, 1);
  if (call->has_request) grpc_slice_unref(call->request);
  if (call->has_response) grpc_slice_unref(call->response);
  gpr_free(call->method);
  pthread_mutex_destroy(&call->lock);
  free(call);

  pthread_mutex_lock(&server->lock);
  server->in_flight--;
  pthread_cond_broadcast(&server->idle);
  pthread_mutex_unlock(&server->lock);
  return NULL;
}

// Calls run on threads that are kept for the next call: starting a thread costs 0.1-0.3 ms on a virtual machine,
// a visible share of a sampling step's round trip. A call goes to an idle thread or gets a new one, so calls never
// wait for each other; a thread idle for a minute ends.
static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_wake = PTHREAD_COND_INITIALIZER;
static ngs_call *queued_first, *queued_last;
static int idle_threads, queued_calls;

static void *call_thread(void *argument) {
  ngs_call *call = argument;
  for (;;) {
    serve_call(call);
    pthread_mutex_lock(&idle_lock);
    idle_threads++;
    struct timespec give_up;
    clock_gettime(CLOCK_REALTIME, &give_up);
    give_up.tv_sec += 60;
    while (queued_first == NULL) {
      if (pthread_cond_timedwait(&idle_wake, &idle_lock, &give_up) == ETIMEDOUT) break;
    }
    idle_threads--;
    call = queued_first;
    if (call != NULL) {
      queued_first = call->next;
      if (queued_first == NULL) queued_last = NULL;
      queued_calls--;
    }
    pthread_mutex_unlock(&idle_lock);
    if (call == NULL) return NULL;
  }
}

// Queues `call` for an idle thread when one is free for it; 0 when every idle thread has a call already.
static int hand_to_idle_thread(ngs_call *call) {
  pthread_mutex_lock(&idle_lock);
  int handed = idle_threads > queued_calls;
  if (handed) {
    call->next = NULL;
    if (queued_last) queued_last->next = call;
    else queued_first = call;
    queued_last = call;
    queued_calls++;
    pthread_cond_signal(&idle_wake);
  }
  pthread_mutex_unlock(&idle_lock);
  return handed;
}

static void spawn_call(ngs_server *server, pending_call *pending) {
  ngs_call *call = calloc(1, sizeof(ngs_call));
  call->server = server;
  call->call = pending->call;
  call->queue = pending->call_queue;
  call->method = grpc_slice_to_c_string(pending->details.method);
  call->authorized = is_authorized(server, &pending->metadata);
  pthread_mutex_init(&call->lock, NULL);
  grpc_call_details_destroy(&pending->details);
  grpc_metadata_array_destroy(&pending->metadata);
  free(pending);

  pthread_mutex_lock(&server->lock);
  server->in_flight++;
  pthread_mutex_unlock(&server->lock);
  if (hand_to_idle_thread(call)) return;

  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  if (pthread_create(&thread, &attributes, call_thread, call) != 0) {
    fprintf(stderr, "nucleus-engine: cannot start a thread for %s\n", call->method);
    grpc_call_cancel_with_status(call->call, GRPC_STATUS_RESOURCE_EXHAUSTED, "engine cannot start a thread", NULL);
    serve_call(call);
  }
  pthread_attr_destroy(&attributes);
}

// Waits until no call is in flight or the deadline passes; returns 1 when idle.
static int wait_idle(ngs_server *server, int timeout_ms) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&server->lock);
  while (server->in_flight > 0) {
    if (pthread_cond_timedwait(&server->idle, &server->lock, &deadline) == ETIMEDOUT) break;
  }
  int idle = server->in_flight == 0;
  pthread_mutex_unlock(&server->lock);
  return idle;
}

void ngs_server_run(ngs_server *server, ngs_handler_fn handler, void *context, int grace_ms) {
  server->handler = handler;
  server->context = context;
  pending_call *outstanding = request_call(server);
  int cancelled_all = 0;
  gpr_timespec cancel_at = gpr_inf_future(GPR_CLOCK_MONOTONIC);
  gpr_timespec give_up_at = gpr_inf_future(GPR_CLOCK_MONOTONIC);

  for (;;) {
    int stopping = atomic_load(&server->shutting_down);
    gpr_timespec deadline = stopping ? after_ms(100) : gpr_inf_future(GPR_CLOCK_MONOTONIC);
    grpc_event event = grpc_completion_queue_next(server->queue, deadline, NULL);
    if (event.type == GRPC_OP_COMPLETE && event.tag == &server->shutdown_tag) {
      server->shutdown_complete = 1;
      break;
    }
    if (event.type == GRPC_OP_COMPLETE && event.tag == outstanding) {
      pending_call *arrived = outstanding;
      outstanding = NULL;
      if (event.success) {
        spawn_call(server, arrived);
      } else {
        grpc_call_details_destroy(&arrived->details);
        grpc_metadata_array_destroy(&arrived->metadata);
        drain_and_destroy(arrived->call_queue, 1);
        free(arrived);
      }
      if (!atomic_load(&server->shutting_down)) outstanding = request_call(server);
    }
    if (atomic_load(&server->shutting_down)) {
      gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
      if (gpr_time_cmp(cancel_at, gpr_inf_future(GPR_CLOCK_MONOTONIC)) == 0) {
        cancel_at = after_ms(grace_ms);
        give_up_at = after_ms(2 * grace_ms + 1000);
      }
      if (!cancelled_all && gpr_time_cmp(now, cancel_at) >= 0) {
        fprintf(stderr, "nucleus-engine: grace period over, cancelling %d call(s) still running\n",
                ngs_server_in_flight(server));
        grpc_server_cancel_all_calls(server->server);
        cancelled_all = 1;
      }
      if (gpr_time_cmp(now, give_up_at) >= 0) {
        fprintf(stderr, "nucleus-engine: calls still running after cancellation; exiting without waiting\n");
        return;
      }
    }
  }
  wait_idle(server, grace_ms + 1000);
}

void ngs_server_shutdown(ngs_server *server) {
  int expected = 0;
  if (atomic_compare_exchange_strong(&server->shutting_down, &expected, 1)) {
    grpc_server_shutdown_and_notify(server->server, server->queue, &server->shutdown_tag);
  }
}

int ngs_server_is_shutting_down(ngs_server *server) { return atomic_load(&server->shutting_down); }

int ngs_server_in_flight(ngs_server *server) {
  pthread_mutex_lock(&server->lock);
  int count = server->in_flight;
  pthread_mutex_unlock(&server->lock);
  return count;
}

// Shutdown signals are caught by a handler (whichever thread receives them: libraries such as OpenBLAS start
// threads before main, so blocking the signals in our threads alone is not enough) and passed through a pipe to
// a watcher thread, which does the work that is not async-signal-safe.
static int signal_pipe[2] = {-1, -1};

static void on_shutdown_signal(int number) {
  int saved = errno;
  unsigned char byte = (unsigned char)number;
  ssize_t ignored = write(signal_pipe[1], &byte, 1);
  (void)ignored;
  errno = saved;
}

static void *watch_signals(void *argument) {
  ngs_server *server = argument;
  int count = 0;
  for (;;) {
    unsigned char number = 0;
    ssize_t n = read(signal_pipe[0], &number, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (++count > 1) {
      fprintf(stderr, "nucleus-engine: second signal %d, exiting now\n", number);
      _exit(1);
    }
    fprintf(stderr, "nucleus-engine: signal %d, shutting down\n", number);
    ngs_server_shutdown(server);
  }
  return NULL;
}

static void *watch_stdin(void *argument) {
  ngs_server *server = argument;
  char buffer[256];
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  if (!ngs_server_is_shutting_down(server)) {
    fprintf(stderr, "nucleus-engine: standard input closed (parent gone), shutting down\n");
    ngs_server_shutdown(server);
  }
  return NULL;
}

static void start_detached(void *(*body)(void *), void *argument) {
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  pthread_create(&thread, &attributes, body, argument);
  pthread_attr_destroy(&attributes);
}

void ngs_server_watch_signals(ngs_server *server) {
  if (signal_pipe[0] < 0 && pipe(signal_pipe) != 0) {
    fprintf(stderr, "nucleus-engine: cannot create the signal pipe; signals will stop the engine abruptly\n");
    return;
  }
  start_detached(watch_signals, server);
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = on_shutdown_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, NULL);
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGHUP, &action, NULL);
}
void ngs_server_watch_stdin(ngs_server *server) { start_detached(watch_stdin, server); }

void ngs_server_destroy(ngs_server *server) {
  if (server->shutdown_complete && ngs_server_in_flight(server) == 0) {
    grpc_server_destroy(server->server);
    drain_and_destroy(server->queue, 0);
  }
  if (server->unix_path) {
    unlink(server->unix_path);
    free(server->unix_path);
  }
  free(server->expected_authorization);
}

const char *ngs_call_method(const ngs_call *call) { return call->method; }

const uint8_t *ngs_call_request(const ngs_call *call, size_t *length, int *has_message) {
  if (length) *length = call->has_request ? GRPC_SLICE_LENGTH(call->request) : 0;
  if (has_message) *has_message = call->has_request;
  return call->has_request ? GRPC_SLICE_START_PTR(call->request) : NULL;
}

uint8_t *ngs_call_response_buffer(ngs_call *call, size_t length) {
  if (call->has_response) grpc_slice_unref(call->response);
  call->response = grpc_slice_malloc(length);
  call->has_response = 1;
  return GRPC_SLICE_START_PTR(call->response);
}

static grpc_byte_buffer *byte_buffer_from(const uint8_t *data, size_t length) {
  grpc_slice slice = grpc_slice_from_copied_buffer((const char *)data, length);
  grpc_byte_buffer *buffer = grpc_raw_byte_buffer_create(&slice, 1);
  grpc_slice_unref(slice);
  return buffer;
}

static size_t add_initial_metadata(ngs_call *call, grpc_op *op) {
  if (call->initial_metadata_sent) return 0;
  memset(op, 0, sizeof(*op));
  op->op = GRPC_OP_SEND_INITIAL_METADATA;
  call->initial_metadata_sent = 1;
  return 1;
}

int ngs_call_send(ngs_call *call, const uint8_t *data, size_t length) {
  pthread_mutex_lock(&call->lock);
  if (call->finished) {
    pthread_mutex_unlock(&call->lock);
    return -1;
  }
  grpc_op ops[2];
  size_t count = add_initial_metadata(call, &ops[0]);
  grpc_byte_buffer *buffer = byte_buffer_from(data, length);
  memset(&ops[count], 0, sizeof(grpc_op));
  ops[count].op = GRPC_OP_SEND_MESSAGE;
  ops[count].data.send_message.send_message = buffer;
  count++;
  int result = run_batch(call, ops, count, &call->send_tag);
  grpc_byte_buffer_destroy(buffer);
  pthread_mutex_unlock(&call->lock);
  return result;
}

// Ends the call with a status and, when `message` is not NULL, a final message (whose reference it takes over).
static int finish_call(ngs_call *call, int status_code, const char *status_message, grpc_byte_buffer *message) {
  pthread_mutex_lock(&call->lock);
  if (call->finished) {
    pthread_mutex_unlock(&call->lock);
    if (message) grpc_byte_buffer_destroy(message);
    return -1;
  }
  call->finished = 1;
  grpc_op ops[3];
  size_t count = add_initial_metadata(call, &ops[0]);
  if (message != NULL) {
    memset(&ops[count], 0, sizeof(grpc_op));
    ops[count].op = GRPC_OP_SEND_MESSAGE;
    ops[count].data.send_message.send_message = message;
    count++;
  }
  grpc_slice details = grpc_slice_from_copied_string(status_message ? status_message : "");
  memset(&ops[count], 0, sizeof(grpc_op));
  ops[count].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[count].data.send_status_from_server.status = (grpc_status_code)status_code;
  ops[count].data.send_status_from_server.status_details = &details;
  count++;
  int result = run_batch(call, ops, count, &call->send_tag);
  grpc_slice_unref(details);
  if (message) grpc_byte_buffer_destroy(message);
  pthread_mutex_unlock(&call->lock);
  return result;
}

int ngs_call_finish(ngs_call *call, int status_code, const char *status_message, const uint8_t *data,
                    size_t length) {
  return finish_call(call, status_code, status_message, data != NULL ? byte_buffer_from(data, length) : NULL);
}

int ngs_call_finish_with_response_buffer(ngs_call *call, int status_code, const char *status_message) {
  if (!call->has_response) return finish_call(call, GRPC_STATUS_INTERNAL, "no response buffer was packed", NULL);
  // The byte buffer takes its own reference to the slice: the packed bytes go out without a copy.
  return finish_call(call, status_code, status_message, grpc_raw_byte_buffer_create(&call->response, 1));
}

int ngs_call_is_cancelled(ngs_call *call) {
  pthread_mutex_lock(&call->lock);
  if (!call->close_received) {
    grpc_event event = pluck(call->queue, &call->close_tag, gpr_inf_past(GPR_CLOCK_MONOTONIC));
    if (event.type == GRPC_OP_COMPLETE) call->close_received = 1;
  }
  int cancelled = call->close_received && call->cancelled;
  pthread_mutex_unlock(&call->lock);
  return cancelled;
}
