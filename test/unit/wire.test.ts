// Packet-view tests over REAL packets.
//
// Fixture provenance: captured once on 2026-11-23 (kernel 6.18.44, Debian 12) inside a throwaway
// network namespace `kemu_wiretest_<pid>` (removed afterwards). Packets from the namespace's
// kernel were read straight from two TUN devices by a small Python reader:
//   - `tplain` (IFF_TUN|IFF_NO_PI, no offload, 10.250.0.1/24): the kernel computes full checksums;
//   - `tvnet`  (IFF_TUN|IFF_NO_PI|IFF_VNET_HDR, TUNSETOFFLOAD CSUM|TSO4, 10.250.1.1/24): every
//     packet starts with the 10-byte virtio_net_hdr, TCP/UDP are CHECKSUM_PARTIAL (NEEDS_CSUM).
// The LO_* packets were captured with `tcpdump -i lo` in the same namespace (Ethernet header
// stripped); they include the kernel's own echo reply and ICMP port unreachable.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  checksum,
  csumAdjust16,
  csumAdjust32,
  ipv4HeaderChecksum,
  partialAdjust16,
  partialAdjust32,
  pseudoHeaderSum,
  sum16,
  udpCsumAdjust32,
} from '../../src/dataplane/wire/checksum.js';
import {
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_BAD_CHECKSUM,
  IPV4_BAD_FRAGMENT,
  IPV4_BAD_IHL,
  IPV4_BAD_TOTAL_LENGTH,
  IPV4_BAD_VERSION,
  IPV4_OK,
  IPV4_TOO_SHORT,
  decTtl,
  inCidr,
  intToIp,
  ipChecksum,
  ipDontFragment,
  ipDst,
  ipFlags,
  ipFragOffset,
  ipFragOffsetBytes,
  ipHeaderLength,
  ipId,
  ipIhl,
  ipMoreFragments,
  ipProtocol,
  ipSrc,
  ipToInt,
  ipTos,
  ipTotalLength,
  ipTtl,
  ipVersion,
  ipv4Reason,
  isFirstFragment,
  isFragment,
  isMulticast,
  isNonFirstFragment,
  parseCidr,
  prefixMask,
  setDst,
  setSrc,
  setTtl,
  validIpv4,
} from '../../src/dataplane/wire/ipv4.js';
import {
  ICMP_DEST_UNREACH,
  ICMP_ECHO_REQUEST,
  ICMP_FRAG_NEEDED,
  ICMP_PORT_UNREACH,
  ICMP_TIME_EXCEEDED,
  TCPF_ACK,
  TCPF_SYN,
  TCP_CSUM,
  UDP_CSUM,
  computeL4Checksum,
  dstPort,
  icmpChecksum,
  icmpCode,
  icmpEchoId,
  icmpEchoSeq,
  icmpType,
  ipv4PseudoSum,
  l4ChecksumOffset,
  l4ChecksumOk,
  l4HeaderOk,
  l4Length,
  l4Offset,
  natSetDstIp,
  natSetDstPort,
  natSetIcmpEchoId,
  natSetSrcIp,
  natSetSrcPort,
  srcPort,
  tcpAck,
  tcpChecksum,
  tcpDataOffset,
  tcpFlags,
  tcpSeq,
  tcpWindow,
  udpChecksum,
  udpLength,
} from '../../src/dataplane/wire/l4.js';
import { ICMP_ERROR_MAX_LEN, buildEchoReplyInPlace, buildIcmpError } from '../../src/dataplane/wire/icmp-build.js';
import {
  VNET_HDR_F_NEEDS_CSUM,
  VNET_HDR_GSO_NONE,
  VNET_HDR_GSO_TCPV4,
  VNET_HDR_GSO_ECN,
  VNET_HDR_LEN,
  vnetCsumOffset,
  vnetCsumStart,
  vnetFlags,
  vnetGsoSize,
  vnetGsoType,
  vnetHdrLen,
  vnetNeedsCsum,
  writeEmptyVnetHdr,
  writeVnetHdr,
} from '../../src/dataplane/wire/vnet.js';

function hex(s: string): Buffer {
  return Buffer.from(s, 'hex');
}
/** A fresh copy, so tests never share mutated fixtures. */
function cp(b: Buffer): Buffer {
  return Buffer.from(b);
}

/** `ping -c1 -p 6b656d75 10.250.0.2` echo request (84 bytes) */
const PING_PATTERN = hex(
  '45000054d17a4000400153380afa00010afa00020800b9f00f690001159e036b00000000940f0900000000006b656d75' +
  '6b656d756b656d756b656d756b656d756b656d756b656d756b656d756b656d756b656d75',
);
/** `ping -c1 -R 10.250.0.2`: echo request with a Record Route option, IHL 15 (124 bytes) */
const PING_RR = hex(
  '4f00007cd22340004001155d0afa00010afa0002010727080afa00010000000000000000000000000000000000000000' +
  '000000000000000000000000080045940f6a0001169e036b00000000c124090000000000101112131415161718191a1b' +
  '1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637',
);
/** `ping -c1 -s 2000 10.250.0.2`, first fragment (MF, offset 0; 1500 bytes) */
const FRAG1 = hex(
  '450005dcd272200040016cb80afa00010afa0002080031620f6b0001179e036b00000000874009000000000010111213' +
  '1415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40414243' +
  '4445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f70717273' +
  '7475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3' +
  'a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3' +
  'd4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff00010203' +
  '0405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233' +
  '3435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263' +
  '6465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f90919293' +
  '9495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3' +
  'c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3' +
  'f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223' +
  '2425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f50515253' +
  '5455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80818283' +
  '8485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3' +
  'b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3' +
  'e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f10111213' +
  '1415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40414243' +
  '4445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f70717273' +
  '7475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3' +
  'a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3' +
  'd4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff00010203' +
  '0405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233' +
  '3435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263' +
  '6465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f90919293' +
  '9495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3' +
  'c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3' +
  'f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223' +
  '2425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f50515253' +
  '5455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80818283' +
  '8485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3' +
  'b4b5b6b7b8b9babbbcbdbebf',
);
/** same datagram, last fragment (offset 1480; 548 bytes) */
const FRAG2 = hex(
  '45000224d27200b940018fb70afa00010afa0002c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadb' +
  'dcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b' +
  '0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b' +
  '3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b' +
  '6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b' +
  '9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacb' +
  'cccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafb' +
  'fcfdfeff000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b' +
  '2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b' +
  '5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b' +
  '8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babb' +
  'bcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf',
);
/** `curl http://10.250.0.2:8080/` SYN (60 bytes) */
const TCP_SYN = hex(
  '4500003c19c8400040060afe0afa00010afa0002e25c1f902335451000000000a002faf096820000020405b40402080a' +
  '7013c64d000000000103030a',
);
/** `echo hello-udp > /dev/udp/10.250.0.2/5353` (38 bytes) */
const UDP_PLAIN = hex(
  '45000026379e40004011ed320afa00010afa0002ce3b14e90012dd4068656c6c6f2d7564700a',
);
/** `curl http://10.250.1.2:8080/` SYN; virtio_net_hdr NEEDS_CSUM csum_start 20 csum_offset 16 (10 + 60 bytes) */
const VNET_TCP_SYN = hex(
  '010000000000140010004500003c713340004006b1920afa01010afa010289721f90a9b0ca7500000000a002faf01825' +
  '0000020405b40402080abad11d54000000000103030a',
);
/** `echo hello-udp-vnet > /dev/udp/10.250.1.2/5353`; virtio_net_hdr NEEDS_CSUM csum_offset 6 (10 + 43 bytes) */
const VNET_UDP = hex(
  '010000000000140006004500002b7e2740004011a4a40afa01010afa01029b9614e90017181f68656c6c6f2d7564702d' +
  '766e65740a',
);
/** `ping -c1 10.250.1.2`; virtio_net_hdr all zero (10 + 84 bytes) */
const VNET_PING = hex(
  '0000000000000000000045000054f652400040012c600afa01010afa01020800bd730f770001199e036b000000004238' +
  '0d0000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637',
);
/** `ping -c1 127.0.0.1` echo request */
const LO_ECHO_REQ = hex(
  '45000054d38d4000400169197f0000017f00000108002ddc0f670001159e036b00000000dadf08000000000010111213' +
  '1415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637',
);
/** the kernel's echo reply to it */
const LO_ECHO_REPLY = hex(
  '45000054d38e00004001a9187f0000017f000001000035dc0f670001159e036b00000000dadf08000000000010111213' +
  '1415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637',
);
/** `echo hello-udp > /dev/udp/127.0.0.1/5353` (lo: CHECKSUM_PARTIAL, the field holds the pseudo-header sum) */
const LO_UDP = hex(
  '4500002666e840004011d5dc7f0000017f000001b93e14e90012fe2568656c6c6f2d7564700a',
);
/** the kernel's ICMP port unreachable for it */
const LO_PORT_UNREACH = hex(
  '45c00042d39000004001a8687f0000017f0000010303072f000000004500002666e840004011d5dc7f0000017f000001' +
  'b93e14e90012fe2568656c6c6f2d7564700a',
);

