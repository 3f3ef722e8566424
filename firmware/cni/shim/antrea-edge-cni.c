/*
 * antrea-edge-cni: the CNI plugin executable a container runtime execs for every pod network operation.
 *
 * It only forwards. The CNI_* environment and the network config on stdin go to the antrea-edge agent's CNI
 * server over a unix socket as one JSON line; the agent runs the CNI spec's logic (firmware/cni/cni-spec.ts)
 * and answers "{"exitCode":N}\n" followed by the exact bytes to print on stdout, then closes. This program
 * answers only VERSION and the errors of reaching the agent itself, byte for byte like its TypeScript twin
 * firmware/cni/plugin.ts (test/integration/cni-plugin.test.ts runs every case through both).
 * It exists because starting Node.js for each call costs ~100 ms here and ~300 ms on a Raspberry Pi.
 *
 * Build: cc -std=c99 -O2 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -o antrea-edge-cni antrea-edge-cni.c
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Same text as JSON.stringify(versionResult()) in cni-spec.ts; the integration test compares them. */
#define VERSION_RESULT \
  "{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\"]}\n"
#define CURRENT_CNI_VERSION "1.0.0"
#define DEFAULT_SOCKET_PATH "/var/run/antrea-edge/cni.sock"
#define SOCKET_ENV "ANTREA_EDGE_CNI_SOCKET"
#define TIMEOUT_ENV "ANTREA_EDGE_CNI_TIMEOUT_MS"
#define DEFAULT_TIMEOUT_MS 120000
#define MAX_TIMEOUT_DIGITS 9
#define MAX_CONFIG_BYTES ((size_t)1024 * 1024)
#define MAX_REPLY_BYTES ((size_t)1024 * 1024)
#define REPLY_PREFIX "{\"exitCode\":"

enum { ERR_INVALID_ENV = 4, ERR_IO = 5, ERR_TRY_AGAIN = 11, ERR_AGENT_UNREACHABLE = 100, ERR_INTERNAL = 999 };

static const char *const FORWARDED_ENV[] = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS",
                                            "CNI_IFNAME",  "CNI_ARGS",        "CNI_PATH"};

struct buf {
  char *data;
  size_t len;
  size_t cap;
};

struct shim {
  struct buf config;      /* stdin as read */
  struct buf cni_version; /* stamped on errors */
  struct buf socket_path; /* may hold NUL bytes when decoded from JSON; checked before connect() */
  struct buf request;
  struct buf reply;
  int error_code; /* 0 while nothing failed */
  struct buf error_msg;
  struct buf error_details;
};

static int buf_reserve(struct buf *b, size_t extra) {
  size_t cap;
  char *grown;
  if (extra > SIZE_MAX - b->len) return -1;
  if (b->len + extra <= b->cap) return 0;
  cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra) cap = cap > SIZE_MAX / 2 ? b->len + extra : cap * 2;
  grown = realloc(b->data, cap);
  if (grown == NULL) return -1;
  b->data = grown;
  b->cap = cap;
  return 0;
}

