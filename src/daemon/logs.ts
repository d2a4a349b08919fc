// pods/log: stream a container's log file; with follow, keep streaming as it grows until the
// client goes away or the pod is gone.
import fs from 'node:fs';
import type http from 'node:http';
import { ApiError } from '../store/errors.js';
import type { KObject, Store } from '../store/store.js';
import type { Kubelet } from '../runtime/kubelet.js';

export function logStreamer(store: Store, kubelet: Kubelet) {
  return async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    pod: KObject,
    container: string,
    o: { follow: boolean; previous: boolean; tailLines?: number },
  ): Promise<void> => {
    const ns = pod.metadata.namespace!;
    const file = kubelet.logPath(ns, pod.metadata.name, pod.metadata.uid!, container, o.previous);
    if (!file) {
      if (o.previous) throw new ApiError(400, 'BadRequest', `previous terminated container "${container}" in pod "${pod.metadata.name}" not found`);
      throw new ApiError(400, 'BadRequest', `container "${container}" in pod "${pod.metadata.name}" is waiting to start: ContainerCreating`);
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    let pos = 0;
    let data = fs.readFileSync(file);
    if (o.tailLines !== undefined && o.tailLines >= 0) {
      let idx = data.length;
      let lines = 0;
      if (idx > 0 && data[idx - 1] === 10) idx--;
      while (idx > 0 && lines < o.tailLines) {
        idx--;
        if (data[idx] === 10) lines++;
      }
      pos = lines < o.tailLines ? 0 : idx + 1;
      if (o.tailLines === 0) pos = data.length;
    }
    res.write(data.subarray(pos));
    pos = data.length;
    if (!o.follow) {
      res.end();
      return;
    }
    let closed = false;
    req.on('close', () => (closed = true));
    res.on('close', () => (closed = true));
    while (!closed) {
      await new Promise((r) => setTimeout(r, 200));
      const cur = store.get('pods', ns, pod.metadata.name);
      let size = 0;
      try {
        size = fs.statSync(file).size;
      } catch {
        break;
      }
      if (size > pos) {
        const fd = fs.openSync(file, 'r');
        const buf = Buffer.alloc(size - pos);
        fs.readSync(fd, buf, 0, buf.length, pos);
        fs.closeSync(fd);
        pos = size;
        res.write(buf);
      }
      if (!cur || cur.metadata.uid !== pod.metadata.uid) break;
      // A restart opens a new file: follow the current container's file.
      const now = kubelet.logPath(ns, pod.metadata.name, pod.metadata.uid!, container, false);
      if (now && now !== file) break;
    }
    res.end();
  };
}