// ---- helpers -----------------------------------------------------------------------------------

/** mulberry32: deterministic int32 stream so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) | 0;
  };
}

/** The header checksum field equals a from-scratch recomputation, and the header verifies. */
function headerOk(b: Buffer, off: number): boolean {
  return ipv4HeaderChecksum(b, off) === ipChecksum(b, off) && checksum(b, off, ipHeaderLength(b, off), 0) === 0;
}

/** Complete a CHECKSUM_PARTIAL L4 checksum the way the kernel/NIC does: fold the segment, field included. */
function completePartial(b: Buffer, ipOff: number): void {
  const proto = ipProtocol(b, ipOff);
  const l4 = l4Offset(b, ipOff);
  const co = l4ChecksumOffset(proto);
  let v = checksum(b, l4, l4Length(b, ipOff), 0);
  if (proto === IPPROTO_UDP && v === 0) v = 0xffff;
  b.writeUInt16BE(v, l4 + co);
}

interface Fx {
  name: string;
  buf: Buffer;
  off: number;
}
const PLAIN: Fx[] = [
  { name: 'PING_PATTERN', buf: PING_PATTERN, off: 0 },
  { name: 'PING_RR', buf: PING_RR, off: 0 },
  { name: 'FRAG1', buf: FRAG1, off: 0 },
  { name: 'FRAG2', buf: FRAG2, off: 0 },
  { name: 'TCP_SYN', buf: TCP_SYN, off: 0 },
  { name: 'UDP_PLAIN', buf: UDP_PLAIN, off: 0 },
];
const VNET: Fx[] = [
  { name: 'VNET_TCP_SYN', buf: VNET_TCP_SYN, off: VNET_HDR_LEN },
  { name: 'VNET_UDP', buf: VNET_UDP, off: VNET_HDR_LEN },
  { name: 'VNET_PING', buf: VNET_PING, off: VNET_HDR_LEN },
];
const LO: Fx[] = [
  { name: 'LO_ECHO_REQ', buf: LO_ECHO_REQ, off: 0 },
  { name: 'LO_ECHO_REPLY', buf: LO_ECHO_REPLY, off: 0 },
  { name: 'LO_UDP', buf: LO_UDP, off: 0 },
  { name: 'LO_PORT_UNREACH', buf: LO_PORT_UNREACH, off: 0 },
];
const ALL = [...PLAIN, ...VNET, ...LO];
/** Packets whose L4 checksum is complete (no NEEDS_CSUM, not lo's partial UDP, not fragments). */
const COMPLETE = ALL.filter((f) => !['VNET_TCP_SYN', 'VNET_UDP', 'LO_UDP', 'FRAG1', 'FRAG2'].includes(f.name));
/** CHECKSUM_PARTIAL packets: the L4 field holds the pseudo-header sum. */
const PARTIAL = [...VNET.slice(0, 2), LO[2]!];

// ---- fixtures and accessors --------------------------------------------------------------------

test('every real packet is valid IPv4 with a header checksum equal to a full recompute', (t) => {
  for (const f of ALL) {
    const len = f.buf.length - f.off;
    t.is(validIpv4(f.buf, f.off, len, true), IPV4_OK, f.name);
    t.true(headerOk(f.buf, f.off), f.name);
    t.is(ipTotalLength(f.buf, f.off), len, f.name);
    t.true(l4HeaderOk(f.buf, f.off, len), f.name);
  }
  for (const f of COMPLETE) {
    t.true(l4ChecksumOk(f.buf, f.off), `${f.name} L4 checksum verifies`);
    const co = l4ChecksumOffset(ipProtocol(f.buf, f.off));
    t.is(computeL4Checksum(f.buf, f.off), f.buf.readUInt16BE(l4Offset(f.buf, f.off) + co), f.name);
  }
});

test('IPv4 accessors on a real echo request', (t) => {
  const b = PING_PATTERN;
  t.is(ipVersion(b, 0), 4);
  t.is(ipIhl(b, 0), 5);
  t.is(ipHeaderLength(b, 0), 20);
  t.is(ipTos(b, 0), 0);
  t.is(ipTotalLength(b, 0), 84);
  t.is(ipId(b, 0), 0xd17a);
  t.true(ipDontFragment(b, 0));
  t.false(ipMoreFragments(b, 0));
  t.is(ipFlags(b, 0), 2);
  t.is(ipFragOffset(b, 0), 0);
  t.is(ipTtl(b, 0), 64);
  t.is(ipProtocol(b, 0), IPPROTO_ICMP);
  t.is(ipChecksum(b, 0), 0x5338);
  t.is(ipSrc(b, 0), ipToInt('10.250.0.1'));
  t.is(intToIp(ipDst(b, 0)), '10.250.0.2');
  t.false(isFragment(b, 0));
  t.false(isFirstFragment(b, 0));
  t.false(isNonFirstFragment(b, 0));
  t.is(icmpType(b, 0), ICMP_ECHO_REQUEST);
  t.is(icmpCode(b, 0), 0);
  t.is(icmpChecksum(b, 0), 0xb9f0);
  t.is(icmpEchoId(b, 0), 0x0f69);
  t.is(icmpEchoSeq(b, 0), 1);
  t.is(b.subarray(44, 48).toString('latin1'), 'kemu', 'ping -p pattern');
});

