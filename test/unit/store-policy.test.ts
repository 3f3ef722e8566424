// Migration 2 (namespaces, policy objects, pods' container ports) and the repositories on top of it.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { migrate, openStore, schemaVersion } from '../../firmware/store/database';
import { MIGRATIONS } from '../../firmware/store/migrations';
import { PodRepository, type PodRecord } from '../../firmware/store/pod-repository';
import {
  NamespaceRepository,
  PolicyObjectRepository,
  type PolicyObjectWrite,
} from '../../firmware/store/policy-repository';

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

function tableNames(db: Database.Database): string[] {
  return (
    db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as { name: string }[]
  ).map((row) => row.name);
}

function write(key: string, body: unknown, generation = 1): PolicyObjectWrite {
  const [kind = '', namespace = '', name = ''] = key.split('/');
  return namespace === ''
    ? { key, kind, name, body, generation }
    : { key, kind, namespace, name, body, generation };
}

describe('store: policy state (migration 2)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-store-policy-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('upgrades a version 1 store: new tables, container_ports on pods, namespaces of existing pods', () => {
    const file = path.join(dir, 'v1.db');
    const v1 = new Database(file);
    migrate(v1, MIGRATIONS.slice(0, 1));
    const insert = v1.prepare(
      `INSERT INTO pods (container_id, namespace, name, if_name, netns, host_if_name, ip, mac, labels, created_at)
       VALUES (?, ?, ?, 'eth0', '/n', ?, ?, '0a:00:00:00:00:01', '{"app":"x"}', 'then')`,
    );
    insert.run('c1', 'default', 'a', 'a-1', '10.10.0.2');
    insert.run('c2', 'default', 'b', 'b-1', '10.10.0.3');
    insert.run('c3', 'cassandra', 'c', 'c-1', '10.10.0.4');
    v1.close();

    // Exactly step 2 (later steps have their own tests).
    const db = new Database(file);
    migrate(db, MIGRATIONS.slice(0, 2));
    assert.equal(schemaVersion(db), 2);
    assert.deepEqual(tableNames(db), ['ip_allocations', 'namespaces', 'pods', 'policy_objects', 'settings']);
    const pods = new PodRepository(db);
    assert.deepEqual(pods.byName('default', 'a')?.containerPorts, []);
    assert.deepEqual(pods.byName('default', 'a')?.labels, { app: 'x' });
    assert.deepEqual(new NamespaceRepository(db).list(), [
      { name: 'cassandra', labels: { 'kubernetes.io/metadata.name': 'cassandra' } },
      { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } },
    ]);
    db.close();
  });

  it('keeps pods container ports', () => {
    const db = openStore(path.join(dir, 'p.db'));
    const pods = new PodRepository(db);
    const ports: PodRecord['containerPorts'] = [
      { name: 'http', containerPort: 80, protocol: 'TCP' },
      { containerPort: 53, protocol: 'UDP' },
    ];
    pods.insert(pod({ containerPorts: ports }));
    assert.deepEqual(pods.byContainerId('c1')?.containerPorts, ports);
    db.close();
  });

  it('namespaces: ensure creates once with the name label, setLabels replaces, unknown names are refused', () => {
    const db = openStore(path.join(dir, 'n.db'));
    const namespaces = new NamespaceRepository(db);
    assert.deepEqual(namespaces.ensure('web'), {
      namespace: { name: 'web', labels: { 'kubernetes.io/metadata.name': 'web' } },
      created: true,
    });
    assert.ok(namespaces.setLabels('web', { 'kubernetes.io/metadata.name': 'web', team: 'a' }));
    assert.deepEqual(namespaces.ensure('web'), {
      namespace: { name: 'web', labels: { 'kubernetes.io/metadata.name': 'web', team: 'a' } },
      created: false,
    });
    assert.equal(namespaces.setLabels('nowhere', {}), false);
    assert.equal(namespaces.get('nowhere'), undefined);
    db.close();
  });

  it('policy objects: commit writes upserts and deletes together and survives reopening', () => {
    const file = path.join(dir, 'o.db');
    let db = openStore(file);
    let objects = new PolicyObjectRepository(db, () => '2026-02-03T04:05:06.000Z');
    objects.commit({
      upserts: [
        write('K8sNetworkPolicy/default/a', { spec: { podSelector: {} } }),
        write('Tier//ops', { spec: { priority: 70 } }),
      ],
      deletes: [],
    });
    objects.commit({
      upserts: [
        write('K8sNetworkPolicy/default/a', { spec: { podSelector: { matchLabels: { x: 'y' } } } }, 2),
      ],
      deletes: ['Tier//ops'],
    });
    db.close();
    db = openStore(file);
    objects = new PolicyObjectRepository(db);
    assert.deepEqual(objects.list(), [
      {
        key: 'K8sNetworkPolicy/default/a',
        kind: 'K8sNetworkPolicy',
        namespace: 'default',
        name: 'a',
        body: { spec: { podSelector: { matchLabels: { x: 'y' } } } },
        generation: 2,
        updatedAt: '2026-02-03T04:05:06.000Z',
      },
    ]);
    assert.ok(objects.delete('K8sNetworkPolicy/default/a'));
    assert.equal(objects.delete('K8sNetworkPolicy/default/a'), false);
    db.close();
  });

  it('policy objects: a commit that fails half-way stores nothing of it', () => {
    const db = openStore(path.join(dir, 't.db'));
    const objects = new PolicyObjectRepository(db);
    objects.commit({ upserts: [write('Tier//keep', { spec: { priority: 1 } })], deletes: [] });
    // BigInt cannot be serialised: the second upsert throws after the first was written.
    assert.throws(() =>
      objects.commit({
        upserts: [write('Tier//first', { ok: true }), write('Tier//second', { bad: 1n })],
        deletes: ['Tier//keep'],
      }),
    );
    assert.deepEqual(
      objects.list().map((object) => object.key),
      ['Tier//keep'],
    );
    db.close();
  });

  it('policy objects: a body that is not JSON comes back undefined instead of failing the listing', () => {
    const db = openStore(path.join(dir, 'j.db'));
    db.prepare(
      "INSERT INTO policy_objects (key, kind, namespace, name, body, generation, updated_at) VALUES ('Tier//x', 'Tier', NULL, 'x', '{oops', 1, 'now')",
    ).run();
    const [stored] = new PolicyObjectRepository(db).list();
    assert.equal(stored?.key, 'Tier//x');
    assert.equal(stored?.body, undefined);
    assert.equal('namespace' in (stored ?? {}), false);
    db.close();
  });
});