static int buf_append(struct buf *b, const char *s, size_t n) {
  if (n == 0) return 0;
  if (buf_reserve(b, n) != 0) return -1;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

static int buf_puts(struct buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

static int buf_putc(struct buf *b, char c) { return buf_append(b, &c, 1); }

static int buf_put_long(struct buf *b, long value) {
  char digits[24];
  int n = snprintf(digits, sizeof digits, "%ld", value);
  return n < 0 ? -1 : buf_append(b, digits, (size_t)n);
}

static void buf_free(struct buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* JSON string body exactly as JSON.stringify writes it; bytes >= 0x80 pass through for the agent to decode. */
static int json_escape(struct buf *out, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[6] = {'\\', 'u', '0', '0', 0, 0};
    switch (c) {
      case '"': esc = "\\\""; break;
      case '\\': esc = "\\\\"; break;
      case '\b': esc = "\\b"; break;
      case '\f': esc = "\\f"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      default: break;
    }
    if (esc != NULL) {
      if (buf_puts(out, esc) != 0) return -1;
    } else if (c < 0x20) {
      u[4] = hex[c >> 4];
      u[5] = hex[c & 15];
      if (buf_append(out, u, sizeof u) != 0) return -1;
    } else if (buf_putc(out, (char)c) != 0) {
      return -1;
    }
  }
  return 0;
}

static int json_string(struct buf *out, const char *s, size_t n) {
  if (buf_putc(out, '"') != 0 || json_escape(out, s, n) != 0) return -1;
  return buf_putc(out, '"');
}

/* Node.js reports errno values by these names; the error details must read the same from both plugins. */
static const char *errno_name(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOTDIR: return "ENOTDIR";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case EPROTOTYPE: return "EPROTOTYPE";
    case ENOTSOCK: return "ENOTSOCK";
    case ECONNRESET: return "ECONNRESET";
    case EPIPE: return "EPIPE";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENOMEM: return "ENOMEM";
    case EBADF: return "EBADF";
    case EIO: return "EIO";
    default: {
      static char unknown[32];
      snprintf(unknown, sizeof unknown, "errno %d", err);
      return unknown;
    }
  }
}

/* Records the first failure; later ones (usually consequences) are ignored. Always returns -1. */
static int fail(struct shim *sh, int code, const char *msg) {
  if (sh->error_code != 0) return -1;
  sh->error_code = code;
  sh->error_msg.len = sh->error_details.len = 0;
  if (buf_puts(&sh->error_msg, msg) != 0) sh->error_msg.len = 0;
  return -1;
}

/* Appends to the error's details; without memory they are dropped rather than cut short. */
static void add_details(struct shim *sh, const char *piece, size_t piece_len) {
  if (buf_append(&sh->error_details, piece, piece_len) != 0) sh->error_details.len = 0;
}
#define ADD_DETAILS_LITERAL(sh, literal) add_details((sh), (literal), sizeof(literal) - 1)

static int out_of_memory(struct shim *sh) { return fail(sh, ERR_INTERNAL, "out of memory"); }

static int cannot_connect(struct shim *sh, int err) {
  const char *name = errno_name(err);
  int try_again = err == ENOENT || err == ECONNREFUSED;
  /* No socket file or nobody listening: the agent is not running yet (boot, restart). The spec's code 11 tells
   * the runtime to retry later instead of treating the pod as misconfigured. */
  fail(sh, try_again ? ERR_TRY_AGAIN : ERR_AGENT_UNREACHABLE,
       try_again ? "antrea-edge agent is not running or not ready" : "cannot talk to the antrea-edge agent");
  ADD_DETAILS_LITERAL(sh, "cannot connect to ");
  add_details(sh, sh->socket_path.data, sh->socket_path.len);
  ADD_DETAILS_LITERAL(sh, " (");
  add_details(sh, name, strlen(name));
  if (try_again) ADD_DETAILS_LITERAL(sh, "); the agent creates this socket when it starts");
  else ADD_DETAILS_LITERAL(sh, ")");
  return -1;
}

static int timed_out(struct shim *sh, int timeout_ms) {
  struct buf ms = {0};
  fail(sh, ERR_AGENT_UNREACHABLE, "the antrea-edge agent did not answer in time");
  ADD_DETAILS_LITERAL(sh, "no reply on ");
  add_details(sh, sh->socket_path.data, sh->socket_path.len);
  ADD_DETAILS_LITERAL(sh, " within ");
  if (buf_put_long(&ms, timeout_ms) == 0) add_details(sh, ms.data, ms.len);
  buf_free(&ms);
  ADD_DETAILS_LITERAL(sh, " ms; the operation may still complete in the agent");
  return -1;
}

static int connection_lost(struct shim *sh, int err) {
  const char *name = errno_name(err);
  fail(sh, ERR_AGENT_UNREACHABLE, "lost the connection to the antrea-edge agent");
  ADD_DETAILS_LITERAL(sh, "socket ");
  add_details(sh, sh->socket_path.data, sh->socket_path.len);
  ADD_DETAILS_LITERAL(sh, ": ");
  add_details(sh, name, strlen(name));
  return -1;
}

static int malformed_reply(struct shim *sh, const char *why) {
  fail(sh, ERR_AGENT_UNREACHABLE, "malformed reply from the antrea-edge agent");
  add_details(sh, why, strlen(why));
  return -1;
}

static int read_config(struct shim *sh) {
  struct buf *in = &sh->config;
  for (;;) {
    size_t room;
    ssize_t n;
    if (buf_reserve(in, 64 * 1024) != 0) return out_of_memory(sh);
    /* One byte past the limit is enough to know that it was exceeded. */
    room = in->cap - in->len;
    if (room > MAX_CONFIG_BYTES + 1 - in->len) room = MAX_CONFIG_BYTES + 1 - in->len;
    n = read(STDIN_FILENO, in->data + in->len, room);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) { /* the runtime may hand us a non-blocking pipe */
        struct pollfd pfd;
        pfd.fd = STDIN_FILENO;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, -1) >= 0 || errno == EINTR) continue;
        err = errno;
      }
      fail(sh, ERR_IO, "error reading network config from stdin");
      add_details(sh, errno_name(err), strlen(errno_name(err)));
      return -1;
    }
    if (n == 0) return 0;
    in->len += (size_t)n;
    if (in->len > MAX_CONFIG_BYTES) return fail(sh, ERR_IO, "network config on stdin exceeds 1048576 bytes");
  }
}

