// Container probes: SetDefaults_Probe / SetDefaults_HTTPGetAction and validateProbe /
// validateHandler from the apiserver. Only readinessProbe is acted on by kemu's kubelet;
// liveness and startup probes are accepted and ignored (schema.ts says so in warnings).
import { type Cause, type Obj, forbidden, invalid, PORT_RANGE, portNameErrors, required, unsupported, validPort } from './field-errors.js';

const PROBES = ['readinessProbe', 'livenessProbe', 'startupProbe'] as const;

/** The probe fields the apiserver fills in (timeoutSeconds 1, periodSeconds 10, thresholds 1 and 3). */
export function applyProbeDefaults(container: Obj): void {
  for (const k of PROBES) {
    const p = container[k];
    if (!p || typeof p !== 'object') continue;
    if (!p.timeoutSeconds) p.timeoutSeconds = 1;
    if (!p.periodSeconds) p.periodSeconds = 10;
    if (!p.successThreshold) p.successThreshold = 1;
    if (!p.failureThreshold) p.failureThreshold = 3;
    if (p.httpGet && typeof p.httpGet === 'object') {
      p.httpGet.path ||= '/';
      p.httpGet.scheme ||= 'HTTP';
    }
  }
}

function portNumOrName(v: unknown, f: string, out: Cause[]): void {
  if (typeof v === 'number') {
    if (!validPort(v)) out.push(invalid(f, v, PORT_RANGE));
  } else if (typeof v === 'string') {
    for (const m of portNameErrors(v)) out.push(invalid(f, v, m));
  } else out.push(invalid(f, v ?? 0, PORT_RANGE));
}

/** validateProbe for the readiness probe of one container (field prefix `spec.containers[i]`). */
export function validateProbes(container: Obj, f: string, out: Cause[]): void {
  const p = container.readinessProbe;
  if (!p || typeof p !== 'object') return;
  const pf = `${f}.readinessProbe`;
  let handlers = 0;
  for (const h of ['exec', 'httpGet', 'tcpSocket', 'grpc'] as const) {
    if (p[h] == null) continue;
    if (handlers++ > 0) {
      out.push(forbidden(`${pf}.${h}`, 'may not specify more than 1 handler type'));
      continue;
    }
    const a = p[h];
    if (h === 'exec' && !(a.command ?? []).length) out.push(required(`${pf}.exec.command`));
    if (h === 'httpGet') {
      if (!a.path) out.push(required(`${pf}.httpGet.path`));
      portNumOrName(a.port, `${pf}.httpGet.port`, out);
      if (!['HTTP', 'HTTPS'].includes(a.scheme)) out.push(unsupported(`${pf}.httpGet.scheme`, a.scheme ?? '', ['HTTP', 'HTTPS']));
    }
    if (h === 'tcpSocket') portNumOrName(a.port, `${pf}.tcpSocket.port`, out);
    if (h === 'grpc') portNumOrName(a.port, `${pf}.grpc.port`, out);
  }
  if (handlers === 0) out.push(required(pf, 'must specify a handler type'));
  for (const k of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold'] as const) {
    if (typeof p[k] === 'number' && p[k] < 0) out.push(invalid(`${pf}.${k}`, p[k], 'must be greater than or equal to 0'));
  }
  if (p.terminationGracePeriodSeconds != null) out.push(invalid(`${pf}.terminationGracePeriodSeconds`, p.terminationGracePeriodSeconds, 'must not be set for readinessProbes'));
}
