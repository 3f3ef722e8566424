// Per-rule statistics and `antctl get ovsflows --networkpolicy` on a real node: the seed's pods behind the real
// CNI plugin, an Antrea ClusterNetworkPolicy with a Drop and an Allow rule, real TCP connections from inside the
// pods, and the counts read back through antctl (CLI → local API socket → agent → OVS flow counters).
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from '../support/sim-cluster';
import { antctlJson, antctlRunner, applyYaml, waitRealized, type Antctl } from '../support/node-client';
import { connectProbe } from '../support/pod-probes';
import { nginxWebAcnp } from '../support/policies';
import type { NetworkPolicyStatsView } from '../../firmware/core/antctl/views';
import { LocalApiClient } from '../../firmware/http/local-api';
import { SEED_NGINX_PODS, SEED_PODS } from '../../scripts/lib/seed';

const BUSYBOX = 'default/ch-busybox';
const CASSANDRA = 'cassandra/cassandra-1';
const NGINX = `default/${SEED_NGINX_PODS[0] ?? ''}`;
const CONNECTIONS = 3;

// Busybox may not open nginx's port 80; cassandra may.
const STATS_ACNP = nginxWebAcnp('stats-web', 5, [
  { action: 'Drop', name: 'drop-busybox', from: { run: 'ch-busybox' } },
  { action: 'Allow', name: 'allow-cassandra', from: { app: 'cassandra' } },
]);

// Another policy with flows on this node, whose flows must never show up under stats-web.
const OTHER_ACNP = `apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata:
  name: stats-other
spec:
  priority: 10
  appliedTo:
  - podSelector:
      matchLabels:
        app: cassandra
  ingress:
  - name: allow-busybox
    action: Allow
    from:
    - podSelector:
        matchLabels:
          run: ch-busybox
`;

