// The Service environment variables the kubelet gives every container (pkg/kubelet/envvars,
// kubelet_pods.go getServiceEnvVarMap): for each Service with a ClusterIP in the pod's namespace
// that exists when the pod starts, {SVC}_SERVICE_HOST/_PORT/_PORT_{NAME} and the Docker-link
// {SVC}_PORT* variables; the `kubernetes` Service's from `default` always, the others only
// with enableServiceLinks (the default).
import type { KObject } from '../store/store.js';

/** The apiserver's own Services, whose variables every pod gets. */
const MASTER_SERVICES = new Set(['kubernetes']);

/** IsServiceIPSet: headless (None) and ExternalName Services give no variables. */
function hasClusterIP(svc: KObject): boolean {
  const ip = svc.spec?.clusterIP;
  return Boolean(ip) && ip !== 'None';
}

/** makeEnvVariableName: "my-svc" -> "MY_SVC". */
export function envName(s: string): string {
  return s.replace(/-/g, '_').toUpperCase();
}

/** FromServices for one Service, in the kubelet's order. */
export function serviceVars(svc: KObject): [string, string][] {
  const out: [string, string][] = [];
  const ports: any[] = svc.spec?.ports ?? [];
  if (!hasClusterIP(svc) || !ports.length) return out;
  const prefix = envName(svc.metadata.name);
  const ip: string = svc.spec.clusterIP;
  out.push([`${prefix}_SERVICE_HOST`, ip]);
  out.push([`${prefix}_SERVICE_PORT`, String(ports[0].port)]);
  for (const p of ports) if (p.name) out.push([`${prefix}_SERVICE_PORT_${envName(p.name)}`, String(p.port)]);
  ports.forEach((p, i) => {
    const proto = String(p.protocol || 'TCP');
    const url = `${proto.toLowerCase()}://${ip}:${p.port}`;
    if (i === 0) out.push([`${prefix}_PORT`, url]);
    const pp = `${prefix}_PORT_${p.port}_${proto.toUpperCase()}`;
    out.push([pp, url], [`${pp}_PROTO`, proto.toLowerCase()], [`${pp}_PORT`, String(p.port)], [`${pp}_ADDR`, ip]);
  });
  return out;
}

/**
 * The variables for a pod in namespace `ns`, given every Service that exists now. A Service
 * of the pod's own namespace wins over `default`'s one of the same name.
 */
export function serviceEnv(services: Iterable<KObject>, ns: string, enableServiceLinks: boolean): Record<string, string> {
  const chosen = new Map<string, KObject>();
  for (const svc of services) {
    if (!hasClusterIP(svc)) continue;
    const name = svc.metadata.name;
    if (svc.metadata.namespace === 'default' && MASTER_SERVICES.has(name)) {
      if (!chosen.has(name)) chosen.set(name, svc);
    } else if (svc.metadata.namespace === ns && enableServiceLinks) {
      chosen.set(name, svc);
    }
  }
  const env: Record<string, string> = {};
  for (const name of [...chosen.keys()].sort()) for (const [k, v] of serviceVars(chosen.get(name)!)) env[k] = v;
  return env;
}
