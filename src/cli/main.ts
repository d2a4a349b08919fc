// `kemu` command line: a thin client of the daemon's Kubernetes-shaped API, plus the commands
// that act on the machine itself (up/down start and clean up, exec enters namespaces).
import { Command, Option } from 'commander';
import { formatError } from './client.js';
import { cmdApply, cmdDelete } from './cmd-apply.js';
import { cmdCapture } from './cmd-capture.js';
import { cmdDescribe } from './cmd-describe.js';
import { cmdConntrack } from './cmd-conntrack.js';
import { cmdObserve } from './cmd-observe.js';
import { cmdExec } from './cmd-exec.js';
import { cmdExplain } from './cmd-explain.js';
import { cmdGet, cmdLogs, cmdScale, cmdStatus } from './cmd-get.js';
import { cmdDown, cmdKubeconfig, cmdUp } from './cmd-up.js';
import { cmdDnsLog } from './cmd-dns-log.js';

function clusterName(o: { name?: string }): string {
  return o.name ?? process.env.KEMU_CLUSTER ?? 'kemu';
}

const collect = (v: string, prev: string[]) => [...prev, v];

async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program
    .name('kemu')
    .description('Kubernetes network emulator: pods as real network namespaces on a userspace data plane')
    .showHelpAfterError()
    .enablePositionalOptions();
  const nameOpt = () => new Option('--name <cluster>', 'cluster name (default $KEMU_CLUSTER or "kemu")');
  let code = 0;
  const run = (fn: (...a: any[]) => Promise<number>) => async (...a: any[]) => {
    code = await fn(...a);
  };

  program
    .command('up')
    .description('start a cluster daemon in the background and apply manifests')
    .addOption(nameOpt())
    .option('--config <file>', 'cluster config file (kind-style: nodes, networking)')
    .option('-f, --filename <path>', 'manifest file, directory or - (repeatable)', collect, [])
    .option('--wait', 'return once every pod is Ready, showing progress')
    .option('--timeout <duration>', 'how long --wait waits', '5m')
    .action(run((o) => cmdUp(clusterName(o), o)));

  program
    .command('observe')
    .description('the flow log: new connections and NetworkPolicy drops, like hubble observe')
    .addOption(nameOpt())
    .option('-n, --namespace <ns>', 'flows with an end in this namespace')
    .option('--pod <pod>', 'flows with this pod at one end (ns/name or name; repeatable)', collect, [])
    .option('--verdict <verdict>', 'FORWARDED or DROPPED')
    .option('--since <duration>', 'only flows of the last D (30s, 5m, 1h)')
    .option('-f, --follow', 'keep printing new flows')
    .option('-o, --output <format>', 'json (Hubble field names)')
    .action(run((o) => cmdObserve(clusterName(o), o)));

  program
    .command('conntrack')
    .description("list the Service proxy's live NAT flows (original and translated addresses)")
    .addOption(nameOpt())
    .option('-n, --namespace <ns>', 'only flows from pods of this namespace')
    .option('--pod <pod>', 'only flows from this pod (ns/name or name; repeatable)', collect, [])
    .option('-o, --output <format>', 'json')
    .action(run((o) => cmdConntrack(clusterName(o), o)));

  program
    .command('dns-log')
    .description('show the queries kube-dns answered: client pod, name, type, rcode, answers')
    .addOption(nameOpt())
    .option('-n, --namespace <ns>', 'only queries from pods of this namespace')
    .option('--pod <pod>', 'only queries from this pod (NAME or NS/NAME; repeatable)', collect, [])
    .option('-f, --follow', 'keep streaming new queries')
    .option('--tail <n>', 'only the last n queries')
    .option('-o, --output <format>', 'json (one object a line)')
    .action(run((o) => cmdDnsLog(clusterName(o), o)));

  program
    .command('down')
    .description('stop a cluster and remove everything it created')
    .addOption(nameOpt())
    .action(run((o) => cmdDown(clusterName(o))));

  program
    .command('kubeconfig')
    .description("print the path of the cluster's kubeconfig (KUBECONFIG=$(kemu kubeconfig) kubectl get pods -A)")
    .addOption(nameOpt())
    .action(run((o) => cmdKubeconfig(clusterName(o))));

  program
    .command('apply')
    .description('create or update objects from manifests')
    .addOption(nameOpt())
    .requiredOption('-f, --filename <path>', 'manifest file, directory or - (repeatable)', collect, [])
    .option('-n, --namespace <ns>', 'namespace for objects that name none')
    .action(run((o) => cmdApply(clusterName(o), o)));

  program
    .command('delete')
    .description('delete objects by manifest or by kind and name')
    .addOption(nameOpt())
    .argument('[kind]')
    .argument('[names...]')
    .option('-f, --filename <path>', 'manifest file, directory or - (repeatable)', collect, [])
    .option('-n, --namespace <ns>', 'namespace', undefined)
    .option('--wait <bool>', 'wait for the objects to be gone', 'true')
    .option('--grace-period <seconds>', 'termination grace period for pods')
    .action(run((kind, names, o) => cmdDelete(clusterName(o), kind, names, o)));

  program
    .command('get')
    .description('list objects (pods, deployments, replicasets, statefulsets, services, endpoints, endpointslices, nodes, namespaces)')
    .addOption(nameOpt())
    .argument('<kind>', 'kind or resource, comma-separated; kind/name also works')
    .argument('[names...]')
    .option('-n, --namespace <ns>', 'namespace', undefined)
    .option('-A, --all-namespaces', 'across all namespaces')
    .option('-o, --output <format>', 'wide|yaml|json|name')
    .option('-l, --selector <selector>', 'label selector')
    .option('--field-selector <selector>', 'field selector')
    .action(run((kind, names, o) => cmdGet(clusterName(o), kind, names, o)));

  program
    .command('describe')
    .description('show a Service in detail, as kubectl describe does')
    .addOption(nameOpt())
    .argument('<kind>', 'svc')
    .argument('[names...]')
    .option('-n, --namespace <ns>', 'namespace', undefined)
    .action(run((kind, names, o) => cmdDescribe(clusterName(o), kind, names, o)));

  program
    .command('scale')
    .description('set the replicas of a deployment or statefulset')
    .addOption(nameOpt())
    .argument('<target>', 'deployment/NAME or statefulset/NAME')
    .requiredOption('--replicas <n>', 'replica count')
    .option('-n, --namespace <ns>', 'namespace', undefined)
    .action(run((target, o) => cmdScale(clusterName(o), target, o)));

  program
    .command('exec')
    .description('run a command inside a pod (or a node, or the external client)')
    .addOption(nameOpt())
    .argument('[pod]')
    .argument('[command...]')
    .option('-n, --namespace <ns>', 'namespace', undefined)
    .option('-c, --container <name>', 'container whose env and workingDir to use')
    .option('--external', 'run in the external client namespace (outside the cluster)')
    .option('--node <node>', "run in a node's host-network namespace")
    .passThroughOptions()
    .action(run((pod, command, o) => cmdExec(clusterName(o), pod, command, o)));

  program
    .command('logs')
    .description("print a container's logs")
    .addOption(nameOpt())
    .argument('<pod>')
    .option('-n, --namespace <ns>', 'namespace', undefined)
    .option('-c, --container <name>', 'container')
    .option('-f, --follow', 'stream new lines')
    .option('-p, --previous', 'logs of the previous (crashed) instance')
    .option('--tail <n>', 'last n lines')
    .action(run((pod, o) => cmdLogs(clusterName(o), pod, o)));

  program
    .command('capture')
    .description('capture packets as pcapng (Wireshark/tshark); -w - streams to stdout')
    .addOption(nameOpt())
    .option('-n, --namespace <ns>', 'pods in this namespace (repeatable)', collect, [])
    .option('--pod <pod>', 'this pod (NAME or NS/NAME; repeatable)', collect, [])
    .option('-w, --write <file>', 'write pcapng to FILE, or - for stdout')
    .option('--duration <duration>', 'stop after this long (e.g. 10s)')
    .option('--count <n>', 'stop after n packet records')
    .option('--snaplen <bytes>', 'bytes kept per packet (0 = whole packet)', '2048')
    .action(run((o) => cmdCapture(clusterName(o), o)));

  program
    .command('explain')
    .description('walk the NetworkPolicies for a connection without sending a packet, or print a namespace matrix')
    .addOption(nameOpt())
    .option('--from <from>', 'client: NS/POD or an IPv4 address')
    .option('--to <to>', 'server: NS/POD, NS/SERVICE or an IPv4 address')
    .option('--port <port>', 'destination port, P or P/PROTO (TCP, UDP, SCTP)')
    .option('--protocol <proto>', 'protocol when --port has none', 'TCP')
    .option('--matrix', 'who-can-reach-whom among the pods of -n namespaces')
    .option('-n, --namespace <ns>', 'namespace for --matrix (repeatable)', collect, [])
    .option('-o, --output <format>', 'json')
    .action(run((o) => cmdExplain(clusterName(o), o)));

  program
    .command('status')
    .description('show the cluster: nodes, pods, data plane counters')
    .addOption(nameOpt())
    .option('-o, --output <format>', 'json')
    .action(run((o) => cmdStatus(clusterName(o), o)));

  program
    .command('daemon', { hidden: true })
    .requiredOption('--name <cluster>')
    .option('--config <file>')
    .action(async (o) => {
      const { runDaemon } = await import('../daemon/main.js');
      await runDaemon(o.name, o.config);
      code = -1; // keep running
    });

  await program.parseAsync(argv);
  return code;
}

main(process.argv).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    console.error(formatError(err));
    process.exitCode = 1;
  },
);
