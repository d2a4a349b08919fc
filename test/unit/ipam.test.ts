import test from 'ava';
import { intToIpString, ipStringToInt, nodeSubnet, parseCidrString, RangeAllocator } from '../../src/runtime/ipam.js';

test('node subnets are consecutive /24s of the pod subnet', (t) => {
  const pod = parseCidrString('10.244.0.0/16');
  t.is(intToIpString(nodeSubnet(pod, 0).base), '10.244.0.0');
  t.is(intToIpString(nodeSubnet(pod, 2).base), '10.244.2.0');
  t.throws(() => nodeSubnet(pod, 256), { message: /room for 256 nodes/ });
});

test('allocation skips the gateway, continues after the last address and does not reuse at once', (t) => {
  const a = new RangeAllocator(ipStringToInt('10.244.1.0'), 256);
  t.is(intToIpString(a.gateway), '10.244.1.1');
  const x = a.allocate();
  const y = a.allocate();
  t.is(intToIpString(x), '10.244.1.2');
  t.is(intToIpString(y), '10.244.1.3');
  a.release(x);
  t.is(intToIpString(a.allocate()), '10.244.1.4');
});

test('exhaustion is a clear error; 253 addresses fit in a /24', (t) => {
  const a = new RangeAllocator(ipStringToInt('10.244.1.0'), 256);
  const got = new Set<number>();
  for (let i = 0; i < 253; i++) got.add(a.allocate());
  t.is(got.size, 253);
  t.false(got.has(ipStringToInt('10.244.1.255')));
  t.throws(() => a.allocate(), { message: 'no free pod IPs left in 10.244.1.0/24' });
});

test('bad addresses are refused', (t) => {
  t.throws(() => ipStringToInt('10.0.0.256'), { message: 'invalid IPv4 address "10.0.0.256"' });
  t.throws(() => parseCidrString('10.0.0.0/33'), { message: 'invalid CIDR "10.0.0.0/33"' });
});