describe('policy statistics and flows of one policy on a real node', function () {
  this.timeout(240_000);
  let t: TestNode;

  let antctl: Antctl;

  const apply = (name: string, yaml: string): Promise<void> => applyYaml(antctl, t.home, name, yaml);
  const realizedAtLeast = async (names: string[]): Promise<void> => {
    await waitRealized(antctl, { atLeast: names });
  };
  const connect = (from: string, to: string, port: number, timeoutMs: number): Promise<string> =>
    connectProbe(t, from, to, port, { timeoutMs });
  const stats = (args: string[]): Promise<NetworkPolicyStatsView[]> =>
    antctlJson<NetworkPolicyStatsView[]>(antctl, ['get', 'networkpolicystats', ...args, '-o', 'json']);

  const ruleTraffic = (view: NetworkPolicyStatsView | undefined, rule: string) => {
    const found = view?.ruleTrafficStats.find((r) => r.name === rule);
    assert.ok(found, `rule ${rule} in ${JSON.stringify(view)}`);
    return found.trafficStats;
  };

  /** Object ids of the Policy cookies (0x06…) of dumped flow lines. */
  const cookieIds = (lines: readonly string[]): number[] =>
    lines.map((line) => {
      const cookie = BigInt(/cookie=(0x[0-9a-f]+)/.exec(line)?.[1] ?? '0');
      assert.equal(cookie >> 56n, 6n, `a policy flow: ${line}`);
      return Number(cookie & 0xffffffffn);
    });

  before(async () => {
    t = await startTestNode('pst');
    antctl = antctlRunner(t.node);
    for (const spec of SEED_PODS) await t.pods.add(spec);
    await apply('stats-web', STATS_ACNP);
    await apply('stats-other', OTHER_ACNP);
    await realizedAtLeast(['stats-web', 'stats-other']);
  });

  after(async () => {
    await t?.stop();
  });

  it('starts every rule at zero, with Antrea columns in the table', async () => {
    const [web] = await stats(['stats-web']);
    assert.equal(web?.kind, 'AntreaClusterNetworkPolicyStats');
    assert.equal(web?.apiVersion, 'stats.antrea.io/v1alpha1');
    assert.deepEqual(
      web?.ruleTrafficStats.map((r) => r.name),
      ['drop-busybox', 'allow-cassandra'],
    );
    assert.deepEqual(web?.trafficStats, { packets: 0, bytes: 0, sessions: 0 });
    assert.match(web?.metadata.creationTimestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const table = await antctl(['get', 'networkpolicystats', '-T', 'ACNP']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^NAME\s+SESSIONS\s+PACKETS\s+BYTES\s+CREATED AT$/);
    assert.deepEqual(
      lines.slice(1).map((line) => line.split(/\s+/)[0]),
      ['stats-other', 'stats-web'],
    );
  });

  it(`counts ${CONNECTIONS} dropped and ${CONNECTIONS} allowed connections on the deciding rules`, async () => {
    for (let i = 0; i < CONNECTIONS; i++) {
      assert.equal(await connect(BUSYBOX, NGINX, 80, 1500), 'timeout', 'busybox -> nginx:80 is dropped');
      assert.equal(
        await connect(CASSANDRA, NGINX, 80, 5000),
        'connected',
        'cassandra -> nginx:80 is allowed',
      );
    }
    const [web] = await stats(['stats-web', '-T', 'acnp']);
    const dropped = ruleTraffic(web, 'drop-busybox');
    const allowed = ruleTraffic(web, 'allow-cassandra');
    // Every SYN busybox sent was dropped by the rule (the kernel retransmits within the 1.5 s timeout).
    assert.ok(dropped.packets >= CONNECTIONS, `dropped ${JSON.stringify(dropped)}`);
    assert.equal(dropped.sessions, dropped.packets, 'every dropped packet counts as a session');
    assert.ok(dropped.bytes >= dropped.packets * 54, 'at least an Ethernet+IP+TCP header per SYN');
    // Allowed connections reach the rule only until established: one SYN each.
    assert.ok(allowed.sessions >= CONNECTIONS, `allowed ${JSON.stringify(allowed)}`);
    assert.equal(allowed.packets, allowed.sessions);
    assert.ok(allowed.sessions < CONNECTIONS * 3, 'established packets take the fast path, not the rule');
    assert.deepEqual(web?.trafficStats, {
      packets: dropped.packets + allowed.packets,
      bytes: dropped.bytes + allowed.bytes,
      sessions: dropped.sessions + allowed.sessions,
    });

    const [other] = await stats(['stats-other']);
    assert.deepEqual(other?.trafficStats, { packets: 0, bytes: 0, sessions: 0 }, 'untouched policy');

    // The palette's per-rule call, through the local API.
    const client = new LocalApiClient({ socketPath: t.node.antctlSocket });
    const rules = await client.ruleStats({ name: 'stats-web' });
    assert.deepEqual(
      rules.map((r) => [r.ruleName, r.direction, r.action, r.packets, r.bytes, r.sessions]),
      [
        ['drop-busybox', 'In', 'Drop', dropped.packets, dropped.bytes, dropped.sessions],
        ['allow-cassandra', 'In', 'Allow', allowed.packets, allowed.bytes, allowed.sessions],
      ],
    );
  });

  it('get ovsflows --networkpolicy lists exactly that policy’s flows, in table order', async () => {
    const all = await t.node.ovs.ofctl([
      'dump-flows',
      'br-int',
      'cookie=0x0600000000000000/0xff00000000000000',
    ]);
    const allLines = all.split('\n').filter((line) => line.includes('actions='));
    const web = await antctl(['get', 'ovsflows', '--networkpolicy', 'stats-web']);
    assert.equal(web.code, 0, web.stderr);
    const webLines = web.stdout.trimEnd().split('\n');
    assert.equal(webLines[0], 'FLOW');
    const webFlows = webLines.slice(1);
    const other = await antctl(['get', 'of', '-N', 'stats-other', '-o', 'json']);
    assert.equal(other.code, 0, other.stderr);
    const otherFlows = JSON.parse(other.stdout) as string[];

    const webIds = new Set(cookieIds(webFlows));
    const otherIds = new Set(cookieIds(otherFlows));
    assert.deepEqual(
      [...webIds].filter((id) => otherIds.has(id)),
      [],
      'no flow of stats-other under stats-web',
    );
    // Two rules, each: conj_id action flow + source, destination and service clause flows (one each here).
    assert.equal(webIds.size, 2);
    assert.equal(webFlows.filter((line) => /conj_id=\d+/.test(line)).length, 2);
    assert.ok(webFlows.some((line) => line.includes('actions=drop')));
    assert.ok(webFlows.some((line) => line.includes('tp_dst=80')));
    // Exactly the installed policy flows with those cookies (none missing, none invented).
    const installedWeb = allLines.filter((line) => cookieIds([line]).every((id) => webIds.has(id)));
    assert.equal(webFlows.length, installedWeb.length);
    assert.ok(webFlows.every((line) => /n_packets=\d+, n_bytes=\d+/.test(line)));
    const tables = webFlows.map((line) => Number(/table=(\d+)/.exec(line)?.[1]));
    assert.deepEqual(
      tables,
      [...tables].sort((a, b) => a - b),
    );
    const actionFlow = webFlows.find((line) => line.includes('conj_id=') && line.includes('actions=drop'));
    assert.ok(/n_packets=([1-9]\d*)/.test(actionFlow ?? ''), `the drop flow counted: ${actionFlow}`);
  });

  it('unknown or misaddressed policies are errors with a message, not empty output', async () => {
    const unknown = await antctl(['get', 'ovsflows', '-N', 'no-such-policy']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /^Error: .*no-such-policy.*not found/);

    const namespaced = await antctl(['get', 'ovsflows', '-N', 'stats-web', '-n', 'default']);
    assert.equal(namespaced.code, 1);
    assert.match(namespaced.stderr, /not found/);

    const stat = await antctl(['get', 'networkpolicystats', 'no-such-policy']);
    assert.equal(stat.code, 1);
    assert.match(stat.stderr, /no-such-policy/);

    const usage = await antctl(['get', 'ovsflows', '-N', 'stats-web', '--type', 'bogus']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /invalid type "bogus"/);
  });

  it('a policy without flows on this node is an error for ovsflows', async () => {
    await apply(
      'stats-nowhere',
      `apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata:
  name: stats-nowhere
spec:
  priority: 20
  appliedTo:
  - podSelector:
      matchLabels:
        app: no-such-app
  ingress:
  - action: Drop
    from:
    - podSelector: {}
`,
    );
    await realizedAtLeast(['stats-nowhere']);
    const flows = await antctl(['get', 'ovsflows', '-N', 'stats-nowhere']);
    assert.equal(flows.code, 1);
    assert.match(flows.stderr, /has no flows on this node/);
    const [nowhere] = await stats(['stats-nowhere']);
    assert.deepEqual(nowhere?.trafficStats, { packets: 0, bytes: 0, sessions: 0 });
    assert.equal(nowhere?.metadata.creationTimestamp, undefined);
    // Unnamed Antrea rules get Antrea's generated names from defaulting.
    assert.match(nowhere?.ruleTrafficStats.map((r) => r.name).join() ?? '', /^ingress-drop-[0-9a-f]+$/);
  });
});
