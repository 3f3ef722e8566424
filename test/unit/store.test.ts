import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { migrate, openStore, schemaVersion, StoreVersionError } from '../../firmware/store/database';
import { MIGRATIONS } from '../../firmware/store/migrations';
import { IpAllocationRepository, PodRepository, type PodRecord } from '../../firmware/store/pod-repository';
import { parseCidr } from '../../firmware/core/ipam/ipv4';

function pod(overrides: Partial<PodRecord> = {}): PodRecord {
  return {
    containerId: 'c1',
    namespace: 'default',
    name: 'web',
    ifName: 'eth0',
    netns: '/var/run/netns/x',
    hostIfName: 'web-abcdef',
    ip: '10.10.0.2',
    mac: '0a:00:00:00:00:02',
    labels: { app: 'web' },
    containerPorts: [],
    createdAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

describe('store', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-store-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('migration 1 creates the pods, ip_allocations and settings tables from an empty file', () => {
    const db = new Database(path.join(dir, 'v0.db'));
    assert.equal(schemaVersion(db), 0);
    migrate(db, MIGRATIONS.slice(0, 1));
    assert.equal(schemaVersion(db), 1);
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as {
        name: string;
      }[]
    ).map((r) => r.name);
    assert.deepEqual(tables, ['ip_allocations', 'pods', 'settings']);
    db.close();
  });

  it('opens in WAL mode, migrates to the latest version and refuses a newer schema', () => {
    const file = path.join(dir, 'a.db');
    const db = openStore(file);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(schemaVersion(db), MIGRATIONS.length);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    assert.throws(() => openStore(file), StoreVersionError);
  });

  it('keeps pods with labels and enforces one pod per namespace/name', () => {
    const db = openStore(path.join(dir, 'p.db'));
    const pods = new PodRepository(db);
    pods.insert(pod());
    assert.deepEqual(pods.byName('default', 'web'), pod());
    assert.throws(() => pods.insert(pod({ containerId: 'c2' })), /UNIQUE/);
    assert.ok(pods.setLabels('default', 'web', { app: 'api' }));
    assert.deepEqual(pods.byContainerId('c1')?.labels, { app: 'api' });
    assert.ok(pods.delete('c1'));
    assert.ok(!pods.delete('c1'));
    assert.deepEqual(pods.list(), []);
    db.close();
  });

  it('allocates addresses idempotently per container and persists them across reopen', () => {
    const file = path.join(dir, 'ip.db');
    const subnet = parseCidr('10.10.0.0/24');
    let db = openStore(file);
    let ips = new IpAllocationRepository(db);
    const a = ips.allocate(subnet, 'c1', 'eth0');
    assert.equal(ips.allocate(subnet, 'c1', 'eth0'), a, 'a retried ADD gets the same address');
    const b = ips.allocate(subnet, 'c2', 'eth0');
    assert.notEqual(a, b);
    db.close();
    db = openStore(file);
    ips = new IpAllocationRepository(db);
    assert.deepEqual(
      ips.list().map((r) => r.containerId),
      ['c1', 'c2'],
    );
    assert.equal(ips.release('c1', 'eth0'), 1);
    assert.equal(ips.release('c1', 'eth0'), 0);
    const c = ips.allocate(subnet, 'c3', 'eth0');
    assert.notEqual(c, a, 'the freed address is not handed out again at once');
    assert.throws(() => ips.allocate(subnet, 'c4', 'eth0', b), /already allocated/);
    db.close();
  });
});
