// A few of CoreDNS's Prometheus counters (the `prometheus :9153` plugin), enough for a scrape
// or a curl to show the resolver at work.
import type { QueryEvent } from './server.js';
import type { Forwarder } from './upstream.js';

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly responses = new Map<string, number>();

  count(e: QueryEvent): void {
    const info = e.outcome.info;
    if (!info) return;
    const rk = `proto="${e.proto}",type="${info.type}"`;
    this.requests.set(rk, (this.requests.get(rk) ?? 0) + 1);
    this.responses.set(info.rcode, (this.responses.get(info.rcode) ?? 0) + 1);
  }

  render(fwd: Forwarder | undefined, compiled: number): string {
    const lines = ['# TYPE coredns_dns_requests_total counter'];
    for (const [k, v] of this.requests) lines.push(`coredns_dns_requests_total{server="dns://:53",zone=".",${k}} ${v}`);
    lines.push('# TYPE coredns_dns_responses_total counter');
    for (const [k, v] of this.responses) lines.push(`coredns_dns_responses_total{server="dns://:53",zone=".",rcode="${k}"} ${v}`);
    if (fwd) {
      lines.push('# TYPE coredns_cache_hits_total counter', `coredns_cache_hits_total{server="dns://:53",type="success"} ${fwd.hits}`);
      lines.push('# TYPE coredns_cache_misses_total counter', `coredns_cache_misses_total{server="dns://:53"} ${fwd.misses}`);
      lines.push('# TYPE coredns_forward_failures_total counter', `coredns_forward_failures_total ${fwd.failures}`);
    }
    lines.push('# TYPE kemu_dns_compiled_answers gauge', `kemu_dns_compiled_answers ${compiled}`);
    return lines.join('\n') + '\n';
  }
}
