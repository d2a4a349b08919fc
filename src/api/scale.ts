// The scale subresource (deployments, statefulsets, replicasets): an autoscaling/v1 Scale, what
// `kubectl scale` reads and patches (it fails on anything but a Scale in the reply).
import { badRequest, conflict } from '../store/errors.js';
import type { KObject } from '../store/store.js';
import { selectorString } from './selectors.js';

export function scaleOf(o: KObject): KObject {
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      uid: o.metadata.uid,
      resourceVersion: o.metadata.resourceVersion,
      creationTimestamp: o.metadata.creationTimestamp,
    },
    spec: { replicas: o.spec?.replicas ?? 0 },
    status: { replicas: o.status?.replicas ?? 0, selector: selectorString(o.spec?.selector) },
  };
}

/** The workload with the replicas a new Scale asks for; a Scale's resourceVersion is a precondition. */
export function applyScale(group: string, resource: string, cur: KObject, scale: unknown): KObject {
  const s = scale as KObject | undefined;
  const replicas = s?.spec?.replicas;
  if (!Number.isInteger(replicas)) throw badRequest('spec.replicas: Invalid value: must be an integer');
  if (replicas < 0) {
    throw badRequest(`Scale.autoscaling "${cur.metadata.name}" is invalid: spec.replicas: Invalid value: ${replicas}: must be greater than or equal to 0`);
  }
  const rv = s?.metadata?.resourceVersion;
  if (rv && rv !== cur.metadata.resourceVersion) throw conflict(group, resource, cur.metadata.name);
  const out = structuredClone(cur);
  out.spec.replicas = replicas;
  return out;
}
