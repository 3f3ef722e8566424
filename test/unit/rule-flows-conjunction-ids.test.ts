// The conjunction id allocator: stable per key, never two keys on one id, reuse only after release.
import assert from 'node:assert/strict';
import { ConjunctionIdAllocator, ConjunctionIdError } from '../../firmware/core/pipeline/conjunction-ids';

describe('conjunction id allocator', () => {
  it('gives a key the same id until it is released', () => {
    const ids = new ConjunctionIdAllocator();
    const a = ids.allocate('rule-a');
    const b = ids.allocate('rule-b');
    assert.equal(a, 1, 'ids start at 1 (0 would read as a whole-category cookie)');
    assert.notEqual(a, b);
    assert.equal(ids.allocate('rule-a'), a);
    assert.equal(ids.idOf('rule-b'), b);
    assert.equal(ids.keyOf(a), 'rule-a');
    assert.deepEqual(ids.keys(), ['rule-a', 'rule-b']);
    assert.equal(ids.size, 2);
  });

  it('does not reuse a released id while fresh ones remain, then reuses the oldest release first', () => {
    const ids = new ConjunctionIdAllocator({ firstId: 10, lastId: 13 });
    assert.deepEqual(
      ['a', 'b', 'c'].map((k) => ids.allocate(k)),
      [10, 11, 12],
    );
    assert.equal(ids.release('b'), 11);
    assert.equal(ids.release('a'), 10);
    assert.equal(ids.release('a'), undefined, 'a second release is a no-op');
    assert.equal(ids.idOf('a'), undefined);
    assert.equal(ids.allocate('d'), 13, 'fresh id first');
    assert.equal(ids.allocate('e'), 11, 'then the id released first');
    assert.equal(ids.allocate('f'), 10);
    assert.throws(
      () => ids.allocate('g'),
      (e: unknown) => e instanceof ConjunctionIdError && e.code === 'CONJUNCTION_IDS_EXHAUSTED',
    );
    // Nothing is handed out twice.
    const live = ids.keys().map((k) => ids.idOf(k));
    assert.equal(new Set(live).size, live.length);
  });

  it('survives long churn without duplicates', () => {
    const ids = new ConjunctionIdAllocator({ firstId: 1, lastId: 64 });
    const live = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const key = `k${i}`;
      if (live.size === 64) {
        const [oldest] = live.keys();
        ids.release(oldest as string);
        live.delete(oldest as string);
      }
      live.set(key, ids.allocate(key));
      assert.equal(new Set(live.values()).size, live.size);
    }
  });

  it('rejects an empty or out-of-range id space', () => {
    assert.throws(() => new ConjunctionIdAllocator({ firstId: 5, lastId: 4 }), ConjunctionIdError);
    assert.throws(() => new ConjunctionIdAllocator({ lastId: 2 ** 32 }), ConjunctionIdError);
  });
});
