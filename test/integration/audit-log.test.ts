// NetworkPolicy audit logging on real traffic: a real node (OVS + firmware in a netns) with sim pods, an ACNP
// whose logged Allow, Reject and Drop rules decide real TCP connects. np.log gets Antrea-format lines with the
// right policy, rule, disposition, addresses and ports; SQLite gets the rows; verdicts are unchanged; the
// installed logging flows are exactly the planned text (a firmware restart resyncs with nothing to change); and
// default drops of an isolated pod are logged only after the firmware runs with --audit-default-drops true.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { startTestNode, type TestNode } from '../support/sim-cluster';
import {
  antctlRunner,
  applyYaml,
  logRecords,
  parseFlowDump,
  POLICY_COOKIES,
  waitRealized,
  type Antctl,
} from '../support/node-client';
import { connectProbe, findPod } from '../support/pod-probes';
import type { SimPod } from '../../scripts/lib/sim-pods';
import { parseAuditLine } from '../../firmware/core/audit/audit-entry';
import { npLogPath } from '../../firmware/agent/audit-log';
import { AuditLogRepository } from '../../firmware/store/audit-repository';

const WEB = 'default/aud-web';
const CLIENT = 'default/aud-client';

/** An ingress rule of the audit ACNP, logged, from the client pod (to one TCP port when given). */
const loggedRule = (action: string, name: string, port?: number): string =>
  `  - action: ${action}
    name: ${name}
    enableLogging: true
    from:
    - podSelector:
        matchLabels:
          app: aud-client
` + (port === undefined ? '' : `    ports:\n    - protocol: TCP\n      port: ${port}\n`);

const ACNP_YAML = `apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata:
  name: audit-acnp
spec:
  priority: 5
  appliedTo:
  - podSelector:
      matchLabels:
        app: aud-web
  ingress:
${loggedRule('Allow', 'AllowClientHttp', 80)}${loggedRule('Reject', 'RejectClient8080', 8080)}${loggedRule('Drop', 'DropClient')}`;

// Isolates the client's ingress with no rule: everything to it hits the default drop in IngressDefaultRule.
const ISOLATE_CLIENT_YAML = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: isolate-client
  namespace: default
spec:
  podSelector:
    matchLabels:
      app: aud-client
  policyTypes:
  - Ingress
