/**
 * The object store: one global, monotonically increasing resourceVersion (as etcd's revision), a
 * bounded history of changes to serve watches and consistent paginated lists from older versions, and
 * compaction (anything older than the history window is gone: 410).
 */
import { randomUUID } from 'node:crypto';
import { KINDS, storageView, type KindName, type KubeObject } from './kinds.ts';
import { apiError } from './status.ts';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  rv: number;
  kind: KindName;
  type: ChangeType;
  /** The object after the change (for DELETED: its last state, carrying the deletion's resourceVersion). */
  object: KubeObject;
  /** The object before the change (undefined for ADDED). */
  prev: KubeObject | undefined;
}

export interface StoreOptions {
  historyLimit: number;
  initialResourceVersion: number;
  now: () => Date;
}

export interface Preconditions {
  uid?: string;
  resourceVersion?: string;
}

const keyOf = (object: KubeObject): string => `${object.metadata.namespace ?? ''}/${object.metadata.name ?? ''}`;
const clone = <T>(value: T): T => structuredClone(value);

/** JSON with sorted keys, to tell a no-op update from a real one. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function resourceOf(kind: KindName): string {
  const view = storageView(kind);
  return view.group ? `${view.resource}.${view.group}` : view.resource;
}

function details(kind: KindName, name: string): { name: string; group?: string; kind: string } {
  const view = storageView(kind);
  return { name, ...(view.group ? { group: view.group } : {}), kind: view.resource };
}

export function notFound(kind: KindName, name: string): Error {
  return apiError(404, `${resourceOf(kind)} "${name}" not found`, 'NotFound', details(kind, name));
}

export function conflict(kind: KindName, name: string, why: string): Error {
  return apiError(409, `Operation cannot be fulfilled on ${resourceOf(kind)} "${name}": ${why}`, 'Conflict', details(kind, name));
}

const MODIFIED_MESSAGE = 'the object has been modified; please apply your changes to the latest version and try again';

export class ObjectStore {
  private readonly options: StoreOptions;
  private readonly objects = new Map<KindName, Map<string, KubeObject>>();
  private history: Change[] = [];
  private rv: number;
  private compacted: number;
  private readonly listeners = new Set<(change: Change) => void>();

  constructor(options: StoreOptions) {
    this.options = options;
    this.rv = options.initialResourceVersion;
    this.compacted = options.initialResourceVersion;
    for (const kind of Object.keys(KINDS) as KindName[]) this.objects.set(kind, new Map());
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): number {
    return this.rv;
  }

  /** The oldest resourceVersion a watch or a consistent list can still start from. */
  get compactedRevision(): number {
    return this.compacted;
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(kind: KindName, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.bucket(kind).get(`${namespace ?? ''}/${name}`);
    return found ? clone(found) : undefined;
  }

  /** Current objects of a kind, sorted by namespace then name (etcd key order). */
  list(kind: KindName): KubeObject[] {
    return this.sorted(this.bucket(kind));
  }

  /** The objects of a kind as they were at resourceVersion `rv` (undefined if compacted away). */
  snapshot(kind: KindName, rv: number): KubeObject[] | undefined {
    if (rv < this.compacted) return undefined;
    const state = new Map(this.bucket(kind));
    for (let i = this.history.length - 1; i >= 0; i--) {
      const change = this.history[i];
      if (!change || change.rv <= rv) break;
      if (change.kind !== kind) continue;
      if (change.prev) state.set(keyOf(change.prev), change.prev);
      else state.delete(keyOf(change.object));
    }
    return this.sorted(state);
  }

  /** Changes of a kind after `rv`, or undefined if some of them were compacted away. */
  changesSince(kind: KindName, rv: number): Change[] | undefined {
    if (rv < this.compacted) return undefined;
    return this.history.filter((change) => change.rv > rv && change.kind === kind).map(clone);
  }

  create(kind: KindName, input: KubeObject): KubeObject {
    const object = clone(input);
    const meta = object.metadata;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomUUID().replace(/-/g, '').slice(0, 5)}`;
    if (!meta.name) {
      throw apiError(422, `${kind} "" is invalid: metadata.name: Required value: name or generateName is required`, 'Invalid', { kind });
    }
    if (KINDS[kind].namespaced && !meta.namespace) {
      throw apiError(422, `${kind} "${meta.name}" is invalid: metadata.namespace: Required value`, 'Invalid', { kind });
    }
    if (!KINDS[kind].namespaced) delete meta.namespace;
    if (meta.resourceVersion) throw apiError(500, 'Internal error occurred: resourceVersion should not be set on objects to be created', 'InternalError');
    if (this.bucket(kind).has(keyOf(object))) {
      throw apiError(409, `${resourceOf(kind)} "${meta.name}" already exists`, 'AlreadyExists', details(kind, meta.name));
    }
    meta.uid = randomUUID();
    meta.creationTimestamp = this.options.now().toISOString().replace(/\.\d+Z$/, 'Z');
    return this.commit(kind, 'ADDED', object, undefined);
  }

  /** PUT semantics: optimistic concurrency when metadata.resourceVersion is set, unconditional otherwise. */
  update(kind: KindName, input: KubeObject): KubeObject {
    const object = clone(input);
    const name = object.metadata.name ?? '';
    if (!KINDS[kind].namespaced) delete object.metadata.namespace;
    const existing = this.bucket(kind).get(keyOf(object));
    if (!existing) {
      if (KINDS[kind].createOnUpdate && !object.metadata.resourceVersion) return this.create(kind, object);
      throw notFound(kind, name);
    }
    this.checkPreconditions(kind, existing, { uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion });
    object.metadata.uid = existing.metadata.uid;
    object.metadata.creationTimestamp = existing.metadata.creationTimestamp;
    object.metadata.resourceVersion = existing.metadata.resourceVersion;
    // As etcd3's GuaranteedUpdate: an update that changes nothing is not written and keeps its version.
    if (canonical(object) === canonical(existing)) return clone(existing);
    return this.commit(kind, 'MODIFIED', object, existing);
  }

  remove(kind: KindName, namespace: string | undefined, name: string, preconditions: Preconditions = {}): KubeObject {
    const existing = this.bucket(kind).get(`${KINDS[kind].namespaced ? (namespace ?? '') : ''}/${name}`);
    if (!existing) throw notFound(kind, name);
    this.checkPreconditions(kind, existing, preconditions);
    return this.commit(kind, 'DELETED', clone(existing), existing);
  }

  /** Forgets every change so far: watches and continue tokens from before now are answered 410. */
  compact(): void {
    this.history = [];
    this.compacted = this.rv;
  }

  private checkPreconditions(kind: KindName, existing: KubeObject, { uid, resourceVersion }: Preconditions): void {
    const name = existing.metadata.name ?? '';
    if (uid && uid !== existing.metadata.uid) {
      throw conflict(kind, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${existing.metadata.uid ?? ''}`);
    }
    if (resourceVersion && resourceVersion !== existing.metadata.resourceVersion) throw conflict(kind, name, MODIFIED_MESSAGE);
  }

  private commit(kind: KindName, type: ChangeType, object: KubeObject, prev: KubeObject | undefined): KubeObject {
    const view = storageView(kind);
    this.rv += 1;
    object.apiVersion = view.apiVersion;
    object.kind = kind;
    object.metadata.resourceVersion = String(this.rv);
    const bucket = this.bucket(kind);
    if (type === 'DELETED') bucket.delete(keyOf(object));
    else bucket.set(keyOf(object), object);
    const change: Change = { rv: this.rv, kind, type, object, prev };
    this.history.push(change);
    while (this.history.length > this.options.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compacted = dropped.rv;
    }
    for (const listener of this.listeners) listener(clone(change));
    return clone(object);
  }

  private bucket(kind: KindName): Map<string, KubeObject> {
    const bucket = this.objects.get(kind);
    if (!bucket) throw new Error(`unknown kind ${kind}`);
    return bucket;
  }

  private sorted(objects: Map<string, KubeObject>): KubeObject[] {
    return [...objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, object]) => clone(object));
  }
}
