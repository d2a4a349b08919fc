// Readiness probe logic without namespaces: commands, outcomes, thresholds, timing.
import test from 'ava';
import { type ProbeCommand, ProbeState, probeCommand, probeSucceeded, ReadinessProber, resolveProbePort } from '../../src/runtime/probes.js';

const container = { name: 'web', image: 'nginx', ports: [{ name: 'http', containerPort: 8080 }, { name: 'metrics', containerPort: 9100 }] };
const ctx = { podIP: '10.244.1.2', nodeNetns: 'kemu_c_kemu-worker', podNetns: 'kemu_c_default_web', utsFile: '/run/kemu/c/uts/x', env: { A: '1' } };

test('probe ports: numbers, this container’s port names, numbers in strings', (t) => {
  t.is(resolveProbePort(80, container), 80);
  t.is(resolveProbePort('http', container), 8080);
  t.is(resolveProbePort('8081', container), 8081);
  t.is(resolveProbePort('grpc', container), undefined);
  t.is(resolveProbePort(0, container), undefined);
});

test('httpGet and tcpSocket probes run from the node’s namespace to the pod IP; exec runs inside the pod', (t) => {
  const http = probeCommand({ httpGet: { path: 'healthz', port: 'http', httpHeaders: [{ name: 'X-Probe', value: 'yes' }, { name: 'user-agent', value: 'custom' }] }, timeoutSeconds: 2 }, container, ctx) as ProbeCommand;
  t.deepEqual(http.argv, [
    'ip', 'netns', 'exec', 'kemu_c_kemu-worker',
    'curl', '-s', '-k', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2',
    '-H', 'user-agent: custom', '-H', 'Accept: */*', '-H', 'X-Probe: yes',
    'http://10.244.1.2:8080/healthz',
  ]);
  const https = probeCommand({ httpGet: { scheme: 'HTTPS', host: '10.0.0.9', port: 443 } }, container, ctx) as ProbeCommand;
  t.is(https.argv.at(-1), 'https://10.0.0.9:443/');
  const tcp = probeCommand({ tcpSocket: { port: 'metrics' }, timeoutSeconds: 3 }, container, ctx) as ProbeCommand;
  t.deepEqual(tcp.argv, ['ip', 'netns', 'exec', 'kemu_c_kemu-worker', 'nc', '-z', '-w', '3', '10.244.1.2', '9100']);
  const exec = probeCommand({ exec: { command: ['cat', '/tmp/ready'] } }, container, ctx) as ProbeCommand;
  t.deepEqual(exec.argv, ['nsenter', '--uts=/run/kemu/c/uts/x', '--', 'ip', 'netns', 'exec', 'kemu_c_default_web', 'cat', '/tmp/ready']);
  t.deepEqual(exec.env, { A: '1' });
  t.regex(probeCommand({ tcpSocket: { port: 'nope' } }, container, ctx) as string, /not a port of container "web"/);
  t.regex(probeCommand({ grpc: { port: 9000 } }, container, ctx) as string, /no supported probe handler/);
});

test('HTTP probes pass on 200-399 only; others on exit status', (t) => {
  const http: ProbeCommand = { argv: [], check: 'http' };
  t.true(probeSucceeded(http, 0, '200'));
  t.true(probeSucceeded(http, 0, '302'));
  t.false(probeSucceeded(http, 0, '404'));
  t.false(probeSucceeded(http, 0, '500'));
  t.false(probeSucceeded(http, 7, '000'));
  t.true(probeSucceeded({ argv: [], check: 'exit' }, 0, ''));
  t.false(probeSucceeded({ argv: [], check: 'exit' }, 1, ''));
});

test('thresholds: ready after successThreshold successes in a row, unready after failureThreshold failures', (t) => {
  const s = new ProbeState({ successThreshold: 2, failureThreshold: 3 });
  t.false(s.ready);
  t.false(s.record(true));
  t.false(s.record(false), 'a failure breaks the run');
  t.false(s.record(true));
  t.true(s.record(true), 'two in a row: ready');
  t.true(s.ready);
  t.false(s.record(false));
  t.false(s.record(false));
  t.false(s.record(true), 'a success resets the failure run');
  t.false(s.record(false));
  t.false(s.record(false));
  t.true(s.record(false), 'three in a row: unready');
  t.false(s.ready);
});

test('the prober waits initialDelaySeconds, probes every periodSeconds, and starts over when the container restarts', async (t) => {
  const calls: number[] = [];
  let answer = 0;
  let changes = 0;
  const t0 = Date.now();
  const prober = new ReadinessProber(
    { exec: { command: ['true'] }, initialDelaySeconds: 0.2 as any, periodSeconds: 0.1 as any, failureThreshold: 1 },
    container,
    () => changes++,
    async () => {
      calls.push(Date.now() - t0);
      return { code: answer, stdout: '' };
    },
  );
  prober.containerStarted(100, ctx);
  await new Promise((r) => setTimeout(r, 120));
  t.is(calls.length, 0, 'nothing during the initial delay');
  t.false(prober.ready);
  await new Promise((r) => setTimeout(r, 200));
  t.true(calls.length >= 1);
  t.true(prober.ready);
  t.is(changes, 1);
  answer = 1;
  await new Promise((r) => setTimeout(r, 150));
  t.false(prober.ready, 'failureThreshold 1: one failure is enough');
  answer = 0;
  prober.stop();
  const n = calls.length;
  await new Promise((r) => setTimeout(r, 250));
  t.is(calls.length, n, 'stopped: no more probes');
  t.is(prober.startedFor, undefined);
  prober.containerStarted(101, ctx);
  t.is(prober.startedFor, 101);
  t.false(prober.ready, 'a restarted container starts unready');
  prober.stop();
});
