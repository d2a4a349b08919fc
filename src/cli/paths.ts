// REST paths for a resource, as kubectl builds them.
import type { ResourceInfo } from '../api/resources.js';

export function collectionPath(info: ResourceInfo, namespace: string | undefined): string {
  const base = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
  if (info.namespaced && namespace) return `${base}/namespaces/${encodeURIComponent(namespace)}/${info.resource}`;
  return `${base}/${info.resource}`;
}

export function objectPath(info: ResourceInfo, namespace: string | undefined, name: string): string {
  return `${collectionPath(info, namespace)}/${encodeURIComponent(name)}`;
}

/** "deployment.apps/web" style reference used in kubectl's messages. */
export function kindRef(info: ResourceInfo, name: string): string {
  return `${info.kind.toLowerCase()}${info.group ? '.' + info.group : ''}/${name}`;
}
