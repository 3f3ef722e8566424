// Console accounts in SQLite (migration 4, table users). Rows hold only what password verification needs: the
// scrypt hash, its salt and its cost parameters. Hashing lives in firmware/console/password-accounts.ts.
import type { StoreDatabase } from './database';

export interface UserRecord {
  name: string;
  /** Base64 scrypt output. */
  passwordHash: string;
  /** Base64 random salt, one per user and per password change. */
  salt: string;
  scrypt: { n: number; r: number; p: number; keyLength: number };
  updatedAt: string;
}

interface UserRow {
  name: string;
  password_hash: string;
  salt: string;
  scrypt_n: number;
  scrypt_r: number;
  scrypt_p: number;
  key_length: number;
  updated_at: string;
}

export class UserRepository {
  constructor(private readonly db: StoreDatabase) {}

  byName(name: string): UserRecord | undefined {
    const row = this.db.prepare('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  /** Inserts the user or replaces its password. */
  save(record: UserRecord): void {
    this.db
      .prepare(
        `INSERT INTO users (name, password_hash, salt, scrypt_n, scrypt_r, scrypt_p, key_length, updated_at)
         VALUES (@name, @passwordHash, @salt, @n, @r, @p, @keyLength, @updatedAt)
         ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, salt = excluded.salt,
           scrypt_n = excluded.scrypt_n, scrypt_r = excluded.scrypt_r, scrypt_p = excluded.scrypt_p,
           key_length = excluded.key_length, updated_at = excluded.updated_at`,
      )
      .run({
        name: record.name,
        passwordHash: record.passwordHash,
        salt: record.salt,
        n: record.scrypt.n,
        r: record.scrypt.r,
        p: record.scrypt.p,
        keyLength: record.scrypt.keyLength,
        updatedAt: record.updatedAt,
      });
  }

  names(): string[] {
    return (this.db.prepare('SELECT name FROM users ORDER BY name').all() as { name: string }[]).map(
      (row) => row.name,
    );
  }
}

function fromRow(row: UserRow): UserRecord {
  return {
    name: row.name,
    passwordHash: row.password_hash,
    salt: row.salt,
    scrypt: { n: row.scrypt_n, r: row.scrypt_r, p: row.scrypt_p, keyLength: row.key_length },
    updatedAt: row.updated_at,
  };
}