test('IHL 15 (Record Route option): L4 accessors go through the options', (t) => {
  const b = PING_RR;
  t.is(ipIhl(b, 0), 15);
  t.is(ipHeaderLength(b, 0), 60);
  t.is(l4Offset(b, 0), 60);
  t.is(l4Length(b, 0), 64);
  t.is(icmpType(b, 0), ICMP_ECHO_REQUEST);
  t.is(icmpEchoId(b, 0), 0x0f6a);
  t.is(icmpEchoSeq(b, 0), 1);
  t.deepEqual([b[20], b[21], b[22]], [1, 7, 39], 'NOP, then Record Route (length 39)');
  t.true(l4ChecksumOk(b, 0));
});

test('fragments of a real 2028-byte ping', (t) => {
  t.true(isFragment(FRAG1, 0));
  t.true(isFirstFragment(FRAG1, 0));
  t.false(isNonFirstFragment(FRAG1, 0));
  t.true(ipMoreFragments(FRAG1, 0));
  t.is(ipFragOffset(FRAG1, 0), 0);
  t.is(ipTotalLength(FRAG1, 0), 1500);
  t.true(isFragment(FRAG2, 0));
  t.false(isFirstFragment(FRAG2, 0));
  t.true(isNonFirstFragment(FRAG2, 0));
  t.false(ipMoreFragments(FRAG2, 0));
  t.is(ipFragOffset(FRAG2, 0), 185);
  t.is(ipFragOffsetBytes(FRAG2, 0), 1480);
  t.is(ipId(FRAG1, 0), ipId(FRAG2, 0));
  // The ICMP checksum covers the reassembled datagram: chain the sum across both fragments.
  t.is(sum16(FRAG2, 20, 528, sum16(FRAG1, 20, 1480, 0)), 0xffff);
  t.not(sum16(FRAG1, 20, 1480, 0), 0xffff);
});

test('TCP accessors on a real SYN', (t) => {
  const b = TCP_SYN;
  t.is(ipProtocol(b, 0), IPPROTO_TCP);
  t.is(srcPort(b, 0), 0xe25c);
  t.is(dstPort(b, 0), 8080);
  t.is(tcpSeq(b, 0), 0x23354510);
  t.is(tcpAck(b, 0), 0);
  t.is(tcpFlags(b, 0), TCPF_SYN);
  t.is(tcpFlags(b, 0) & TCPF_ACK, 0);
  t.is(tcpDataOffset(b, 0), 40);
  t.is(tcpWindow(b, 0), 64240);
  t.is(tcpChecksum(b, 0), 0x9682);
  t.is(l4ChecksumOffset(IPPROTO_TCP), TCP_CSUM);
  t.is(l4ChecksumOffset(IPPROTO_UDP), UDP_CSUM);
  t.is(l4ChecksumOffset(47), -1);
  // seq numbers with the top bit set stay int32
  const c = cp(b);
  c[24] = 0xf0;
  t.is(tcpSeq(c, 0), 0xf0354510 | 0);
  t.true(tcpSeq(c, 0) < 0);
});

test('UDP accessors on a real datagram', (t) => {
  const b = UDP_PLAIN;
  t.is(ipProtocol(b, 0), IPPROTO_UDP);
  t.is(srcPort(b, 0), 0xce3b);
  t.is(dstPort(b, 0), 5353);
  t.is(udpLength(b, 0), 18);
  t.is(udpChecksum(b, 0), 0xdd40);
  t.is(b.subarray(28).toString('latin1'), 'hello-udp\n');
});

test('virtio_net_hdr accessors on real TUN packets, little-endian', (t) => {
  t.is(vnetFlags(VNET_TCP_SYN, 0), VNET_HDR_F_NEEDS_CSUM);
  t.true(vnetNeedsCsum(VNET_TCP_SYN, 0));
  t.is(vnetGsoType(VNET_TCP_SYN, 0), VNET_HDR_GSO_NONE);
  t.is(vnetHdrLen(VNET_TCP_SYN, 0), 0);
  t.is(vnetGsoSize(VNET_TCP_SYN, 0), 0);
  t.is(vnetCsumStart(VNET_TCP_SYN, 0), 20);
  t.is(vnetCsumOffset(VNET_TCP_SYN, 0), TCP_CSUM);
  t.is(vnetCsumStart(VNET_UDP, 0), 20);
  t.is(vnetCsumOffset(VNET_UDP, 0), UDP_CSUM);
  t.false(vnetNeedsCsum(VNET_PING, 0));

  const h = Buffer.alloc(12, 0xaa);
  writeVnetHdr(h, 1, VNET_HDR_F_NEEDS_CSUM, VNET_HDR_GSO_NONE, 0, 0, 20, 16);
  t.deepEqual(h.subarray(1, 11), VNET_TCP_SYN.subarray(0, 10));
  writeVnetHdr(h, 1, 3, VNET_HDR_GSO_TCPV4 | VNET_HDR_GSO_ECN, 66, 0x1234, 34, 16);
  t.is(h[0], 0xaa);
  t.is(h[11], 0xaa);
  t.is(vnetFlags(h, 1), 3);
  t.is(vnetGsoType(h, 1), 0x81);
  t.is(vnetHdrLen(h, 1), 66);
  t.is(vnetGsoSize(h, 1), 0x1234);
  t.deepEqual([h[5], h[6]], [0x34, 0x12], 'gso_size little-endian');
  t.is(vnetCsumStart(h, 1), 34);
  t.is(vnetCsumOffset(h, 1), 16);
  writeEmptyVnetHdr(h, 1);
  t.deepEqual([...h], [0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xaa]);
});

test('CHECKSUM_PARTIAL packets really hold the uncomplemented pseudo-header sum', (t) => {
  for (const f of PARTIAL) {
    const proto = ipProtocol(f.buf, f.off);
    const field = f.buf.readUInt16BE(l4Offset(f.buf, f.off) + l4ChecksumOffset(proto));
    t.is(field, ipv4PseudoSum(f.buf, f.off), f.name);
    t.false(l4ChecksumOk(f.buf, f.off), `${f.name} is not complete yet`);
    const c = cp(f.buf);
    completePartial(c, f.off);
    t.true(l4ChecksumOk(c, f.off), `${f.name} completes to a valid checksum`);
  }
});

