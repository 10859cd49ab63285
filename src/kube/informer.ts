import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface KubeList {
  metadata?: { resourceVersion?: string; _continue?: string };
  items: k8s.KubernetesObject[];
}

/** Fetches one page; infermesh pages through lists so a large cluster never needs one huge response. */
export type PageFn = (page: { limit: number; continueToken?: string }) => Promise<KubeList>;

const PAGE_SIZE = 500;

async function listAllPages(fetchPage: PageFn): Promise<KubeList> {
  const items: k8s.KubernetesObject[] = [];
  let continueToken: string | undefined;
  let resourceVersion: string | undefined;
  do {
    const page = await fetchPage({ limit: PAGE_SIZE, ...(continueToken ? { continueToken } : {}) });
    items.push(...page.items);
    resourceVersion = page.metadata?.resourceVersion;
    continueToken = page.metadata?._continue || undefined;
  } while (continueToken);
  return { metadata: { ...(resourceVersion ? { resourceVersion } : {}) }, items };
}

/**
 * Asks the API server for BOOKMARK events, so a re-watch resumes from a recent resourceVersion; and closes a
 * watch that only got going after the informer was stopped (ListWatch cannot abort what it has not started).
 */
class BookmarkWatch extends k8s.Watch {
  readonly #stopped: () => boolean;

  constructor(config: k8s.KubeConfig, stopped: () => boolean) {
    super(config);
    this.#stopped = stopped;
  }

  override async watch(...args: Parameters<k8s.Watch['watch']>): ReturnType<k8s.Watch['watch']> {
    const [path, query, callback, done] = args;
    const controller = await super.watch(path, { ...query, allowWatchBookmarks: true }, callback, done);
    if (this.#stopped()) controller.abort();
    return controller;
  }
}

export interface InformerOptions {
  name: string;
  config: k8s.KubeConfig;
  /** API path to watch, e.g. /api/v1/configmaps or /api/v1/namespaces/ml/configmaps. */
  path: string;
  listPage: PageFn;
  labelSelector?: string;
  logger: Logger;
  onChange: () => void;
  /** Retry delays after a failed list or watch: doubles from min to max. */
  backoff?: { minMs: number; maxMs: number };
}

/**
 * A client-node ListWatch that keeps going: list, then watch (410 Gone re-lists, bookmarks advance the
 * resourceVersion, both inside ListWatch), and on any other failure retry with exponential backoff.
 * `synced` resolves once the first list has completed.
 */
export class Informer {
  readonly name: string;
  readonly synced: Promise<void>;
  readonly #listWatch: k8s.ListWatch<k8s.KubernetesObject>;
  readonly #options: InformerOptions;
  #markSynced: () => void = () => {};
  #hasSynced = false;
  #retryDelayMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: InformerOptions) {
    this.name = options.name;
    this.#options = options;
    this.#retryDelayMs = options.backoff?.minMs ?? 500;
    this.synced = new Promise((resolve) => (this.#markSynced = resolve));
    const list = async () => {
      const result = await listAllPages(options.listPage);
      this.#onListed(result.items.length);
      return result;
    };
    this.#listWatch = new k8s.ListWatch(options.path, new BookmarkWatch(options.config, () => this.#stopped), list, false, options.labelSelector);
    this.#listWatch.on(k8s.CHANGE, () => options.onChange());
    this.#listWatch.on(k8s.ERROR, (error: unknown) => this.#retryLater(error));
  }

  get hasSynced(): boolean {
    return this.#hasSynced;
  }

  start(): void {
    void this.#listWatch.start().catch((error: unknown) => this.#retryLater(error));
  }

  objects(): readonly k8s.KubernetesObject[] {
    return this.#listWatch.list();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    void this.#listWatch.stop();
  }

  #onListed(count: number): void {
    this.#retryDelayMs = this.#options.backoff?.minMs ?? 500;
    if (!this.#hasSynced) {
      this.#hasSynced = true;
      this.#options.logger.info({ informer: this.name, objects: count }, 'initial list complete');
      this.#markSynced();
    }
  }

  #retryLater(error: unknown): void {
    if (this.#stopped) return;
    const delay = this.#retryDelayMs;
    this.#retryDelayMs = Math.min(delay * 2, this.#options.backoff?.maxMs ?? 30_000);
    const message = error instanceof Error ? error.message : JSON.stringify(error);
    this.#options.logger.warn({ informer: this.name, retryInMs: delay, error: message }, 'list/watch failed; retrying');
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.start(), delay);
  }
}