`;

describe('NetworkPolicy audit logging on a real node', function () {
  this.timeout(240_000);
  let t: TestNode;
  let antctl: Antctl;

  const apply = (name: string, yaml: string): Promise<void> => applyYaml(antctl, t.home, name, yaml);
  /** The firmware may be restarting: a failed listing is polled again. */
  const realizedCount = async (count: number): Promise<void> => {
    await waitRealized(antctl, { count }, { tolerateErrors: true });
  };
  const pod = (ref: string): SimPod => findPod(t, ref);
  const connect = (from: string, to: string, port: number, localPort: number): Promise<string> =>
    connectProbe(t, from, to, port, { localPort });

  const npLog = (): string[] => {
    const file = npLogPath(t.node.dataDir);
    return fs.existsSync(file)
      ? fs
          .readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];
  };

  /** Waits until np.log has a line for which `wanted` holds (entries appear when their 1 s window closes). */
  const waitForLine = async (wanted: (line: string) => boolean, what: string): Promise<string> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const line = npLog().find(wanted);
      if (line !== undefined) return line;
      if (Date.now() > deadline)
        throw new Error(`no np.log line for ${what}; np.log:\n${npLog().join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const policyFlows = async (): Promise<string[]> => {
    const dump = await t.node.ovs.ofctl(['dump-flows', 'br-int', POLICY_COOKIES, '--no-names']);
    return parseFlowDump(dump, { omitFields: ['cookie'] }).map((flow) => flow.text);
  };

  const waitForResync = async (before: number): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const resyncs = logRecords(t.node, 'flows resynchronised');
      if (resyncs.length > before) return resyncs[resyncs.length - 1] as Record<string, unknown>;
      if (Date.now() > deadline) throw new Error('no resync after the firmware restart');
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    t = await startTestNode('aud');
    antctl = antctlRunner(t.node, { timeoutMs: 30_000 });
    await t.pods.add({ namespace: 'default', name: 'aud-web', labels: { app: 'aud-web' }, httpPort: 80 });
    await t.pods.add({ namespace: 'default', name: 'aud-client', labels: { app: 'aud-client' } });
  });

  after(async () => {
    await t?.stop();
  });

  it('logged Allow, Reject and Drop rules: np.log lines with the rule and 5-tuple, verdicts unchanged', async () => {
    assert.equal(await connect(CLIENT, WEB, 80, 41080), 'connected', 'no policy yet');
    await apply('audit-acnp', ACNP_YAML);
    await apply('isolate-client', ISOLATE_CLIENT_YAML);
    await realizedCount(2);

    assert.equal(await connect(CLIENT, WEB, 80, 42080), 'connected', 'the logged Allow still allows');
    assert.equal(await connect(CLIENT, WEB, 8080, 42081), 'refused', 'the logged Reject still rejects');
    assert.equal(await connect(CLIENT, WEB, 9090, 42082), 'timeout', 'the logged Drop still drops');
    assert.equal(await connect(WEB, CLIENT, 80, 42083), 'timeout', 'the isolated client is unreachable');

    const client = pod(CLIENT).ip;
    const web = pod(WEB).ip;
    const expectLine = async (port: number, rule: string, disposition: string): Promise<void> => {
      const line = await waitForLine((l) => l.includes(` ${client} ${port} `), `source port ${port}`);
      const entry = parseAuditLine(line);
      assert.ok(entry, `parses: ${line}`);
      assert.deepEqual(
        {
          table: entry.tableName,
          policy: entry.policyRef,
          rule: entry.ruleName,
          direction: entry.direction,
          disposition: entry.disposition,
          appliedTo: entry.appliedTo,
          src: `${entry.srcIp}:${entry.srcPort}`,
          protocol: entry.protocol,
        },
        {
          table: 'CNPApplicationIngressRule',
          policy: 'AntreaClusterNetworkPolicy:audit-acnp',
          rule,
          direction: 'Ingress',
          disposition,
          appliedTo: WEB,
          src: `${client}:${port}`,
          protocol: 'TCP',
        },
        line,
      );
      assert.equal(entry.dstIp, web);
      assert.ok(entry.priority !== undefined && entry.priority > 0, line);
      assert.ok(entry.packetLength >= 40, line);
    };
    await expectLine(42080, 'AllowClientHttp', 'Allow');
    await expectLine(42081, 'RejectClient8080', 'Reject');
    await expectLine(42082, 'DropClient', 'Drop');
    assert.ok(
      npLog().every(
        (l) =>
          parseAuditLine(l)?.dstPort === undefined ||
          [80, 8080, 9090].includes(parseAuditLine(l)?.dstPort ?? 0),
      ),
      'only the connects of this test',
    );
    assert.deepEqual(
      npLog().filter((l) => l.includes(' 41080 ')),
      [],
      'nothing logged before the policy existed',
    );
    assert.deepEqual(
      npLog().filter((l) => l.includes('K8sNetworkPolicy')),
      [],
      'default drops are not logged by default',
    );
    // Only the connection's first packet reaches the rule: one Allow line, count 1, despite the whole handshake.
    const allowLines = npLog().filter((l) => l.includes(' 42080 '));
    assert.equal(allowLines.length, 1, allowLines.join('\n'));
    assert.equal(parseAuditLine(allowLines[0] ?? '')?.count, 1);

    const db = new Database(path.join(t.node.dataDir, 'antrea-edge.db'), { readonly: true });
    try {
      const rows = new AuditLogRepository(db).recent({ limit: 100 });
      const row = (srcPort: number) => rows.find((r) => r.srcPort === srcPort);
      assert.deepEqual(
        [42080, 42081, 42082].map((p) => [row(p)?.ruleName, row(p)?.disposition, row(p)?.dstIp]),
        [
          ['AllowClientHttp', 'Allow', web],
          ['RejectClient8080', 'Reject', web],
          ['DropClient', 'Drop', web],
        ],
      );
      assert.deepEqual(
        new AuditLogRepository(db).recent({ limit: 10, disposition: 'Reject' }).map((r) => r.srcPort),
        [42081],
      );
    } finally {
      db.close();
    }

    // The same rows through the agent's local API (what antctl, the console and Node-RED read).
    const viaApi = await localApiGet(t.node.antctlSocket, '/v1/auditlog?limit=10&disposition=Drop');
    assert.equal(viaApi.status, 200);
    const drops = JSON.parse(viaApi.body) as { srcPort?: number; disposition: string; ruleName?: string }[];
    assert.ok(drops.length >= 1 && drops.every((r) => r.disposition === 'Drop'), viaApi.body);
    assert.ok(
      drops.some((r) => r.srcPort === 42082 && r.ruleName === 'DropClient'),
      viaApi.body,
    );
    const bad = await localApiGet(t.node.antctlSocket, '/v1/auditlog?disposition=Maybe');
    assert.equal(bad.status, 400, bad.body);
    assert.match(bad.body, /disposition must be one of/);
  });

  it('the installed logging flows are the planned text: a firmware restart resyncs with no change', async () => {
    const flows = await policyFlows();
    const actionsOf = (fragment: string): string[] =>
      flows
        .filter((f) => f.includes('conj_id=') && f.includes(fragment))
        .map((f) => f.replace(/^.*actions=/, ''));
    assert.equal(
      actionsOf('table=89').filter((a) =>
        /^controller\(reason=no_match,max_len=128,id=44545,userdata=02\.[0-9a-f.]+\),load:0x[0-9a-f]+->NXM_NX_REG6\[\],goto_table:105$/.test(
          a,
        ),
      ).length,
      1,
      `logged Allow: ${flows.join('\n')}`,
    );
    assert.equal(
      actionsOf('table=89').filter((a) =>
        /^meter:256,controller\(reason=no_match,id=44545,userdata=81\.[0-9a-f.]+\)$/.test(a),
      ).length,
      1,
      'logged Reject',
    );
    assert.equal(
      actionsOf('table=89').filter((a) =>
        /^meter:256,controller\(reason=no_match,max_len=128,id=44545,userdata=02\.[0-9a-f.]+\)$/.test(a),
      ).length,
      1,
      'logged Drop',
    );
    assert.deepEqual(
      flows.filter((f) => f.includes('table=100')).map((f) => f.replace(/^.*actions=/, '')),
      ['drop'],
      'the default drop is not logged',
    );

    const resyncsBefore = logRecords(t.node, 'flows resynchronised').length;
    await t.node.killFirmware('SIGTERM');
    await t.node.startFirmware();
    const resync = await waitForResync(resyncsBefore);
    assert.deepEqual([resync['added'], resync['modified'], resync['deleted']], [0, 0, 0]);
    await realizedCount(2);
    assert.deepEqual(await policyFlows(), flows);
  });

  it('with --audit-default-drops true, drops of the isolated pod are logged as K8sNetworkPolicy', async () => {
    await t.node.killFirmware('SIGTERM');
    const resyncsBefore = logRecords(t.node, 'flows resynchronised').length;
    await t.node.startFirmware({ extraArgs: ['--audit-default-drops', 'true'] });
    await waitForResync(resyncsBefore);
    await realizedCount(2);
    const isolation = (await policyFlows()).filter((f) => f.includes('table=100'));
    assert.equal(isolation.length, 1);
    assert.match(
      isolation[0] ?? '',
      /actions=meter:256,controller\(reason=no_match,max_len=128,id=44545,userdata=02\.[0-9a-f.]+\)$/,
    );

    assert.equal(await connect(WEB, CLIENT, 80, 43080), 'timeout', 'still dropped');
    const line = await waitForLine((l) => l.includes(' 43080 '), 'the default drop');
    const entry = parseAuditLine(line);
    assert.deepEqual(
      entry && [
        entry.tableName,
        entry.policyRef,
        entry.ruleName,
        entry.direction,
        entry.disposition,
        entry.priority,
        entry.appliedTo,
        entry.srcIp,
        entry.dstIp,
        entry.dstPort,
      ],
      [
        'IngressDefaultRule',
        'K8sNetworkPolicy',
        undefined,
        'Ingress',
        'Drop',
        undefined,
        CLIENT,
        pod(WEB).ip,
        pod(CLIENT).ip,
        80,
      ],
      line,
    );
    assert.equal(await connect(CLIENT, WEB, 80, 43081), 'connected', 'the ACNP Allow still allows');
  });
});

function localApiGet(socketPath: string, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ socketPath, path: url }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
  });
}
