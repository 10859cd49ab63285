/**
 * Watches: a chunked stream of newline-delimited `{type, object}` events, started from a
 * resourceVersion (history replayed, no gap), filtered by namespace and selectors (an object that
 * stops matching is sent as DELETED, one that starts matching as ADDED, as the API server's cacher
 * does), with BOOKMARKs, `timeoutSeconds`, and 410 Expired as an ERROR event for compacted versions.
 */
import type { ServerResponse } from 'node:http';
import type { KubeObject, ParsedPath, ResourceView } from './kinds.ts';
import { parseResourceVersion } from './list.ts';
import { requestMatcher, type Matcher } from './selectors.ts';
import { apiError, tooOldResourceVersion, type Status } from './status.ts';
import type { Change, ObjectStore } from './store.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

interface Watcher {
  view: ResourceView;
  namespace: string | undefined;
  matches: Matcher;
  bookmarks: boolean;
  res: ServerResponse;
  timer: NodeJS.Timeout | undefined;
}

/** strconv.ParseBool, as the API server parses boolean query parameters. */
export function parseBool(value: string | null): boolean {
  if (value === null || value === '') return false;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw apiError(400, `invalid boolean value: ${value}`, 'BadRequest');
}

export class WatchHub {
  private readonly store: ObjectStore;
  private readonly watchers = new Set<Watcher>();
  private readonly interval: NodeJS.Timeout | undefined;
  private goneOnNextWatch = false;

  constructor(store: ObjectStore, bookmarkIntervalMs: number) {
    this.store = store;
    store.subscribe((change) => {
      for (const watcher of this.watchers) this.dispatch(watcher, change);
    });
    if (bookmarkIntervalMs > 0) {
      this.interval = setInterval(() => this.sendBookmarks(), bookmarkIntervalMs);
      this.interval.unref();
    }
  }

  get size(): number {
    return this.watchers.size;
  }

  /** The next watch that resumes from a resourceVersion gets 410 Expired. */
  forceGoneOnNextWatch(): void {
    this.goneOnNextWatch = true;
  }

  /** Validates the request; throws an ApiError (answered as an HTTP error) before the stream starts. */
  start(target: ParsedPath, query: URLSearchParams, res: ServerResponse): void {
    const { view, namespace } = target;
    const matches = requestMatcher(view.info.kind, query.get('labelSelector'), query.get('fieldSelector'));
    const rvParam = query.get('resourceVersion');
    const rv = parseResourceVersion(rvParam);
    const bookmarks = parseBool(query.get('allowWatchBookmarks'));
    const sendInitialEvents = query.has('sendInitialEvents') ? parseBool(query.get('sendInitialEvents')) : undefined;
    const match = query.get('resourceVersionMatch');
    if (sendInitialEvents !== undefined && match !== 'NotOlderThan') {
      throw apiError(422, 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan', 'Invalid');
    }
    if (match && sendInitialEvents === undefined) throw apiError(422, 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided', 'Invalid');
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '0');

    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    res.flushHeaders();
    const watcher: Watcher = { view, namespace, matches, bookmarks, res, timer: undefined };

    // "" / "0": start at the current state, sent as synthetic ADDED events; N: every change after N.
    const resumes = rv !== undefined && rv !== 0;
    const initialEvents = sendInitialEvents ?? !resumes;
    if (resumes && this.goneOnNextWatch) {
      this.goneOnNextWatch = false;
      return this.fail(res, tooOldResourceVersion(rvParam ?? '', this.store.resourceVersion));
    }
    if (initialEvents) {
      for (const object of this.store.list(view.info.kind)) {
        if (this.selects(watcher, object)) this.write(watcher, 'ADDED', object);
      }
      if (sendInitialEvents && bookmarks) this.bookmark(watcher, { 'k8s.io/initial-events-end': 'true' });
    } else if (resumes) {
      const changes = this.store.changesSince(view.info.kind, rv);
      if (!changes) return this.fail(res, tooOldResourceVersion(rvParam ?? '', this.store.compactedRevision));
      for (const change of changes) this.dispatch(watcher, change);
    }

    this.watchers.add(watcher);
    if (timeoutSeconds > 0) watcher.timer = setTimeout(() => this.end(watcher, false), timeoutSeconds * 1000);
    res.on('close', () => this.end(watcher, false));
  }

  /** Sends a BOOKMARK at the current resourceVersion to every watch that allowed bookmarks. */
  sendBookmarks(): number {
    let sent = 0;
    for (const watcher of this.watchers) {
      if (!watcher.bookmarks) continue;
      this.bookmark(watcher);
      sent++;
    }
    return sent;
  }

  /** Ends every watch: cleanly (as the server does at a watch timeout), or abruptly (a network blip). */
  closeAll(abrupt: boolean): number {
    const count = this.watchers.size;
    for (const watcher of [...this.watchers]) this.end(watcher, abrupt);
    return count;
  }

  private end(watcher: Watcher, abrupt: boolean): void {
    this.watchers.delete(watcher);
    clearTimeout(watcher.timer);
    if (abrupt) watcher.res.socket?.destroy();
    else if (!watcher.res.writableEnded) watcher.res.end();
  }

  stop(): void {
    clearInterval(this.interval);
    this.closeAll(true);
  }

  private selects(watcher: Watcher, object: KubeObject): boolean {
    return (watcher.namespace === undefined || object.metadata.namespace === watcher.namespace) && watcher.matches(object);
  }

  /** As the API server's cacher: the event type depends on whether the old and the new object match. */
  private dispatch(watcher: Watcher, change: Change): void {
    if (change.kind !== watcher.view.info.kind) return;
    const now = change.type !== 'DELETED' && this.selects(watcher, change.object);
    const before = change.prev !== undefined && this.selects(watcher, change.prev);
    if (now) this.write(watcher, before ? 'MODIFIED' : 'ADDED', change.object);
    else if (before && change.prev) {
      const last: KubeObject = { ...change.prev, metadata: { ...change.prev.metadata, resourceVersion: String(change.rv) } };
      this.write(watcher, 'DELETED', last);
    }
  }

  private bookmark(watcher: Watcher, annotations?: Record<string, string>): void {
    const { view } = watcher;
    const metadata = { resourceVersion: String(this.store.resourceVersion), ...(annotations ? { annotations } : {}) };
    this.send(watcher.res, 'BOOKMARK', { kind: view.info.kind, apiVersion: view.apiVersion, metadata });
  }

  private write(watcher: Watcher, type: WatchEventType, object: KubeObject): void {
    this.send(watcher.res, type, watcher.view.toWire(object));
  }

  private send(res: ServerResponse, type: WatchEventType, object: KubeObject | Status): void {
    if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private fail(res: ServerResponse, status: Status): void {
    this.send(res, 'ERROR', status);
    res.end();
  }
}
