// kubectl-style tables for `kemu get`, with the columns kubectl shows for each kind.
import type { KObject } from '../store/store.js';

/** kubectl's duration.HumanDuration. */
export function humanAge(from: string | undefined, now = Date.now()): string {
  if (!from) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(from)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 730) return `${d}d`;
  const y = Math.floor(d / 365);
  return d % 365 === 0 ? `${y}y` : `${y}y${d % 365}d`;
}

export function podStatusText(p: KObject): string {
  const st = p.status ?? {};
  let reason: string = st.reason ?? st.phase ?? 'Pending';
  if (!p.spec?.nodeName && st.conditions?.some((c: any) => c.type === 'PodScheduled' && c.status === 'False')) reason = 'Pending';
  for (const cs of st.containerStatuses ?? []) {
    if (cs.state?.waiting?.reason && cs.state.waiting.reason !== '') {
      reason = cs.state.waiting.reason;
      break;
    }
    if (cs.state?.terminated) {
      const t = cs.state.terminated;
      reason = t.reason ?? (t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode}`);
      if (reason === 'Completed' && st.phase === 'Running') continue;
      break;
    }
  }
  if (p.metadata.deletionTimestamp) reason = 'Terminating';
  return reason;
}

function podReady(p: KObject): string {
  const total = (p.spec?.containers ?? []).length;
  const ready = (p.status?.containerStatuses ?? []).filter((c: any) => c.ready).length;
  return `${ready}/${total}`;
}

function podRestarts(p: KObject, now: number): string {
  let n = 0;
  let last: string | undefined;
  for (const c of p.status?.containerStatuses ?? []) {
    n += c.restartCount ?? 0;
    const f = c.lastState?.terminated?.finishedAt;
    if (f && (!last || f > last)) last = f;
  }
  return n > 0 && last ? `${n} (${humanAge(last, now)} ago)` : String(n);
}

function containersOf(tpl: any): { names: string; images: string } {
  const cs: any[] = tpl?.spec?.containers ?? [];
  return { names: cs.map((c) => c.name).join(','), images: cs.map((c) => c.image).join(',') };
}

function selectorText(sel: any): string {
  if (!sel) return '<none>';
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${e.operator.toLowerCase()} (${(e.values ?? []).join(',')})`);
  }
  return parts.join(',') || '<none>';
}

/** labels.FormatLabels: "k=v,k2=v2" sorted by key, "<none>" when empty. */
export function formatLabels(m: Record<string, string> | undefined): string {
  const keys = Object.keys(m ?? {}).sort();
  return keys.length ? keys.map((k) => `${k}=${m![k]}`).join(',') : '<none>';
}

/** makePortString: "80/TCP", "80:30080/TCP" for a port with a NodePort. */
export function servicePorts(ports: any[] | undefined): string {
  const s = (ports ?? []).map((p) => (p.nodePort > 0 ? `${p.port}:${p.nodePort}/${p.protocol}` : `${p.port}/${p.protocol}`)).join(',');
  return s || '<none>';
}

/** getServiceExternalIP: the EXTERNAL-IP column (LB addresses clipped to 16 characters unless wide). */
export function serviceExternalIP(svc: KObject, wide: boolean): string {
  const spec = svc.spec ?? {};
  const ext: string[] = spec.externalIPs ?? [];
  switch (spec.type) {
    case 'ClusterIP':
    case 'NodePort':
      return ext.length ? ext.join(',') : '<none>';
    case 'LoadBalancer': {
      const set = new Set<string>();
      for (const i of svc.status?.loadBalancer?.ingress ?? []) {
        if (i.ip) set.add(i.ip);
        else if (i.hostname) set.add(i.hostname);
      }
      let lb = [...set].sort().join(',');
      if (!wide && lb.length > 16) lb = `${lb.slice(0, 13)}...`;
      if (ext.length) return [...(lb ? lb.split(',') : []), ...ext].join(',');
      return lb || '<pending>';
    }
    case 'ExternalName':
      return spec.externalName ?? '';
  }
  return '<unknown>';
}

/** formatEndpoints (v1 Endpoints): ready addresses times ports, the first three, "+ N more...". */
export function formatEndpoints(ep: KObject): string {
  const subsets: any[] = (ep as any).subsets ?? [];
  if (!subsets.length) return '<none>';
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const ss of subsets) {
    const addrs: any[] = ss.addresses ?? [];
    const ports: any[] = ss.ports?.length ? ss.ports : [undefined];
    for (const port of ports) {
      count += addrs.length;
      for (const a of addrs) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(port ? `${a.ip}:${port.port}` : a.ip);
      }
    }
  }
  const ret = list.join(',');
  return more ? `${ret} + ${count - max} more...` : ret;
}

function listWithMore(list: string[], more: boolean, count: number, max: number): string {
  const ret = list.join(',');
  if (more) return `${ret} + ${count - max} more...`;
  return ret || '<unset>';
}

