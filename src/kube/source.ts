import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { toConfigMap, toEndpointSlice } from '../sources/kube-objects.ts';
import type { SourceWorld } from '../sources/types.ts';
import { DEFAULTS_LABEL_SELECTOR, POLICY_LABEL_SELECTOR } from './api-usage.ts';
import { Informer, type KubeList, type PageFn } from './informer.ts';

export interface KubernetesSourceOptions {
  config: k8s.KubeConfig;
  /** Namespaces to watch; empty means all. */
  namespaces: readonly string[];
  /** Always watched for cluster-wide defaults ConfigMaps. */
  controlPlaneNamespace: string;
  logger: Logger;
  backoff?: { minMs: number; maxMs: number };
}

/** Objects from a list are class instances (Dates); from a watch, plain JSON. One shape for both. */
function plain(object: k8s.KubernetesObject): Record<string, unknown> {
  return JSON.parse(JSON.stringify(object)) as Record<string, unknown>;
}

function origin(kind: string, object: k8s.KubernetesObject): string {
  return `${kind} ${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''} (Kubernetes API)`;
}

/**
 * Policies, defaults and EndpointSlices from the Kubernetes API through list+watch informers. ConfigMaps
 * are label-selected on the server; EndpointSlices are watched whole in the watched namespaces, because
 * the set of Services policies name changes with every policy edit.
 */
export class KubernetesSource {
  readonly #informers: { configMaps: Informer[]; endpointSlices: Informer[] };
  #onChange: (() => void) | undefined;

  constructor(options: KubernetesSourceOptions) {
    const core = options.config.makeApiClient(k8s.CoreV1Api);
    const discovery = options.config.makeApiClient(k8s.DiscoveryV1Api);
    const onChange = () => this.#onChange?.();
    const make = (name: string, path: string, listPage: PageFn, labelSelector?: string) =>
      new Informer({ name, config: options.config, path, listPage, logger: options.logger, onChange, ...(labelSelector ? { labelSelector } : {}), ...(options.backoff ? { backoff: options.backoff } : {}) });

    const configMapInformer = (namespace: string | undefined, labelSelector: string) =>
      namespace === undefined
        ? make(`configmaps[${labelSelector}]`, '/api/v1/configmaps', (p) => core.listConfigMapForAllNamespaces({ labelSelector, limit: p.limit, ...(p.continueToken ? { _continue: p.continueToken } : {}) }) as Promise<KubeList>, labelSelector)
        : make(`configmaps[${labelSelector}] in ${namespace}`, `/api/v1/namespaces/${namespace}/configmaps`, (p) => core.listNamespacedConfigMap({ namespace, labelSelector, limit: p.limit, ...(p.continueToken ? { _continue: p.continueToken } : {}) }) as Promise<KubeList>, labelSelector);
    const sliceInformer = (namespace: string | undefined) =>
      namespace === undefined
        ? make('endpointslices', '/apis/discovery.k8s.io/v1/endpointslices', (p) => discovery.listEndpointSliceForAllNamespaces({ limit: p.limit, ...(p.continueToken ? { _continue: p.continueToken } : {}) }) as Promise<KubeList>)
        : make(`endpointslices in ${namespace}`, `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, (p) => discovery.listNamespacedEndpointSlice({ namespace, limit: p.limit, ...(p.continueToken ? { _continue: p.continueToken } : {}) }) as Promise<KubeList>);

    const scopes: (string | undefined)[] = options.namespaces.length === 0 ? [undefined] : [...new Set(options.namespaces)];
    const defaultsScopes = options.namespaces.length === 0 || options.namespaces.includes(options.controlPlaneNamespace) ? scopes : [...scopes, options.controlPlaneNamespace];
    this.#informers = {
      configMaps: [...scopes.map((ns) => configMapInformer(ns, POLICY_LABEL_SELECTOR)), ...defaultsScopes.map((ns) => configMapInformer(ns, DEFAULTS_LABEL_SELECTOR))],
      endpointSlices: scopes.map(sliceInformer),
    };
  }

  #all(): Informer[] {
    return [...this.#informers.configMaps, ...this.#informers.endpointSlices];
  }

  /** Starts every informer; reads wait until all have completed their first list. */
  start(): void {
    for (const informer of this.#all()) informer.start();
  }

  /** True once every informer has listed once (nothing is served before). */
  hasSynced(): boolean {
    return this.#all().every((informer) => informer.hasSynced);
  }

  async read(): Promise<SourceWorld> {
    await Promise.all(this.#all().map((informer) => informer.synced));
    const world: SourceWorld = { configMaps: [], endpointSlices: [], readErrors: [] };
    const seen = new Set<string>();
    for (const object of this.#informers.configMaps.flatMap((informer) => informer.objects())) {
      const key = object.metadata?.uid ?? `${object.metadata?.namespace}/${object.metadata?.name}`;
      if (seen.has(key)) continue; // labelled both policy and defaults: listed by two informers
      seen.add(key);
      world.configMaps.push(toConfigMap(plain(object), origin('ConfigMap', object), new Date(0).toISOString()));
    }
    for (const object of this.#informers.endpointSlices.flatMap((informer) => informer.objects())) {
      const slice = toEndpointSlice(plain(object), origin('EndpointSlice', object));
      if (typeof slice === 'string') continue; // slices not owned by a Service are not ours to route to
      world.endpointSlices.push(slice);
    }
    return world;
  }

  watch(onChange: () => void): void {
    this.#onChange = onChange;
  }

  close(): void {
    for (const informer of this.#all()) informer.stop();
  }
}
