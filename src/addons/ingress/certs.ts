// TLS certificates by SNI, as ingress-nginx serves them: each owned Ingress's spec.tls maps its
// hosts to a `kubernetes.io/tls` Secret in the Ingress's namespace (the oldest Ingress wins a
// host); a client naming no such host, or one whose Secret is missing or unusable, gets the
// controller's self-signed default certificate. Contexts are cached per Secret resourceVersion.
import tls from 'node:tls';
import type { KObject } from '../../store/store.js';
import { byAge } from './routes.js';

/** host (`app.example.com` or `*.foo.com`) -> "ns/secretName". Pure. */
export function tlsHosts(owned: Iterable<KObject>): Map<string, string> {
  const out = new Map<string, string>();
  for (const ing of [...owned].sort(byAge)) {
    for (const t of ing.spec?.tls ?? []) {
      if (!t?.secretName) continue;
      for (const h of t.hosts ?? []) {
        const host = String(h).toLowerCase();
        if (!out.has(host)) out.set(host, `${ing.metadata.namespace}/${t.secretName}`);
      }
    }
  }
  return out;
}

/** The entry for an SNI name: exact, else a `*.parent` wildcard for exactly one label. Pure. */
export function lookupSni<T>(table: Map<string, T>, servername: string | undefined): T | undefined {
  if (!servername) return undefined;
  const name = servername.toLowerCase().replace(/\.$/, '');
  const exact = table.get(name);
  if (exact !== undefined) return exact;
  const dot = name.indexOf('.');
  return dot > 0 ? table.get(`*${name.slice(dot)}`) : undefined;
}

export interface KeyPair {
  cert: string;
  key: string;
}

/** PEM pair from a Secret's data (base64), or an error naming what is wrong. */
export function keyPairOf(secret: KObject | undefined): KeyPair | string {
  if (!secret) return 'secret not found';
  const d = (secret as any).data ?? {};
  if (!d['tls.crt'] || !d['tls.key']) return 'secret has no tls.crt/tls.key';
  return { cert: Buffer.from(d['tls.crt'], 'base64').toString('utf8'), key: Buffer.from(d['tls.key'], 'base64').toString('utf8') };
}

export class CertStore {
  private byHost = new Map<string, tls.SecureContext>();
  private readonly cache = new Map<string, { rv: string; ctx: tls.SecureContext | string }>();
  readonly defaultContext: tls.SecureContext;

  constructor(
    defaultPair: KeyPair,
    private readonly log: (line: string) => void = console.log,
  ) {
    this.defaultContext = tls.createSecureContext(defaultPair);
  }

  get hosts(): number {
    return this.byHost.size;
  }

  update(owned: Iterable<KObject>, secrets: Map<string, KObject>): void {
    const next = new Map<string, tls.SecureContext>();
    const used = new Set<string>();
    for (const [host, key] of tlsHosts(owned)) {
      used.add(key);
      const secret = secrets.get(key);
      const rv = secret?.metadata.resourceVersion ?? '-';
      let c = this.cache.get(key);
      if (!c || c.rv !== rv) {
        const pair = keyPairOf(secret);
        let ctx: tls.SecureContext | string;
        try {
          ctx = typeof pair === 'string' ? pair : tls.createSecureContext(pair);
        } catch (err) {
          ctx = `invalid certificate or key: ${(err as Error).message}`;
        }
        c = { rv, ctx };
        this.cache.set(key, c);
        if (typeof ctx === 'string') this.log(`W ssl: secret ${key} for host ${host}: ${ctx}; using the default certificate`);
      }
      if (typeof c.ctx !== 'string') next.set(host, c.ctx);
    }
    for (const k of this.cache.keys()) if (!used.has(k)) this.cache.delete(k);
    this.byHost = next;
  }

  /** For https.Server's SNICallback. */
  readonly sni = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    cb(null, lookupSni(this.byHost, servername) ?? this.defaultContext);
  };
}