/** formatDiscoveryPorts / formatDiscoveryEndpoints of kubectl's EndpointSlice table. */
export function slicePortsText(slice: KObject): string {
  const ports: any[] = (slice as any).ports ?? [];
  const list: string[] = [];
  let more = false;
  for (const p of ports) {
    if (list.length < 3) list.push(p.port != null ? String(p.port) : p.name != null ? p.name : '*');
    else more = true;
  }
  return listWithMore(list, more, ports.length, 3);
}

export function sliceEndpointsText(slice: KObject): string {
  const list: string[] = [];
  let more = false;
  let count = 0;
  for (const ep of ((slice as any).endpoints ?? []) as any[]) {
    for (const a of ep.addresses ?? []) {
      if (list.length < 3) list.push(a);
      else more = true;
      count++;
    }
  }
  return listWithMore(list, more, count, 3);
}

/** Event LAST SEEN: lastTimestamp, else eventTime / series, as kubectl's printEvent picks it. */
function eventLastSeen(e: any, now: number): string {
  const t = e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp;
  return t ? humanAge(t, now) : '<unknown>';
}

/** Ingress CLASS: spec.ingressClassName, else the legacy annotation, else <none>. */
function ingressClassOf(i: KObject): string {
  return i.spec?.ingressClassName ?? i.metadata.annotations?.['kubernetes.io/ingress.class'] ?? '<none>';
}

/** formatHosts: the first three rule hosts, "*" when no rule names one. */
function ingressHosts(rules: any[] | undefined): string {
  const list: string[] = [];
  const max = 3;
  let more = false;
  for (const r of rules ?? []) {
    if (list.length === max) more = true;
    if (!more && r?.host) list.push(r.host);
  }
  if (!list.length) return '*';
  return more ? `${list.join(',')} + ${(rules ?? []).length - max} more...` : list.join(',');
}

function ingressAddress(i: KObject): string {
  return ((i.status?.loadBalancer?.ingress ?? []) as any[]).map((x) => x.ip || x.hostname).filter(Boolean).join(',');
}

export interface Columns {
  headers: string[];
  wide: string[];
  /** `wide` for the cells -o wide prints differently (an unclipped EXTERNAL-IP). */
  row: (o: KObject, now: number, wide?: boolean) => string[];
  wideRow: (o: KObject, now: number) => string[];
}

