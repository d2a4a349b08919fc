// The resolver's informers: list + watch of Namespaces, Services and EndpointSlices over the
// daemon's API socket (the shared add-on Informer), as CoreDNS watches the apiserver. Each
// change rebuilds the view (a level-triggered snapshot, debounced); a broken watch relists.
import { Informer, type Snapshot } from '../informer.js';
import { buildView, type ClusterView } from './view.js';

const RESOURCES = {
  namespaces: '/api/v1/namespaces',
  services: '/api/v1/services',
  endpointSlices: '/apis/discovery.k8s.io/v1/endpointslices',
} as const;

type Key = keyof typeof RESOURCES;

export class ClusterWatcher {
  private readonly informer: Informer<Key>;
  private wasSynced = false;
  /** Last view built (empty and unsynced until the first lists arrive). */
  view: ClusterView;

  constructor(
    socketPath: string,
    private readonly zone: string,
    private readonly onView: (v: ClusterView) => void,
    private readonly log: (line: string) => void = console.log,
  ) {
    this.informer = new Informer<Key>(socketPath, RESOURCES, (s, synced) => this.rebuild(s, synced), (k, m) =>
      this.log(`[WARNING] plugin/kubernetes: ${k}: ${m}`),
    );
    this.view = this.build(this.informer.objects, false);
  }

  start(): void {
    this.informer.start();
  }

  stop(): void {
    this.informer.stop();
  }

  private build(s: Snapshot<Key>, synced: boolean): ClusterView {
    // The SOA serial follows the time of the last change, as CoreDNS's does.
    const serial = Math.floor(Date.now() / 1000);
    return buildView({ namespaces: s.namespaces.values(), services: s.services.values(), endpointSlices: s.endpointSlices.values() }, this.zone, serial, synced);
  }

  private rebuild(s: Snapshot<Key>, synced: boolean): void {
    if (synced && !this.wasSynced) this.log('[INFO] plugin/kubernetes: synced with the kemu API');
    this.wasSynced = synced;
    this.view = this.build(s, synced);
    this.onView(this.view);
  }
}
