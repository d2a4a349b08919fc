// udpblast: a bounded UDP packet generator for the benchmark. Sends fixed-size datagrams to
// DST:PORT with sendmmsg in batches for SECONDS, then prints how many it sent. Used to
// measure small-packet forwarding rate without iperf3's per-packet overhead on the sender.
//   udpblast DST PORT SIZE SECONDS [NPORTS]
// With NPORTS the datagrams rotate over NPORTS sockets bound to distinct local ports (1024
// upward, ports in use skipped), one datagram per socket in turn, so that a NAT on the way
// sees NPORTS flows (the benchmark fills a conntrack table this way). NPORTS is 1..64511.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Binds a UDP socket to local port `port` and connects it to dst: the fd, -1 if the port is
// taken (EADDRINUSE), -2 on any other failure (reported).
static int bound_socket(const struct sockaddr_in *dst, int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("udpblast: socket");
    return -2;
  }
  struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
    int e = errno;
    close(fd);
    if (e == EADDRINUSE) return -1;
    errno = e;
    perror("udpblast: bind");
    return -2;
  }
  if (connect(fd, (const struct sockaddr *)dst, sizeof *dst) < 0) {
    perror("udpblast: connect");
    close(fd);
    return -2;
  }
  return fd;
}

// One datagram per source port in turn over nports distinct local ports. When the open-file
// limit allows, all sockets stay open; otherwise they are opened, used once and closed in
// windows that fit the limit (a NAT's flow entry outlives the socket that made it).
static int rotate(const struct sockaddr_in *dst, int size, double seconds, long nports) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  long window = (long)rl.rlim_cur - 64;
  if (window > nports) window = nports;
  if (window < 1) {
    fprintf(stderr, "udpblast: no file descriptors to spare\n");
    return 1;
  }
  int persistent = window == nports;
  int *fds = calloc(window, sizeof *fds);
  if (!fds) {
    perror("udpblast: calloc");
    return 1;
  }
  static char payload[1472];
  memset(payload, 'k', sizeof payload);
  unsigned long long sent = 0, errors = 0;
  double end = now() + seconds;
  int first_pass = 1, open_n = 0, done = 0;
  while (!done) {
    long in_pass = 0;
    int port = 1024;
    while (in_pass < nports && !done) {
      if (!persistent || first_pass) {
        open_n = 0;
        while (open_n < window && in_pass + open_n < nports && port <= 65535) {
          int fd = bound_socket(dst, port++);
          if (fd == -2) return 1;
          if (fd >= 0) fds[open_n++] = fd;
        }
        if (open_n == 0) break;
      }
      for (int i = 0; i < open_n; i++) {
        // ECONNREFUSED (an earlier ICMP error on this socket), ENOBUFS, EAGAIN: count, go on.
        if (send(fds[i], payload, size, MSG_DONTWAIT) < 0) errors++;
        else sent++;
        if ((i & 255) == 255 && now() >= end) {
          done = 1;
          break;
        }
      }
      in_pass += open_n;
      if (!persistent) {
        for (int i = 0; i < open_n; i++) close(fds[i]);
      }
      if (now() >= end) done = 1;
    }
    if (first_pass && in_pass < nports && !done) {
      fprintf(stderr, "udpblast: only %ld free local ports for NPORTS=%ld\n", in_pass, nports);
      return 1;
    }
    first_pass = 0;
  }
  if (persistent)
    for (int i = 0; i < open_n; i++) close(fds[i]);
  free(fds);
  printf("%llu %llu\n", sent, errors);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: udpblast DST PORT SIZE SECONDS [NPORTS]\n");
    return 2;
  }
  int size = atoi(argv[3]);
  double seconds = atof(argv[4]);
  if (size < 1 || size > 1472 || seconds <= 0 || seconds > 60) {
    fprintf(stderr, "udpblast: SIZE must be 1..1472 and SECONDS 0..60\n");
    return 2;
  }
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
    fprintf(stderr, "udpblast: bad address %s\n", argv[1]);
    return 2;
  }
  if (argc == 6) {
    long nports = atol(argv[5]);
    if (nports < 1 || nports > 64511) {
      fprintf(stderr, "udpblast: NPORTS must be 1..64511\n");
      return 2;
    }
    return rotate(&dst, size, seconds, nports);
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
    perror("udpblast: socket/connect");
    return 1;
  }
  static char payload[1472];
  memset(payload, 'k', sizeof payload);
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = payload;
    iov[i].iov_len = size;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent = 0, errors = 0;
  double end = now() + seconds;
  while (now() < end) {
    int n = sendmmsg(fd, msgs, BATCH, 0);
    if (n < 0) {
      // ECONNREFUSED from an ICMP port unreachable, ENOBUFS under load: keep going.
      errors++;
      continue;
    }
    sent += n;
  }
  printf("%llu %llu\n", sent, errors);
  return 0;
}
