// Standalone mode's source of truth for policy state: namespaces with their labels, and the policy objects
// users applied (stored with the API server's defaults filled in, as etcd would hold them). A multi-object apply
// is written in one transaction, so a crash leaves either all of it or none of it.
import type { StoreDatabase } from './database';

/** The label the Kubernetes API server puts on every namespace; it always equals the namespace's name. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export interface NamespaceRecord {
  name: string;
  labels: Record<string, string>;
}

interface NamespaceRow {
  name: string;
  labels: string;
}

export class NamespaceRepository {
  constructor(private readonly db: StoreDatabase) {}

  list(): NamespaceRecord[] {
    return (this.db.prepare('SELECT name, labels FROM namespaces ORDER BY name').all() as NamespaceRow[]).map(
      (row) => ({ name: row.name, labels: JSON.parse(row.labels) as Record<string, string> }),
    );
  }

  get(name: string): NamespaceRecord | undefined {
    const row = this.db.prepare('SELECT name, labels FROM namespaces WHERE name = ?').get(name) as
      NamespaceRow | undefined;
    return row && { name: row.name, labels: JSON.parse(row.labels) as Record<string, string> };
  }

  /** Creates the namespace with only its name label unless it exists; returns it and whether it was created. */
  ensure(name: string): { namespace: NamespaceRecord; created: boolean } {
    const labels = { [NAMESPACE_NAME_LABEL]: name };
    const created =
      this.db
        .prepare('INSERT OR IGNORE INTO namespaces (name, labels) VALUES (?, ?)')
        .run(name, JSON.stringify(labels)).changes > 0;
    return { namespace: this.get(name) ?? { name, labels }, created };
  }

  /** Replaces the labels of an existing namespace; false when there is no such namespace. */
  setLabels(name: string, labels: Record<string, string>): boolean {
    return (
      this.db.prepare('UPDATE namespaces SET labels = ? WHERE name = ?').run(JSON.stringify(labels), name)
        .changes > 0
    );
  }
}

export interface StoredPolicyObject {
  /** objectKey(): "<Kind>/<namespace>/<name>". */
  key: string;
  kind: string;
  /** Absent for cluster-scoped kinds. */
  namespace?: string;
  name: string;
  /** The object as JSON; undefined when the stored text is not JSON (the caller logs and skips it). */
  body: unknown;
  /** 1 when created, +1 for every apply that changed it (like metadata.generation). */
  generation: number;
  updatedAt: string;
}

export interface PolicyObjectWrite {
  key: string;
  kind: string;
  namespace?: string;
  name: string;
  body: unknown;
  generation: number;
}

interface PolicyObjectRow {
  key: string;
  kind: string;
  namespace: string | null;
  name: string;
  body: string;
  generation: number;
  updated_at: string;
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function toStored(row: PolicyObjectRow): StoredPolicyObject {
  const stored: StoredPolicyObject = {
    key: row.key,
    kind: row.kind,
    name: row.name,
    body: parseBody(row.body),
    generation: row.generation,
    updatedAt: row.updated_at,
  };
  if (row.namespace !== null) stored.namespace = row.namespace;
  return stored;
}

export class PolicyObjectRepository {
  constructor(
    private readonly db: StoreDatabase,
    private readonly now: () => string = () => new Date().toISOString(),
  ) {}

  list(): StoredPolicyObject[] {
    return (this.db.prepare('SELECT * FROM policy_objects ORDER BY key').all() as PolicyObjectRow[]).map(
      toStored,
    );
  }

  get(key: string): StoredPolicyObject | undefined {
    const row = this.db.prepare('SELECT * FROM policy_objects WHERE key = ?').get(key) as
      PolicyObjectRow | undefined;
    return row && toStored(row);
  }

  /** Writes every upsert and delete in one transaction: all of them are stored, or (on error) none. */
  commit(batch: { upserts: readonly PolicyObjectWrite[]; deletes: readonly string[] }): void {
    const upsert = this.db.prepare(
      `INSERT INTO policy_objects (key, kind, namespace, name, body, generation, updated_at)
       VALUES (@key, @kind, @namespace, @name, @body, @generation, @updatedAt)
       ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, namespace = excluded.namespace,
         name = excluded.name, body = excluded.body, generation = excluded.generation,
         updated_at = excluded.updated_at`,
    );
    const remove = this.db.prepare('DELETE FROM policy_objects WHERE key = ?');
    const updatedAt = this.now();
    this.db.transaction(() => {
      for (const object of batch.upserts) {
        upsert.run({
          key: object.key,
          kind: object.kind,
          namespace: object.namespace ?? null,
          name: object.name,
          body: JSON.stringify(object.body),
          generation: object.generation,
          updatedAt,
        });
      }
      for (const key of batch.deletes) remove.run(key);
    })();
  }

  delete(key: string): boolean {
    return this.db.prepare('DELETE FROM policy_objects WHERE key = ?').run(key).changes > 0;
  }
}
