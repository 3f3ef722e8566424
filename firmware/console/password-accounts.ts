// Console accounts over the users table: scrypt (node:crypto) with a random salt per password and the cost
// parameters stored with each hash, compared in constant time. Passwords are never logged or kept.
import * as crypto from 'node:crypto';
import type { Logger } from '../core/logger';
import type { ConsoleAccounts, PasswordState } from '../core/console/ports';
import type { UserRecord, UserRepository } from '../store/user-repository';

export interface ScryptParameters {
  n: number;
  r: number;
  p: number;
  keyLength: number;
}

/** OWASP's scrypt minimum (N=2^17, r=8, p=1): ~0.1–0.3 s and 128 MiB on a Raspberry Pi 4 class CPU. */
export const DEFAULT_SCRYPT: ScryptParameters = { n: 2 ** 17, r: 8, p: 1, keyLength: 32 };

const SALT_BYTES = 16;

export interface PasswordAccountsOptions {
  users: Pick<UserRepository, 'byName' | 'save'>;
  /** Accounts that may log in; the first one gets its password on first boot. */
  accountNames: readonly string[];
  scrypt?: ScryptParameters;
  logger: Logger;
  now?: () => Date;
}

export class PasswordAccounts implements ConsoleAccounts {
  private readonly scrypt: ScryptParameters;

  constructor(private readonly options: PasswordAccountsOptions) {
    this.scrypt = options.scrypt ?? DEFAULT_SCRYPT;
  }

  passwordState(user: string): Promise<PasswordState> {
    if (!this.options.accountNames.includes(user)) return Promise.resolve('unknown-user');
    return Promise.resolve(this.options.users.byName(user) === undefined ? 'unset' : 'set');
  }

  async verify(user: string, password: string): Promise<boolean> {
    const record = this.options.accountNames.includes(user) ? this.options.users.byName(user) : undefined;
    if (record === undefined) {
      // Same work as a real check, so that timing does not tell which accounts exist.
      await derive(password, crypto.randomBytes(SALT_BYTES), this.scrypt);
      return false;
    }
    const expected = Buffer.from(record.passwordHash, 'base64');
    const actual = await derive(password, Buffer.from(record.salt, 'base64'), record.scrypt);
    return expected.length === actual.length && crypto.timingSafeEqual(expected, actual);
  }

  async setPassword(user: string, password: string): Promise<void> {
    if (!this.options.accountNames.includes(user)) throw new Error(`no console account "${user}"`);
    const salt = crypto.randomBytes(SALT_BYTES);
    const hash = await derive(password, salt, this.scrypt);
    const record: UserRecord = {
      name: user,
      passwordHash: hash.toString('base64'),
      salt: salt.toString('base64'),
      scrypt: { ...this.scrypt },
      updatedAt: (this.options.now?.() ?? new Date()).toISOString(),
    };
    this.options.users.save(record);
    // The session logs the change at info with its reason (first boot or passwd); here only the cost used.
    this.options.logger.debug('console password hash stored', { user, scrypt: { ...this.scrypt } });
  }
}

function derive(password: string, salt: Buffer, parameters: ScryptParameters): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    crypto.scrypt(
      password.normalize('NFC'),
      salt,
      parameters.keyLength,
      // maxmem: N * r * 128 bytes plus slack; Node's 32 MiB default is below N=2^17.
      { N: parameters.n, r: parameters.r, p: parameters.p, maxmem: 256 * parameters.n * parameters.r },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}
