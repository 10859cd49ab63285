/**
 * A small Kubernetes API server for tests, over real HTTPS with bearer-token auth, serving ConfigMaps,
 * EndpointSlices, Events (core/v1 and events.k8s.io/v1), Leases and Namespaces; plus an in-process
 * control API to set the scene and to inject the failures a real cluster produces.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { KINDS, parsePath, qualifiedResource, type KindName, type KubeObject, type ParsedPath } from './kinds.ts';
import { kubeconfigYaml, writeKubeconfigFile } from './kubeconfig.ts';
import { listObjects } from './list.ts';
import { ApiError, failure, type Status } from './status.ts';
import { ObjectStore } from './store.ts';
import { generateCertificates } from './tls.ts';
import { parseBool, WatchHub } from './watch.ts';
import * as writes from './writes.ts';

export interface FakeKubeOptions {
  /** Bearer token the server accepts (random by default). */
  token?: string;
  /** Period of BOOKMARK events on watches that allow them; 0 sends them only on sendBookmarks(). Default 1000. */
  bookmarkIntervalMs?: number;
  /** Changes kept for watches / continue tokens from older versions; older ones are 410 Gone. Default 1000. */
  historyLimit?: number;
  /** resourceVersion of the empty store. Default 100. */
  initialResourceVersion?: number;
  /** Clock for creationTimestamp. */
  now?: () => Date;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  watch: boolean;
  contentType: string | undefined;
  /** HTTP status, once answered. */
  status?: number;
}

export interface FakeKube {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  readonly token: string;
  readonly caPem: string;
  /** Every request received, in order (clear with `requests.length = 0`). */
  readonly requests: RequestRecord[];
  /** A kubeconfig (YAML) for this server: its CA and a bearer token user. */
  kubeconfig(namespace?: string): string;
  /** Writes kubeconfig() to a temporary file (removed by close()) and returns its path. */
  writeKubeconfig(namespace?: string): Promise<string>;
  /** Objects in their stored form (Events as core/v1); a namespaced object without namespace goes to "default". */
  create(kind: KindName, object: KubeObject): KubeObject;
  /** PUT semantics: 409 Conflict (thrown as ApiError) if metadata.resourceVersion is set and stale. */
  update(kind: KindName, object: KubeObject): KubeObject;
  remove(kind: KindName, object: { metadata: { namespace?: string; name?: string } }): KubeObject;
  get(kind: KindName, namespace: string | undefined, name: string): KubeObject | undefined;
  list(kind: KindName): KubeObject[];
  /** Every Event stored (as core/v1, whichever API wrote it). */
  events(): KubeObject[];
  leases(): KubeObject[];
  /** The current resourceVersion. */
  resourceVersion(): string;
  /** Compacts history: watches and continue tokens from any earlier version get 410. */
  expireHistory(): void;
  /** The next watch resuming from a resourceVersion gets the 410 Expired ERROR event. */
  forceGoneOnNextWatch(): void;
  /** Lists block until the returned function is called (watches and other calls go on). */
  holdLists(): () => void;
  /** Writes (POST/PUT/PATCH/DELETE) of this kind answer `code` until the returned function is called. */
  failWrites(kind: KindName, code: number): () => void;
  activeWatches(): number;
  /** Sends a BOOKMARK now to every watch that allowed them; returns how many. */
  sendBookmarks(): number;
  /** Ends every open watch: cleanly by default (as a server-side timeout), or by resetting the connection. */
  closeWatches(options?: { abrupt?: boolean }): number;
  close(): Promise<void>;
}

const NOT_FOUND = (): Status => failure(404, 'the server could not find the requested resource', 'NotFound');
const NOT_ALLOWED = (): Status => failure(405, 'the server does not allow this method on the requested resource', 'MethodNotAllowed');
const VERBS: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function injected(code: number, target: ParsedPath, method: string): Status {
  const { view, namespace } = target;
  if (code !== 403) return failure(code, `Internal error occurred: fake-kube: injected failure (${code})`);
  const where = namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope';
  return failure(
    403,
    `${qualifiedResource(view)} is forbidden: User "system:serviceaccount:test:fake" cannot ${VERBS[method] ?? method} resource "${view.resource}" in API group "${view.group}"${where}`,
    'Forbidden',
    { ...(target.name ? { name: target.name } : {}), ...(view.group ? { group: view.group } : {}), kind: view.resource },
  );
}

