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

export interface Columns {
  headers: string[];
  wide: string[];
  row: (o: KObject, now: number) => string[];
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
    ...p.row(o, now),
    ...(opts.wide ? p.wideRow(o, now) : []),
  ]);
  return renderTable(headers, rows);
}
