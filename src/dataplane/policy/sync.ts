// Keeps the data plane's policy table in step with NetworkPolicies, pods, namespaces and
// nodes (at most one compile per 20 ms), except one case that is done at once: while any
// policy exists, a pod that just got an IP the table does not know is compiled in
// immediately, so its first packets are already judged by its policies (the router holds
// packets of pods the table does not know yet while policies exist).
import type { Store } from '../../store/store.js';
import type { DataPlane } from '../router.js';
import { TableSync } from '../table-sync.js';
import { ipToInt } from '../wire/ipv4.js';
import { compilePolicies } from './compile.js';

export class PolicySync extends TableSync {
  constructor(store: Store, dp: DataPlane, nodes: () => { name: string; ip: number }[]) {
    super(
      store,
      new Set(['networkpolicies', 'pods', 'namespaces', 'nodes']),
      20,
      () =>
        dp.setPolicies(
          compilePolicies({
            policies: [...store.peek('networkpolicies')],
            pods: [...store.peek('pods')],
            namespaces: [...store.peek('namespaces')],
            nodes: nodes(),
          }),
        ),
      (ev) => {
        if (ev.resource !== 'pods' || ev.type === 'DELETED' || dp.policyTable.policies.length === 0) return false;
        const ip = ev.object.status?.podIP;
        return typeof ip === 'string' && ip !== '' && !dp.policyTable.podByIp(ipToInt(ip));
      },
    );
  }
}