/* ---- peekNetConf's twin: a JSON validator that keeps two top-level strings ---- */

struct scanner {
  const unsigned char *p;
  const unsigned char *end;
};

enum { SCAN_OK = 0, SCAN_INVALID = -1, SCAN_NO_MEMORY = -2 };

static void skip_ws(struct scanner *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static int read_hex4(struct scanner *s, unsigned *out) {
  int i;
  *out = 0;
  if (s->end - s->p < 4) return SCAN_INVALID;
  for (i = 0; i < 4; i++) {
    unsigned char c = *s->p++;
    unsigned digit;
    if (c >= '0' && c <= '9') digit = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') digit = (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') digit = (unsigned)(c - 'A' + 10);
    else return SCAN_INVALID;
    *out = *out << 4 | digit;
  }
  return SCAN_OK;
}

static int put_utf8(struct buf *out, unsigned cp) {
  char b[4];
  size_t n;
  if (cp < 0x80) { b[0] = (char)cp; n = 1; }
  else if (cp < 0x800) { b[0] = (char)(0xC0 | cp >> 6); b[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
  else if (cp < 0x10000) {
    b[0] = (char)(0xE0 | cp >> 12); b[1] = (char)(0x80 | (cp >> 6 & 0x3F)); b[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
  } else {
    b[0] = (char)(0xF0 | cp >> 18); b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    b[2] = (char)(0x80 | (cp >> 6 & 0x3F)); b[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
  }
  return buf_append(out, b, n) == 0 ? SCAN_OK : SCAN_NO_MEMORY;
}

/* Scans the string at s->p (its opening quote), decoding it into out unless out is NULL. A lone surrogate
 * decodes to U+FFFD, which is also how Node.js encodes one in a socket path. */
static int scan_string(struct scanner *s, struct buf *out) {
  if (s->p >= s->end || *s->p != '"') return SCAN_INVALID;
  s->p++;
  while (s->p < s->end) {
    unsigned char c = *s->p++;
    unsigned cp;
    if (c == '"') return SCAN_OK;
    if (c < 0x20) return SCAN_INVALID;
    if (c != '\\') {
      if (out != NULL && buf_putc(out, (char)c) != 0) return SCAN_NO_MEMORY;
      continue;
    }
    if (s->p >= s->end) return SCAN_INVALID;
    switch (c = *s->p++) {
      case '"': case '\\': case '/': cp = c; break;
      case 'b': cp = '\b'; break;
      case 'f': cp = '\f'; break;
      case 'n': cp = '\n'; break;
      case 'r': cp = '\r'; break;
      case 't': cp = '\t'; break;
      case 'u':
        if (read_hex4(s, &cp) != SCAN_OK) return SCAN_INVALID;
        if (cp >= 0xD800 && cp <= 0xDBFF && s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u') {
          struct scanner ahead = {s->p + 2, s->end};
          unsigned low;
          if (read_hex4(&ahead, &low) != SCAN_OK) return SCAN_INVALID;
          if (low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            s->p = ahead.p;
          }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        break;
      default: return SCAN_INVALID;
    }
    if (out != NULL && put_utf8(out, cp) != SCAN_OK) return SCAN_NO_MEMORY;
  }
  return SCAN_INVALID;
}

static int scan_digits(struct scanner *s) {
  const unsigned char *start = s->p;
  while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
  return s->p > start ? SCAN_OK : SCAN_INVALID;
}

static int scan_scalar(struct scanner *s) {
  static const char *const literals[] = {"true", "false", "null"};
  size_t i;
  for (i = 0; i < sizeof literals / sizeof literals[0]; i++) {
    size_t n = strlen(literals[i]);
    if ((size_t)(s->end - s->p) >= n && memcmp(s->p, literals[i], n) == 0) {
      s->p += n;
      return SCAN_OK;
    }
  }
  if (s->p < s->end && *s->p == '-') s->p++;
  if (s->p < s->end && *s->p == '0') s->p++;
  else if (s->p >= s->end || *s->p < '1' || *s->p > '9' || scan_digits(s) != SCAN_OK) return SCAN_INVALID;
  if (s->p < s->end && *s->p == '.') {
    s->p++;
    if (scan_digits(s) != SCAN_OK) return SCAN_INVALID;
  }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
    s->p++;
    if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
    if (scan_digits(s) != SCAN_OK) return SCAN_INVALID;
  }
  return SCAN_OK;
}

struct peek {
  struct buf key, version, socket;
  int has_version, has_socket;
};

/* An object member's key and colon; at depth 1 decides which of the two settings its value fills. */
static int scan_key(struct scanner *s, size_t depth, struct peek *pk, struct buf **target, int **found) {
  int rc;
  *target = NULL;
  *found = NULL;
  pk->key.len = 0;
  skip_ws(s);
  if ((rc = scan_string(s, depth == 1 ? &pk->key : NULL)) != SCAN_OK) return rc;
  skip_ws(s);
  if (s->p >= s->end || *s->p != ':') return SCAN_INVALID;
  s->p++;
  if (depth == 1 && pk->key.len == 10 && memcmp(pk->key.data, "cniVersion", 10) == 0) {
    *target = &pk->version;
    *found = &pk->has_version;
  } else if (depth == 1 && pk->key.len == 9 && memcmp(pk->key.data, "cniSocket", 9) == 0) {
    *target = &pk->socket;
    *found = &pk->has_socket;
  }
  return SCAN_OK;
}

/* Validates the whole input as JSON.parse would, without recursion (depth is bounded by the input only). The
 * last duplicate key wins, and a non-string value unsets the setting, as with JSON.parse and peekNetConf. */
static int scan_config(struct scanner *s, char *stack, struct peek *pk) {
  size_t depth = 0;
  struct buf *target = NULL;
  int *found = NULL;
  int rc;
  skip_ws(s);
  if (s->p >= s->end || *s->p != '{') return SCAN_INVALID;
  for (;;) { /* at a value */
    unsigned char c;
    skip_ws(s);
    if (s->p >= s->end) return SCAN_INVALID;
    c = *s->p;
    if (found != NULL) *found = 0;
    if (c == '{' || c == '[') {
      s->p++;
      stack[depth++] = (char)c;
      skip_ws(s);
      if (s->p < s->end && *s->p == (c == '{' ? '}' : ']')) {
        s->p++;
        depth--;
      } else if (c == '{') {
        if ((rc = scan_key(s, depth, pk, &target, &found)) != SCAN_OK) return rc;
        continue;
      } else {
        target = NULL; /* array elements are never settings */
        found = NULL;
        continue;
      }
    } else if (c == '"') {
      if (target != NULL) target->len = 0;
      if ((rc = scan_string(s, target)) != SCAN_OK) return rc;
      if (found != NULL) *found = target->len > 0;
    } else if ((rc = scan_scalar(s)) != SCAN_OK) {
      return rc;
    }
    target = NULL;
    found = NULL;
    for (;;) { /* after a value */
      char open;
      skip_ws(s);
      if (depth == 0) return s->p == s->end ? SCAN_OK : SCAN_INVALID;
      if (s->p >= s->end) return SCAN_INVALID;
      open = stack[depth - 1];
      if (*s->p == ',') {
        s->p++;
        if (open == '{' && (rc = scan_key(s, depth, pk, &target, &found)) != SCAN_OK) return rc;
        break;
      }
      if (*s->p != (open == '{' ? '}' : ']')) return SCAN_INVALID;
      s->p++;
      depth--;
    }
  }
}

/* Takes cniVersion and cniSocket from stdin when it is one JSON object; anything else leaves the defaults. */
static int peek_config(struct shim *sh) {
  struct peek pk;
  struct scanner s;
  char *stack;
  int rc;
  memset(&pk, 0, sizeof pk);
  s.p = (const unsigned char *)sh->config.data;
  s.end = s.p + sh->config.len;
  stack = malloc(sh->config.len + 1);
  if (stack == NULL) return out_of_memory(sh);
  rc = scan_config(&s, stack, &pk);
  free(stack);
  if (rc == SCAN_OK && pk.has_version) {
    sh->cni_version.len = 0;
    if (buf_append(&sh->cni_version, pk.version.data, pk.version.len) != 0) rc = SCAN_NO_MEMORY;
  }
  if (rc == SCAN_OK && pk.has_socket && buf_append(&sh->socket_path, pk.socket.data, pk.socket.len) != 0) {
    rc = SCAN_NO_MEMORY;
  }
  buf_free(&pk.key);
  buf_free(&pk.version);
  buf_free(&pk.socket);
  return rc == SCAN_NO_MEMORY ? out_of_memory(sh) : 0;
}

/* ---- talking to the agent ---- */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(long long deadline) {
  long long left = deadline - now_ms();
  return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

static int parse_timeout(struct shim *sh, int *timeout_ms) {
  const char *raw = getenv(TIMEOUT_ENV);
  size_t i, n;
  *timeout_ms = DEFAULT_TIMEOUT_MS;
  if (raw == NULL || raw[0] == '\0') return 0;
  n = strlen(raw);
  for (i = 0; i < n && raw[i] >= '0' && raw[i] <= '9'; i++) continue;
  if (i == n && n <= MAX_TIMEOUT_DIGITS && raw[0] != '0') {
    *timeout_ms = atoi(raw);
    return 0;
  }
  fail(sh, ERR_INVALID_ENV, "invalid " TIMEOUT_ENV " \"");
  if (buf_append(&sh->error_msg, raw, n) != 0 || buf_putc(&sh->error_msg, '"') != 0) sh->error_msg.len = 0;
  ADD_DETAILS_LITERAL(sh, "a whole number of milliseconds from 1 to 999999999");
  return -1;
}

static int build_request(struct shim *sh) {
  struct buf *r = &sh->request;
  size_t i;
  int first = 1;
  if (buf_puts(r, "{\"raw\":{\"env\":{") != 0) return out_of_memory(sh);
  for (i = 0; i < sizeof FORWARDED_ENV / sizeof FORWARDED_ENV[0]; i++) {
    const char *value = getenv(FORWARDED_ENV[i]);
    if (value == NULL) continue;
    if ((!first && buf_putc(r, ',') != 0) || json_string(r, FORWARDED_ENV[i], strlen(FORWARDED_ENV[i])) != 0 ||
        buf_putc(r, ':') != 0 || json_string(r, value, strlen(value)) != 0) {
      return out_of_memory(sh);
    }
    first = 0;
  }
  if (buf_puts(r, "},\"stdin\":") != 0 || json_string(r, sh->config.data, sh->config.len) != 0 ||
      buf_puts(r, "}}\n") != 0) {
    return out_of_memory(sh);
  }
  return 0;
}

/* Waits for `events` on fd until the deadline: 1 ready, 0 timed out. */
static int wait_for(int fd, short events, long long deadline) {
  for (;;) {
    struct pollfd pfd;
    int rc;
    pfd.fd = fd;
    pfd.events = events;
    pfd.revents = 0;
    rc = poll(&pfd, 1, remaining_ms(deadline));
    if (rc > 0) return 1;
    if (rc == 0) return 0;
    if (errno != EINTR) return 1; /* let the following read()/write() report the problem */
  }
}

static int exchange(struct shim *sh, int fd, int timeout_ms, long long deadline) {
  struct buf *req = &sh->request, *rep = &sh->reply;
  size_t sent = 0;
  while (sent < req->len) {
    ssize_t n;
    if (!wait_for(fd, POLLOUT, deadline)) return timed_out(sh, timeout_ms);
    n = send(fd, req->data + sent, req->len - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return connection_lost(sh, errno);
    }
    sent += (size_t)n;
  }
  for (;;) {
    size_t room;
    ssize_t n;
    if (!wait_for(fd, POLLIN, deadline)) return timed_out(sh, timeout_ms);
    if (buf_reserve(rep, 16 * 1024) != 0) return out_of_memory(sh);
    room = rep->cap - rep->len;
    if (room > MAX_REPLY_BYTES + 1 - rep->len) room = MAX_REPLY_BYTES + 1 - rep->len;
    n = read(fd, rep->data + rep->len, room);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return connection_lost(sh, errno);
    }
    if (n == 0) return 0;
    rep->len += (size_t)n;
    if (rep->len > MAX_REPLY_BYTES) return malformed_reply(sh, "the reply exceeds 1048576 bytes");
  }
}

static int call_agent(struct shim *sh, int timeout_ms) {
  long long deadline = now_ms() + timeout_ms;
  struct sockaddr_un addr;
  struct timeval connect_timeout;
  int fd, rc, flags;
  if (sh->socket_path.len > sizeof addr.sun_path - 1) return cannot_connect(sh, ENAMETOOLONG);
  if (memchr(sh->socket_path.data, '\0', sh->socket_path.len) != NULL) return cannot_connect(sh, EINVAL);
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, sh->socket_path.data, sh->socket_path.len);
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return cannot_connect(sh, errno);
  /* A blocking connect() to a unix socket waits only while the listener's backlog is full, and at most this. */
  connect_timeout.tv_sec = timeout_ms / 1000;
  connect_timeout.tv_usec = (timeout_ms % 1000) * 1000;
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &connect_timeout, sizeof connect_timeout);
  do rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EISCONN) {
    int err = errno;
    close(fd);
    return err == EAGAIN || err == EWOULDBLOCK ? timed_out(sh, timeout_ms) : cannot_connect(sh, err);
  }
  flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    int err = errno;
    close(fd);
    return connection_lost(sh, err);
  }
  rc = exchange(sh, fd, timeout_ms, deadline);
  close(fd);
  return rc;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      struct pollfd pfd;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      /* The runtime may hand us a non-blocking pipe. */
      pfd.fd = fd;
      pfd.events = POLLOUT;
      if (poll(&pfd, 1, -1) < 0 && errno != EINTR) return -1;
      continue;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Prints the agent's answer; returns its exit status, or 1 when stdout is gone (the runtime missed it). */
static int print_reply(struct shim *sh) {
  struct buf *rep = &sh->reply;
  const char *newline = rep->len > 0 ? memchr(rep->data, '\n', rep->len) : NULL;
  size_t prefix = sizeof REPLY_PREFIX - 1, digits = 0, header;
  int status = 0;
  if (rep->len == 0) return malformed_reply(sh, "the agent closed the connection without a reply");
  header = newline != NULL ? (size_t)(newline - rep->data) : 0;
  if (header > prefix && memcmp(rep->data, REPLY_PREFIX, prefix) == 0) {
    while (prefix + digits < header && digits < 4 && rep->data[prefix + digits] >= '0' &&
           rep->data[prefix + digits] <= '9') {
      status = status * 10 + (rep->data[prefix + digits] - '0');
      digits++;
    }
  }
  if (digits == 0 || digits > 3 || (digits > 1 && rep->data[prefix] == '0') || status > 255 ||
      header != prefix + digits + 1 || rep->data[header - 1] != '}') {
    return malformed_reply(sh, "the reply does not start with {\"exitCode\":N}");
  }
  header++;
  /* The error object goes to stdout for the runtime; a copy on stderr is for whoever runs the plugin by hand. */
  if (status != 0) {
    (void)write_all(STDERR_FILENO, "antrea-edge-cni: ", 17);
    (void)write_all(STDERR_FILENO, rep->data + header, rep->len - header);
  }
  return write_all(STDOUT_FILENO, rep->data + header, rep->len - header) == 0 ? status : 1;
}

/* The spec's error object on stdout (key order as in formatError), a readable line on stderr, status 1. */
static int print_error(struct shim *sh) {
  struct buf out = {0}, line = {0};
  int ok;
  ok = buf_puts(&out, "{\"cniVersion\":") == 0 && json_string(&out, sh->cni_version.data, sh->cni_version.len) == 0 &&
       buf_puts(&out, ",\"code\":") == 0 && buf_put_long(&out, sh->error_code) == 0 &&
       buf_puts(&out, ",\"msg\":") == 0 && json_string(&out, sh->error_msg.data, sh->error_msg.len) == 0 &&
       (sh->error_details.len == 0 || (buf_puts(&out, ",\"details\":") == 0 &&
                                       json_string(&out, sh->error_details.data, sh->error_details.len) == 0)) &&
       buf_puts(&out, "}\n") == 0;
  if (!ok) {
    static const char fallback[] = "{\"cniVersion\":\"1.0.0\",\"code\":999,\"msg\":\"out of memory\"}\n";
    (void)write_all(STDOUT_FILENO, fallback, sizeof fallback - 1);
  } else {
    (void)write_all(STDOUT_FILENO, out.data, out.len);
  }
  if (buf_puts(&line, "antrea-edge-cni: error ") == 0 && buf_put_long(&line, sh->error_code) == 0 &&
      buf_puts(&line, ": ") == 0 && buf_append(&line, sh->error_msg.data, sh->error_msg.len) == 0 &&
      (sh->error_details.len == 0 ||
       (buf_puts(&line, " (") == 0 && buf_append(&line, sh->error_details.data, sh->error_details.len) == 0 &&
        buf_putc(&line, ')') == 0)) &&
      buf_putc(&line, '\n') == 0) {
    (void)write_all(STDERR_FILENO, line.data, line.len);
  }
  buf_free(&out);
  buf_free(&line);
  return 1;
}

static int run(struct shim *sh) {
  const char *override = getenv(SOCKET_ENV);
  int timeout_ms;
  if (buf_puts(&sh->cni_version, CURRENT_CNI_VERSION) != 0) return out_of_memory(sh);
  if (read_config(sh) != 0 || peek_config(sh) != 0) return -1;
  if (override != NULL && override[0] != '\0') {
    sh->socket_path.len = 0;
    if (buf_puts(&sh->socket_path, override) != 0) return out_of_memory(sh);
  } else if (sh->socket_path.len == 0 && buf_puts(&sh->socket_path, DEFAULT_SOCKET_PATH) != 0) {
    return out_of_memory(sh);
  }
  if (parse_timeout(sh, &timeout_ms) != 0 || build_request(sh) != 0) return -1;
  /* The config can be large; the reply is what matters from here on. */
  buf_free(&sh->config);
  if (call_agent(sh, timeout_ms) != 0) return -1;
  return print_reply(sh);
}

int main(void) {
  struct shim sh;
  struct sigaction ignore;
  const char *command = getenv("CNI_COMMAND");
  int status;
  /* A runtime that stops reading our stdout must get an exit status, not a silent death by SIGPIPE. */
  memset(&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  (void)sigaction(SIGPIPE, &ignore, NULL);
  if (command != NULL && strcmp(command, "VERSION") == 0) {
    /* stdin is not read: the answer does not depend on it and a runtime may leave it open. */
    return write_all(STDOUT_FILENO, VERSION_RESULT, sizeof VERSION_RESULT - 1) == 0 ? 0 : 1;
  }
  memset(&sh, 0, sizeof sh);
  status = run(&sh);
  if (sh.error_code != 0) status = print_error(&sh);
  buf_free(&sh.config);
  buf_free(&sh.cni_version);
  buf_free(&sh.socket_path);
  buf_free(&sh.request);
  buf_free(&sh.reply);
  buf_free(&sh.error_msg);
  buf_free(&sh.error_details);
  return status;
}
