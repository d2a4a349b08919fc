// Server-side printing: meta.k8s.io/v1 Tables, what kubectl 1.32 needs for `get` (it has no
// client-side printers any more). The cells come from the same column functions `kemu get`
// uses (src/cli/printers.ts), so both print the same; columns kubectl shows only with -o wide
// carry priority 1, as the apiserver's do.
import type { KObject } from '../store/store.js';
import { printerFor } from '../cli/printers.js';

export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string };
  columnDefinitions: TableColumn[];
  rows: { cells: unknown[]; object: unknown }[];
}

/** The apiserver's spelling of headings kubectl upper-cases ("Cluster-IP", "Up-to-date"). */
const SPELLING: Record<string, string> = {
  'CLUSTER-IP': 'Cluster-IP',
  'EXTERNAL-IP': 'External-IP',
  'INTERNAL-IP': 'Internal-IP',
  'PORT(S)': 'Port(s)',
  'UP-TO-DATE': 'Up-to-date',
  ADDRESSTYPE: 'AddressType',
  'POD-SELECTOR': 'Pod-Selector',
  IP: 'IP',
  'OS-IMAGE': 'OS-Image',
  'KERNEL-VERSION': 'Kernel-Version',
  'CONTAINER-RUNTIME': 'Container-Runtime',
};

function spell(h: string): string {
  return SPELLING[h] ?? h.split(' ').map((w) => w[0] + w.slice(1).toLowerCase()).join(' ');
}

const columnCache = new Map<string, TableColumn[]>();

export function tableColumns(resource: string): TableColumn[] {
  let cols = columnCache.get(resource);
  if (cols) return cols;
  const p = printerFor(resource);
  const col = (h: string, priority: number): TableColumn => ({
    name: spell(h),
    type: 'string',
    format: h === 'NAME' ? 'name' : '',
    description: '',
    priority,
  });
  cols = [...p.headers.map((h) => col(h, 0)), ...p.wide.map((h) => col(h, 1))];
  columnCache.set(resource, cols);
  return cols;
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

function rowObject(o: KObject, include: IncludeObject): unknown {
  if (include === 'None') return null;
  if (include === 'Object') return o;
  const { managedFields: _m, ...metadata } = o.metadata;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata };
}

export function tableRow(resource: string, o: KObject, include: IncludeObject, now = Date.now()): { cells: unknown[]; object: unknown } {
  const p = printerFor(resource);
  // Wide cells are always sent (priority 1); kubectl shows them only with -o wide, so the
  // EXTERNAL-IP cell is the wide form's, as the apiserver's printer computes it.
  return { cells: [...p.row(o, now, true), ...p.wideRow(o, now)], object: rowObject(o, include) };
}

export function toTable(resource: string, objs: KObject[], resourceVersion: string | undefined, include: IncludeObject, withColumns = true): Table {
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: resourceVersion ? { resourceVersion } : {},
    columnDefinitions: withColumns ? tableColumns(resource) : [],
    rows: objs.map((o) => tableRow(resource, o, include, now)),
  };
}

/** Does the Accept header ask for a Table (`application/json;as=Table;v=v1;g=meta.k8s.io`)? */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((a) => /;\s*as=Table/.test(a) && /g=meta\.k8s\.io/.test(a));
}

export function includeObjectParam(v: string | null): IncludeObject {
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}
