// manifests/ cannot drift from the firmware: the CRDs are what scripts/gen-crds generates from
// scripts/lib/crd-schemas.ts; every file parses; every CRD is well-formed and structural, with Antrea's names
// and scope; every kind the firmware accepts (firmware/core/api) and every crd.antrea.io resource the test API
// server serves has a CRD of the same scope; the heartbeat's AntreaAgentInfo and the Antrea example policies
// validate against the CRD schemas as an API server would check them, and the schemas reject what the firmware
// rejects for a wrong type or value; the RBAC grants what the firmware calls; the README lists every file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { antreaAgentInfo } from '../../firmware/core/antctl/agentinfo';
import type { AgentInfoView } from '../../firmware/core/antctl/views';
import { OBJECT_KINDS, isNamespacedKind, type ObjectKind } from '../../firmware/core/api/object-key';
import { ANTREA_API_VERSIONS } from '../../firmware/core/api/types';
import {
  NOT_SUPPORTED,
  validateObject as validatePolicy,
  type ValidationContext,
} from '../../firmware/core/api/validation';
import {
  AGENT_INFO_GROUP,
  AGENT_INFO_PLURAL,
  AGENT_INFO_VERSION,
} from '../../firmware/k8s/agentinfo/agent-info-api';
import { checkCrdFiles, writeCrdFiles } from '../../scripts/lib/gen-crds';
import { DEFAULT_RESOURCES } from '../support/fake-apiserver';

const REPO = path.resolve(__dirname, '../..');
const MANIFESTS = path.join(REPO, 'manifests');
const FIXTURES = path.join(REPO, 'test/fixtures/manifests');

type Json = Record<string, unknown>;

interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  maxItems?: number;
  minItems?: number;
  oneOf?: Schema[];
  anyOf?: Schema[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

interface Crd {
  file: string;
  group: string;
  kind: string;
  plural: string;
  singular: string;
  scope: 'Cluster' | 'Namespaced';
  shortNames: string[];
  versions: {
    name: string;
    served: boolean;
    storage: boolean;
    schema: Schema;
    subresources?: Json;
    additionalPrinterColumns?: { name: string; type: string; jsonPath: string }[];
  }[];
}

function documents(file: string): Json[] {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
  return docs.map((doc) => {
    assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
    return doc.toJS() as Json;
  });
}

function manifestFiles(): string[] {
  return fs
    .readdirSync(MANIFESTS)
    .filter((name) => name.endsWith('.yaml'))
    .sort();
}

function allManifests(): { file: string; doc: Json }[] {
  return manifestFiles().flatMap((file) =>
    documents(path.join(MANIFESTS, file)).map((doc) => ({ file, doc })),
  );
}

function field<T>(obj: unknown, ...keys: string[]): T {
  let cur: unknown = obj;
  for (const key of keys) cur = (cur as Json | undefined)?.[key];
  return cur as T;
}

let parsedCrds: Crd[] | undefined;

function crds(): Crd[] {
  parsedCrds ??= allManifests()
    .filter(({ doc }) => doc.kind === 'CustomResourceDefinition')
    .map(({ file, doc }) => ({
      file,
      group: field<string>(doc, 'spec', 'group'),
      kind: field<string>(doc, 'spec', 'names', 'kind'),
      plural: field<string>(doc, 'spec', 'names', 'plural'),
      singular: field<string>(doc, 'spec', 'names', 'singular'),
      shortNames: field<string[] | undefined>(doc, 'spec', 'names', 'shortNames') ?? [],
      scope: field<Crd['scope']>(doc, 'spec', 'scope'),
      versions: field<Json[]>(doc, 'spec', 'versions').map((v) => ({
        name: field<string>(v, 'name'),
        served: field<boolean>(v, 'served'),
        storage: field<boolean>(v, 'storage'),
        schema: field<Schema>(v, 'schema', 'openAPIV3Schema'),
        subresources: field<Json | undefined>(v, 'subresources'),
        additionalPrinterColumns: field<Crd['versions'][number]['additionalPrinterColumns']>(
          v,
          'additionalPrinterColumns',
        ),
      })),
    }));
  return parsedCrds;
}

function crdFor(group: string, kind: string): Crd | undefined {
  return crds().find((crd) => crd.group === group && crd.kind === kind);
}

function storageVersion(crd: Crd): string {
  const storage = crd.versions.find((v) => v.storage);
  assert.ok(storage, `${crd.file}: no storage version`);
  return storage.name;
}

// ---- a small OpenAPI v3 checker: what the API server enforces for CRDs, for the keywords our CRDs use ----

/** Every keyword `validate` enforces (or that enforces nothing); a CRD using another one fails the tests. */
const CHECKED_KEYWORDS = new Set([
  'type',
  'description',
  'properties',
  'additionalProperties',
  'items',
  'required',
  'enum',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'maxLength',
  'maxItems',
  'minItems',
  'oneOf',
  'anyOf',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
]);

/** Keywords `validate` would silently ignore, and formats it does not check. */
function uncheckedKeywords(schema: Schema, at: string): string[] {
  const found = Object.keys(schema)
    .filter((keyword) => !CHECKED_KEYWORDS.has(keyword))
    .map((keyword) => `${at}: ${keyword}`);
  if (schema.format !== undefined && schema.format !== 'date-time')
    found.push(`${at}: format ${schema.format}`);
  const subs: [string, Schema][] = [
    ...Object.entries(schema.properties ?? {}).map(([name, sub]): [string, Schema] => [`${at}.${name}`, sub]),
    ...(schema.items ? [[`${at}[]`, schema.items] as [string, Schema]] : []),
    ...(typeof schema.additionalProperties === 'object'
      ? [[`${at}{}`, schema.additionalProperties] as [string, Schema]]
      : []),
    ...[...(schema.oneOf ?? []), ...(schema.anyOf ?? [])].map((sub, i): [string, Schema] => [
      `${at}<${i}>`,
      sub,
    ]),
  ];
  return [...found, ...subs.flatMap(([where, sub]) => uncheckedKeywords(sub, where))];
}

/** Structural schema (apiextensions v1): every node has a type, unless int-or-string or preserve-unknown. */
function structuralProblems(schema: Schema, at: string, inJunctor = false): string[] {
  const problems: string[] = [];
  const exempt =
    schema['x-kubernetes-int-or-string'] === true || schema['x-kubernetes-preserve-unknown-fields'];
  if (inJunctor) {
    if (schema.type !== undefined || schema.additionalProperties !== undefined) {
      problems.push(`${at}: type/additionalProperties inside oneOf/anyOf`);
    }
  } else if (schema.type === undefined && !exempt) {
    problems.push(`${at}: no type`);
  }
  for (const [name, sub] of Object.entries(schema.properties ?? {})) {
    problems.push(...structuralProblems(sub, `${at}.${name}`, inJunctor));
  }
  if (schema.items) problems.push(...structuralProblems(schema.items, `${at}[]`, inJunctor));
  if (typeof schema.additionalProperties === 'object') {
    problems.push(...structuralProblems(schema.additionalProperties, `${at}{}`, inJunctor));
  }
  for (const [i, sub] of [...(schema.oneOf ?? []), ...(schema.anyOf ?? [])].entries()) {
    problems.push(...structuralProblems(sub, `${at}<${i}>`, true));
  }
  return problems;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Field errors as "path: problem"; unknown fields count as errors (the server would silently prune them). */
function validate(value: unknown, schema: Schema, at: string): string[] {
  const errors: string[] = [];
  const intOrString = schema['x-kubernetes-int-or-string'] === true;
  const type = schema.type;
  if (intOrString) {
    if (typeof value !== 'string' && !Number.isInteger(value)) errors.push(`${at}: not int-or-string`);
  } else if (type === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: not an object`];
  } else if (type === 'array') {
    if (!Array.isArray(value)) return [`${at}: not an array`];
  } else if (type === 'string') {
    if (typeof value !== 'string') return [`${at}: not a string`];
  } else if (type === 'integer') {
    if (!Number.isInteger(value)) return [`${at}: not an integer`];
  } else if (type === 'number') {
    if (typeof value !== 'number') return [`${at}: not a number`];
  } else if (type === 'boolean') {
    if (typeof value !== 'boolean') return [`${at}: not a boolean`];
  }
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if (typeof value === 'string') {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) {
      errors.push(`${at}: does not match ${schema.pattern}`);
    }
    if (schema.format === 'date-time' && !RFC3339.test(value)) errors.push(`${at}: not a date-time`);
    if (schema.maxLength !== undefined && [...value].length > schema.maxLength)
      errors.push(`${at}: too long`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${at}: too many items`);
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at}: too few items`);
    if (schema.items)
      value.forEach((item, i) => errors.push(...validate(item, schema.items as Schema, `${at}[${i}]`)));
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const obj = value as Json;
    for (const name of schema.required ?? []) {
      if (!(name in obj)) errors.push(`${at}.${name}: required`);
    }
    for (const [name, item] of Object.entries(obj)) {
      const sub = schema.properties?.[name];
      if (sub) errors.push(...validate(item, sub, `${at}.${name}`));
      else if (typeof schema.additionalProperties === 'object') {
        errors.push(...validate(item, schema.additionalProperties, `${at}.${name}`));
      } else if (
        schema.properties !== undefined &&
        !schema['x-kubernetes-preserve-unknown-fields'] &&
        !(at === '' && (name === 'apiVersion' || name === 'kind' || name === 'metadata'))
      ) {
        errors.push(`${at}.${name}: unknown field`);
      }
    }
  }
  if (schema.oneOf) {
    const matching = schema.oneOf.filter((branch) => validate(value, branch, at).length === 0).length;
    if (matching !== 1) errors.push(`${at}: matches ${matching} of oneOf`);
  }
  if (schema.anyOf && !schema.anyOf.some((branch) => validate(value, branch, at).length === 0)) {
    errors.push(`${at}: matches none of anyOf`);
  }
  return errors;
}

function validateObject(obj: Json): string[] {
  const [group, version] = String(obj.apiVersion).split('/');
  const crd = crdFor(group ?? '', String(obj.kind));
  if (!crd) return [`no CRD for ${String(obj.apiVersion)} ${String(obj.kind)}`];
  const served = crd.versions.find((v) => v.name === version && v.served);
  if (!served) return [`${crd.kind}: version ${version} is not served`];
  return validate(obj, served.schema, '');
}

// ---- the firmware's kinds ----

/** Where each kind the firmware accepts comes from; a new ObjectKind does not compile until it is placed here. */
const KIND_SOURCES: Record<ObjectKind, { group: string; kind: string; builtIn: boolean }> = {
  K8sNetworkPolicy: { group: 'networking.k8s.io', kind: 'NetworkPolicy', builtIn: true },
  Service: { group: '', kind: 'Service', builtIn: true },
  AntreaNetworkPolicy: { group: 'crd.antrea.io', kind: 'NetworkPolicy', builtIn: false },
  ClusterNetworkPolicy: { group: 'crd.antrea.io', kind: 'ClusterNetworkPolicy', builtIn: false },
  Tier: { group: 'crd.antrea.io', kind: 'Tier', builtIn: false },
  ClusterGroup: { group: 'crd.antrea.io', kind: 'ClusterGroup', builtIn: false },
  Group: { group: 'crd.antrea.io', kind: 'Group', builtIn: false },
};

/** What kubectl users of an Antrea cluster type and see: the same short names, scope and status subresource. */
const ANTREA_NAMES: Record<string, { shortNames: string[]; scope: Crd['scope']; status: boolean }> = {
  ClusterNetworkPolicy: { shortNames: ['acnp'], scope: 'Cluster', status: true },
  NetworkPolicy: { shortNames: ['annp', 'anp'], scope: 'Namespaced', status: true },
  Tier: { shortNames: ['tr'], scope: 'Cluster', status: false },
  ClusterGroup: { shortNames: ['cg'], scope: 'Cluster', status: true },
  Group: { shortNames: ['grp'], scope: 'Namespaced', status: true },
  AntreaAgentInfo: { shortNames: ['aai'], scope: 'Cluster', status: false },
};

/** The schema node a printer column's JSONPath reads (filters such as [?(@.type=="X")] select array items). */
function schemaAt(schema: Schema, jsonPath: string): Schema | undefined {
  let node: Schema | undefined = schema;
  const steps = jsonPath
    .replace(/\[\?\([^)]*\)\]/g, '[]')
    .split('.')
    .slice(1);
  for (const step of steps) {
    const name = step.replace(/\[\]$/, '');
    node = node?.properties?.[name];
    if (step.endsWith('[]')) node = node?.items;
  }
  return node;
}

/** Every tier and group a policy names exists: the documentation defines them "separately". */
const everythingExists: ValidationContext = {
  tierExists: () => true,
  clusterGroupExists: () => true,
  groupExists: () => true,
};

/** The crd.antrea.io documents of test/fixtures/manifests and rejected/, with their file names. */
function antreaFixtures(): { name: string; doc: Json }[] {
  const files = [
    ...fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.yaml')),
    ...fs
      .readdirSync(path.join(FIXTURES, 'rejected'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => `rejected/${f}`),
  ];
  return files.flatMap((name) =>
    documents(path.join(FIXTURES, name))
      .filter((doc) => String(doc.apiVersion).startsWith('crd.antrea.io/'))
      .map((doc) => ({ name, doc })),
  );
}

function fixture(name: string, index = 0): Json {
  const doc = documents(path.join(FIXTURES, name))[index];
  assert.ok(doc, `${name}[${index}]`);
  return doc;
}

function edited(base: Json, edit: (copy: Json) => void): Json {
  const copy = structuredClone(base);
  edit(copy);
  return copy;
}

/* eslint-disable @typescript-eslint/no-unsafe-member-access -- the cases edit free-form manifests */
type Loose = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Objects the firmware rejects because a field has the wrong type or value, each at `path` (the firmware's
 * notation); the CRD schema must reject each at the same field (`schemaPath` where a map key is involved), so
 * that such an object fails at `kubectl apply` already instead of being stored and refused later by the agent.
 */
const WRONG_TYPE_OR_VALUE: {
  what: string;
  file: string;
  index?: number;
  edit: (o: Loose) => void;
  path: string;
  schemaPath?: string;
}[] = [
  {
    what: 'a protocol that is not TCP, UDP or SCTP',
    file: 'antrea-acnp-allow-core-dns-access.yaml',
    edit: (o) => (o.spec.ingress[0].ports[0].protocol = 'ICMP'),
    path: 'spec.ingress[0].ports[0].protocol',
  },
  {
    what: 'a port number out of range',
    file: 'antrea-acnp-allow-core-dns-access.yaml',
    edit: (o) => (o.spec.ingress[0].ports[1].port = 0),
    path: 'spec.ingress[0].ports[1].port',
  },
  {
    what: 'an endPort out of range',
    file: 'antrea-acnp-with-cluster-groups.yaml',
    edit: (o) => (o.spec.ingress[0].ports[0].endPort = 70000),
    path: 'spec.ingress[0].ports[0].endPort',
  },
  {
    what: 'a priority written as a string',
    file: 'antrea-acnp-allow-core-dns-access.yaml',
    edit: (o) => (o.spec.priority = '5'),
    path: 'spec.priority',
  },
  {
    what: 'a policy priority below 1',
    file: 'antrea-annp-test-annp.yaml',
    edit: (o) => (o.spec.priority = 0),
    path: 'spec.priority',
  },
  {
    what: 'a rule without action',
    file: 'antrea-acnp-default-cluster-deny.yaml',
    edit: (o) => delete o.spec.egress[0].action,
    path: 'spec.egress[0].action',
  },
  {
    what: 'a selector operator that does not exist',
    file: 'antrea-acnp-strict-ns-isolation.yaml',
    edit: (o) => (o.spec.appliedTo[0].namespaceSelector.matchExpressions[0].operator = 'Equals'),
    path: 'spec.appliedTo[0].namespaceSelector.matchExpressions[0].operator',
  },
  {
    what: 'namespaces.match other than Self',
    file: 'antrea-acnp-strict-ns-isolation.yaml',
    edit: (o) => (o.spec.ingress[0].from[0].namespaces.match = 'Others'),
    path: 'spec.ingress[0].from[0].namespaces.match',
  },
  {
    what: 'enableLogging that is not a boolean',
    file: 'antrea-acnp-with-log-setting.yaml',
    edit: (o) => (o.spec.ingress[0].enableLogging = 'yes'),
    path: 'spec.ingress[0].enableLogging',
  },
  {
    what: 'a logLabel with a space',
    file: 'antrea-acnp-with-log-setting.yaml',
    edit: (o) => (o.spec.ingress[0].logLabel = 'frontend allowed'),
    path: 'spec.ingress[0].logLabel',
  },
  {
    what: 'a label value that is a number',
    file: 'antrea-acnp-with-log-setting.yaml',
    edit: (o) => (o.spec.appliedTo[0].podSelector.matchLabels.role = 5),
    path: 'spec.appliedTo[0].podSelector.matchLabels[role]',
    schemaPath: 'spec.appliedTo[0].podSelector.matchLabels.role',
  },
  {
    what: 'an unknown peer scope',
    file: 'antrea-acnp-strict-ns-isolation.yaml',
    edit: (o) => (o.spec.ingress[1].from[0].scope = 'Galaxy'),
    path: 'spec.ingress[1].from[0].scope',
  },
  {
    what: 'a Tier priority above 255',
    file: 'antrea-tier.yaml',
    edit: (o) => (o.spec.priority = 256),
    path: 'spec.priority',
  },
  {
    what: 'a fractional Tier priority',
    file: 'antrea-tier.yaml',
    edit: (o) => (o.spec.priority = 10.5),
    path: 'spec.priority',
  },
  {
    what: 'a Tier without priority',
    file: 'antrea-tier.yaml',
    edit: (o) => delete o.spec.priority,
    path: 'spec.priority',
  },
  {
    what: 'an ipBlock without cidr',
    file: 'antrea-clustergroups.yaml',
    index: 1,
    edit: (o) => (o.spec.ipBlocks[0] = { except: ['10.0.10.0/28'] }),
    path: 'spec.ipBlocks[0].cidr',
  },
  {
    what: 'a childGroup that is not a name',
    file: 'antrea-groups.yaml',
    index: 4,
    edit: (o) => (o.spec.childGroups[0] = 7),
    path: 'spec.childGroups[0]',
  },
  {
    what: 'a serviceReference without name',
    file: 'antrea-groups.yaml',
    index: 3,
    edit: (o) => delete o.spec.serviceReference.name,
    path: 'spec.serviceReference.name',
  },
];
/* eslint-enable @typescript-eslint/no-unsafe-member-access */

const AGENT_VIEW: AgentInfoView = {
  podName: 'antrea-agent-edge1',
  nodeName: 'edge1',
  status: 'Unhealthy',
  nodeSubnets: ['10.10.0.0/24'],
  networkPolicies: 1,
  addressGroups: 2,
  appliedToGroups: 3,
  localPods: 4,
  ovsVersion: '3.1.0',
  bridgeName: 'br-int',
  flowsPerTable: { Classification: 3, 'not-a-table': 1, '200': 2 },
  openflowConnectionUp: false,
  ovsdbConnectionUp: true,
  version: '0.1.0',
  heartbeatTime: '2026-11-26T16:00:00Z',
};

describe('manifests/', function () {
  it('parses every file, and every document has apiVersion, kind and a name', () => {
    const manifests = allManifests();
    assert.ok(manifests.length >= 10, `only ${manifests.length} documents`);
    for (const { file, doc } of manifests) {
      assert.equal(typeof doc.apiVersion, 'string', `${file}: apiVersion`);
      assert.equal(typeof doc.kind, 'string', `${file}: kind`);
      assert.equal(typeof field(doc, 'metadata', 'name'), 'string', `${file}: metadata.name`);
    }
  });

  it('has well-formed, structural apiextensions.k8s.io/v1 CRDs with one storage version, v1beta1', () => {
    const all = crds();
    assert.equal(all.length, 6);
    for (const crd of all) {
      const doc = documents(path.join(MANIFESTS, crd.file));
      assert.equal(doc.length, 1, `${crd.file}: one CRD per file`);
      assert.equal(doc[0]?.apiVersion, 'apiextensions.k8s.io/v1', crd.file);
      assert.equal(field(doc[0], 'metadata', 'name'), `${crd.plural}.${crd.group}`, crd.file);
      assert.equal(crd.group, 'crd.antrea.io', crd.file);
      assert.equal(crd.singular, crd.kind.toLowerCase(), crd.file);
      assert.match(crd.plural, /^[a-z]+$/, crd.file);
      assert.equal(crd.file, `crd-${crd.singular}.yaml`);
      assert.ok(crd.scope === 'Cluster' || crd.scope === 'Namespaced', crd.file);
      assert.deepEqual(
        crd.versions.filter((v) => v.storage).map((v) => v.name),
        ['v1beta1'],
        `${crd.file}: storage version`,
      );
      for (const version of crd.versions) {
        assert.equal(version.served, true, `${crd.file} ${version.name}: served`);
        assert.equal(version.schema.type, 'object', `${crd.file} ${version.name}: schema`);
        assert.deepEqual(structuralProblems(version.schema, crd.kind), [], crd.file);
        assert.deepEqual(
          uncheckedKeywords(version.schema, crd.kind),
          [],
          `${crd.file}: keywords this test ignores`,
        );
      }
    }
    assert.ok(ANTREA_API_VERSIONS.includes(`${AGENT_INFO_GROUP}/${AGENT_INFO_VERSION}` as never));
  });

  it('is what scripts/gen-crds generates (scripts/gen-crds --check passes)', function () {
    this.timeout(120_000);
    const run = spawnSync(path.join(REPO, 'scripts/gen-crds'), ['--check'], { encoding: 'utf8' });
    assert.equal(run.status, 0, `scripts/gen-crds --check: ${run.stderr}`);
    for (const crd of crds()) {
      const text = fs.readFileSync(path.join(MANIFESTS, crd.file), 'utf8');
      assert.match(text, /^# Generated by scripts\/gen-crds from scripts\/lib\/crd-schemas\.ts/, crd.file);
    }
  });

  it('has gen-crds --check fail on a changed, missing or stale file, and a run repair them', async function () {
    this.timeout(120_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gen-crds-'));
    try {
      for (const crd of crds()) fs.copyFileSync(path.join(MANIFESTS, crd.file), path.join(dir, crd.file));
      assert.deepEqual(await checkCrdFiles(dir), []);
      fs.appendFileSync(path.join(dir, 'crd-tier.yaml'), '# edited by hand\n');
      fs.rmSync(path.join(dir, 'crd-group.yaml'));
      fs.writeFileSync(path.join(dir, 'crd-oldkind.yaml'), 'kind: CustomResourceDefinition\n');
      fs.writeFileSync(path.join(dir, 'rbac.yaml'), 'kind: ClusterRole\n');
      assert.deepEqual(await checkCrdFiles(dir), [
        'crd-tier.yaml: differs from what scripts/gen-crds generates',
        'crd-group.yaml: missing',
        'crd-oldkind.yaml: not generated by scripts/gen-crds',
      ]);
      const run = spawnSync(path.join(REPO, 'scripts/gen-crds'), ['--check', '--dir', dir], {
        encoding: 'utf8',
      });
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, /crd-tier\.yaml: differs/);
      assert.deepEqual(await writeCrdFiles(dir), [
        'wrote crd-tier.yaml',
        'wrote crd-group.yaml',
        'removed crd-oldkind.yaml',
      ]);
      assert.deepEqual(await checkCrdFiles(dir), []);
      assert.equal(
        fs.readFileSync(path.join(dir, 'rbac.yaml'), 'utf8'),
        'kind: ClusterRole\n',
        'rbac.yaml untouched',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps Antrea’s short names, scope and status subresources, so kubectl and existing objects work alike', () => {
    assert.deepEqual(
      crds()
        .map((c) => c.kind)
        .sort(),
      Object.keys(ANTREA_NAMES).sort(),
    );
    for (const crd of crds()) {
      const expected = ANTREA_NAMES[crd.kind];
      assert.ok(expected, crd.kind);
      assert.deepEqual(crd.shortNames, expected.shortNames, `${crd.kind}: shortNames`);
      assert.equal(crd.scope, expected.scope, `${crd.kind}: scope`);
      for (const version of crd.versions) {
        assert.equal(
          version.subresources?.status !== undefined,
          expected.status,
          `${crd.kind}: status subresource`,
        );
        if (expected.status)
          assert.equal(version.schema.properties?.status?.type, 'object', `${crd.kind}: status`);
      }
    }
  });

  it('has printer columns that read fields of the schema, and Tier, policy and heartbeat columns kubectl users expect', () => {
    for (const crd of crds()) {
      for (const version of crd.versions) {
        for (const column of version.additionalPrinterColumns ?? []) {
          if (column.jsonPath.startsWith('.metadata.')) continue;
          assert.ok(
            schemaAt(version.schema, column.jsonPath),
            `${crd.kind} column ${column.name}: ${column.jsonPath}`,
          );
        }
      }
    }
    const columns = (kind: string): string[] =>
      crdFor('crd.antrea.io', kind)?.versions[0]?.additionalPrinterColumns?.map((c) => c.name) ?? [];
    for (const kind of ['ClusterNetworkPolicy', 'NetworkPolicy']) {
      assert.deepEqual(columns(kind), ['Tier', 'Priority', 'Desired Nodes', 'Current Nodes', 'Age'], kind);
    }
    assert.deepEqual(columns('Tier'), ['Priority', 'Description', 'Age']);
    assert.deepEqual(columns('AntreaAgentInfo').slice(0, 2), ['Healthy', 'Last Heartbeat']);
  });

  it('has a CRD of the right scope for every crd.antrea.io kind the firmware accepts', () => {
    for (const kind of OBJECT_KINDS) {
      const source = KIND_SOURCES[kind];
      if (source.builtIn) {
        assert.ok(source.group !== 'crd.antrea.io', `${kind} is a CRD kind, not built in`);
        continue;
      }
      const crd = crdFor(source.group, source.kind);
      assert.ok(crd, `no CRD for ${kind} (${source.group} ${source.kind})`);
      assert.equal(crd.scope === 'Namespaced', isNamespacedKind(kind), `${kind}: scope`);
    }
    const agentInfo = crdFor(AGENT_INFO_GROUP, 'AntreaAgentInfo');
    assert.equal(agentInfo?.plural, AGENT_INFO_PLURAL);
    assert.equal(agentInfo?.scope, 'Cluster');
  });

  it('matches the crd.antrea.io resources of the test API server, both ways', () => {
    const served = DEFAULT_RESOURCES.filter((r) => r.group === 'crd.antrea.io')
      .map((r) => `${r.plural} ${r.kind} ${r.version} ${r.namespaced ? 'Namespaced' : 'Cluster'}`)
      .sort();
    const defined = crds()
      .map((c) => `${c.plural} ${c.kind} ${storageVersion(c)} ${c.scope}`)
      .sort();
    assert.deepEqual(defined, served);
  });

  it('accepts the heartbeat’s AntreaAgentInfo as the API server would, with no field pruned', () => {
    const info = antreaAgentInfo(AGENT_VIEW) as unknown as Json;
    assert.equal((info.agentConditions as unknown[]).length, 3);
    assert.deepEqual(validateObject(info), []);
    // The checker does catch what the server refuses.
    const bad = { ...info, agentConditions: [{ type: 'OVSVersion', status: 'Maybe' }], extra: 1 };
    assert.deepEqual(validateObject(bad).sort(), [
      '.agentConditions[0].lastHeartbeatTime: required',
      '.agentConditions[0].status: "Maybe" not in enum',
      '.agentConditions[0].type: "OVSVersion" not in enum',
      '.extra: unknown field',
    ]);
  });

  it('accepts every Antrea example (test/fixtures/manifests) the firmware accepts, with no field pruned', () => {
    let accepted = 0;
    for (const { name, doc } of antreaFixtures()) {
      if (!validatePolicy(doc, everythingExists).ok) continue;
      assert.deepEqual(validateObject(doc), [], name);
      accepted++;
    }
    assert.ok(accepted >= 15, `only ${accepted} Antrea objects checked`);
  });

  it('keeps the Antrea features antrea-edge refuses (fqdn, toServices, l7Protocols...): Antrea’s objects still apply', () => {
    let unsupported = 0;
    for (const { name, doc } of antreaFixtures()) {
      const result = validatePolicy(doc, everythingExists);
      if (result.ok || !result.errors.every((e) => e.reason.includes(NOT_SUPPORTED))) continue;
      assert.deepEqual(validateObject(doc), [], name);
      unsupported++;
    }
    assert.ok(unsupported >= 6, `only ${unsupported} unsupported-feature examples`);
  });

  it('rejects action: Deny at the same field as the firmware (and Antrea)', () => {
    for (const name of [
      'antrea-acnp-allow-self-ns-deny-action.yaml',
      'antrea-acnp-isolation-based-on-org-deny-action.yaml',
    ]) {
      const doc = fixture(`rejected/${name}`);
      const firmware = validatePolicy(doc, everythingExists);
      assert.ok(!firmware.ok, name);
      const schemaErrors = validateObject(doc).sort();
      assert.deepEqual(
        schemaErrors,
        firmware.errors.map((e) => `.${e.path}: "Deny" not in enum`).sort(),
        name,
      );
      assert.equal(schemaErrors.length, 2, name);
    }
  });

  for (const c of WRONG_TYPE_OR_VALUE) {
    it(`rejects ${c.what}, as the firmware does (${c.file})`, () => {
      const base = fixture(c.file, c.index);
      assert.deepEqual(validateObject(base), [], 'the unedited example is valid');
      const doc = edited(base, c.edit);
      const firmware = validatePolicy(doc, everythingExists);
      assert.ok(!firmware.ok, 'the firmware accepts it');
      assert.ok(
        firmware.errors.some((e) => e.path === c.path),
        `firmware errors: ${JSON.stringify(firmware.errors)}`,
      );
      const schemaErrors = validateObject(doc);
      const at = `.${c.schemaPath ?? c.path}: `;
      assert.ok(
        schemaErrors.some((e) => e.startsWith(at)),
        `schema errors: ${JSON.stringify(schemaErrors)}`,
      );
    });
  }

  it('grants the firmware what it reads, writes and heartbeats, to its ServiceAccount', () => {
    const rbac = documents(path.join(MANIFESTS, 'rbac.yaml'));
    const byKind = (kind: string): Json => {
      const doc = rbac.find((d) => d.kind === kind);
      assert.ok(doc, `rbac.yaml has no ${kind}`);
      return doc;
    };
    const account = byKind('ServiceAccount');
    const role = byKind('ClusterRole');
    const binding = byKind('ClusterRoleBinding');
    const token = byKind('Secret');
    const accountName = field<string>(account, 'metadata', 'name');
    const namespace = field<string>(account, 'metadata', 'namespace');
    assert.equal(token.type, 'kubernetes.io/service-account-token');
    assert.equal(field(token, 'metadata', 'annotations', 'kubernetes.io/service-account.name'), accountName);
    assert.equal(field(token, 'metadata', 'namespace'), namespace);
    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: field(role, 'metadata', 'name'),
    });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: accountName, namespace }]);

    const rules = field<{ apiGroups: string[]; resources: string[]; verbs: string[] }[]>(role, 'rules');
    const allowed = (group: string, resource: string, verb: string): boolean =>
      rules.some(
        (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
      );
    const missing: string[] = [];
    const need = (group: string, resource: string, verbs: string[]): void => {
      for (const verb of verbs)
        if (!allowed(group, resource, verb)) missing.push(`${verb} ${resource}.${group}`);
    };
    for (const r of DEFAULT_RESOURCES) {
      if (r.plural === AGENT_INFO_PLURAL) continue;
      need(r.group, r.plural, ['get', 'list', 'watch']);
    }
    for (const kind of OBJECT_KINDS) {
      const source = KIND_SOURCES[kind];
      if (kind === 'Service') continue;
      const plural = DEFAULT_RESOURCES.find(
        (r) => r.group === source.group && r.kind === source.kind,
      )?.plural;
      assert.ok(plural, `the test API server does not serve ${kind}`);
      need(source.group, plural, ['create', 'update', 'patch', 'delete']);
    }
    need('', 'pods', ['patch']);
    need(AGENT_INFO_GROUP, AGENT_INFO_PLURAL, ['get', 'create', 'update']);
    assert.deepEqual(missing, []);
    // Least privilege: nothing cluster-wide beyond these groups, no wildcards.
    for (const rule of rules) {
      assert.ok(!rule.verbs.includes('*') && !rule.resources.includes('*') && !rule.apiGroups.includes('*'));
      for (const group of rule.apiGroups)
        assert.ok(['', 'networking.k8s.io', 'crd.antrea.io'].includes(group));
    }
  });

  it('lists every manifest in manifests/README.md', () => {
    const readme = fs.readFileSync(path.join(MANIFESTS, 'README.md'), 'utf8');
    for (const file of manifestFiles())
      assert.ok(readme.includes(`\`${file}\``), `README.md does not list ${file}`);
  });
});
