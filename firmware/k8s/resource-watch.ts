// One resource kept current from the API server with the real client's ListWatch, made resilient: objects are
// projected before the informer caches them (bounded memory), a watch that expires relists (the ListWatch does
// that on 410), and an informer that stopped for any other reason (server down, 5xx, auth) is restarted with
// capped exponential backoff, resuming from its last resourceVersion when the server still has it.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../core/logger';
import type { KubeRestClient } from './kube-rest';
import { resourcePath, type KubeResource, type ProjectedObject } from './resources';

/** What a watch reports; handlers must not throw (a throw is logged and the watch goes on). */
export interface ResourceWatchHandler {
  upserted(object: ProjectedObject): void;
  deleted(object: ProjectedObject): void;
  /** After every complete list (the first one and each relist): these are all the objects now. */
  listed(objects: readonly ProjectedObject[]): void;
}

export interface WatchBackoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_WATCH_BACKOFF: WatchBackoff = { initialMs: 200, maxMs: 30_000 };

export interface ResourceWatchOptions {
  kubeConfig: k8s.KubeConfig;
  rest: Pick<KubeRestClient, 'request'>;
  resource: KubeResource;
  handler: ResourceWatchHandler;
  logger: Logger;
  backoff?: WatchBackoff;
  /** Server-side filters; only fields the server registers for the resource (e.g. spec.nodeName for pods). */
  fieldSelector?: string;
  labelSelector?: string;
  /** Items per list page; the API server's default is unlimited. */
  pageSize?: number;
}

export interface ResourceWatchStats {
  resource: string;
  synced: boolean;
  /** Complete lists so far (1 + relists after 410 or after a restart without a usable resourceVersion). */
  lists: number;
  /** Times the informer stopped and was started again. */
  restarts: number;
  objects: number;
  resourceVersion: string;
}

interface KubeList {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: unknown[];
}

/** The client's Watch, handing the ListWatch projected objects so that its cache never holds full objects. */
class ProjectingWatch extends k8s.Watch {
  constructor(
    kubeConfig: k8s.KubeConfig,
    private readonly project: (raw: unknown) => ProjectedObject | undefined,
  ) {
    super(kubeConfig);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const projecting = (phase: string, apiObj: unknown, watchObj?: unknown): void => {
      if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') {
        const projected = this.project(apiObj);
        if (projected !== undefined) callback(phase, projected);
        return;
      }
      callback(phase, apiObj, watchObj);
    };
    try {
      return await super.watch(path, queryParams, projecting, done);
    } catch (error) {
      // The ListWatch calls watch() from a callback nobody awaits: a throw would be an unhandled rejection.
      done(error);
      return new AbortController();
    }
  }
}

export class ResourceWatch {
  private informer: k8s.ListWatch<ProjectedObject & k8s.KubernetesObject> | undefined;
  private stopped = true;
  private restartTimer: NodeJS.Timeout | undefined;
  private consecutiveFailures = 0;
  private lists = 0;
  private restarts = 0;
  private syncedFlag = false;
  private resolveSynced: () => void = () => undefined;
  /** Resolves at the first complete list. */
  readonly synced: Promise<void>;
  private readonly logger: Logger;
  private readonly backoff: WatchBackoff;

  constructor(private readonly options: ResourceWatchOptions) {
    this.synced = new Promise((resolve) => {
      this.resolveSynced = resolve;
    });
    this.logger = options.logger.child({ resource: options.resource.name });
    this.backoff = options.backoff ?? DEFAULT_WATCH_BACKOFF;
  }

  get isSynced(): boolean {
    return this.syncedFlag;
  }

  get resource(): KubeResource {
    return this.options.resource;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const { resource, kubeConfig } = this.options;
    // Bookmarks keep the resourceVersion fresh on quiet resources, so a reconnect rarely needs a relist.
    const informer = new k8s.ListWatch<ProjectedObject & k8s.KubernetesObject>(
      `${resourcePath(resource)}?allowWatchBookmarks=true`,
      new ProjectingWatch(kubeConfig, (raw) => resource.project(raw)),
      () => this.listForInformer(),
      false,
      this.options.labelSelector,
      this.options.fieldSelector,
    );
    informer.on(k8s.ADD, (object) => this.deliver('upserted', object));
    informer.on(k8s.UPDATE, (object) => this.deliver('upserted', object));
    informer.on(k8s.DELETE, (object) => this.deliver('deleted', object));
    informer.on(k8s.ERROR, (error) => this.stoppedWithError(error));
    this.informer = informer;
    void this.run(informer);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.informer?.stop();
  }

