// Migration 5 (cluster mode's k8s_objects and k8s_sync) and the K8sObjectRepository: a store at version 4 keeps
// its data and gains the tables; replace() swaps a resource's objects (deletions included) in one transaction.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { migrate, schemaVersion } from '../../firmware/store/database';
import { MIGRATIONS } from '../../firmware/store/migrations';
import { K8sObjectRepository } from '../../firmware/store/k8s-object-repository';

const K8S_MIGRATION = 5;

function tables(db: Database.Database): string[] {
  return (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
      name: string;
    }[]
  )
    .map((row) => row.name)
    .filter((name) => !name.startsWith('sqlite_'));
}

describe('k8s object store', function () {
  it('migration 5 adds the k8s tables to a version 4 store and keeps its data', () => {
    const db = new Database(':memory:');
    migrate(db, MIGRATIONS.slice(0, K8S_MIGRATION - 1));
    assert.equal(schemaVersion(db), 4);
    db.prepare("INSERT INTO namespaces (name, labels) VALUES ('ns1', '{}')").run();
    assert.ok(!tables(db).includes('k8s_objects'));
    migrate(db, MIGRATIONS.slice(0, K8S_MIGRATION));
    assert.equal(schemaVersion(db), 5);
    assert.ok(tables(db).includes('k8s_objects') && tables(db).includes('k8s_sync'));
    assert.deepEqual(db.prepare('SELECT name FROM namespaces').all(), [{ name: 'ns1' }]);
    db.close();
  });

  it('upserts, deletes and replaces objects per resource, recording the sync', () => {
    const db = new Database(':memory:');
    migrate(db);
    const repo = new K8sObjectRepository(db, () => '2024-05-01T00:00:00Z');
    repo.upsert('pods', { name: 'ns1/a', body: { metadata: { name: 'a' } }, resourceVersion: '3' });
    repo.upsert('pods', { name: 'ns1/b', body: { metadata: { name: 'b' } } });
    repo.upsert('tiers', { name: 't', body: { metadata: { name: 't' } }, resourceVersion: '4' });
    repo.upsert('pods', {
      name: 'ns1/a',
      body: { metadata: { name: 'a', labels: { x: 'y' } } },
      resourceVersion: '5',
    });
    assert.deepEqual(repo.list('pods'), [
      {
        resource: 'pods',
        name: 'ns1/a',
        body: { metadata: { name: 'a', labels: { x: 'y' } } },
        resourceVersion: '5',
      },
      { resource: 'pods', name: 'ns1/b', body: { metadata: { name: 'b' } } },
    ]);
    assert.equal(repo.delete('pods', 'ns1/b'), true);
    assert.equal(repo.delete('pods', 'ns1/b'), false);
    repo.replace(new Map([['pods', { resourceVersion: '9', objects: [{ name: 'ns1/c', body: { c: 1 } }] }]]));
    assert.deepEqual(
      repo.list().map((row) => `${row.resource}:${row.name}`),
      ['pods:ns1/c', 'tiers:t'],
    );
    assert.deepEqual(repo.syncs(), [
      { resource: 'pods', resourceVersion: '9', syncedAt: '2024-05-01T00:00:00Z' },
    ]);
    db.close();
  });

  it('replace is all or nothing', () => {
    const db = new Database(':memory:');
    migrate(db);
    const repo = new K8sObjectRepository(db);
    repo.upsert('pods', { name: 'ns1/a', body: {} });
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    assert.throws(() =>
      repo.replace(
        new Map([
          ['pods', { resourceVersion: '2', objects: [{ name: 'ns1/b', body: {} }] }],
          ['tiers', { resourceVersion: '2', objects: [{ name: 't', body: cyclic }] }],
        ]),
      ),
    );
    assert.deepEqual(
      repo.list().map((row) => row.name),
      ['ns1/a'],
    );
    assert.deepEqual(repo.syncs(), []);
    db.close();
  });

  it('reads a row whose body is not JSON as undefined', () => {
    const db = new Database(':memory:');
    migrate(db);
    db.prepare("INSERT INTO k8s_objects (resource, name, body) VALUES ('pods', 'ns1/x', '{broken')").run();
    assert.deepEqual(new K8sObjectRepository(db).list(), [
      { resource: 'pods', name: 'ns1/x', body: undefined },
    ]);
    db.close();
  });
});
