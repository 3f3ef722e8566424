import assert from 'node:assert/strict';
import { parseManifests, withDefaultNamespace } from '../../firmware/core/api/manifests';

const policy = (name: string): string =>
  `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: ${name}\nspec:\n  podSelector: {}\n`;

const names = (objects: unknown[]): unknown[] =>
  objects.map((obj) => (obj as { metadata?: { name?: string } }).metadata?.name);

describe('parseManifests: YAML streams', () => {
  it('reads every document of a multi-document stream in order', () => {
    const result = parseManifests(`${policy('a')}---\n${policy('b')}---\n${policy('c')}`);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(names(result.objects), ['a', 'b', 'c']);
    assert.deepEqual(result.objects[0], {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'a' },
      spec: { podSelector: {} },
    });
  });

  it('ignores empty documents, comment-only documents and leading/trailing separators', () => {
    const text = `---\n# just a comment\n---\n\n---\n${policy('a')}---\n...\n---\n`;
    const result = parseManifests(text);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(names(result.objects), ['a']);
  });

  it('returns nothing for empty or blank text', () => {
    for (const text of ['', '   \n\n', '# nothing\n'])
      assert.deepEqual(parseManifests(text), { objects: [], errors: [] });
  });

  it('reads YAML flow style with trailing commas (the Kubernetes docs write some examples that way)', () => {
    const text =
      '---\n{\n  apiVersion: "networking.k8s.io/v1",\n  kind: "NetworkPolicy",\n  metadata: {\n    name: "x",\n  },\n}\n';
    assert.deepEqual(parseManifests(text).objects, [
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'x' } },
    ]);
  });

  it('uses YAML 1.2 scalars: numbers are numbers, yes/no stay strings, quoted numbers are strings', () => {
    const [obj] = parseManifests('kind: X\na: 80\nb: yes\nc: "80"\nd: 1.5\ne: true\nf: ~\n').objects;
    assert.deepEqual(obj, { kind: 'X', a: 80, b: 'yes', c: '80', d: 1.5, e: true, f: null });
  });

  it('accepts CRLF line endings and a byte-order mark', () => {
    const result = parseManifests(
      `\ufeff${policy('a').replace(/\n/g, '\r\n')}---\r\n${policy('b').replace(/\n/g, '\r\n')}`,
    );
    assert.deepEqual(result.errors, []);
    assert.deepEqual(names(result.objects), ['a', 'b']);
  });

  it('resolves anchors and aliases', () => {
    const [obj] = parseManifests('kind: X\nsel: &s {matchLabels: {a: b}}\nother: *s\n').objects;
    assert.deepEqual(obj, {
      kind: 'X',
      sel: { matchLabels: { a: 'b' } },
      other: { matchLabels: { a: 'b' } },
    });
  });
});

describe('parseManifests: JSON and Lists', () => {
  it('reads a JSON object, even indented with tabs', () => {
    const result = parseManifests('{\n\t"kind": "Tier",\n\t"metadata": {\n\t\t"name": "t"\n\t}\n}\n');
    assert.deepEqual(result, { objects: [{ kind: 'Tier', metadata: { name: 't' } }], errors: [] });
  });

  it('reads a JSON array of objects', () => {
    const result = parseManifests(
      '[{"kind":"Tier","metadata":{"name":"a"}},{"kind":"Tier","metadata":{"name":"b"}}]',
    );
    assert.deepEqual(names(result.objects), ['a', 'b']);
  });

  it('flattens kind: List and <Kind>List items, in order, including nested Lists', () => {
    const text = [
      'apiVersion: v1',
      'kind: List',
      'items:',
      `- ${JSON.stringify({ kind: 'Tier', metadata: { name: 'a' } })}`,
      `- ${JSON.stringify({ kind: 'List', items: [{ kind: 'Tier', metadata: { name: 'b' } }] })}`,
      '---',
      'apiVersion: networking.k8s.io/v1',
      'kind: NetworkPolicyList',
      'metadata: {resourceVersion: "1"}',
      'items:',
      `- ${JSON.stringify({ kind: 'NetworkPolicy', metadata: { name: 'c' } })}`,
      '',
    ].join('\n');
    const result = parseManifests(text);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(names(result.objects), ['a', 'b', 'c']);
  });

  it('reads a JSON List', () => {
    const result = parseManifests(
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ kind: 'Tier', metadata: { name: 'a' } }] }),
    );
    assert.deepEqual(names(result.objects), ['a']);
  });

  it('keeps an object whose kind ends in List but has no items list', () => {
    const result = parseManifests('kind: WaitingList\nitems: none\n');
    assert.deepEqual(result.objects, [{ kind: 'WaitingList', items: 'none' }]);
  });
});

