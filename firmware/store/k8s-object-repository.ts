// Cluster mode's copy of the Kubernetes API objects it last saw (projected to the fields we use), keyed by
// resource and "namespace/name". Not a source of truth: it is what a node enforces while the API server is
// unreachable, replaced by the API's state once the watches sync.
import type { StoreDatabase } from './database';

export interface StoredK8sObject {
  resource: string;
  /** "namespace/name", or "name" for cluster-scoped resources. */
  name: string;
  /** The object as JSON; undefined when the stored text is not JSON (the caller logs and skips it). */
  body: unknown;
  resourceVersion?: string;
}

export interface K8sObjectWrite {
  name: string;
  body: unknown;
  resourceVersion?: string;
}

interface K8sObjectRow {
  resource: string;
  name: string;
  body: string;
  resource_version: string | null;
}

function toStored(row: K8sObjectRow): StoredK8sObject {
  let body: unknown;
  try {
    body = JSON.parse(row.body) as unknown;
  } catch {
    body = undefined;
  }
  const stored: StoredK8sObject = { resource: row.resource, name: row.name, body };
  if (row.resource_version !== null) stored.resourceVersion = row.resource_version;
  return stored;
}

export class K8sObjectRepository {
  constructor(
    private readonly db: StoreDatabase,
    private readonly now: () => string = () => new Date().toISOString(),
  ) {}

  list(resource?: string): StoredK8sObject[] {
    const rows =
      resource === undefined
        ? this.db.prepare('SELECT * FROM k8s_objects ORDER BY resource, name').all()
        : this.db.prepare('SELECT * FROM k8s_objects WHERE resource = ? ORDER BY name').all(resource);
    return (rows as K8sObjectRow[]).map(toStored);
  }

  upsert(resource: string, object: K8sObjectWrite): void {
    this.db
      .prepare(
        `INSERT INTO k8s_objects (resource, name, body, resource_version) VALUES (?, ?, ?, ?)
         ON CONFLICT (resource, name) DO UPDATE SET body = excluded.body,
           resource_version = excluded.resource_version`,
      )
      .run(resource, object.name, JSON.stringify(object.body), object.resourceVersion ?? null);
  }

  delete(resource: string, name: string): boolean {
    return (
      this.db.prepare('DELETE FROM k8s_objects WHERE resource = ? AND name = ?').run(resource, name).changes >
      0
    );
  }

  /**
   * Replaces every object of the given resources (objects absent from the map's lists are deleted) and records
   * their sync, in one transaction: a crash leaves the old copy or the new one, never a mix.
   */
  replace(
    resources: ReadonlyMap<string, { resourceVersion: string; objects: readonly K8sObjectWrite[] }>,
  ): void {
    const clear = this.db.prepare('DELETE FROM k8s_objects WHERE resource = ?');
    const insert = this.db.prepare(
      'INSERT INTO k8s_objects (resource, name, body, resource_version) VALUES (?, ?, ?, ?)',
    );
    const synced = this.db.prepare(
      `INSERT INTO k8s_sync (resource, resource_version, synced_at) VALUES (?, ?, ?)
       ON CONFLICT (resource) DO UPDATE SET resource_version = excluded.resource_version,
         synced_at = excluded.synced_at`,
    );
    const at = this.now();
    this.db.transaction(() => {
      for (const [resource, { resourceVersion, objects }] of resources) {
        clear.run(resource);
        for (const object of objects) {
          insert.run(resource, object.name, JSON.stringify(object.body), object.resourceVersion ?? null);
        }
        synced.run(resource, resourceVersion, at);
      }
    })();
  }

  /** When each resource was last replaced by a complete list from the API server. */
  syncs(): { resource: string; resourceVersion: string; syncedAt: string }[] {
    return (
      this.db
        .prepare('SELECT resource, resource_version, synced_at FROM k8s_sync ORDER BY resource')
        .all() as {
        resource: string;
        resource_version: string;
        synced_at: string;
      }[]
    ).map((row) => ({
      resource: row.resource,
      resourceVersion: row.resource_version,
      syncedAt: row.synced_at,
    }));
  }
}
