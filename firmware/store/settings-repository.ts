// Firmware settings as key/value text in the settings table (migration 1): generated secrets that must survive
// reboots (Node-RED's credential key), small state such as IPAM's last address. Values are opaque strings;
// callers own their encoding. Keys are dotted and namespaced by their owner, e.g. `node-red.credentialSecret`.
import type { StoreDatabase } from './database';

export class SettingsRepository {
  constructor(private readonly db: StoreDatabase) {}

  get(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value;
  }

  set(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  /** True when the key existed. */
  delete(key: string): boolean {
    return this.db.prepare('DELETE FROM settings WHERE key = ?').run(key).changes > 0;
  }

  /**
   * The stored value, or `create()`'s stored and returned, in one transaction: a value generated once (a secret)
   * is never replaced by a second one, also when two callers race.
   */
  getOrCreate(key: string, create: () => string): string {
    return this.db
      .transaction(() => {
        const existing = this.get(key);
        if (existing !== undefined) return existing;
        const value = create();
        this.set(key, value);
        return value;
      })
      .immediate();
  }

  /** Keys starting with `prefix`, sorted. */
  keys(prefix = ''): string[] {
    const rows = this.db
      .prepare('SELECT key FROM settings WHERE substr(key, 1, length(?)) = ? ORDER BY key')
      .all(prefix, prefix) as { key: string }[];
    return rows.map((row) => row.key);
  }
}
