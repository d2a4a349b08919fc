// A small TCP state machine for NAT flows, after netfilter's nf_conntrack_proto_tcp: enough to
// give each flow the timeout its state deserves (a half-open SYN does not pin a slot for days;
// a closed connection frees its slot soon after the FINs), not a full window tracker.

export const TCP_NONE = 0;
export const TCP_SYN_SENT = 1;
export const TCP_SYN_RECV = 2;
export const TCP_ESTABLISHED = 3;
export const TCP_FIN_WAIT = 4;
export const TCP_CLOSE_WAIT = 5;
export const TCP_TIME_WAIT = 6;
export const TCP_CLOSE = 7;
/** Not TCP: UDP before a reply, UDP after one ("assured"), ICMP. */
export const UDP_UNREPLIED = 8;
export const UDP_REPLIED = 9;
export const ICMP_FLOW = 10;

export const STATE_NAMES = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'TIME_WAIT',
  'CLOSE',
  'UNREPLIED',
  'ASSURED',
  'ICMP',
] as const;

/**
 * Seconds a flow lives without traffic in each state. netfilter's defaults, except ESTABLISHED,
 * which kube-proxy sets to 86400 s (conntrack.tcpEstablishedTimeout) and so do we.
 */
export const TIMEOUTS = new Int32Array([
  10, // NONE
  120, // SYN_SENT
  60, // SYN_RECV
  86400, // ESTABLISHED
  120, // FIN_WAIT
  60, // CLOSE_WAIT
  120, // TIME_WAIT
  10, // CLOSE
  30, // UDP unreplied
  120, // UDP assured (nf_conntrack_udp_timeout_stream)
  30, // ICMP
]);

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;

/**
 * The next state of a TCP flow after a segment with `flags`, seen in the original direction
 * (`reply` false) or the reply direction. `finBits` tracks which sides sent a FIN (bit 1 =
 * original, bit 2 = reply); the caller stores it. Returns state | (finBits << 8).
 */
export function tcpNext(state: number, finBits: number, flags: number, reply: boolean): number {
  if (flags & RST) return TCP_CLOSE | (finBits << 8);
  if (flags & FIN) {
    finBits |= reply ? 2 : 1;
    return (finBits === 3 ? TCP_TIME_WAIT : reply ? TCP_CLOSE_WAIT : TCP_FIN_WAIT) | (finBits << 8);
  }
  switch (state) {
    case TCP_NONE:
    case TCP_SYN_SENT:
      if (!reply && flags & SYN && !(flags & ACK)) return TCP_SYN_SENT | (finBits << 8);
      if (reply && flags & SYN && flags & ACK) return TCP_SYN_RECV | (finBits << 8);
      return state | (finBits << 8);
    case TCP_SYN_RECV:
      if (!reply && flags & ACK) return TCP_ESTABLISHED | (finBits << 8);
      return state | (finBits << 8);
    case TCP_CLOSE:
      // A new SYN on a closed tuple reopens it (port reuse by the client).
      if (!reply && flags & SYN && !(flags & ACK)) return TCP_SYN_SENT;
      return state | (finBits << 8);
    default:
      return state | (finBits << 8);
  }
}
