// Keeps the data plane's Service table in step with the store: any change to Services,
// EndpointSlices or nodes schedules one recompile of the whole table (at most one every 50 ms,
// as kube-proxy's minSyncPeriod bounds its syncs), then a single swap.
import type { Store } from '../../store/store.js';
import type { DataPlane } from '../router.js';
import { TableSync } from '../table-sync.js';
import { compileServices } from './compile.js';

export class ProxySync extends TableSync {
  constructor(store: Store, dp: DataPlane, nodes: () => { name: string; ip: number }[], serviceCidr: string) {
    super(store, new Set(['services', 'endpointslices', 'nodes']), 50, () =>
      dp.setServices(
        compileServices({
          // peek: no clones; compile only reads.
          services: [...store.peek('services')],
          slices: [...store.peek('endpointslices')],
          nodes: nodes(),
          serviceCidr,
        }),
      ),
    );
  }
}