// ---- incremental updates vs full recomputation -------------------------------------------------

test('decTtl: TTL 64 -> 1 with a correct header checksum at every step, then refuses', (t) => {
  for (const f of ALL) {
    const b = cp(f.buf);
    let ttl = ipTtl(b, f.off);
    while (ttl > 1) {
      const r = decTtl(b, f.off);
      ttl--;
      t.is(r, ttl, f.name);
      t.is(ipTtl(b, f.off), ttl);
      if (!headerOk(b, f.off)) t.fail(`${f.name} header checksum wrong at TTL ${ttl}`);
    }
    const before = cp(b);
    t.is(decTtl(b, f.off), 0, `${f.name}: TTL 1 expires`);
    t.deepEqual(b, before, 'an expiring packet is left untouched');
    setTtl(b, f.off, 0);
    t.true(headerOk(b, f.off));
    t.is(decTtl(b, f.off), 0);
    // everything but TTL and checksum is as captured
    const orig = f.buf;
    for (let i = 0; i < b.length; i++) {
      if (i !== f.off + 8 && i !== f.off + 10 && i !== f.off + 11 && b[i] !== orig[i]) t.fail(`${f.name}: byte ${i} changed`);
    }
  }
});

test('setSrc/setDst/setTtl keep the header checksum equal to a full recompute', (t) => {
  const r = rng(1);
  const edges = [0, -1, 0x7fffffff, 0x80000000 | 0, ipToInt('10.96.0.10'), ipToInt('192.168.255.255'), 1];
  let checks = 0;
  for (const f of ALL) {
    const b = cp(f.buf);
    for (let i = 0; i < 500; i++) {
      const a = i < edges.length ? edges[i]! : r();
      const d = i < edges.length ? edges[edges.length - 1 - i]! : r();
      setSrc(b, f.off, a);
      setDst(b, f.off, d);
      if (i % 7 === 0) setTtl(b, f.off, r() & 0xff);
      t.is(ipSrc(b, f.off), a);
      t.is(ipDst(b, f.off), d);
      if (!headerOk(b, f.off)) t.fail(`${f.name}: wrong header checksum after ${intToIp(a)} -> ${intToIp(d)}`);
      checks++;
    }
    // the payload never changes
    t.deepEqual(b.subarray(f.off + ipHeaderLength(b, f.off)), f.buf.subarray(f.off + ipHeaderLength(b, f.off)));
  }
  t.is(checks, ALL.length * 500);
});

test('NAT rewrites keep TCP/UDP/ICMP checksums complete on real packets', (t) => {
  const r = rng(2);
  for (const f of [...PLAIN, VNET[2]!, LO[0]!, LO[1]!].filter((x) => !isFragment(x.buf, x.off))) {
    const b = cp(f.buf);
    const proto = ipProtocol(b, f.off);
    for (let i = 0; i < 300; i++) {
      const op = i % 4;
      const v = r();
      if (op === 0) natSetSrcIp(b, f.off, v, false);
      else if (op === 1) natSetDstIp(b, f.off, v, false);
      else if (proto === IPPROTO_ICMP) natSetIcmpEchoId(b, f.off, v & 0xffff, false);
      else if (op === 2) natSetSrcPort(b, f.off, v & 0xffff, false);
      else natSetDstPort(b, f.off, v & 0xffff, false);
      if (op === 0) t.is(ipSrc(b, f.off), v);
      if (op === 1) t.is(ipDst(b, f.off), v);
      if (op === 2 && proto !== IPPROTO_ICMP) t.is(srcPort(b, f.off), v & 0xffff);
      if (op === 3 && proto === IPPROTO_ICMP) t.is(icmpEchoId(b, f.off), v & 0xffff);
      if (!headerOk(b, f.off)) t.fail(`${f.name}: IP header checksum wrong after op ${op}`);
      if (!l4ChecksumOk(b, f.off)) t.fail(`${f.name}: L4 checksum wrong after op ${op} (${i})`);
      const co = l4ChecksumOffset(proto);
      if (computeL4Checksum(b, f.off) !== b.readUInt16BE(l4Offset(b, f.off) + co)) t.fail(`${f.name}: field != recompute`);
    }
    t.pass(f.name);
  }
});

test('UDP: a zero checksum (none) stays zero under NAT; a computed zero is sent as 0xffff', (t) => {
  const b = cp(UDP_PLAIN);
  b.writeUInt16BE(0, 26);
  natSetDstIp(b, 0, ipToInt('10.244.3.7'), false);
  natSetSrcPort(b, 0, 40000, false);
  t.is(udpChecksum(b, 0), 0);
  t.true(headerOk(b, 0));

  t.is(csumAdjust32(0xffff, 0, 0xffff0000 | 0), 0);
  t.is(udpCsumAdjust32(0xffff, 0, 0xffff0000 | 0), 0xffff);
  t.is(udpCsumAdjust32(0, 0x01020304, 0x05060708), 0);

  // Find a destination for the real datagram whose new checksum computes to 0.
  const c = cp(UDP_PLAIN);
  const F = udpChecksum(c, 0);
  const old = ipDst(c, 0);
  const hi = 0x0af4; // 10.244.x.x
  let a = (~F & 0xffff) + ((~old >>> 16) & 0xffff) + (~old & 0xffff) + hi;
  a = (a & 0xffff) + (a >>> 16);
  a = (a & 0xffff) + (a >>> 16);
  const lo = (0xffff - a) & 0xffff;
  const nd = (hi << 16) | lo;
  t.is(csumAdjust32(F, old, nd), 0, 'plain RFC 1624 update would give 0');
  natSetDstIp(c, 0, nd, false);
  t.is(udpChecksum(c, 0), 0xffff);
  t.true(l4ChecksumOk(c, 0));
  t.is(computeL4Checksum(c, 0), 0xffff);
});

test('non-first fragments: NAT changes the IP header only', (t) => {
  const b = cp(FRAG2);
  natSetDstIp(b, 0, ipToInt('10.244.9.9'), false);
  natSetSrcIp(b, 0, ipToInt('10.96.0.10'), false);
  t.true(headerOk(b, 0));
  t.deepEqual(b.subarray(20), FRAG2.subarray(20));
});

