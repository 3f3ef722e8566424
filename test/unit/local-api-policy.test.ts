// The policy endpoints of the local API: strict parameters and bodies against a recording fake, then the whole
// stack in one process (antctl runner → client → server → AgentQueryService → PolicyService → SQLite).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError } from '../../firmware/core/antctl/api-error';
import type {
  AntreaAgentInfoView,
  AgentQueries,
  ApplyResultView,
  DeleteResultView,
  GroupFilter,
  NamespaceLabelsView,
  NetworkPolicyEvaluationQuery,
  NetworkPolicyEvaluationView,
  NetworkPolicyFilter,
  PolicyCommands,
  PolicyQueries,
} from '../../firmware/core/antctl/views';
import type { FirmwareConfig } from '../../firmware/core/config';
import { silentLogger } from '../../firmware/core/logger';
import { LocalApiClient, LocalApiServer } from '../../firmware/http/local-api';
import { AgentQueryService } from '../../firmware/agent/agent-queries';
import { PolicyService } from '../../firmware/agent/policy-service';
import { openStore, type StoreDatabase } from '../../firmware/store/database';
import { PodRepository } from '../../firmware/store/pod-repository';
import { NamespaceRepository, PolicyObjectRepository } from '../../firmware/store/policy-repository';
import { runAntctl } from '../../firmware/cli/antctl';

const NO_QUERIES: AgentQueries = {
  podInterfaces: () => Promise.resolve([]),
  ovsFlows: () => Promise.resolve([]),
  agentInfo: () => Promise.reject(new ApiError('Unavailable', 'n/a')),
};

const EVALUATION: NetworkPolicyEvaluationView = {
  source: { pod: 'default/a', ip: '10.10.0.2' },
  destination: { pod: 'default/b', ip: '10.10.0.3' },
  protocol: 'UDP',
  port: 53,
  verdict: 'Allow',
  egress: { verdict: 'Allow' },
  ingress: { verdict: 'Allow' },
  summary: 'egress: Allow (no policy); ingress: Allow (no policy)',
};

/** Records what the server passed on; `failWith` makes every call reject. */
class FakePolicies implements PolicyQueries, PolicyCommands {
  readonly calls: [string, unknown][] = [];
  failWith: Error | undefined;

  private answer<T>(call: string, argument: unknown, value: T): Promise<T> {
    this.calls.push([call, argument]);
    return this.failWith === undefined ? Promise.resolve(value) : Promise.reject(this.failWith);
  }

  networkPolicies(filter: NetworkPolicyFilter) {
    return this.answer('networkPolicies', filter, []);
  }
  addressGroups(filter: GroupFilter) {
    return this.answer('addressGroups', filter, []);
  }
  appliedToGroups(filter: GroupFilter) {
    return this.answer('appliedToGroups', filter, []);
  }
  networkPolicyEvaluation(query: NetworkPolicyEvaluationQuery) {
    return this.answer('networkPolicyEvaluation', query, EVALUATION);
  }
  namespaceLabels(name: string): Promise<NamespaceLabelsView> {
    return this.answer('namespaceLabels', name, { name, labels: {} });
  }
  setNamespaceLabels(name: string, labels: Record<string, string>): Promise<NamespaceLabelsView> {
    return this.answer('setNamespaceLabels', { name, labels }, { name, labels });
  }
  applyObjects(objects: unknown[]): Promise<ApplyResultView[]> {
    return this.answer('applyObjects', objects, []);
  }
  deleteObject(key: string): Promise<DeleteResultView> {
    return this.answer('deleteObject', key, { key, kind: 'Tier', name: 'x', result: 'deleted' });
  }
}