  /** The projected objects the informer holds now. */
  list(): ProjectedObject[] {
    return [...(this.informer?.list() ?? [])];
  }

  stats(): ResourceWatchStats {
    return {
      resource: this.options.resource.name,
      synced: this.syncedFlag,
      lists: this.lists,
      restarts: this.restarts,
      objects: this.informer?.list().length ?? 0,
      resourceVersion: this.informer?.latestResourceVersion() ?? '',
    };
  }

  private async run(informer: k8s.ListWatch<ProjectedObject & k8s.KubernetesObject>): Promise<void> {
    try {
      await informer.start();
    } catch (error) {
      this.stoppedWithError(error);
    }
  }

  /** The list function of the ListWatch: raw JSON pages, projected. */
  private async listPages(): Promise<{ resourceVersion: string; items: ProjectedObject[] }> {
    const { resource, rest, fieldSelector, labelSelector, pageSize } = this.options;
    const items: ProjectedObject[] = [];
    let next: string | undefined;
    let resourceVersion = '';
    do {
      const query = new URLSearchParams();
      if (fieldSelector !== undefined) query.set('fieldSelector', fieldSelector);
      if (labelSelector !== undefined) query.set('labelSelector', labelSelector);
      if (pageSize !== undefined) query.set('limit', String(pageSize));
      if (next !== undefined) query.set('continue', next);
      const text = query.toString();
      const page = await rest.request<KubeList>({
        method: 'GET',
        path: `${resourcePath(resource)}${text === '' ? '' : `?${text}`}`,
      });
      for (const raw of page.items ?? []) {
        // Lists carry kind/apiVersion on the list only; projections fill them in.
        const projected = resource.project(raw);
        if (projected) items.push(projected);
      }
      resourceVersion = page.metadata?.resourceVersion ?? '';
      next = page.metadata?.continue || undefined;
    } while (next !== undefined);
    return { resourceVersion, items };
  }

  private async listForInformer(): Promise<k8s.KubernetesListObject<ProjectedObject & k8s.KubernetesObject>> {
    const { resourceVersion, items } = await this.listPages();
    // The ListWatch applies the list (delete/add/update callbacks) right after this promise settles and before
    // it opens the watch; setImmediate runs after that, so `listed` sees the cache as the list left it.
    setImmediate(() => this.listApplied());
    return { metadata: { resourceVersion }, items };
  }

  private listApplied(): void {
    if (this.stopped) return;
    this.lists++;
    this.consecutiveFailures = 0;
    const objects = this.list();
    this.logger.info(this.syncedFlag ? 'resource relisted' : 'resource synced', {
      objects: objects.length,
      lists: this.lists,
      restarts: this.restarts,
    });
    this.guard('listed', () => this.options.handler.listed(objects));
    if (!this.syncedFlag) {
      this.syncedFlag = true;
      this.resolveSynced();
    }
  }

  private deliver(what: 'upserted' | 'deleted', object: ProjectedObject): void {
    if (this.stopped) return;
    this.guard(what, () => this.options.handler[what](object));
  }

  private guard(what: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.logger.error(`watch handler failed (${what})`, { error });
    }
  }

  private stoppedWithError(error: unknown): void {
    if (this.stopped || this.restartTimer !== undefined) return;
    this.consecutiveFailures++;
    const delayMs = Math.min(
      this.backoff.maxMs,
      this.backoff.initialMs * 2 ** Math.min(this.consecutiveFailures - 1, 30),
    );
    this.logger.warn('watch stopped; restarting', {
      error: describeError(error),
      retryInMs: delayMs,
      failures: this.consecutiveFailures,
      objects: this.informer?.list().length ?? 0,
    });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      const informer = this.informer;
      if (this.stopped || informer === undefined) return;
      this.restarts++;
      void this.run(informer);
    }, delayMs);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
    const detail = [statusCode, code]
      .filter((part): part is string | number => typeof part === 'string' || typeof part === 'number')
      .join(' ');
    return detail === '' ? error.message : `${error.message} (${detail})`;
  }
  return String(error);
}