export async function startFakeKube(options: FakeKubeOptions = {}): Promise<FakeKube> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fake-kube-'));
  const certs = await generateCertificates(dir);
  const token = options.token ?? randomBytes(16).toString('hex');
  const store = new ObjectStore({
    historyLimit: options.historyLimit ?? 1000,
    initialResourceVersion: options.initialResourceVersion ?? 100,
    now: options.now ?? (() => new Date()),
  });
  const hub = new WatchHub(store, options.bookmarkIntervalMs ?? 1000);
  const requests: RequestRecord[] = [];
  const holds = new Set<{ promise: Promise<void>; release: () => void }>();
  const failures = new Map<KindName, number>();

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL, record: RequestRecord): Promise<void> {
    if (req.headers.authorization !== `Bearer ${token}`) return sendJson(res, 401, failure(401, 'Unauthorized', 'Unauthorized'));
    const target = parsePath(url.pathname);
    if (!target || (target.view.info.namespaced && target.name !== undefined && target.namespace === undefined)) return sendJson(res, 404, NOT_FOUND());
    const { view, name } = target;
    const method = req.method ?? 'GET';
    if (method === 'GET') {
      if (name !== undefined) {
        const found = store.get(view.info.kind, target.namespace, name);
        const details = { name, ...(view.group ? { group: view.group } : {}), kind: view.resource };
        if (!found) return sendJson(res, 404, failure(404, `${qualifiedResource(view)} "${name}" not found`, 'NotFound', details));
        return sendJson(res, 200, view.toWire(found));
      }
      if (parseBool(url.searchParams.get('watch'))) {
        record.watch = true;
        return hub.start(target, url.searchParams, res);
      }
      while (holds.size > 0) await Promise.all([...holds].map((hold) => hold.promise));
      return sendJson(res, 200, listObjects(target, url.searchParams, store));
    }
    if (!(method in VERBS)) return sendJson(res, 405, NOT_ALLOWED());
    const body = await writes.readBody(req);
    if (method === 'POST' ? name !== undefined || (view.info.namespaced && target.namespace === undefined) : name === undefined) {
      return sendJson(res, 405, NOT_ALLOWED());
    }
    const failing = failures.get(view.info.kind);
    if (failing !== undefined) return sendJson(res, failing, injected(failing, target, method));
    const result =
      method === 'POST'
        ? writes.create(target, body, store)
        : method === 'PUT'
          ? writes.replace(target, name ?? '', body, store)
          : method === 'PATCH'
            ? writes.patch(target, name ?? '', req.headers['content-type'] ?? '', body, store)
            : writes.remove(target, name ?? '', body, store);
    sendJson(res, result.code, result.body);
  }

  const server = createServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const record: RequestRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      watch: false,
      contentType: req.headers['content-type'],
    };
    requests.push(record);
    res.on('finish', () => (record.status = res.statusCode));
    handle(req, res, url, record).catch((error: unknown) => {
      const status = error instanceof ApiError ? error.status : failure(500, `Internal error occurred: ${String(error)}`);
      if (res.headersSent) res.destroy();
      else sendJson(res, status.code, status);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfig = (namespace?: string): string => kubeconfigYaml({ server: url, caPem: certs.caPem, token, ...(namespace ? { namespace } : {}) });
  const withNamespace = (kind: KindName, object: KubeObject): KubeObject =>
    KINDS[kind].namespaced && !object.metadata.namespace ? { ...object, metadata: { ...object.metadata, namespace: 'default' } } : object;

  return {
    url,
    token,
    caPem: certs.caPem,
    requests,
    kubeconfig,
    writeKubeconfig: (namespace) => writeKubeconfigFile(dir, kubeconfig(namespace)),
    create: (kind, object) => store.create(kind, withNamespace(kind, object)),
    update: (kind, object) => store.update(kind, withNamespace(kind, object)),
    remove: (kind, object) => store.remove(kind, object.metadata.namespace ?? 'default', object.metadata.name ?? ''),
    get: (kind, namespace, name) => store.get(kind, namespace, name),
    list: (kind) => store.list(kind),
    events: () => store.list('Event'),
    leases: () => store.list('Lease'),
    resourceVersion: () => String(store.resourceVersion),
    expireHistory: () => store.compact(),
    forceGoneOnNextWatch: () => hub.forceGoneOnNextWatch(),
    holdLists() {
      let release = (): void => {};
      const hold = { promise: new Promise<void>((resolve) => (release = resolve)), release: () => {} };
      hold.release = () => {
        holds.delete(hold);
        release();
      };
      holds.add(hold);
      return hold.release;
    },
    failWrites(kind, code) {
      failures.set(kind, code);
      return () => {
        if (failures.get(kind) === code) failures.delete(kind);
      };
    },
    activeWatches: () => hub.size,
    sendBookmarks: () => hub.sendBookmarks(),
    closeWatches: (closeOptions) => hub.closeAll(closeOptions?.abrupt ?? false),
    async close() {
      hub.stop();
      for (const hold of [...holds]) hold.release();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
