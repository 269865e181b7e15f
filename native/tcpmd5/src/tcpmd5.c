/*
 * TCP MD5 signatures (RFC 2385) and TTL security (GTSM, RFC 5082) for BGP sockets: socket options
 * node:net cannot set on TCP. Plain N-API (no C++ wrapper): four functions.
 *
 *   setMd5(fd, peerAddress, key)  key "" removes it. For a listening socket: call per peer before
 *                                 the peer connects; accepted sockets inherit the key.
 *   connect(host, port, localAddress, key, ttl, timeoutMs, minTtl) -> Promise<fd>
 *                                 socket + TCP_MD5SIG (+ IP_TTL) + bind + connect, on the libuv
 *                                 thread pool (the connect blocks up to timeoutMs there), so the
 *                                 SYN is already signed; the caller wraps the fd in net.Socket.
 *   setTtl(fd, ttl)               IP_TTL / IPV6_UNICAST_HOPS on an existing socket.
 *   setMinTtl(fd, minTtl)         IP_MINTTL / IPV6_MINHOPCOUNT: the kernel drops segments that
 *                                 arrive with a lower TTL (GTSM, RFC 5082).
 *
 * IPv4 peers on an IPv6 (dual-stack) socket are keyed by their v4-mapped address, which is what
 * the kernel compares for such connections.
 */
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(call)                                                      \
  do {                                                                   \
    if ((call) != napi_ok) {                                             \
      napi_throw_error(env, "E_NAPI", "tcpmd5: N-API call failed");      \
      return NULL;                                                       \
    }                                                                    \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  char code[32];
  snprintf(code, sizeof code, "E%d", err);
  napi_throw_error(env, code, msg);
  return NULL;
}

/* Parses `ip` for a socket of family `domain` (AF_INET or AF_INET6). */
static int make_addr(const char *ip, int port, int domain, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, ip, &a4) == 1) {
    if (domain == AF_INET6) {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons(port);
      s6->sin6_addr.s6_addr[10] = 0xff;
      s6->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&s6->sin6_addr.s6_addr[12], &a4, 4);
      *len = sizeof *s6;
    } else {
      struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
      s4->sin_family = AF_INET;
      s4->sin_port = htons(port);
      s4->sin_addr = a4;
      *len = sizeof *s4;
    }
    return 0;
  }
  if (inet_pton(AF_INET6, ip, &a6) == 1 && domain == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    s6->sin6_addr = a6;
    *len = sizeof *s6;
    return 0;
  }
  return -1;
}

static int domain_of(const char *ip) {
  struct in_addr a4;
  return inet_pton(AF_INET, ip, &a4) == 1 ? AF_INET : AF_INET6;
}

static int set_md5(int fd, int domain, const char *peer, const char *key) {
  struct tcp_md5sig sig;
  memset(&sig, 0, sizeof sig);
  socklen_t len;
  size_t klen = strlen(key);
  if (klen > TCP_MD5SIG_MAXKEYLEN) return EINVAL;
  if (make_addr(peer, 0, domain, &sig.tcpm_addr, &len) != 0) return EINVAL;
  sig.tcpm_keylen = (unsigned short)klen;
  memcpy(sig.tcpm_key, key, klen);
  if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig) != 0) {
    /* Deleting a key that was never set is not an error for us. */
    if (klen == 0 && errno == ENOENT) return 0;
    return errno;
  }
  return 0;
}

static int set_ttl(int fd, int domain, int ttl) {
  if (domain == AF_INET6) {
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl) != 0) return errno;
    /* A dual-stack socket talking to an IPv4 peer uses IP_TTL; ignore failure on v6-only. */
    (void)setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    return 0;
  }
  return setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) != 0 ? errno : 0;
}

static int set_min_ttl(int fd, int domain, int minttl) {
  if (domain == AF_INET6) {
#ifdef IPV6_MINHOPCOUNT
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, &minttl, sizeof minttl) != 0) return errno;
#endif
    (void)setsockopt(fd, IPPROTO_IP, IP_MINTTL, &minttl, sizeof minttl);
    return 0;
  }
  return setsockopt(fd, IPPROTO_IP, IP_MINTTL, &minttl, sizeof minttl) != 0 ? errno : 0;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t size) {
  size_t n;
  return napi_get_value_string_utf8(env, v, buf, size, &n) == napi_ok ? 0 : -1;
}

static int socket_domain(int fd) {
  int d = 0;
  socklen_t l = sizeof d;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &d, &l) != 0) return -1;
  return d;
}

static napi_value js_set_md5(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  char peer[64], key[128];
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || get_string(env, argv[1], peer, sizeof peer) ||
      get_string(env, argv[2], key, sizeof key)) {
    napi_throw_type_error(env, "E_ARGS", "setMd5(fd: number, peer: string, key: string)");
    return NULL;
  }
  int d = socket_domain(fd);
  if (d < 0) return throw_errno(env, "setMd5: not a socket", errno);
  int err = set_md5(fd, d, peer, key);
  if (err) return throw_errno(env, "setsockopt(TCP_MD5SIG)", err);
  return NULL;
}

