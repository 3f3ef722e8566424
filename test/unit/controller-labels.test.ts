import assert from 'node:assert/strict';
import { canonicalSelector, compileSelector, matchesSelector } from '../../firmware/core/api/labels';
import type { LabelSelector } from '../../firmware/core/api/types';
import { normalizeCidr } from '../../firmware/core/controller/cidr';
import { makeSelector, selectorKey } from '../../firmware/core/controller/membership';
import { GROUP_NAME_NAMESPACE, uuidV5 } from '../../firmware/core/controller/uuid';
import { sha1 } from '../../firmware/core/hash/sha1';

const hex = (bytes: Uint8Array): string =>
  [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
const ascii = (text: string): Uint8Array => Uint8Array.from([...text].map((char) => char.charCodeAt(0)));

describe('labels: matchesSelector', () => {
  const labels = { app: 'web', tier: 'fe' };

  it('selects nothing without a selector and everything with an empty one', () => {
    assert.equal(matchesSelector(undefined, labels), false);
    assert.equal(matchesSelector({}, labels), true);
    assert.equal(matchesSelector({}, {}), true);
  });

  it('ANDs matchLabels and every operator of matchExpressions', () => {
    assert.equal(matchesSelector({ matchLabels: { app: 'web' } }, labels), true);
    assert.equal(matchesSelector({ matchLabels: { app: 'web', tier: 'be' } }, labels), false);
    const expression = (
      operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist',
      key: string,
      values?: string[],
    ) => matchesSelector({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] }, labels);
    assert.equal(expression('In', 'app', ['db', 'web']), true);
    assert.equal(expression('In', 'app', ['db']), false);
    assert.equal(expression('In', 'missing', ['web']), false);
    assert.equal(expression('NotIn', 'app', ['db']), true);
    assert.equal(expression('NotIn', 'app', ['web']), false);
    assert.equal(expression('NotIn', 'missing', ['web']), true, 'NotIn matches a missing key');
    assert.equal(expression('Exists', 'tier'), true);
    assert.equal(expression('Exists', 'missing'), false);
    assert.equal(expression('DoesNotExist', 'missing'), true);
    assert.equal(expression('DoesNotExist', 'app'), false);
    assert.equal(
      matchesSelector(
        { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['be'] }] },
        labels,
      ),
      false,
    );
  });

  it('does not mistake Object.prototype members for labels', () => {
    assert.equal(
      matchesSelector({ matchExpressions: [{ key: 'constructor', operator: 'Exists' }] }, {}),
      false,
    );
    assert.equal(
      matchesSelector({ matchExpressions: [{ key: 'toString', operator: 'DoesNotExist' }] }, {}),
      true,
    );
  });

  it('compiles to a matcher with the same verdicts', () => {
    const selectors: (LabelSelector | undefined)[] = [
      undefined,
      {},
      { matchLabels: { app: 'web' } },
      { matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'b', 'c', 'd', 'e', 'web'] }] },
      { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['a', 'b', 'c', 'd', 'e', 'web'] }] },
      {
        matchExpressions: [
          { key: 'tier', operator: 'Exists' },
          { key: 'x', operator: 'DoesNotExist' },
        ],
      },
    ];
    const labelSets: Record<string, string>[] = [
      {},
      { app: 'web' },
      { app: 'db', tier: 'fe' },
      { x: '1', tier: 'be' },
    ];
    for (const selector of selectors) {
      const matcher = compileSelector(selector);
      for (const set of labelSets) assert.equal(matcher(set), matchesSelector(selector, set));
    }
  });
});

describe('labels: canonicalSelector', () => {
  it('gives equal selectors equal text whatever their order or spelling', () => {
    const a: LabelSelector = {
      matchLabels: { tier: 'fe', app: 'web' },
      matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'dev'] }],
    };
    const b: LabelSelector = {
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['dev', 'prod', 'dev'] },
        { key: 'app', operator: 'In', values: ['web'] },
      ],
      matchLabels: { tier: 'fe' },
    };
    assert.equal(canonicalSelector(a), 'app=web,env in (dev,prod),tier=fe');
    assert.equal(canonicalSelector(b), canonicalSelector(a));
  });

  it('writes every operator in Kubernetes selector syntax and keeps different selectors apart', () => {
    assert.equal(canonicalSelector({}), '');
    assert.equal(
      canonicalSelector({
        matchExpressions: [
          { key: 'z', operator: 'DoesNotExist' },
          { key: 'y', operator: 'Exists' },
          { key: 'x', operator: 'NotIn', values: ['b', 'a'] },
          { key: 'w', operator: 'NotIn', values: ['a'] },
        ],
      }),
      'w!=a,x notin (a,b),y,!z',
    );
    assert.notEqual(
      canonicalSelector({ matchLabels: { app: 'web' } }),
      canonicalSelector({ matchLabels: { app: 'db' } }),
    );
    assert.notEqual(
      canonicalSelector({ matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] }),
      canonicalSelector({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }),
    );
  });

  it('normalises group selectors the way Antrea names them', () => {
    assert.equal(
      selectorKey(makeSelector('prod', { matchLabels: { app: 'web' } }, undefined)),
      'namespace=prod And podSelector=app=web',
    );
    // A namespaceSelector makes the selector cluster-wide: the policy namespace no longer applies.
    assert.equal(
      selectorKey(makeSelector('prod', undefined, { matchLabels: { env: 'dev' } })),
      'namespaceSelector=env=dev',
    );
    assert.equal(selectorKey(makeSelector(undefined, {}, {})), 'namespaceSelector= And podSelector=');
  });
});

describe('controller: CIDR and name helpers', () => {
  it('clears host bits and prints IPv6 in RFC 5952 form', () => {
    assert.equal(normalizeCidr('10.1.2.3/8'), '10.0.0.0/8');
    assert.equal(normalizeCidr('192.168.1.129/25'), '192.168.1.128/25');
    assert.equal(normalizeCidr('10.1.2.3/32'), '10.1.2.3/32');
    assert.equal(normalizeCidr('0.0.0.0/0'), '0.0.0.0/0');
    assert.equal(normalizeCidr('2001:DB8:0:0:1::1/48'), '2001:db8::/48');
    assert.equal(normalizeCidr('fe80::1:0:0:1/128'), 'fe80::1:0:0:1/128');
    assert.equal(normalizeCidr('::ffff:10.1.2.3/120'), '::ffff:a01:200/120');
    assert.equal(normalizeCidr('not-a-cidr'), 'not-a-cidr');
  });

  it('computes SHA-1 and version-5 UUIDs exactly (group names match Antrea)', () => {
    assert.equal(hex(sha1(ascii('abc'))), 'a9993e364706816aba3e25717850c26c9cd0d89d');
    assert.equal(hex(sha1(new Uint8Array(0))), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
    assert.equal(hex(sha1(ascii('a'.repeat(1000)))), '291e9a6c66994949b57ba5e650361e98fc36b1ba');
    // Python: uuid.uuid5(uuid.UUID('e4f24a48-ca1f-4d5b-819c-ea7632b22115'), ...)
    assert.equal(
      uuidV5(GROUP_NAME_NAMESPACE, 'namespace=default And podSelector=app=web'),
      '0f4789f6-6f28-5440-8ad4-46d8ac276643',
    );
    assert.equal(uuidV5(GROUP_NAME_NAMESPACE, 'é€𝄞'.repeat(30)), 'e2cceaf2-a0f5-5466-af05-229cf6c70d47');
  });
});
