// The policy service in a real node (OVS + firmware in a netns + pods attached through the real CNI plugin):
// antctl apply / get / query / delete against the seed walkthrough, all-or-nothing applies, CNI-carried
// container ports and labels feeding the controller, and policies surviving a SIGKILL of the firmware.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { parse as parseYaml } from 'yaml';
import { startTestNode, type TestNode } from '../support/sim-cluster';
import { antctlJson, antctlRunner, listPolicies, type Antctl } from '../support/node-client';
import { LocalApiClient } from '../../firmware/http/local-api';
import type { NetworkPolicyEvaluationView, NetworkPolicyView } from '../../firmware/core/antctl/views';
import { NGINX_ALLOW_EXAMPLE, SEED_NGINX_PODS, SEED_PODS } from '../../scripts/lib/seed';
import type { AntreaAgentInfoView } from '../../firmware/core/antctl/views';

const NGINX = SEED_NGINX_PODS;
const NGINX_0 = `default/${NGINX[0] ?? ''}`;

// The seed's step 2 policy as shipped for users (asserted equal to shared/conformance/seed-cases.json below).
const NGINX_ALLOW_YAML = fs.readFileSync(NGINX_ALLOW_EXAMPLE, 'utf8');

// Named port "http" resolves to each nginx pod's container port 80 (carried by CNI_ARGS K8S_POD_PORTS).
const FROM_DB_YAML = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: http-from-db
  namespace: default
spec:
  podSelector:
    matchLabels:
      app: nginx
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          team: db
    ports:
    - port: http
`;

const TIER_THEN_INVALID_YAML = `apiVersion: crd.antrea.io/v1beta1
kind: Tier
metadata:
  name: ops
spec:
  priority: 70
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: broken
  namespace: default
spec:
  podSelector: {}
  ingress:
  - ports:
    - port: 70000
    from:
    - ipBlock:
        cidr: 10.0.0.0/40