export const PRINTERS: Record<string, Columns> = {
  pods: {
    headers: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
    wide: ['IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES'],
    row: (p, now) => [p.metadata.name, podReady(p), podStatusText(p), podRestarts(p, now), humanAge(p.metadata.creationTimestamp, now)],
    wideRow: (p) => [p.status?.podIP ?? '<none>', p.spec?.nodeName ?? '<none>', '<none>', '<none>'],
  },
  deployments: {
    headers: ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'],
    wide: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
    row: (d, now) => [
      d.metadata.name,
      `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`,
      String(d.status?.updatedReplicas ?? 0),
      String(d.status?.availableReplicas ?? 0),
      humanAge(d.metadata.creationTimestamp, now),
    ],
    wideRow: (d) => {
      const c = containersOf(d.spec?.template);
      return [c.names, c.images, selectorText(d.spec?.selector)];
    },
  },
  replicasets: {
    headers: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
    wide: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
    row: (r, now) => [
      r.metadata.name,
      String(r.spec?.replicas ?? 0),
      String(r.status?.replicas ?? 0),
      String(r.status?.readyReplicas ?? 0),
      humanAge(r.metadata.creationTimestamp, now),
    ],
    wideRow: (r) => {
      const c = containersOf(r.spec?.template);
      return [c.names, c.images, selectorText(r.spec?.selector)];
    },
  },
  statefulsets: {
    headers: ['NAME', 'READY', 'AGE'],
    wide: ['CONTAINERS', 'IMAGES'],
    row: (s, now) => [s.metadata.name, `${s.status?.readyReplicas ?? 0}/${s.spec?.replicas ?? 0}`, humanAge(s.metadata.creationTimestamp, now)],
    wideRow: (s) => {
      const c = containersOf(s.spec?.template);
      return [c.names, c.images];
    },
  },
  nodes: {
    headers: ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'],
    wide: ['INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME'],
    row: (n, now) => {
      const ready = (n.status?.conditions ?? []).find((c: any) => c.type === 'Ready');
      const roles = Object.keys(n.metadata.labels ?? {})
        .filter((k) => k.startsWith('node-role.kubernetes.io/'))
        .map((k) => k.slice('node-role.kubernetes.io/'.length))
        .join(',');
      return [n.metadata.name, ready?.status === 'True' ? 'Ready' : 'NotReady', roles || '<none>', humanAge(n.metadata.creationTimestamp, now), n.status?.nodeInfo?.kubeletVersion ?? ''];
    },
    wideRow: (n) => {
      const addr = (t: string) => (n.status?.addresses ?? []).find((a: any) => a.type === t)?.address ?? '<none>';
      const i = n.status?.nodeInfo ?? {};
      return [addr('InternalIP'), addr('ExternalIP'), i.osImage ?? '', i.kernelVersion ?? '', i.containerRuntimeVersion ?? ''];
    },
  },
  services: {
    headers: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
    wide: ['SELECTOR'],
    row: (s, now, wide) => [
      s.metadata.name,
      s.spec?.type ?? '',
      s.spec?.clusterIPs?.[0] ?? '<none>',
      serviceExternalIP(s, Boolean(wide)),
      servicePorts(s.spec?.ports),
      humanAge(s.metadata.creationTimestamp, now),
    ],
    wideRow: (s) => [formatLabels(s.spec?.selector)],
  },
  endpoints: {
    headers: ['NAME', 'ENDPOINTS', 'AGE'],
    wide: [],
    row: (e, now) => [e.metadata.name, formatEndpoints(e), humanAge(e.metadata.creationTimestamp, now)],
    wideRow: () => [],
  },
  endpointslices: {
    headers: ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
    wide: [],
    row: (e, now) => [e.metadata.name, String((e as any).addressType ?? ''), slicePortsText(e), sliceEndpointsText(e), humanAge(e.metadata.creationTimestamp, now)],
    wideRow: () => [],
  },
  networkpolicies: {
    headers: ['NAME', 'POD-SELECTOR', 'AGE'],
    wide: [],
    row: (n, now) => [n.metadata.name, selectorText(n.spec?.podSelector) || '<none>', humanAge(n.metadata.creationTimestamp, now)],
    wideRow: () => [],
  },
  secrets: {
    headers: ['NAME', 'TYPE', 'DATA', 'AGE'],
    wide: [],
    row: (o, now) => [o.metadata.name, String((o as any).type ?? ''), String(Object.keys((o as any).data ?? {}).length), humanAge(o.metadata.creationTimestamp, now)],
    wideRow: () => [],
  },
  configmaps: {
    headers: ['NAME', 'DATA', 'AGE'],
    wide: [],
    row: (o, now) => [o.metadata.name, String(Object.keys((o as any).data ?? {}).length + Object.keys((o as any).binaryData ?? {}).length), humanAge(o.metadata.creationTimestamp, now)],
    wideRow: () => [],
  },
  events: {
    headers: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
    wide: ['SUBOBJECT', 'SOURCE', 'FIRST SEEN', 'COUNT', 'NAME'],
    row: (e, now) => {
      const x = e as any;
      const io = x.involvedObject ?? {};
      return [eventLastSeen(x, now), x.type ?? '', x.reason ?? '', `${String(io.kind ?? '').toLowerCase()}/${io.name ?? ''}`, String(x.message ?? '').trim()];
    },
    wideRow: (e, now) => {
      const x = e as any;
      const src = x.source?.component ? `${x.source.component}${x.source.host ? ', ' + x.source.host : ''}` : (x.reportingComponent ?? '');
      return [x.involvedObject?.fieldPath ?? '', src, x.firstTimestamp ? humanAge(x.firstTimestamp, now) : '<unknown>', String(x.count ?? 1), e.metadata.name];
    },
  },
  ingresses: {
    headers: ['NAME', 'CLASS', 'HOSTS', 'ADDRESS', 'PORTS', 'AGE'],
    wide: [],
    row: (i, now) => [i.metadata.name, ingressClassOf(i), ingressHosts(i.spec?.rules), ingressAddress(i), (i.spec?.tls ?? []).length ? '80, 443' : '80', humanAge(i.metadata.creationTimestamp, now)],
    wideRow: () => [],
  },
  ingressclasses: {
    headers: ['NAME', 'CONTROLLER', 'PARAMETERS', 'AGE'],
    wide: [],
    row: (c, now) => {
      const p = c.spec?.parameters;
      const params = p ? `${p.kind}${p.apiGroup ? '.' + p.apiGroup : ''}/${p.name}` : '<none>';
      return [c.metadata.name, c.spec?.controller ?? '', params, humanAge(c.metadata.creationTimestamp, now)];
    },
    wideRow: () => [],
  },
  namespaces: {
    headers: ['NAME', 'STATUS', 'AGE'],
    wide: [],
    row: (n, now) => [n.metadata.name, n.status?.phase ?? 'Active', humanAge(n.metadata.creationTimestamp, now)],
    wideRow: () => [],
  },
};

const GENERIC: Columns = {
  headers: ['NAME', 'AGE'],
  wide: [],
  row: (o, now) => [o.metadata.name, humanAge(o.metadata.creationTimestamp, now)],
  wideRow: () => [],
};

export function printerFor(resource: string): Columns {
  return PRINTERS[resource] ?? GENERIC;
}

/** Render rows as kubectl does: columns padded to the widest cell plus three spaces. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3)))
      .join('')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function table(resource: string, objs: KObject[], opts: { wide: boolean; allNamespaces: boolean }, now = Date.now()): string {
  const p = printerFor(resource);
  const headers = [...(opts.allNamespaces ? ['NAMESPACE'] : []), ...p.headers, ...(opts.wide ? p.wide : [])];
  const rows = objs.map((o) => [
    ...(opts.allNamespaces ? [o.metadata.namespace ?? ''] : []),
    ...p.row(o, now, opts.wide),
    ...(opts.wide ? p.wideRow(o, now) : []),
  ]);
  return renderTable(headers, rows);
}