test('CHECKSUM_PARTIAL NAT: address rewrites track the pseudo-header sum exactly, port rewrites leave it', (t) => {
  const r = rng(3);
  for (const f of PARTIAL) {
    const b = cp(f.buf);
    const co = l4Offset(b, f.off) + l4ChecksumOffset(ipProtocol(b, f.off));
    for (let i = 0; i < 300; i++) {
      const v = r();
      const op = i % 4;
      const before = b.readUInt16BE(co);
      if (op === 0) natSetSrcIp(b, f.off, v, true);
      else if (op === 1) natSetDstIp(b, f.off, v, true);
      else if (op === 2) natSetSrcPort(b, f.off, v & 0xffff, true);
      else natSetDstPort(b, f.off, v & 0xffff, true);
      if (op >= 2) t.is(b.readUInt16BE(co), before, 'port rewrite does not touch a partial sum');
      if (!headerOk(b, f.off)) t.fail(`${f.name}: header checksum`);
      if (b.readUInt16BE(co) !== ipv4PseudoSum(b, f.off)) t.fail(`${f.name}: field != recomputed pseudo-header sum (${i})`);
      const done = cp(b);
      completePartial(done, f.off);
      if (!l4ChecksumOk(done, f.off)) t.fail(`${f.name}: completed checksum wrong (${i})`);
    }
    // The complete-checksum update is NOT right for partial packets.
    const w = cp(f.buf);
    natSetDstIp(w, f.off, ipToInt('10.244.1.2'), false);
    t.not(w.readUInt16BE(co), ipv4PseudoSum(w, f.off), `${f.name}: full update differs from partial update`);
  }
});

test('partialAdjust16/32 equal a recomputed pseudo-header sum (random)', (t) => {
  const r = rng(4);
  for (let i = 0; i < 20000; i++) {
    const src = r();
    const dst = r();
    const proto = i & 1 ? IPPROTO_TCP : IPPROTO_UDP;
    const len = (r() & 0xffff) | 8;
    const p = pseudoHeaderSum(src, dst, proto, len);
    const nd = r();
    const ns = r();
    const nl = (r() & 0xffff) | 8;
    if (partialAdjust32(p, dst, nd) !== pseudoHeaderSum(src, nd, proto, len)) return t.fail(`dst ${i}`);
    if (partialAdjust32(p, src, ns) !== pseudoHeaderSum(ns, dst, proto, len)) return t.fail(`src ${i}`);
    if (partialAdjust16(p, len, nl) !== pseudoHeaderSum(src, dst, proto, nl)) return t.fail(`len ${i}`);
  }
  t.pass();
});

test('csumAdjust16/32 equal a full recompute on random data', (t) => {
  const r = rng(5);
  const b = Buffer.alloc(64);
  for (let round = 0; round < 2000; round++) {
    for (let i = 0; i < b.length; i++) b[i] = r() & 0xff;
    b.writeUInt16BE(0, 10);
    b.writeUInt16BE(checksum(b, 0, 64, 0), 10);
    t.is(checksum(b, 0, 64, 0), 0);
    for (let k = 0; k < 4; k++) {
      const at = 12 + 4 * (r() & 7);
      if (k & 1) {
        const old = b.readInt32BE(at);
        const nv = r();
        b.writeInt32BE(nv, at);
        b.writeUInt16BE(csumAdjust32(b.readUInt16BE(10), old, nv), 10);
      } else {
        const old = b.readUInt16BE(at);
        const nv = r() & 0xffff;
        b.writeUInt16BE(nv, at);
        b.writeUInt16BE(csumAdjust16(b.readUInt16BE(10), old, nv), 10);
      }
      const field = b.readUInt16BE(10);
      b.writeUInt16BE(0, 10);
      const full = checksum(b, 0, 64, 0);
      b.writeUInt16BE(field, 10);
      if (full !== field) return t.fail(`round ${round}: incremental ${field.toString(16)} != full ${full.toString(16)}`);
    }
  }
  t.pass();
});

test('sum16/checksum: RFC 1071 example, odd lengths, chaining, 64 KiB', (t) => {
  const ex = Buffer.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  t.is(sum16(ex, 0, 8, 0), 0xddf2);
  t.is(checksum(ex, 0, 8, 0), 0x220d);
  t.is(sum16(Buffer.from([0x01]), 0, 1, 0), 0x0100);
  t.is(sum16(ex, 1, 3, 0), 0x01f2 + 0x0300);
  t.is(sum16(ex, 0, 8, 0), sum16(ex, 4, 4, sum16(ex, 0, 4, 0)));
  const r = rng(6);
  const big = Buffer.alloc(65535);
  for (let i = 0; i < big.length; i++) big[i] = r() & 0xff;
  let ref = 0;
  for (let i = 0; i < big.length; i += 2) ref += (big[i]! << 8) | (i + 1 < big.length ? big[i + 1]! : 0);
  while (ref > 0xffff) ref = (ref % 0x10000) + Math.floor(ref / 0x10000);
  t.is(sum16(big, 0, big.length, 0), ref);
  big.fill(0xff);
  t.is(sum16(big, 0, 65534, 0), 0xffff);
  t.is(ipv4HeaderChecksum(TCP_SYN, 0), 0x0afe);
});

// ---- validation ------------------------------------------------------------------------------

test('validIpv4: truncated real packets give the right reason at every length', (t) => {
  for (const f of PLAIN) {
    const total = ipTotalLength(f.buf, 0);
    const hl = ipHeaderLength(f.buf, 0);
    for (let len = 0; len < total; len++) {
      const b = Buffer.from(f.buf.subarray(0, len)); // a real short buffer, not just a short len
      const want = len < 20 ? IPV4_TOO_SHORT : len < hl ? IPV4_BAD_IHL : IPV4_BAD_TOTAL_LENGTH;
      const got = validIpv4(b, 0, len);
      if (got !== want) return t.fail(`${f.name} len ${len}: ${ipv4Reason(got)} != ${ipv4Reason(want)}`);
      if (validIpv4(f.buf, 0, len) !== want) return t.fail(`${f.name} len ${len} (long buffer)`);
    }
    t.is(validIpv4(f.buf, 0, total), IPV4_OK);
    const padded = Buffer.concat([f.buf, Buffer.alloc(6)]);
    t.is(validIpv4(padded, 0, padded.length), IPV4_OK, 'trailing padding is fine');
  }
});

