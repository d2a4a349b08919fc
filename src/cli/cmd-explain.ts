// kemu explain: evaluate NetworkPolicies for a connection (or a whole namespace matrix) without
// sending a packet. Fetches the objects from the daemon's Kubernetes-shaped API and runs the
// same compiler and matchers the data plane uses (src/dataplane/policy/), locally.
import { intToIp, ipToInt } from '../dataplane/wire/ipv4.js';
import { compilePolicies } from '../dataplane/policy/compile.js';
import { declaredPorts, explainConnection, ExplainError, parsePortSpec, policyMatrix, type ExplainInput } from '../dataplane/policy/explain.js';
import { protoName } from '../dataplane/policy/table.js';
import { Client, ClientError } from './client.js';

type Obj = Record<string, any>;

export interface ExplainOptions {
  from?: string;
  to?: string;
  port?: string;
  protocol?: string;
  matrix?: boolean;
  namespace: string[];
  output?: string;
}

/** The apiserver's answer for a resource type it does not serve (vs `networkpolicies "x" not found`). */
const UNKNOWN_RESOURCE = 'the server could not find the requested resource';

async function list(client: Client, path: string): Promise<Obj[]> {
  return (await client.get(path)).items ?? [];
}

export async function fetchExplainInput(client: Client): Promise<{ input: ExplainInput; warnings: string[] }> {
  const warnings: string[] = [];
  let policies: Obj[];
  try {
    policies = await list(client, '/apis/networking.k8s.io/v1/networkpolicies');
  } catch (err) {
    // A daemon that does not register the NetworkPolicy kind yet answers 404 with the generic
    // "could not find the requested resource" (unknown type): nothing can be enforced there, so
    // explaining with no policies is the truth. Any other error (including another 404) is real.
    if (err instanceof ClientError && err.code === 404 && err.message === UNKNOWN_RESOURCE) {
      policies = [];
      warnings.push('this cluster does not serve networking.k8s.io/v1 NetworkPolicy; explaining with no policies');
    } else throw err;
  }
  const [pods, namespaces, services, slices, nodeObjs] = await Promise.all([
    list(client, '/api/v1/pods'),
    list(client, '/api/v1/namespaces'),
    list(client, '/api/v1/services'),
    list(client, '/apis/discovery.k8s.io/v1/endpointslices'),
    list(client, '/api/v1/nodes'),
  ]);
  const nodes: { name: string; ip: number }[] = [];
  for (const n of nodeObjs) {
    const addr = (n.status?.addresses ?? []).find((a: Obj) => a.type === 'InternalIP')?.address;
    try {
      if (addr) nodes.push({ name: n.metadata.name, ip: ipToInt(addr) });
    } catch {
      /* IPv6 node address: not used by the IPv4 data plane */
    }
  }
  return { input: { policies, pods, namespaces, services, slices, nodes }, warnings };
}

export async function cmdExplain(cluster: string, o: ExplainOptions): Promise<number> {
  if (o.matrix) {
    if (o.from || o.to) throw new ExplainError('--matrix takes -n NAMESPACE (repeatable), not --from/--to');
  } else if (!o.from || !o.to || !o.port) {
    throw new ExplainError('want --from NS/POD --to NS/POD|NS/SVC --port P[/PROTO], or --matrix -n NS');
  }
  const { input, warnings } = await fetchExplainInput(new Client(cluster));
  for (const w of warnings) console.error(`Warning: ${w}`);
  const table = compilePolicies(input);

  if (o.matrix) {
    const namespaces = o.namespace.length ? o.namespace : ['default'];
    const ports = o.port
      ? [(({ port, proto }) => ({ port, protocol: protoName(proto) }))(parsePortSpec(o.port, o.protocol))]
      : declaredPorts(input, namespaces);
    if (!ports.length) ports.push({ port: 80, protocol: 'TCP' });
    const out = ports.map((p) => ({ ...p, ...policyMatrix(input, { namespaces, ...p }, table) }));
    if (o.output === 'json') {
      console.log(JSON.stringify(out.map(({ port, protocol, pods, allowed }) => ({ port, protocol, pods, allowed })), null, 2));
      return 0;
    }
    out.forEach((m, i) => {
      if (i) console.log('');
      console.log(`${m.port}/${m.protocol} (rows: from, columns: to; . allowed, X denied):`);
      console.log(m.pods.length ? m.text : `(no pods in ${namespaces.join(', ')})`);
    });
    return 0;
  }

  const ex = explainConnection(input, { from: o.from!, to: o.to!, port: parsePortSpec(o.port!, o.protocol).port, protocol: protoName(parsePortSpec(o.port!, o.protocol).proto) }, table);
  if (o.output === 'json') {
    console.log(
      JSON.stringify(
        {
          allowed: ex.allowed,
          targets: ex.targets.map((t) => ({ destination: t.dst.label, ip: t.dst.ip === undefined ? undefined : intToIp(t.dst.ip), port: t.port, allowed: t.verdict.allowed })),
          explanation: ex.lines,
        },
        null,
        2,
      ),
    );
  } else console.log(ex.text);
  return 0;
}
