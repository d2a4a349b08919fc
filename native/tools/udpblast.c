// udpblast: a bounded UDP packet generator for the benchmark. Sends fixed-size datagrams to
// DST:PORT with sendmmsg in batches for SECONDS, then prints how many it sent. Used to
// measure small-packet forwarding rate without iperf3's per-packet overhead on the sender.
//   udpblast DST PORT SIZE SECONDS
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: udpblast DST PORT SIZE SECONDS\n");
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