`;

describe('policy service on a real node', function () {
  this.timeout(240_000);
  let t: TestNode;
  let antctl: Antctl;

  const evaluation = (source: string, destination: string, port = 80): Promise<NetworkPolicyEvaluationView> =>
    antctlJson<NetworkPolicyEvaluationView>(antctl, [
      'query',
      'networkpolicyevaluation',
      '-S',
      source,
      '-D',
      destination,
      '--port',
      String(port),
      '-o',
      'json',
    ]);

  const policies = (): Promise<NetworkPolicyView[]> => listPolicies(antctl);

  const storedKeys = (): string[] => {
    const db = new Database(path.join(t.node.dataDir, 'antrea-edge.db'), { readonly: true });
    try {
      return (db.prepare('SELECT key FROM policy_objects ORDER BY key').all() as { key: string }[]).map(
        (row) => row.key,
      );
    } finally {
      db.close();
    }
  };

  before(async () => {
    t = await startTestNode('ps');
    antctl = antctlRunner(t.node);
    for (const spec of SEED_PODS) await t.pods.add(spec);
  });

  after(async () => {
    await t?.stop();
  });

  it('starts with no policy: every pair is allowed, "no policy" both ways', async () => {
    const run = await antctl([
      'query',
      'netpoleval',
      '-S',
      'default/ch-busybox',
      '-D',
      NGINX_0,
      '--port',
      '80',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const rows = run.stdout.trimEnd().split('\n').slice(1);
    assert.deepEqual(
      rows.map((row) => row.split(/\s{3,}/).slice(-3)),
      [
        ['Out', '<NONE>', 'Allow (no policy)'],
        ['In', '<NONE>', 'Allow (no policy)'],
      ],
    );
    assert.deepEqual(await policies(), []);
  });

  it('antctl apply -f the seed nginx-allow: busybox and cassandra are dropped by its isolation, nginx is allowed', async () => {
    const seedCases = JSON.parse(
      fs.readFileSync(path.join(__dirname, '../fixtures/conformance/seed-cases.json'), 'utf8'),
    ) as { steps: { policies: unknown[] }[] }[];
    assert.deepEqual(parseYaml(NGINX_ALLOW_YAML), seedCases[0]?.steps[1]?.policies[0], 'the seed policy');
    const file = path.join(t.home, 'nginx-allow.yaml');
    fs.writeFileSync(file, NGINX_ALLOW_YAML);
    const applied = await antctl(['apply', '-f', file]);
    assert.deepEqual(applied, {
      code: 0,
      stdout: 'networkpolicy.networking.k8s.io/nginx-allow created\n',
      stderr: '',
    });

    const table = await antctl([
      'query',
      'networkpolicyevaluation',
      '-S',
      'default/ch-busybox',
      '-D',
      NGINX_0,
      '--port',
      '80',
    ]);
    assert.equal(table.code, 0, table.stderr);
    const [header, egressRow, ingressRow] = table.stdout.trimEnd().split('\n');
    assert.deepEqual(header?.split(/\s+/), [
      'NAME',
      'NAMESPACE',
      'POLICY-TYPE',
      'RULE-INDEX',
      'DIRECTION',
      'ACTION',
      'VERDICT',
    ]);
    assert.match(egressRow ?? '', /\sOut\s+<NONE>\s+Allow \(no policy\)$/);
    assert.deepEqual(ingressRow?.split(/\s+/), [
      'nginx-allow',
      'default',
      'K8sNetworkPolicy',
      '<NONE>',
      'In',
      'Isolate',
      'Drop',
    ]);

    const fromBusybox = await evaluation('default/ch-busybox', NGINX_0);
    assert.equal(fromBusybox.verdict, 'Drop');
    assert.equal(fromBusybox.ingress.rule?.action, 'DefaultDeny');
    assert.equal(fromBusybox.ingress.rule?.policy.name, 'nginx-allow');
    // The seed's expected table: cassandra → nginx is false too (only app=nginx pods of default may connect).
    const fromCassandra = await evaluation('cassandra/cassandra-1', `default/${NGINX[1] ?? ''}`);
    assert.equal(fromCassandra.verdict, 'Drop');
    assert.equal(fromCassandra.ingress.rule?.action, 'DefaultDeny');
    const fromNginx = await evaluation(`default/${NGINX[2] ?? ''}`, NGINX_0);
    assert.equal(fromNginx.verdict, 'Allow');
    assert.equal(fromNginx.ingress.rule?.policy.name, 'nginx-allow');
    assert.equal(fromNginx.ingress.rule?.ruleIndex, 0);
    const toBusybox = await evaluation('cassandra/cassandra-1', 'default/ch-busybox');
    assert.deepEqual([toBusybox.verdict, toBusybox.ingress.rule], ['Allow', undefined]);

    const listed = await policies();
    assert.equal(listed.length, 1);
    assert.deepEqual(listed[0]?.sourceRef.name, 'nginx-allow');
    assert.deepEqual(listed[0]?.span, ['antrea-edge-sim']);
    const atg = await antctl(['get', 'appliedtogroup', listed[0]?.appliedToGroups[0] ?? '', '-o', 'json']);
    const members = (JSON.parse(atg.stdout) as { members: { name: string }[] }[])[0]?.members.map(
      (m) => m.name,
    );
    assert.deepEqual(members, [...NGINX].sort());
    const info = await antctl(['get', 'agentinfo', '-o', 'json']);
    const antreaAgentInfo = JSON.parse(info.stdout) as AntreaAgentInfoView;
    assert.equal(antreaAgentInfo.networkPolicyControllerInfo.networkPolicyNum, 1);
    assert.deepEqual(storedKeys(), ['K8sNetworkPolicy/default/nginx-allow']);
  });

  it('named ports come from CNI (K8S_POD_PORTS) and namespace labels from the local API', async () => {
    const applied = await antctl(['apply', '-f', '-'], FROM_DB_YAML);
    assert.equal(applied.stdout, 'networkpolicy.networking.k8s.io/http-from-db created\n', applied.stderr);
    assert.equal((await evaluation('cassandra/cassandra-1', NGINX_0)).verdict, 'Drop');
    const client = new LocalApiClient({ socketPath: t.node.antctlSocket });
    await client.setNamespaceLabels('cassandra', { team: 'db' });
    assert.deepEqual((await client.namespaceLabels('cassandra')).labels, {
      team: 'db',
      'kubernetes.io/metadata.name': 'cassandra',
    });
    const http = await evaluation('cassandra/cassandra-1', NGINX_0, 80);
    assert.equal(http.verdict, 'Allow');
    assert.equal(http.ingress.rule?.policy.name, 'http-from-db');
    assert.equal((await evaluation('cassandra/cassandra-1', NGINX_0, 8080)).verdict, 'Drop');
    // A pod label change through the local API moves the pod into the policy's groups (seed step 3).
    await client.setPodLabels('default', 'ch-busybox', { app: 'nginx' });
    assert.equal((await evaluation('default/ch-busybox', NGINX_0)).verdict, 'Allow');
    await client.setPodLabels('default', 'ch-busybox', { run: 'ch-busybox' });
    assert.equal((await evaluation('default/ch-busybox', NGINX_0)).verdict, 'Drop');
    const deleted = await antctl(['delete', 'netpol', 'http-from-db']);
    assert.equal(deleted.stdout, 'networkpolicy.networking.k8s.io "http-from-db" deleted\n', deleted.stderr);
  });

  it('an apply whose second document is invalid applies nothing and prints both field paths', async () => {
    const file = path.join(t.home, 'tier-then-invalid.yaml');
    fs.writeFileSync(file, TIER_THEN_INVALID_YAML);
    const run = await antctl(['apply', '-f', file]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(
      run.stderr,
      /^Error: nothing was applied: 1 object is invalid \(of 2\)\n {2}document 2: K8sNetworkPolicy "default\/broken":\n/,
    );
    assert.match(run.stderr, /^ {4}spec\.ingress\[0\]\.ports\[0\]\.port: .*70000/m);
    assert.match(run.stderr, /^ {4}spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr: .*10\.0\.0\.0\/40/m);
    assert.deepEqual(storedKeys(), ['K8sNetworkPolicy/default/nginx-allow'], 'the valid Tier was not stored');
    const tierUser = await antctl(
      ['apply', '-f', '-'],
      'apiVersion: crd.antrea.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: x}\nspec: {tier: ops, priority: 1, appliedTo: [{podSelector: {}}], ingress: [{action: Allow}]}\n',
    );
    assert.equal(tierUser.code, 1, 'the Tier does not exist');
    assert.match(tierUser.stderr, /spec\.tier/);
  });

  it('keeps policies and namespace labels across a SIGKILL of the firmware, and follows CNI events after it', async () => {
    await t.node.killFirmware('SIGKILL');
    await t.node.startFirmware();
    const listed = await policies();
    assert.deepEqual(
      listed.map((p) => p.sourceRef.name),
      ['nginx-allow'],
    );
    const afterRestart = await evaluation('default/ch-busybox', NGINX_0);
    assert.equal(afterRestart.verdict, 'Drop');
    assert.equal(afterRestart.ingress.rule?.policy.name, 'nginx-allow');
    const client = new LocalApiClient({ socketPath: t.node.antctlSocket });
    assert.equal((await client.namespaceLabels('cassandra')).labels['team'], 'db');

    await t.pods.add({
      namespace: 'default',
      name: 'late-nginx',
      labels: { app: 'nginx' },
      ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
    });
    const group = async (): Promise<string[]> => {
      const run = await antctl(['get', 'atg', listed[0]?.appliedToGroups[0] ?? '', '-o', 'json']);
      return ((JSON.parse(run.stdout) as { members: { name: string }[] }[])[0]?.members ?? []).map(
        (m) => m.name,
      );
    };
    assert.ok((await group()).includes('late-nginx'), 'a pod added after the restart joins the group');
    assert.equal((await evaluation('default/late-nginx', NGINX_0)).verdict, 'Allow');
    await t.pods.del('default/late-nginx');
    assert.equal((await group()).includes('late-nginx'), false, 'a deleted pod leaves the group');
  });

  it('delete networkpolicy nginx-allow: evaluation says no policy again', async () => {
    const run = await antctl(['delete', 'networkpolicy', 'nginx-allow', '-n', 'default']);
    assert.deepEqual(run, {
      code: 0,
      stdout: 'networkpolicy.networking.k8s.io "nginx-allow" deleted\n',
      stderr: '',
    });
    const result = await evaluation('default/ch-busybox', NGINX_0);
    assert.deepEqual(
      [result.verdict, result.egress.rule, result.ingress.rule],
      ['Allow', undefined, undefined],
    );
    const none = await antctl(['get', 'networkpolicy']);
    assert.deepEqual(none, { code: 0, stdout: '', stderr: 'No resources found.\n' });
    assert.deepEqual(storedKeys(), []);
  });
});