test('validIpv4: garbage headers', (t) => {
  const mod = (fn: (b: Buffer) => void): Buffer => {
    const b = cp(TCP_SYN);
    fn(b);
    return b;
  };
  t.is(validIpv4(mod((b) => (b[0] = 0x65)), 0, 60), IPV4_BAD_VERSION);
  t.is(validIpv4(mod((b) => (b[0] = 0x44)), 0, 60), IPV4_BAD_IHL);
  t.is(validIpv4(mod((b) => (b[0] = 0x4f)), 0, 60), IPV4_OK, 'IHL 15 within 60 bytes');
  t.is(validIpv4(mod((b) => b.writeUInt16BE(19, 2)), 0, 60), IPV4_BAD_TOTAL_LENGTH);
  t.is(validIpv4(mod((b) => b.writeUInt16BE(0, 2)), 0, 60), IPV4_BAD_TOTAL_LENGTH);
  t.is(validIpv4(mod((b) => b.writeUInt16BE(61, 2)), 0, 60), IPV4_BAD_TOTAL_LENGTH);
  t.is(validIpv4(mod((b) => b.writeUInt16BE(0x1fff, 6)), 0, 60), IPV4_BAD_FRAGMENT);
  t.is(validIpv4(mod((b) => b.writeUInt16BE(0x1ffb, 6)), 0, 60), IPV4_BAD_FRAGMENT, '65496 + 40 > 65535');
  t.is(validIpv4(mod((b) => b.writeUInt16BE(0x1ffa, 6)), 0, 60), IPV4_OK, '65488 + 40 fits');
  const bad = mod((b) => (b[10] ^= 1));
  t.is(validIpv4(bad, 0, 60), IPV4_OK, 'checksum not checked by default');
  t.is(validIpv4(bad, 0, 60, true), IPV4_BAD_CHECKSUM);
  t.is(validIpv4(TCP_SYN, 0, 1000), IPV4_OK, 'len beyond the buffer is clamped');
  t.is(validIpv4(TCP_SYN, 50, 20), IPV4_TOO_SHORT, 'offset near the end');
  t.is(validIpv4(TCP_SYN, -1, 60), IPV4_TOO_SHORT);
  t.is(ipv4Reason(IPV4_OK), 'ok');
  t.is(ipv4Reason(IPV4_TOO_SHORT), 'ipv4_too_short');
  t.is(ipv4Reason(IPV4_BAD_VERSION), 'ipv4_bad_version');
  t.is(ipv4Reason(IPV4_BAD_IHL), 'ipv4_bad_ihl');
  t.is(ipv4Reason(IPV4_BAD_TOTAL_LENGTH), 'ipv4_bad_total_length');
  t.is(ipv4Reason(IPV4_BAD_FRAGMENT), 'ipv4_bad_fragment');
  t.is(ipv4Reason(IPV4_BAD_CHECKSUM), 'ipv4_bad_checksum');
  t.is(ipv4Reason(99), 'ipv4_unknown');
  // random garbage never throws and OK means the header is really inside the bytes
  const r = rng(7);
  let ok = 0;
  for (let i = 0; i < 20000; i++) {
    const n = r() & 127;
    const b = Buffer.alloc(n);
    for (let j = 0; j < n; j++) b[j] = r() & 0xff;
    if (n > 0 && i & 1) b[0] = 0x40 | (b[0]! & 0x0f);
    if (n > 3 && i & 2) b.writeUInt16BE(r() & 127, 2);
    const c = validIpv4(b, 0, n);
    if (c < 0 || c > 6) return t.fail(`code ${c}`);
    if (c === IPV4_OK) {
      ok++;
      if (!(ipHeaderLength(b, 0) >= 20 && ipHeaderLength(b, 0) <= ipTotalLength(b, 0) && ipTotalLength(b, 0) <= n)) {
        return t.fail(`accepted a bad header ${b.toString('hex')}`);
      }
    }
  }
  t.true(ok > 0, 'some random headers pass');
});

test('l4HeaderOk catches L4 headers cut short', (t) => {
  const shortTotal = (src: Buffer, total: number): Buffer => {
    const b = Buffer.from(src.subarray(0, total));
    b.writeUInt16BE(total, 2);
    b.writeUInt16BE(ipv4HeaderChecksum(b, 0), 10);
    return b;
  };
  t.true(l4HeaderOk(TCP_SYN, 0, 60));
  t.false(l4HeaderOk(shortTotal(TCP_SYN, 39), 0, 39), 'TCP shorter than 20');
  t.false(l4HeaderOk(shortTotal(TCP_SYN, 50), 0, 50), 'TCP options cut');
  const doff = cp(TCP_SYN);
  doff[32] = 0x40;
  t.false(l4HeaderOk(doff, 0, 60), 'data offset < 5');
  t.false(l4HeaderOk(shortTotal(UDP_PLAIN, 27), 0, 27), 'UDP shorter than 8');
  t.false(l4HeaderOk(shortTotal(UDP_PLAIN, 30), 0, 30), 'UDP length beyond the packet');
  t.false(l4HeaderOk(shortTotal(PING_PATTERN, 24), 0, 24), 'ICMP shorter than 8');
  t.true(l4HeaderOk(FRAG2, 0, FRAG2.length), 'non-first fragment: nothing to read');
  t.true(l4HeaderOk(FRAG1, 0, FRAG1.length));
});

// ---- edge helpers ------------------------------------------------------------------------------

test('ipToInt / intToIp / parseCidr / inCidr', (t) => {
  t.is(ipToInt('10.0.0.1'), 0x0a000001);
  t.is(ipToInt('255.255.255.255'), -1);
  t.is(ipToInt('192.168.1.1'), 0xc0a80101 | 0);
  t.is(ipToInt('0.0.0.0'), 0);
  t.is(intToIp(-1), '255.255.255.255');
  t.is(intToIp(0xc0a80101), '192.168.1.1');
  t.is(intToIp(ipToInt('172.18.255.7')), '172.18.255.7');
  for (const bad of ['10.0.0', '10.0.0.1.2', '256.1.1.1', '01.2.3.4', '1.2.3.-4', '', 'a.b.c.d', '1.2.3.4 ', '1..3.4']) {
    t.throws(() => ipToInt(bad), undefined, bad);
  }
  const c = parseCidr('10.244.0.0/16');
  t.deepEqual(c, { base: ipToInt('10.244.0.0'), prefixLen: 16, mask: ipToInt('255.255.0.0') });
  t.true(inCidr(ipToInt('10.244.255.255'), c.base, c.mask));
  t.true(inCidr(ipToInt('10.244.0.0'), c.base, c.mask));
  t.false(inCidr(ipToInt('10.245.0.0'), c.base, c.mask));
  t.false(inCidr(ipToInt('10.243.255.255'), c.base, c.mask));
  const svc = parseCidr('10.96.0.0/12');
  t.true(inCidr(ipToInt('10.96.0.10'), svc.base, svc.mask));
  t.true(inCidr(ipToInt('10.111.255.255'), svc.base, svc.mask));
  t.false(inCidr(ipToInt('10.112.0.0'), svc.base, svc.mask));
  t.is(parseCidr('10.244.1.7/16').base, ipToInt('10.244.0.0'), 'host bits cleared like Go');
  const all = parseCidr('0.0.0.0/0');
  t.true(inCidr(-1, all.base, all.mask));
  t.true(inCidr(0x7f000001, all.base, all.mask));
  const one = parseCidr('192.168.0.1/32');
  t.is(one.mask, -1);
  t.true(inCidr(ipToInt('192.168.0.1'), one.base, one.mask));
  t.false(inCidr(ipToInt('192.168.0.2'), one.base, one.mask));
  t.true(inCidr(ipToInt('200.1.2.3'), parseCidr('128.0.0.0/1').base, prefixMask(1)));
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/08', '10.0.0/8', '10.0.0.0/', '/8']) {
    t.throws(() => parseCidr(bad), undefined, bad);
  }
  t.true(isMulticast(ipToInt('224.0.0.251')));
  t.true(isMulticast(ipToInt('239.255.255.250')));
  t.false(isMulticast(ipToInt('240.0.0.1')));
  t.false(isMulticast(ipToInt('223.255.255.255')));
});

