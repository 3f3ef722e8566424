// Console accounts: migration 4 (users), scrypt hashes with per-user salt and stored parameters.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { migrate, openStore, schemaVersion } from '../../firmware/store/database';
import { MIGRATIONS } from '../../firmware/store/migrations';
import { UserRepository } from '../../firmware/store/user-repository';
import { PodRepository } from '../../firmware/store/pod-repository';
import { PasswordAccounts, type ScryptParameters } from '../../firmware/console/password-accounts';
import type { Logger, LogFields } from '../../firmware/core/logger';
import { ConsoleSession } from '../../firmware/core/console/session';
import { encodeUtf8 } from '../../firmware/core/console/utf8-decoder';
import { FAKE_BOARD, FAKE_HOST, FakeBackend, ManualTimers, RecordingPower } from './console-fakes';

/** Cheap parameters for tests; the firmware uses DEFAULT_SCRYPT. */
const FAST: ScryptParameters = { n: 1024, r: 8, p: 1, keyLength: 32 };

/** Records `level msg` for every log call. */
function levelLogger(lines: string[]): Logger {
  const at =
    (level: string) =>
    (msg: string): void => {
      lines.push(`${level} ${msg}`);
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

function recordingLogger(lines: string[]): Logger {
  const log = (msg: string, fields?: LogFields): void => {
    lines.push(`${msg} ${JSON.stringify(fields ?? {})}`);
  };
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
  return logger;
}

describe('console accounts', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-console-accounts-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('migration 4 upgrades a version 3 store with a users table and keeps its data', () => {
    const file = path.join(dir, 'v3.db');
    const v3 = new Database(file);
    migrate(v3, MIGRATIONS.slice(0, 3));
    v3.prepare(
      `INSERT INTO pods (container_id, namespace, name, if_name, netns, host_if_name, ip, mac, labels, created_at)
       VALUES ('c1', 'default', 'a', 'eth0', '/n', 'a-1', '10.10.0.2', '0a:00:00:00:00:01', '{}', 'then')`,
    ).run();
    v3.close();
    const db = new Database(file);
    migrate(db, MIGRATIONS.slice(0, 4));
    assert.equal(schemaVersion(db), 4);
    assert.equal(new PodRepository(db).byName('default', 'a')?.ip, '10.10.0.2');
    assert.deepEqual(new UserRepository(db).names(), []);
    db.close();
  });

  it('sets, verifies and changes passwords with a fresh salt each time, never storing or logging them', async () => {
    const db = openStore(path.join(dir, 'a.db'));
    const users = new UserRepository(db);
    const logs: string[] = [];
    const accounts = new PasswordAccounts({
      users,
      accountNames: ['admin'],
      scrypt: FAST,
      logger: recordingLogger(logs),
    });
    assert.equal(await accounts.passwordState('admin'), 'unset');
    assert.equal(await accounts.passwordState('root'), 'unknown-user');
    assert.equal(await accounts.verify('admin', ''), false, 'no password: nothing verifies');
    await accounts.setPassword('admin', 'first password');
    assert.equal(await accounts.passwordState('admin'), 'set');
    const first = users.byName('admin');
    assert.deepEqual(first?.scrypt, { n: 1024, r: 8, p: 1, keyLength: 32 });
    assert.equal(Buffer.from(first?.salt ?? '', 'base64').length, 16);
    assert.equal(await accounts.verify('admin', 'first password'), true);
    assert.equal(await accounts.verify('admin', 'first passwore'), false);
    assert.equal(await accounts.verify('root', 'first password'), false);
    await accounts.setPassword('admin', 'first password');
    assert.notEqual(users.byName('admin')?.salt, first?.salt, 'a new salt per change');
    assert.notEqual(users.byName('admin')?.passwordHash, first?.passwordHash);
    await assert.rejects(accounts.setPassword('root', 'x'), /no console account/);
    const dump = JSON.stringify(db.prepare('SELECT * FROM users').all());
    assert.ok(!dump.includes('first password'));
    assert.ok(!logs.join('\n').includes('first password'));
    db.close();
  });

  it('verifies a hash made with other parameters than the current ones (costs can rise later)', async () => {
    const db = openStore(path.join(dir, 'b.db'));
    const users = new UserRepository(db);
    const logger = recordingLogger([]);
    await new PasswordAccounts({ users, accountNames: ['admin'], scrypt: FAST, logger }).setPassword(
      'admin',
      'pw-12345',
    );
    const stronger = new PasswordAccounts({
      users,
      accountNames: ['admin'],
      scrypt: { ...FAST, n: 4096 },
      logger,
    });
    assert.equal(await stronger.verify('admin', 'pw-12345'), true);
    db.close();
  });

  it('logs a password change once at info, with its reason, through the session and the store', async () => {
    const db = openStore(path.join(dir, 'c.db'));
    const lines: string[] = [];
    const logger = levelLogger(lines);
    const accounts = new PasswordAccounts({
      users: new UserRepository(db),
      accountNames: ['admin'],
      scrypt: FAST,
      logger,
    });
    const session = new ConsoleSession({
      write: () => undefined,
      backend: new FakeBackend(),
      labels: { podLabels: () => Promise.resolve(undefined) },
      accounts,
      power: new RecordingPower(true),
      host: FAKE_HOST,
      board: FAKE_BOARD,
      firmwareVersion: '9.9.9',
      timers: new ManualTimers(),
      logger,
    });
    session.start();
    const type = async (text: string): Promise<void> => {
      await session.settled();
      session.input(encodeUtf8(text));
      await session.settled();
    };
    await type('admin\r');
    await type('first password\r');
    await type('first password\r');
    assert.equal(session.user, 'admin');
    await type('passwd\r');
    await type('first password\r');
    await type('second password\r');
    await type('second password\r');
    assert.equal(await accounts.verify('admin', 'second password'), true);
    const changes = lines.filter((line) => /password/.test(line));
    assert.deepEqual(
      changes.filter((line) => line.startsWith('info ')),
      ['info console password set', 'info console password set'],
      'one info line per change (first boot, then passwd)',
    );
    assert.deepEqual(
      changes.filter((line) => line.startsWith('debug ')),
      ['debug console password hash stored', 'debug console password hash stored'],
    );
    db.close();
  });
});
