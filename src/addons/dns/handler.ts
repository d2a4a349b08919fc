// One query in, one response out: the server's logic between the socket and the resolver.
// Cluster names come from the compiled answer table; other names go to the forwarder; whatever
// happens, the client gets an answer (FORMERR, SERVFAIL, REFUSED…) and the process stays up.
import dnsPacket, { type Answer } from 'dns-packet';
import type { AnswerTable, Entry } from './compile.js';
import { encodeRecord, summarize } from './compile.js';
import type { Forwarder } from './upstream.js';
import { assemble, bare, BADVERS, parseQuery, RCODE, RCODE_NAMES, typeName, type Query } from './wire.js';

export interface QueryInfo {
  name: string;
  type: string;
  rcode: string;
  answers: string[];
  /** Where the answer came from: "cluster", "upstream", "cache" (upstream cache), "error". */
  source: string;
  error?: string;
}

export interface Outcome {
  /** undefined: nothing to send (not even a header to answer). */
  bytes: Buffer | undefined;
  info: QueryInfo | undefined;
}

export class Handler {
  /** Called with a log line for upstream failures (CoreDNS `errors` plugin style). */
  onError: (line: string) => void = (l) => console.error(l);

  constructor(
    readonly table: AnswerTable,
    /** undefined: offline, cluster zones only. */
    readonly forwarder: Forwarder | undefined,
  ) {}

  /** The synchronous part; returns a promise only when the upstream has to be asked. */
  handle(msg: Buffer, tcp: boolean): Outcome | Promise<Outcome> {
    let q: Query | undefined;
    try {
      q = parseQuery(msg);
      if (!q) return { bytes: undefined, info: undefined };
      if (q.error) return this.fail(q, msg, RCODE.FORMERR, q.error);
      if (q.opcode !== 0) return this.fail(q, msg, RCODE.NOTIMP, `opcode ${q.opcode}`);
      if (q.ednsVersion > 0) return this.fail(q, msg, BADVERS, `EDNS version ${q.ednsVersion}`);
      if (q.qclass !== 1 && q.qclass !== 255) return this.fail(q, msg, RCODE.REFUSED, `class ${q.qclass}`);
      const type = typeName(q.type);
      const e = this.table.lookup(q.name, q.type, type);
      if (e.forward || e.fallthrough) {
        // Not ours, or a reverse-zone miss (fallthrough): the upstream's to answer.
        if (this.forwarder) return this.forward(q, msg, tcp, type);
        if (e.forward) return this.fail(q, msg, RCODE.REFUSED, 'offline: not a cluster name');
      }
      if (e.chase && this.forwarder) return this.chase(q, msg, tcp, e, type);
      return { bytes: assemble(q, msg, e, tcp), info: info(q, type, e.rcode, e.summary, 'cluster') };
    } catch (err) {
      // A bug must cost one answer, not the server.
      this.onError(`[ERROR] kemu-dns: ${(err as Error).stack ?? err}`);
      return q ? this.fail(q, msg, RCODE.SERVFAIL, (err as Error).message) : { bytes: undefined, info: undefined };
    }
  }

  private fail(q: Query, msg: Buffer, rcode: number, error: string): Outcome {
    return { bytes: bare(q, msg, rcode), info: { ...info(q, typeName(q.type), rcode, [], 'error'), error } };
  }

  private async forward(q: Query, msg: Buffer, tcp: boolean, type: string): Promise<Outcome> {
    const before = this.forwarder!.hits;
    try {
      const res = await this.forwarder!.forward(msg, `${q.name}\u0000${q.type}\u0000${q.ednsSize ? 'e' : ''}`, q.questionEnd, tcp);
      return { bytes: res, info: info(q, type, res.readUInt16BE(2) & 15, answersOf(res), this.forwarder!.hits > before ? 'cache' : 'upstream') };
    } catch (err) {
      this.onError(`[ERROR] plugin/errors: 2 ${q.name} ${type}: forward to ${this.forwarder!.describe()} failed: ${(err as Error).message}`);
      return this.fail(q, msg, RCODE.SERVFAIL, (err as Error).message);
    }
  }

  /** ExternalName outside the cluster: our CNAME, then what the upstream says about the target. */
  private async chase(q: Query, msg: Buffer, tcp: boolean, e: Entry, type: string): Promise<Outcome> {
    const target = e.chase!;
    const sub = dnsPacket.encode({ type: 'query', id: (Math.random() * 65536) | 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: target.target, type: target.type as 'A' }] });
    let extra: Answer[] = [];
    try {
      const res = await this.forwarder!.forward(sub, `${target.target}\u0000${target.type}\u0000chase`, sub.length, tcp);
      extra = (dnsPacket.decode(res).answers ?? []) as Answer[];
    } catch (err) {
      // CoreDNS keeps the CNAME when the target cannot be resolved.
      this.onError(`[ERROR] plugin/errors: 2 ${target.target} ${target.type}: forward to ${this.forwarder!.describe()} failed: ${(err as Error).message}`);
    }
    const c: Entry = { ...e, answer: [...e.answer, ...extra.map(encodeRecord)], shuffleFrom: e.answer.length };
    return { bytes: assemble(q, msg, c, tcp), info: info(q, type, e.rcode, [...e.summary, ...extra.map(summarize)], 'cluster+upstream') };
  }
}

function info(q: Query, type: string, rcode: number, answers: string[], source: string): QueryInfo {
  return { name: q.name, type, rcode: RCODE_NAMES[rcode] ?? (rcode === BADVERS ? 'BADVERS' : String(rcode)), answers, source };
}

function answersOf(res: Buffer): string[] {
  try {
    return ((dnsPacket.decode(res).answers ?? []) as Answer[]).map(summarize);
  } catch {
    return [];
  }
}