// ---- ICMP builders ---------------------------------------------------------------------------

test("buildEchoReplyInPlace produces the kernel's echo reply", (t) => {
  const b = cp(LO_ECHO_REQ);
  t.is(buildEchoReplyInPlace(b, 0), 84);
  t.deepEqual(b.subarray(20), LO_ECHO_REPLY.subarray(20), 'ICMP part byte-identical to the kernel reply');
  t.is(ipSrc(b, 0), ipSrc(LO_ECHO_REPLY, 0));
  t.is(ipDst(b, 0), ipDst(LO_ECHO_REPLY, 0));
  t.is(ipTtl(b, 0), 64);
  t.true(headerOk(b, 0));

  for (const f of [{ buf: PING_RR, off: 0 }, { buf: PING_PATTERN, off: 0 }, { buf: VNET_PING, off: VNET_HDR_LEN }]) {
    const c = cp(f.buf);
    setTtl(c, f.off, 17);
    t.is(buildEchoReplyInPlace(c, f.off), ipTotalLength(c, f.off));
    t.is(icmpType(c, f.off), 0);
    t.is(ipSrc(c, f.off), ipDst(f.buf, f.off));
    t.is(ipDst(c, f.off), ipSrc(f.buf, f.off));
    t.is(ipTtl(c, f.off), 64);
    t.true(headerOk(c, f.off));
    t.true(l4ChecksumOk(c, f.off));
    t.is(icmpEchoId(c, f.off), icmpEchoId(f.buf, f.off));
    t.deepEqual(c.subarray(0, f.off), f.buf.subarray(0, f.off), 'vnet header untouched');
  }
  for (const no of [LO_ECHO_REPLY, TCP_SYN, FRAG1, FRAG2, LO_PORT_UNREACH]) {
    const c = cp(no);
    t.is(buildEchoReplyInPlace(c, 0), 0);
    t.deepEqual(c, no, 'refused packets are untouched');
  }
});

test("buildIcmpError: port unreachable shaped like the kernel's", (t) => {
  // lo's source is 127.0.0.1, which a router must not answer; give the datagram a pod source.
  const orig = cp(LO_UDP);
  setSrc(orig, 0, ipToInt('10.244.1.2'));
  const router = ipToInt('10.244.1.1');
  const out = Buffer.alloc(200, 0xee);
  const n = buildIcmpError(out, 10, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, router, orig, 0, orig.length, 0);
  t.is(n, 20 + 8 + 28);
  t.true(out.subarray(0, 10).every((x) => x === 0xee), 'nothing written before outOff');
  t.true(out.subarray(10 + n).every((x) => x === 0xee), 'nothing written after the packet');
  const k = LO_PORT_UNREACH;
  t.is(validIpv4(out, 10, n, true), IPV4_OK);
  t.is(out[10], 0x45);
  t.is(ipTos(out, 10), ipTos(k, 0), 'TOS 0xc0 like Linux');
  t.is(ipTtl(out, 10), ipTtl(k, 0));
  t.is(ipProtocol(out, 10), IPPROTO_ICMP);
  t.is(out.readUInt16BE(16), k.readUInt16BE(6), 'no DF, no fragment offset, like Linux');
  t.is(ipSrc(out, 10), router);
  t.is(ipDst(out, 10), ipToInt('10.244.1.2'));
  t.is(icmpType(out, 10), 3);
  t.is(icmpCode(out, 10), 3);
  t.deepEqual(out.subarray(34, 38), k.subarray(24, 28), 'unused word');
  t.deepEqual(out.subarray(38, 38 + 28), orig.subarray(0, 28), 'quotes IP header + 8 bytes');
  t.deepEqual(k.subarray(28, 56), LO_UDP.subarray(0, 28), 'the kernel quote starts the same way');
  t.true(headerOk(out, 10));
  t.true(l4ChecksumOk(out, 10));
  t.is(computeL4Checksum(out, 10), icmpChecksum(out, 10));
  t.is(buildIcmpError(out, 10, 3, 3, router, LO_UDP, 0, LO_UDP.length, 0), 0, 'loopback source refused');
});

test('buildIcmpError quotes IP options and CHECKSUM_PARTIAL fields as they are, writes the MTU', (t) => {
  const router = ipToInt('10.250.0.254');
  const out = Buffer.alloc(ICMP_ERROR_MAX_LEN);
  let n = buildIcmpError(out, 0, ICMP_TIME_EXCEEDED, 0, router, PING_RR, 0, PING_RR.length, 0);
  t.is(n, ICMP_ERROR_MAX_LEN, 'largest error: 60-byte header quoted');
  t.deepEqual(out.subarray(28, 96), PING_RR.subarray(0, 68));
  t.true(headerOk(out, 0));
  t.true(l4ChecksumOk(out, 0));
  t.is(buildIcmpError(Buffer.alloc(95), 0, 11, 0, router, PING_RR, 0, PING_RR.length, 0), 0, 'out too small');

  const o2 = Buffer.alloc(100);
  n = buildIcmpError(o2, 0, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, router, VNET_TCP_SYN, VNET_HDR_LEN, 60, 1400);
  t.is(n, 56);
  t.is(o2.readUInt16BE(26), 1400, 'next-hop MTU');
  t.is(o2.readUInt16BE(24), 0);
  t.deepEqual(o2.subarray(28, 56), VNET_TCP_SYN.subarray(10, 38), 'partial TCP checksum field is not quoted (first 8 bytes)');
  t.true(headerOk(o2, 0));
  t.true(l4ChecksumOk(o2, 0));
  // quoting a UDP header includes its checksum field: partial sum quoted as-is
  n = buildIcmpError(o2, 0, 3, 3, router, VNET_UDP, VNET_HDR_LEN, 43, 0);
  t.is(n, 56);
  t.deepEqual(o2.subarray(28, 56), VNET_UDP.subarray(10, 38));
  t.is(o2.readUInt16BE(54), ipv4PseudoSum(VNET_UDP, VNET_HDR_LEN));
  t.true(l4ChecksumOk(o2, 0));
  n = buildIcmpError(o2, 0, 3, 1, router, TCP_SYN, 0, 60, 1400);
  t.is(o2.readUInt16BE(26), 0, 'MTU only for fragmentation needed');
  t.is(n, 56);
  t.true(buildIcmpError(o2, 0, 11, 0, router, FRAG1, 0, FRAG1.length, 0) > 0, 'first fragment may get an error');
  // a datagram shorter than header + 8 is quoted whole
  const tiny = Buffer.from(UDP_PLAIN.subarray(0, 24));
  tiny.writeUInt16BE(24, 2);
  tiny.writeUInt16BE(ipv4HeaderChecksum(tiny, 0), 10);
  n = buildIcmpError(o2, 0, 3, 3, router, tiny, 0, 24, 0);
  t.is(n, 52);
  t.true(l4ChecksumOk(o2, 0));
});