static napi_value js_set_ttl(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, ttl;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &ttl) != napi_ok) {
    napi_throw_type_error(env, "E_ARGS", "setTtl(fd: number, ttl: number)");
    return NULL;
  }
  int d = socket_domain(fd);
  if (d < 0) return throw_errno(env, "setTtl: not a socket", errno);
  int err = set_ttl(fd, d, ttl);
  if (err) return throw_errno(env, "setsockopt(IP_TTL)", err);
  return NULL;
}

static napi_value js_set_min_ttl(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, ttl;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &ttl) != napi_ok) {
    napi_throw_type_error(env, "E_ARGS", "setMinTtl(fd: number, minTtl: number)");
    return NULL;
  }
  int d = socket_domain(fd);
  if (d < 0) return throw_errno(env, "setMinTtl: not a socket", errno);
  int err = set_min_ttl(fd, d, ttl);
  if (err) return throw_errno(env, "setsockopt(IP_MINTTL)", err);
  return NULL;
}

typedef struct {
  char host[64], local[64], key[128];
  int port, ttl, min_ttl, timeout_ms;
  int fd, err;
  const char *stage;
  napi_deferred deferred;
  napi_async_work work;
} connect_req;

static void connect_execute(napi_env env, void *data) {
  (void)env;
  connect_req *r = data;
  int domain = domain_of(r->host);
  struct sockaddr_storage ss;
  socklen_t len;
  r->fd = -1;
  r->stage = "socket";
  int fd = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    r->err = errno;
    return;
  }
  if (r->key[0]) {
    r->stage = "setsockopt(TCP_MD5SIG)";
    if ((r->err = set_md5(fd, domain, r->host, r->key))) goto fail;
  }
  if (r->ttl > 0) {
    r->stage = "setsockopt(IP_TTL)";
    if ((r->err = set_ttl(fd, domain, r->ttl))) goto fail;
  }
  if (r->min_ttl > 0) {
    r->stage = "setsockopt(IP_MINTTL)";
    if ((r->err = set_min_ttl(fd, domain, r->min_ttl))) goto fail;
  }
  if (r->local[0]) {
    r->stage = "bind";
    if (make_addr(r->local, 0, domain, &ss, &len) != 0) {
      r->err = EINVAL;
      goto fail;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
      r->err = errno;
      goto fail;
    }
  }
  r->stage = "connect";
  if (make_addr(r->host, r->port, domain, &ss, &len) != 0) {
    r->err = EINVAL;
    goto fail;
  }
  if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
    if (errno != EINPROGRESS) {
      r->err = errno;
      goto fail;
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n = poll(&p, 1, r->timeout_ms);
    if (n == 0) {
      r->err = ETIMEDOUT;
      goto fail;
    }
    if (n < 0) {
      r->err = errno;
      goto fail;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr) {
      r->err = soerr;
      goto fail;
    }
  }
  r->fd = fd;
  r->err = 0;
  return;
fail:
  close(fd);
}

static void connect_complete(napi_env env, napi_status status, void *data) {
  connect_req *r = data;
  if (status == napi_ok && r->err == 0) {
    napi_value fd;
    napi_create_int32(env, r->fd, &fd);
    napi_resolve_deferred(env, r->deferred, fd);
  } else {
    char msg[256], code[32];
    int err = r->err ? r->err : ECANCELED;
    snprintf(msg, sizeof msg, "%s: %s", r->stage, strerror(err));
    snprintf(code, sizeof code, "E%d", err);
    napi_value m, c, e, errnoV;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
    napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
    napi_create_error(env, c, m, &e);
    napi_create_int32(env, err, &errnoV);
    napi_set_named_property(env, e, "errno", errnoV);
    napi_reject_deferred(env, r->deferred, e);
  }
  napi_delete_async_work(env, r->work);
  free(r);
}

static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  connect_req *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, "connect", ENOMEM);
  if (argc < 7 || napi_get_value_int32(env, argv[6], &r->min_ttl) != napi_ok || get_string(env, argv[0], r->host, sizeof r->host) || napi_get_value_int32(env, argv[1], &r->port) != napi_ok ||
      get_string(env, argv[2], r->local, sizeof r->local) || get_string(env, argv[3], r->key, sizeof r->key) ||
      napi_get_value_int32(env, argv[4], &r->ttl) != napi_ok || napi_get_value_int32(env, argv[5], &r->timeout_ms) != napi_ok) {
    free(r);
    napi_throw_type_error(env, "E_ARGS", "connect(host, port, localAddress, key, ttl, timeoutMs, minTtl)");
    return NULL;
  }
  napi_value promise, name;
  CHECK(napi_create_promise(env, &r->deferred, &promise));
  CHECK(napi_create_string_utf8(env, "tcpmd5.connect", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, connect_execute, connect_complete, r, &r->work));
  CHECK(napi_queue_async_work(env, r->work));
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"setMd5", NULL, js_set_md5, NULL, NULL, NULL, napi_default, NULL},
      {"setTtl", NULL, js_set_ttl, NULL, NULL, NULL, napi_default, NULL},
      {"setMinTtl", NULL, js_set_min_ttl, NULL, NULL, NULL, napi_default, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
