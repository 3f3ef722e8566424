// Opens the SQLite store and brings its schema up to date with numbered migrations (PRAGMA user_version).
// The handle is created once in main.ts and passed to every repository; nothing here is a singleton.
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MIGRATIONS } from './migrations';

export type StoreDatabase = Database.Database;

export class StoreVersionError extends Error {
  readonly code = 'StoreTooNew';
}

export function openStore(file: string): StoreDatabase {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  // WAL + synchronous=FULL: a committed write survives SIGKILL and power loss; readers never block the writer.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

export function schemaVersion(db: StoreDatabase): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function migrate(db: StoreDatabase, migrations = MIGRATIONS): void {
  const current = schemaVersion(db);
  const latest = migrations.length;
  if (current > latest) {
    throw new StoreVersionError(
      `store schema version ${current} is newer than this firmware knows (${latest})`,
    );
  }
  for (let version = current + 1; version <= latest; version++) {
    const migration = migrations[version - 1];
    if (migration === undefined) continue;
    db.transaction(() => {
      migration(db);
      db.pragma(`user_version = ${version}`);
    })();
  }
}