test('buildIcmpError refuses what RFC 1122 / RFC 1812 forbid', (t) => {
  const router = ipToInt('10.250.0.254');
  const out = Buffer.alloc(128);
  const err = (orig: Buffer, off = 0, len = orig.length - off): number =>
    buildIcmpError(out, 0, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, router, orig, off, len, 0);
  t.true(err(UDP_PLAIN) > 0, 'control');
  t.true(err(PING_PATTERN) > 0, 'echo request is not an error message');

  // about an ICMP error: one we built, and the kernel's own (given a routable source)
  const ours = Buffer.from(out.subarray(0, err(UDP_PLAIN)));
  t.is(err(ours), 0);
  const kern = cp(LO_PORT_UNREACH);
  setSrc(kern, 0, ipToInt('10.244.1.2'));
  setDst(kern, 0, ipToInt('10.244.2.2'));
  t.is(err(kern), 0);
  for (const type of [3, 4, 5, 11, 12, 19, 42, 255]) {
    const c = cp(PING_PATTERN);
    c[20] = type;
    t.is(err(c), 0, `ICMP type ${type}`);
  }
  for (const type of [0, 8, 13, 14]) {
    const c = cp(PING_PATTERN);
    c[20] = type;
    t.true(err(c) > 0, `ICMP type ${type} is informational`);
  }
  const noType = Buffer.from(PING_PATTERN.subarray(0, 20));
  noType.writeUInt16BE(20, 2);
  t.is(err(noType), 0, 'ICMP without a type byte');

  t.is(err(FRAG2), 0, 'non-first fragment');
  for (const s of ['0.0.0.0', '0.1.2.3', '127.0.0.1', '224.0.0.5', '239.255.255.250', '240.0.0.1', '255.255.255.255']) {
    const c = cp(UDP_PLAIN);
    setSrc(c, 0, ipToInt(s));
    t.is(err(c), 0, `source ${s}`);
  }
  for (const d of ['224.0.0.251', '255.255.255.255']) {
    const c = cp(UDP_PLAIN);
    setDst(c, 0, ipToInt(d));
    t.is(err(c), 0, `destination ${d}`);
  }
  const subnetBcast = cp(UDP_PLAIN);
  setDst(subnetBcast, 0, ipToInt('10.250.0.255'));
  t.true(err(subnetBcast) > 0, 'directed broadcasts are not known to the builder');

  t.is(err(UDP_PLAIN, 0, 37), 0, 'truncated original');
  t.is(err(Buffer.from('6000000000083a40', 'hex')), 0, 'not IPv4');
  const small = Buffer.alloc(55, 0xee);
  t.is(buildIcmpError(small, 0, 3, 3, router, UDP_PLAIN, 0, UDP_PLAIN.length, 0), 0, 'out too small');
  t.true(small.every((x) => x === 0xee), 'nothing written on refusal');
  t.is(buildIcmpError(out, 100, 3, 3, router, UDP_PLAIN, 0, UDP_PLAIN.length, 0), 0, 'outOff too far');
});

// ---- allocation-freedom ------------------------------------------------------------------------

test('the per-packet functions allocate nothing: no GC in 3M iterations under --trace-gc', (t) => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const mod = (p: string): string => JSON.stringify(new URL(`file://${path.resolve(here, '../../src/dataplane', p)}`).href);
  const dir = mkdtempSync(path.join(tmpdir(), 'kemu-wire-gc-'));
  try {
    const script = `
import * as ip from ${mod('wire/ipv4.js')};
import * as l4 from ${mod('wire/l4.js')};
import * as cs from ${mod('wire/checksum.js')};
import * as icmp from ${mod('wire/icmp-build.js')};
import * as vn from ${mod('wire/vnet.js')};
const syn = Buffer.from(${JSON.stringify(VNET_TCP_SYN.toString('hex'))}, 'hex');
const udp = Buffer.from(${JSON.stringify(UDP_PLAIN.toString('hex'))}, 'hex');
const ping = Buffer.from(${JSON.stringify(PING_PATTERN.toString('hex'))}, 'hex');
const echo = Buffer.alloc(ping.length);
const scratch = Buffer.alloc(128);
function run(n) {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const o = 10;
    const partial = vn.vnetNeedsCsum(syn, 0);
    if (ip.validIpv4(syn, o, syn.length - o) !== 0) acc++;
    if (!l4.l4HeaderOk(syn, o, syn.length - o)) acc++;
    const d = ip.ipDst(syn, o);
    l4.natSetDstIp(syn, o, (d + 1) | 0, partial);
    l4.natSetSrcPort(syn, o, i & 0xffff, partial);
    if (ip.decTtl(syn, o) === 0) ip.setTtl(syn, o, 64);
    l4.natSetDstIp(udp, 0, (i * 7919) | 0, false);
    l4.natSetDstPort(udp, 0, i & 0xffff, false);
    ip.setSrc(udp, 0, i | 0);
    acc = (acc + l4.srcPort(udp, 0) + l4.tcpSeq(syn, o) + cs.csumAdjust32(i & 0xffff, i, ~i) + cs.partialAdjust32(i & 0xffff, i, -i)) | 0;
    acc = (acc + ip.ipSrc(syn, o) + (ip.inCidr(d, 0x0af40000, -65536) ? 1 : 0)) | 0;
    if ((i & 15) === 0) {
      acc = (acc + icmp.buildIcmpError(scratch, 10, 3, 3, 0x0afa00fe, udp, 0, udp.length, 0)) | 0;
      for (let k = 0; k < ping.length; k++) echo[k] = ping[k];
      acc = (acc + icmp.buildEchoReplyInPlace(echo, 0)) | 0;
      vn.writeEmptyVnetHdr(scratch, 0);
    }
  }
  return acc;
}
run(300000);
console.log('KEMU-MEASURE-START');
const r = run(3000000);
console.log('KEMU-MEASURE-END', r);
`;
    const file = path.join(dir, 'gc.mjs');
    writeFileSync(file, script);
    const res = spawnSync(process.execPath, ['--trace-gc', file], { encoding: 'utf8', timeout: 120_000 });
    t.is(res.status, 0, res.stderr);
    const out = res.stdout;
    const start = out.indexOf('KEMU-MEASURE-START');
    const end = out.indexOf('KEMU-MEASURE-END');
    t.true(start >= 0 && end > start, out.slice(-2000));
    const gcs = out.slice(start, end).split('\n').filter((l) => /Scavenge|Mark-Compact|Mark-sweep|Minor/i.test(l));
    t.deepEqual(gcs, [], 'garbage collections while running the hot path');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
