import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { migrate, openStore } from '../../firmware/store/database';
import { MIGRATIONS } from '../../firmware/store/migrations';
import { SettingsRepository } from '../../firmware/store/settings-repository';

describe('store: settings repository', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-store-settings-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gets, sets, replaces, lists by prefix and deletes keys', () => {
    const db = openStore(path.join(dir, 's.db'));
    const settings = new SettingsRepository(db);
    assert.equal(settings.get('node-red.credentialSecret'), undefined);
    settings.set('node-red.credentialSecret', 'one');
    settings.set('node-red.other', 'x');
    settings.set('nodex.other', 'y');
    settings.set('node-red.credentialSecret', 'two');
    assert.equal(settings.get('node-red.credentialSecret'), 'two');
    assert.deepEqual(settings.keys('node-red.'), ['node-red.credentialSecret', 'node-red.other']);
    assert.equal(settings.delete('node-red.other'), true);
    assert.equal(settings.delete('node-red.other'), false);
    assert.deepEqual(settings.keys('node-red.'), ['node-red.credentialSecret']);
    db.close();
  });

  it('getOrCreate stores a generated value once and returns it after a reopen', () => {
    const file = path.join(dir, 'g.db');
    let db = openStore(file);
    let calls = 0;
    const create = (): string => `secret-${++calls}`;
    assert.equal(new SettingsRepository(db).getOrCreate('k', create), 'secret-1');
    assert.equal(new SettingsRepository(db).getOrCreate('k', create), 'secret-1');
    db.close();
    db = openStore(file);
    assert.equal(new SettingsRepository(db).getOrCreate('k', create), 'secret-1');
    assert.equal(calls, 1);
    db.close();
  });

  it('shares the settings table of migration 1 with IPAM (no migration of its own)', () => {
    const db = new Database(path.join(dir, 'm1.db'));
    migrate(db, MIGRATIONS.slice(0, 1));
    db.prepare("INSERT INTO settings (key, value) VALUES ('ipam.last', '10.10.0.7')").run();
    const settings = new SettingsRepository(db);
    assert.equal(settings.get('ipam.last'), '10.10.0.7');
    settings.set('node-red.credentialSecret', 'abc');
    migrate(db);
    assert.equal(settings.get('node-red.credentialSecret'), 'abc', 'later migrations keep the values');
    db.close();
  });
});