describe('parseManifests: errors with 1-based line and column', () => {
  it('reports a syntax error where it is and still returns the other documents', () => {
    const text = `${policy('a')}---\nkind: X\nspec: [1, 2\nother: x\n---\n${policy('c')}`;
    const result = parseManifests(text);
    assert.deepEqual(names(result.objects), ['a', 'c']);
    assert.equal(result.errors.length, 1);
    assert.deepEqual(
      { line: result.errors[0]?.line, column: result.errors[0]?.column },
      { line: 10, column: 1 },
    );
    assert.match(result.errors[0]?.message ?? '', /Flow sequence/);
    assert.doesNotMatch(result.errors[0]?.message ?? '', /\n/);
  });

  it('reports duplicate keys (kubectl strict decoding rejects them too)', () => {
    const result = parseManifests('kind: X\nmetadata:\n  name: a\n  name: b\n');
    assert.deepEqual(result.objects, []);
    assert.deepEqual(result.errors, [{ line: 4, column: 3, message: 'Map keys must be unique' }]);
  });

  it('reports an unterminated quote where the parser runs out of input', () => {
    const result = parseManifests('kind: X\nmetadata:\n  name: "abc\n');
    assert.equal(result.errors.length, 1);
    assert.deepEqual([result.errors[0]?.line, result.errors[0]?.column], [4, 1]);
    assert.match(result.errors[0]?.message ?? '', /quote/i);
  });

  it('reports a document that is not an object at its position', () => {
    const result = parseManifests(`${policy('a')}---\njust some text\n`);
    assert.deepEqual(names(result.objects), ['a']);
    assert.deepEqual(result.errors, [
      {
        line: 8,
        column: 1,
        message: 'expected an object with apiVersion and kind, got the string "just some text"',
      },
    ]);
  });

  it('reports a List item that is not an object at the item', () => {
    const result = parseManifests('kind: List\nitems:\n  - {kind: Tier, metadata: {name: a}}\n  - 42\n');
    assert.deepEqual(names(result.objects), ['a']);
    assert.deepEqual(result.errors, [
      { line: 4, column: 5, message: 'expected an object with apiVersion and kind, got number 42' },
    ]);
  });

  it('reports broken JSON through the YAML parser, with a position', () => {
    const result = parseManifests('{"kind": "Tier",\n "metadata": {"name": "a"\n');
    assert.deepEqual(result.objects, []);
    assert.equal(result.errors.length > 0, true);
    assert.ok((result.errors[0]?.line ?? 0) >= 1 && (result.errors[0]?.column ?? 0) >= 1);
  });

  it('stops an alias bomb with an error instead of exhausting memory', () => {
    let text = 'a: &a [x, x, x, x, x, x, x, x, x, x]\n';
    let previous = 'a';
    for (let level = 0; level < 8; level++) {
      const name = `b${level}`;
      text += `${name}: &${name} [${new Array(10).fill(`*${previous}`).join(', ')}]\n`;
      previous = name;
    }
    const result = parseManifests(text);
    assert.deepEqual(result.objects, []);
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0]?.line, 1);
    assert.match(result.errors[0]?.message ?? '', /alias/i);
  });
});

describe('withDefaultNamespace', () => {
  it('gives namespaced objects without a namespace the default, and leaves the rest alone', () => {
    const objects = parseManifests(
      [
        policy('np'),
        'apiVersion: crd.antrea.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: cnp}\n',
        'apiVersion: crd.antrea.io/v1beta1\nkind: Group\nmetadata: {name: g, namespace: other}\n',
        'apiVersion: crd.antrea.io/v1beta1\nkind: Tier\nmetadata: {name: t}\n',
        'apiVersion: crd.antrea.io/v1beta1\nkind: Group\nmetadata: {name: g2, namespace: ""}\n',
      ].join('---\n'),
    ).objects;
    const before = structuredClone(objects);
    const result = withDefaultNamespace(objects, 'dev') as { metadata: { namespace?: string } }[];
    assert.deepEqual(
      result.map((obj) => obj.metadata.namespace),
      ['dev', undefined, 'other', undefined, 'dev'],
    );
    assert.deepEqual(objects, before, 'input untouched');
    assert.equal(result[1], objects[1], 'unchanged objects are passed through');
  });

  it('passes through values that are not objects with metadata', () => {
    const odd = [42, { kind: 'NetworkPolicy' }];
    assert.deepEqual(withDefaultNamespace(odd, 'dev'), odd);
  });
});
