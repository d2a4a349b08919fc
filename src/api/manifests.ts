// Reading manifests as kubectl does: files, directories (*.yaml, *.yml, *.json, not recursive),
// "-" for stdin, multi-document YAML and `kind: List`. Every problem is collected with the file
// (and document) it came from, so the valid objects in the same input still apply.
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface ManifestObject {
  /** The file (or "STDIN") the object came from. */
  source: string;
  /** 0-based document index within the source. */
  index: number;
  object: Record<string, unknown>;
}

export interface ManifestError {
  source: string;
  message: string;
}

export interface Manifests {
  objects: ManifestObject[];
  errors: ManifestError[];
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Files a path stands for: itself, or a directory's manifest files in name order. */
function expand(p: string, errors: ManifestError[]): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    errors.push({ source: p, message: `the path "${p}" does not exist` });
    return [];
  }
  if (!st.isDirectory()) return [p];
  return fs
    .readdirSync(p)
    .filter((f) => EXTENSIONS.has(path.extname(f).toLowerCase()))
    .sort()
    .map((f) => path.join(p, f))
    .filter((f) => fs.statSync(f).isFile());
}

/** Objects of one YAML/JSON text. Documents that fail to parse are reported by line. */
export function parseManifestText(text: string, source: string): Manifests {
  const objects: ManifestObject[] = [];
  const errors: ManifestError[] = [];
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, index) => {
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      const line = e.linePos?.[0]?.line;
      const first = e.message.split('\n')[0];
      errors.push({ source, message: `error parsing ${source}: yaml: line ${line ?? '?'}: ${first}` });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      errors.push({ source, message: `error parsing ${source}: ${(err as Error).message}` });
      return;
    }
    if (value === null || value === undefined) return; // empty document
    if (!isObj(value)) {
      errors.push({ source, message: `error validating "${source}": document ${index} is not an object (got ${Array.isArray(value) ? 'a list' : typeof value})` });
      return;
    }
    const add = (o: Record<string, unknown>, where: string): void => {
      if (typeof o.apiVersion !== 'string' || !o.apiVersion) {
        errors.push({ source, message: `error validating "${source}": error validating data${where}: apiVersion not set` });
      } else if (typeof o.kind !== 'string' || !o.kind) {
        errors.push({ source, message: `error validating "${source}": error validating data${where}: kind not set` });
      } else objects.push({ source, index, object: o });
    };
    if (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items)) {
      value.items.forEach((item, i) => {
        if (isObj(item)) add(item, ` (items[${i}])`);
        else errors.push({ source, message: `error validating "${source}": items[${i}] is not an object` });
      });
    } else add(value, '');
  });
  return { objects, errors };
}

/** Everything behind -f arguments. `stdin` is the text read for "-". */
export function loadManifests(paths: string[], stdin?: string): Manifests {
  const out: Manifests = { objects: [], errors: [] };
  for (const p of paths) {
    const files = p === '-' ? ['-'] : expand(p, out.errors);
    for (const f of files) {
      let text: string;
      let source = f;
      if (f === '-') {
        text = stdin ?? '';
        source = 'STDIN';
      } else {
        try {
          text = fs.readFileSync(f, 'utf8');
        } catch (err) {
          out.errors.push({ source: f, message: `error reading ${f}: ${(err as Error).message}` });
          continue;
        }
      }
      const r = parseManifestText(text, source);
      out.objects.push(...r.objects);
      out.errors.push(...r.errors);
    }
  }
  if (!out.objects.length && !out.errors.length) out.errors.push({ source: paths.join(','), message: 'no objects passed to apply' });
  return out;
}