function raw(
  socketPath: string,
  method: string,
  requestPath: string,
  body?: string,
): Promise<{ status: number; body: unknown; allow: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: requestPath }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(text) as unknown,
          allow: res.headers['allow'],
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('local API: policy endpoints', () => {
  let dir: string;
  let socketPath: string;
  let server: LocalApiServer;
  let policies: FakePolicies;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-policy-api-'));
    socketPath = path.join(dir, 'api.sock');
    policies = new FakePolicies();
    server = new LocalApiServer({ socketPath, queries: NO_QUERIES, policies, logger: silentLogger });
    await server.start();
  });

  after(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    policies.calls.length = 0;
    policies.failWith = undefined;
  });

  it('POST /v1/apply passes the objects on; a body without objects is 400; other methods 405', async () => {
    const objects = [{ kind: 'Tier', metadata: { name: 'x' } }];
    const ok = await raw(socketPath, 'POST', '/v1/apply', JSON.stringify({ objects }));
    assert.equal(ok.status, 200);
    assert.deepEqual(policies.calls, [['applyObjects', objects]]);
    for (const body of ['{}', '{"objects": []}', '{"objects": {}}', 'nope']) {
      assert.equal((await raw(socketPath, 'POST', '/v1/apply', body)).status, 400, body);
    }
    const get = await raw(socketPath, 'GET', '/v1/apply');
    assert.equal(get.status, 405);
    assert.equal(get.allow, 'POST');
    assert.equal((await raw(socketPath, 'POST', '/v1/apply?dry=1', '{"objects":[{}]}')).status, 400);
    assert.equal(policies.calls.length, 1);
  });

  it('DELETE /v1/objects by key or by kind, namespace and name', async () => {
    assert.equal((await raw(socketPath, 'DELETE', '/v1/objects?key=Tier%2F%2Fx')).status, 200);
    await raw(socketPath, 'DELETE', '/v1/objects?kind=K8sNetworkPolicy&namespace=default&name=web');
    await raw(socketPath, 'DELETE', '/v1/objects?kind=Tier&name=ops');
    assert.deepEqual(policies.calls, [
      ['deleteObject', 'Tier//x'],
      ['deleteObject', 'K8sNetworkPolicy/default/web'],
      ['deleteObject', 'Tier//ops'],
    ]);
    assert.equal((await raw(socketPath, 'DELETE', '/v1/objects?key=Tier%2F%2Fx&name=y')).status, 400);
    assert.equal((await raw(socketPath, 'DELETE', '/v1/objects?namespace=default')).status, 400);
    assert.equal((await raw(socketPath, 'GET', '/v1/objects')).status, 405);
    assert.equal(policies.calls.length, 3);
  });

  it('GET /v1/networkpolicies, /v1/addressgroups, /v1/appliedtogroups pass their filters on', async () => {
    await raw(socketPath, 'GET', '/v1/networkpolicies?namespace=default&name=web&type=acnp');
    await raw(socketPath, 'GET', '/v1/networkpolicies');
    await raw(socketPath, 'GET', '/v1/addressgroups?name=g1');
    await raw(socketPath, 'GET', '/v1/appliedtogroups');
    assert.deepEqual(policies.calls, [
      ['networkPolicies', { namespace: 'default', name: 'web', type: 'ACNP' }],
      ['networkPolicies', {}],
      ['addressGroups', { name: 'g1' }],
      ['appliedToGroups', {}],
    ]);
    const badType = await raw(socketPath, 'GET', '/v1/networkpolicies?type=BANP');
    assert.equal(badType.status, 400);
    assert.match(JSON.stringify(badType.body), /valid types: K8sNP, ACNP, ANNP/);
    assert.equal((await raw(socketPath, 'GET', '/v1/addressgroups?namespace=x')).status, 400);
    assert.equal(policies.calls.length, 4);
  });

  it('GET /v1/networkpolicyevaluation needs source, destination and a valid port; protocol defaults to TCP', async () => {
    const ok = await raw(
      socketPath,
      'GET',
      '/v1/networkpolicyevaluation?source=default%2Fa&destination=10.10.0.3&port=53&protocol=udp',
    );
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, EVALUATION);
    await raw(socketPath, 'GET', '/v1/networkpolicyevaluation?source=a&destination=b&port=80');
    assert.deepEqual(policies.calls, [
      [
        'networkPolicyEvaluation',
        { source: 'default/a', destination: '10.10.0.3', port: 53, protocol: 'UDP' },
      ],
      ['networkPolicyEvaluation', { source: 'a', destination: 'b', port: 80, protocol: 'TCP' }],
    ]);
    for (const query of [
      'source=a&destination=b',
      'source=a&port=80',
      'source=a&destination=b&port=0',
      'source=a&destination=b&port=65536',
      'source=a&destination=b&port=8x',
      'source=a&destination=b&port=80&protocol=ICMP',
    ]) {
      assert.equal((await raw(socketPath, 'GET', `/v1/networkpolicyevaluation?${query}`)).status, 400, query);
    }
    assert.equal(policies.calls.length, 2);
  });

  it('GET and PUT /v1/namespacelabels', async () => {
    const put = await raw(socketPath, 'PUT', '/v1/namespacelabels?name=db', '{"labels":{"team":"db"}}');
    assert.equal(put.status, 200);
    assert.deepEqual(put.body, { name: 'db', labels: { team: 'db' } });
    assert.equal((await raw(socketPath, 'GET', '/v1/namespacelabels?name=db')).status, 200);
    assert.deepEqual(policies.calls, [
      ['setNamespaceLabels', { name: 'db', labels: { team: 'db' } }],
      ['namespaceLabels', 'db'],
    ]);
    assert.equal(
      (await raw(socketPath, 'PUT', '/v1/namespacelabels?name=db', '{"labels":{"a":1}}')).status,
      400,
    );
    assert.equal((await raw(socketPath, 'PUT', '/v1/namespacelabels', '{"labels":{}}')).status, 400);
    const del = await raw(socketPath, 'DELETE', '/v1/namespacelabels?name=db');
    assert.equal(del.status, 405);
    assert.equal(del.allow, 'GET, PUT');
  });

  it('carries field errors in the 400 body and back into the client ApiError; Conflict is 409', async () => {
    const details = {
      objectCount: 2,
      invalidObjects: [
        {
          index: 1,
          kind: 'K8sNetworkPolicy',
          name: 'bad',
          namespace: 'default',
          errors: [
            { path: 'spec.ingress[0].ports[0].port', reason: 'must be between 1 and 65535', value: 70000 },
          ],
        },
      ],
    };
    policies.failWith = new ApiError('BadRequest', 'nothing was applied', details);
    const answer = await raw(socketPath, 'POST', '/v1/apply', '{"objects":[{},{}]}');
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.body, { code: 'BadRequest', message: 'nothing was applied', details });
    const client = new LocalApiClient({ socketPath });
    await assert.rejects(
      client.applyObjects([{}, {}]),
      (error: unknown) =>
        error instanceof ApiError && error.code === 'BadRequest' && deepEqual(error.details, details),
    );
    policies.failWith = new ApiError('Conflict', 'tier ops is referenced by 1 Antrea policies');
    const conflict = await raw(socketPath, 'DELETE', '/v1/objects?key=Tier%2F%2Fops');
    assert.equal(conflict.status, 409);
    await assert.rejects(
      client.deleteObject('Tier//ops'),
      (error: unknown) => error instanceof ApiError && error.code === 'Conflict',
    );
  });

  it('answers 503 on policy endpoints when the agent serves no policies', async () => {
    const otherPath = path.join(dir, 'other.sock');
    const other = new LocalApiServer({ socketPath: otherPath, queries: NO_QUERIES, logger: silentLogger });
    await other.start();
    try {
      assert.equal((await raw(otherPath, 'GET', '/v1/networkpolicies')).status, 503);
      assert.equal((await raw(otherPath, 'POST', '/v1/apply', '{"objects":[{}]}')).status, 503);
    } finally {
      await other.stop();
    }
  });
});

function deepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------

const NGINX_ALLOW_YAML = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: nginx-allow
spec:
  podSelector:
    matchLabels:
      app: nginx
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: nginx
`;

const TWO_DOCUMENTS_SECOND_INVALID = `apiVersion: crd.antrea.io/v1beta1
kind: Tier
metadata:
  name: ops
spec:
  priority: 70
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: bad
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

describe('antctl policy commands through the local API (one process, real policy service)', () => {
  let dir: string;
  let socketPath: string;
  let db: StoreDatabase;
  let service: PolicyService;
  let server: LocalApiServer;

  const antctl = async (
    args: string[],
    stdin = '',
  ): Promise<{ code: number; stdout: string; stderr: string }> => {
    let stdout = '';
    let stderr = '';
    const code = await runAntctl(args, {
      env: { ANTREA_EDGE_ANTCTL_SOCKET: socketPath },
      io: { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) },
      antctlVersion: '0.0.0-test',
      readStdin: () => Promise.resolve(stdin),
    });
    return { code, stdout, stderr };
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-policy-cli-'));
    socketPath = path.join(dir, 'antctl.sock');
    db = openStore(':memory:');
    const pods = new PodRepository(db);
    const http80 = [{ name: 'http', containerPort: 80, protocol: 'TCP' as const }];
    const add = (
      namespace: string,
      name: string,
      labels: Record<string, string>,
      ip: string,
      ports = http80,
    ): void =>
      pods.insert({
        containerId: `c-${name}`,
        namespace,
        name,
        ifName: 'eth0',
        netns: `/n/${name}`,
        hostIfName: `${name.slice(0, 8)}-0`,
        ip,
        mac: '0a:00:00:00:00:01',
        labels,
        containerPorts: ports,
        createdAt: 'then',
      });
    add('default', 'nginx-1', { app: 'nginx' }, '10.10.0.2');
    add('default', 'nginx-2', { app: 'nginx' }, '10.10.0.3');
    add('default', 'ch-busybox', { run: 'ch-busybox' }, '10.10.0.4', []);
    add('cassandra', 'cassandra-1', { app: 'cassandra' }, '10.10.0.5', []);
    service = new PolicyService({
      nodeName: 'node1',
      pods,
      namespaces: new NamespaceRepository(db),
      objects: new PolicyObjectRepository(db),
      logger: silentLogger,
    });
    service.start();
    const queries = new AgentQueryService({
      config: { nodeName: 'node1', podCidr: '10.10.0.0/24', bridgeName: 'br-int' } as FirmwareConfig,
      version: 'test',
      agent: { health: () => 'Healthy' },
      pods,
      lifecycle: { ofportOf: () => undefined },
      policies: service,
      bridge: { listPorts: () => Promise.resolve([]), getOvsVersion: () => Promise.resolve('3.1.0') },
      flowWriter: { dumpFlows: () => Promise.resolve([]), dumpFlowsText: () => Promise.resolve([]) },
    });
    server = new LocalApiServer({
      socketPath,
      queries,
      commands: queries,
      policies: queries,
      logger: silentLogger,
    });
    await server.start();
  });

  after(async () => {
    await server.stop();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('apply -f - creates (namespace default), then reports unchanged', async () => {
    const first = await antctl(['apply', '-f', '-'], NGINX_ALLOW_YAML);
    assert.deepEqual(first, {
      code: 0,
      stdout: 'networkpolicy.networking.k8s.io/nginx-allow created\n',
      stderr: '',
    });
    const again = await antctl(['apply', '-f', '-', '-o', 'json'], NGINX_ALLOW_YAML);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      (JSON.parse(again.stdout) as ApplyResultView[]).map((r) => [r.key, r.result]),
      [['K8sNetworkPolicy/default/nginx-allow', 'unchanged']],
    );
  });

  it('an apply whose second document is invalid applies nothing and prints every field path', async () => {
    const file = path.join(dir, 'two.yaml');
    fs.writeFileSync(file, TWO_DOCUMENTS_SECOND_INVALID);
    const run = await antctl(['apply', '-f', file]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    const lines = run.stderr.split('\n');
    assert.equal(lines[0], 'Error: nothing was applied: 1 object is invalid (of 2)');
    assert.equal(lines[1], '  document 2: K8sNetworkPolicy "default/bad":');
    assert.ok(
      lines.some((l) => l.startsWith('    spec.ingress[0].ports[0].port: ')),
      run.stderr,
    );
    assert.ok(
      lines.some((l) => l.startsWith('    spec.ingress[0].from[0].ipBlock.cidr: ')),
      run.stderr,
    );
    assert.equal(service.view().tierPriority('ops'), undefined, 'the valid Tier was not applied either');
  });

  it('a YAML error names the file, line and column and contacts nobody', async () => {
    const file = path.join(dir, 'broken.yaml');
    fs.writeFileSync(file, 'kind: Tier\nmetadata:\n  name: [unclosed\n');
    const run = await antctl(['apply', '-f', file]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      new RegExp(`^Error: ${file} is not a valid manifest; nothing was applied\\n  ${file}:\\d+:\\d+: `),
    );
    const missing = await antctl(['apply', '-f', path.join(dir, 'absent.yaml')]);
    assert.equal(missing.stderr, `Error: cannot read ${path.join(dir, 'absent.yaml')}: no such file\n`);
  });

  it('get networkpolicy, appliedtogroup, addressgroup and agentinfo show the applied policy', async () => {
    const table = await antctl(['get', 'networkpolicy']);
    assert.equal(table.code, 0, table.stderr);
    const [header, row] = table.stdout.trimEnd().split('\n');
    assert.deepEqual(header?.split(/\s+/), [
      'NAME',
      'APPLIED-TO',
      'RULES',
      'SOURCE',
      'TIER-PRIORITY',
      'PRIORITY',
    ]);
    const cells = row?.split(/\s+/) ?? [];
    const policy = service.networkPolicies({ name: 'nginx-allow' })[0];
    assert.ok(policy);
    assert.deepEqual(cells, [
      policy.uid,
      policy.appliedToGroups[0],
      '1',
      'K8sNetworkPolicy:default/nginx-allow',
      '<NONE>',
      '<NONE>',
    ]);
    const json = await antctl(['get', 'netpol', 'nginx-allow', '-n', 'default', '-o', 'json']);
    assert.deepEqual(JSON.parse(json.stdout), [policy]);
    const atg = await antctl(['get', 'atg']);
    assert.match(atg.stdout, /^NAME\s+PODS\n\S+\s+default\/nginx-1,default\/nginx-2\n$/);
    const ag = await antctl(['get', 'ag']);
    assert.match(ag.stdout, /^NAME\s+POD-IPS\s+NODE-IPS\n\S+\s+10\.10\.0\.2,10\.10\.0\.3\s+<NONE>\n$/);
    const missing = await antctl(['get', 'ag', 'nope']);
    assert.deepEqual([missing.code, missing.stderr], [1, 'Error: addressgroup "nope" not found\n']);
    const info = await antctl(['get', 'agentinfo', '-o', 'json']);
    assert.equal(info.code, 0, info.stderr);
    assert.deepEqual((JSON.parse(info.stdout) as AntreaAgentInfoView).networkPolicyControllerInfo, {
      networkPolicyNum: 1,
      addressGroupNum: 1,
      appliedToGroupNum: 1,
    });
  });

  it('query networkpolicyevaluation prints the deciding rule per direction', async () => {
    const dropped = await antctl([
      'query',
      'networkpolicyevaluation',
      '-S',
      'default/ch-busybox',
      '-D',
      'default/nginx-1',
      '--port',
      '80',
    ]);
    assert.equal(dropped.code, 0, dropped.stderr);
    assert.equal(
      dropped.stdout,
      'NAME          NAMESPACE   POLICY-TYPE        RULE-INDEX   DIRECTION   ACTION    VERDICT\n' +
        '<NONE>        <NONE>      <NONE>             <NONE>       Out         <NONE>    Allow (no policy)\n' +
        'nginx-allow   default     K8sNetworkPolicy   <NONE>       In          Isolate   Drop\n',
    );
    const allowed = await antctl([
      'query',
      'netpoleval',
      '-S',
      'nginx-2',
      '-D',
      'nginx-1',
      '--port',
      '80',
      '-o',
      'yaml',
    ]);
    assert.match(allowed.stdout, /^verdict: Allow$/m);
    const ghost = await antctl([
      'query',
      'netpoleval',
      '-S',
      'default/ghost',
      '-D',
      'nginx-1',
      '--port',
      '80',
    ]);
    assert.deepEqual([ghost.code, ghost.stderr], [1, 'Error: source pod "default/ghost" is not known\n']);
  });

  it('delete networkpolicy removes it; evaluation then says no policy; a second delete is NotFound', async () => {
    const run = await antctl(['delete', 'networkpolicy', 'nginx-allow']);
    assert.deepEqual(run, {
      code: 0,
      stdout: 'networkpolicy.networking.k8s.io "nginx-allow" deleted\n',
      stderr: '',
    });
    const evaluation = await antctl([
      'query',
      'netpoleval',
      '-S',
      'ch-busybox',
      '-D',
      'nginx-1',
      '--port',
      '80',
    ]);
    assert.match(evaluation.stdout, /In\s+<NONE>\s+Allow \(no policy\)\n$/);
    const again = await antctl(['delete', 'netpol', 'nginx-allow', '-n', 'default']);
    assert.deepEqual(
      [again.code, again.stderr],
      [1, 'Error: K8sNetworkPolicy "nginx-allow" in namespace default not found\n'],
    );
    const none = await antctl(['get', 'networkpolicy']);
    assert.deepEqual(none, { code: 0, stdout: '', stderr: 'No resources found.\n' });
  });
});
