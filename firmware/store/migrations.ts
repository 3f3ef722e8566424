// Numbered schema migrations: index i holds the step from version i to i+1. Never edit a released step;
// append a new one (each has a test in test/unit/store.test.ts).
import type Database from 'better-sqlite3';

export type Migration = (db: Database.Database) => void;

export const MIGRATIONS: Migration[] = [
  // 1: pods attached through CNI, and the IP addresses IPAM handed out.
  (db) => {
    db.exec(`
      CREATE TABLE pods (
        container_id TEXT PRIMARY KEY,
        namespace    TEXT NOT NULL,
        name         TEXT NOT NULL,
        if_name      TEXT NOT NULL,
        netns        TEXT NOT NULL,
        host_if_name TEXT NOT NULL,
        ip           TEXT NOT NULL,
        mac          TEXT NOT NULL,
        labels       TEXT NOT NULL DEFAULT '{}',
        created_at   TEXT NOT NULL
      );
      CREATE UNIQUE INDEX pods_by_name ON pods (namespace, name);
      CREATE TABLE ip_allocations (
        ip           TEXT PRIMARY KEY,
        container_id TEXT NOT NULL,
        if_name      TEXT NOT NULL,
        allocated_at TEXT NOT NULL
      );
      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `);
  },
  // 2: standalone policy state: namespaces with their labels, applied policy objects, pods' container ports.
  (db) => {
    db.exec(`
      CREATE TABLE namespaces (
        name   TEXT PRIMARY KEY,
        labels TEXT NOT NULL DEFAULT '{}'
      );
      CREATE TABLE policy_objects (
        key        TEXT PRIMARY KEY,
        kind       TEXT NOT NULL,
        namespace  TEXT,
        name       TEXT NOT NULL,
        body       TEXT NOT NULL,
        generation INTEGER NOT NULL DEFAULT 1,
        updated_at TEXT NOT NULL
      );
      ALTER TABLE pods ADD COLUMN container_ports TEXT NOT NULL DEFAULT '[]';
    `);
    // Namespaces exist implicitly once a pod is in them; pods attached before this version bring theirs along,
    // with the label the Kubernetes API server gives every namespace.
    db.exec(`
      INSERT OR IGNORE INTO namespaces (name, labels)
        SELECT DISTINCT namespace, json_object('kubernetes.io/metadata.name', namespace) FROM pods;
    `);
  },
  // 3: NetworkPolicy audit log entries (the np.log lines as rows), pruned to a bounded count by the repository.
  (db) => {
    db.exec(`
      CREATE TABLE audit_log (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        time          TEXT NOT NULL,
        table_name    TEXT NOT NULL,
        policy_ref    TEXT NOT NULL,
        rule_name     TEXT,
        direction     TEXT NOT NULL,
        disposition   TEXT NOT NULL,
        priority      INTEGER,
        applied_to    TEXT,
        src_ip        TEXT NOT NULL,
        src_port      INTEGER,
        dst_ip        TEXT NOT NULL,
        dst_port      INTEGER,
        protocol      TEXT NOT NULL,
        packet_length INTEGER NOT NULL,
        count         INTEGER NOT NULL DEFAULT 1,
        duration_ms   INTEGER,
        rule_id       INTEGER NOT NULL
      );
      CREATE INDEX audit_log_by_disposition ON audit_log (disposition, id);
    `);
  },
  // 4: console accounts: scrypt hashes with their own salt and cost parameters, so costs can rise later.
  (db) => {
    db.exec(`
      CREATE TABLE users (
        name          TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        salt          TEXT NOT NULL,
        scrypt_n      INTEGER NOT NULL,
        scrypt_r      INTEGER NOT NULL,
        scrypt_p      INTEGER NOT NULL,
        key_length    INTEGER NOT NULL,
        updated_at    TEXT NOT NULL
      );
    `);
  },
  // 5: cluster mode's last known Kubernetes API objects (projected, as JSON) per resource, so that a node
  // rebooting while the API server is unreachable enforces its last policies; and when each resource last synced.
  (db) => {
    db.exec(`
      CREATE TABLE k8s_objects (
        resource         TEXT NOT NULL,
        name             TEXT NOT NULL,
        body             TEXT NOT NULL,
        resource_version TEXT,
        PRIMARY KEY (resource, name)
      );
      CREATE TABLE k8s_sync (
        resource         TEXT PRIMARY KEY,
        resource_version TEXT NOT NULL,
        synced_at        TEXT NOT NULL
      );
    `);
  },
];
