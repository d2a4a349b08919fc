// What runs for a container that has no command: the image's "entrypoint". kemu runs no images,
// so a few well-known images map to kemu's own stand-ins; anything else is the built-in server.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUILTIN_SERVER = path.join(here, 'builtin-server.js');
export const DNS_MAIN = path.join(here, '..', 'addons', 'dns', 'main.js');
export const INGRESS_MAIN = path.join(here, '..', 'addons', 'ingress', 'main.js');

/** CoreDNS images (registry.k8s.io/coredns/coredns:v1.11.3, coredns/coredns, …) run kemu's resolver. */
const COREDNS = /(^|\/)coredns(:[^/]*|@sha256:[0-9a-f]+)?$/;

/** ingress-nginx controller images (registry.k8s.io/ingress-nginx/controller:v1.9.0, …) run kemu's ingress proxy. */
const INGRESS_NGINX = /(^|\/)ingress-nginx\/controller(:[^/]*|@sha256:[0-9a-f]+)?$/;

export function imageEntrypoint(image: string): string[] {
  if (COREDNS.test(image)) return [process.execPath, '--max-old-space-size=128', DNS_MAIN];
  if (INGRESS_NGINX.test(image)) return [process.execPath, '--max-old-space-size=256', INGRESS_MAIN];
  return [process.execPath, '--max-old-space-size=64', BUILTIN_SERVER];
}
