// Observability on a real node (OVS + firmware in a netns, pods through the real CNI plugin): /metrics scraped
// from inside the node's namespace and parsed strictly, values checked against pods created, a policy applied
// and real traffic; /healthz and /readyz (also while OVSDB is down); `antctl log-level` takes effect at once;
// `antctl supportbundle` writes a tar.gz with the expected files and without the console user's secrets.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStore } from '../../firmware/store/database';
import { UserRepository } from '../../firmware/store/user-repository';
import { SUPPORT_BUNDLE_FILES } from '../../firmware/observability/support-bundle';
import { run, startTestNode, type TestNode } from '../support/sim-cluster';
import { antctlRunner, applyYaml, firmwareLog, type Antctl } from '../support/node-client';
import { wget } from '../support/pod-probes';
import { parsePrometheusText, sampleValue, samplesOf, type MetricFamily } from '../unit/metrics-text-format';

/** GETs a URL from inside the node's namespace; prints {"status":N,"contentType":"..","body":".."}. */
const FETCH_JS = `
const http = require('node:http');
http.get(process.argv[2], (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (c) => (body += c));
  res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, contentType: res.headers['content-type'], body })));
}).on('error', (e) => { process.stdout.write(JSON.stringify({ error: e.message })); });
`;

const WEB_ALLOW = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-allow
  namespace: default
spec:
  podSelector:
    matchLabels:
      app: obs-web
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: obs-client
    ports:
    - protocol: TCP
      port: 80
`;

// A console account's secrets as the users table holds them (base64 scrypt hash and salt).
const KNOWN_HASH = Buffer.from('known-scrypt-hash-of-32-bytes!!!').toString('base64');
const KNOWN_SALT = Buffer.from('known-salt-16-by').toString('base64');

interface Fetched {
  status?: number;
  contentType?: string;
  body?: string;
  error?: string;
}

describe('observability on a real node', function () {
  this.timeout(240_000);
  let t: TestNode;
  let fetchScript: string;
  let antctl: Antctl;

  const fetchInNode = async (urlPath: string): Promise<Fetched> => {
    const result = await run('ip', [
      'netns',
      'exec',
      t.node.nodeNs,
      process.execPath,
      fetchScript,
      `http://127.0.0.1:8080${urlPath}`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as Fetched;
  };

  const scrape = async (): Promise<Map<string, MetricFamily>> => {
    const fetched = await fetchInNode('/metrics');
    assert.equal(fetched.status, 200, fetched.error ?? fetched.body);
    assert.match(fetched.contentType ?? '', /^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(fetched.body ?? '');
  };

  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  before(async () => {
    t = await startTestNode('obs');
    antctl = antctlRunner(t.node);
    fetchScript = path.join(t.home, 'fetch.js');
    fs.writeFileSync(fetchScript, FETCH_JS);
    await t.pods.add({ namespace: 'default', name: 'obs-web', labels: { app: 'obs-web' }, httpPort: 80 });
    await t.pods.add({ namespace: 'default', name: 'obs-client', labels: { app: 'obs-client' } });
    await t.pods.add({ namespace: 'default', name: 'obs-other', labels: { app: 'obs-other' } });
  });

  after(async () => {
    await t?.stop();
  });

  it('answers /healthz and /readyz with 200 once the node is up', async () => {
    const health = await fetchInNode('/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.body, 'ok');
    const ready = await waitFor('readyz 200', async () => {
      const fetched = await fetchInNode('/readyz');
      return fetched.status === 200 ? fetched : undefined;
    });
    assert.equal(ready.body, 'ok');
    assert.equal((await fetchInNode('/nothing-here')).status, 404);
  });

  it('scrapes metrics that match the node: pods, flows per table, connections, process', async () => {
    const families = await scrape();
    assert.equal(sampleValue(families, 'antrea_edge_local_pods'), 3);
    assert.equal(sampleValue(families, 'antrea_edge_network_policies'), 0);
    assert.equal(sampleValue(families, 'antrea_edge_ovsdb_connection_up'), 1);
    assert.equal(sampleValue(families, 'antrea_edge_openflow_connection_up'), 1);
    // Every pod has its SpoofGuard flow: the desired flows per table follow the pods.
    assert.ok((sampleValue(families, 'antrea_edge_ovs_flows', { table: 'SpoofGuard' }) ?? 0) >= 3);
    // The desired flows are what OVS holds: compare the total with a real dump of the agent's cookies.
    const dump = await t.node.ovs.ofctl(['dump-flows', 'br-int']);
    const installed = dump.split('\n').filter((line) => line.includes('actions=')).length;
    assert.equal(sampleValue(families, 'antrea_edge_ovs_total_flows'), installed);
    assert.ok((sampleValue(families, 'antrea_edge_process_resident_memory_bytes') ?? 0) > 10_000_000);
    assert.ok(families.has('antrea_edge_nodejs_eventloop_lag_seconds'));
    for (const family of families.values()) {
      assert.ok(family.name.startsWith('antrea_edge_'), `${family.name} lacks the prefix`);
      assert.ok((family.help ?? '') !== '', `${family.name} has no HELP`);
    }
  });

  it('counts a policy once applied, its realization latency, and its rule packets after real traffic', async () => {
    await applyYaml(antctl, t.home, 'web-allow', WEB_ALLOW);
    const families = await waitFor('the policy in metrics, realized', async () => {
      const scraped = await scrape();
      return sampleValue(scraped, 'antrea_edge_network_policies') === 1 &&
        (sampleValue(scraped, 'antrea_edge_policy_realization_duration_seconds_count') ?? 0) >= 1 &&
        samplesOf(scraped, 'antrea_edge_networkpolicy_rule_packets_total').length > 0
        ? scraped
        : undefined;
    });
    assert.equal(sampleValue(families, 'antrea_edge_applied_to_groups'), 1);
    assert.equal(sampleValue(families, 'antrea_edge_address_groups'), 1);
    assert.ok((sampleValue(families, 'antrea_edge_policy_realizations_total') ?? 0) >= 2);
    assert.ok((sampleValue(families, 'antrea_edge_ovs_flows', { table: 'IngressRule' }) ?? 0) > 0);
    const rule = {
      policy_type: 'K8sNetworkPolicy',
      namespace: 'default',
      name: 'web-allow',
      rule: 'ingress-0',
    };
    const before = sampleValue(families, 'antrea_edge_networkpolicy_rule_packets_total', rule);
    assert.equal(before, 0, 'no traffic yet');

    assert.equal(
      await wget(t, 'default/obs-client', 'default/obs-web'),
      true,
      'the rule allows client -> web',
    );
    assert.equal(await wget(t, 'default/obs-other', 'default/obs-web'), false, 'others are isolated');
    const after = await waitFor('rule counters to move', async () => {
      const scraped = await scrape();
      const packets = sampleValue(scraped, 'antrea_edge_networkpolicy_rule_packets_total', rule) ?? 0;
      return packets > 0 ? scraped : undefined;
    });
    assert.ok((sampleValue(after, 'antrea_edge_networkpolicy_rule_bytes_total', rule) ?? 0) > 0);
    assert.equal(sampleValue(after, 'antrea_edge_networkpolicy_stats_up'), 1);
  });

  it('changes the log level at run time: debug lines stop and start again', async () => {
    const shown = await antctl(['log-level']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^LEVEL\s*\ndebug\s*$/);

    const set = await antctl(['log-level', 'info', '-o', 'json']);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(JSON.parse(set.stdout), { level: 'info', previous: 'debug' });
    let offset = fs.statSync(t.node.logFile).size;
    assert.equal((await antctl(['get', 'agentinfo'])).code, 0);
    await fetchInNode('/metrics');
    assert.deepEqual(
      firmwareLog(t.node, offset).filter((record) => record['level'] === 'debug'),
      [],
      'no debug line at info',
    );

    assert.equal((await antctl(['log-level', 'debug'])).code, 0);
    offset = fs.statSync(t.node.logFile).size;
    assert.equal((await antctl(['get', 'agentinfo'])).code, 0);
    const debugLines = await waitFor('a debug line', () =>
      Promise.resolve(
        firmwareLog(t.node, offset).some(
          (record) => record['level'] === 'debug' && record['msg'] === 'local API request',
        )
          ? true
          : undefined,
      ),
    );
    assert.equal(debugLines, true);
    const bad = await antctl(['log-level', 'verbose']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid log level "verbose": valid levels are debug, info, warn, error/);
  });

  it('writes a support bundle with the expected files and none of the console secrets', async () => {
    const db = openStore(path.join(t.node.dataDir, 'antrea-edge.db'));
    try {
      new UserRepository(db).save({
        name: 'admin',
        passwordHash: KNOWN_HASH,
        salt: KNOWN_SALT,
        scrypt: { n: 16384, r: 8, p: 1, keyLength: 32 },
        updatedAt: new Date().toISOString(),
      });
    } finally {
      db.close();
    }
    // Put both secrets where a bundle would otherwise carry them: the firmware log (a failed lookup by name).
    for (const secret of [KNOWN_HASH, KNOWN_SALT]) {
      assert.equal((await antctl(['get', 'ovsflows', '-T', secret])).code, 1);
    }
    assert.ok(fs.readFileSync(t.node.logFile, 'utf8').includes(KNOWN_SALT), 'the secret is in the raw log');

    const bundleDir = path.join(t.home, 'bundles');
    const made = await antctl(['supportbundle', '--dir', bundleDir]);
    assert.equal(made.code, 0, made.stderr);
    const bundle = made.stdout.trim();
    assert.match(bundle, new RegExp(`^${bundleDir}/antrea-edge-supportbundle_[^/]+\\.tar\\.gz$`));
    assert.match(made.stderr, /collecting OVS flows/);
    assert.match(made.stderr, /collecting the firmware log/);

    const listed = await run('tar', ['-tzf', bundle]);
    assert.equal(listed.code, 0, listed.stderr);
    const top = path.basename(bundle, '.tar.gz');
    const files = listed.stdout
      .trim()
      .split('\n')
      .filter((entry) => !entry.endsWith('/'))
      .map((entry) => entry.slice(top.length + 1));
    assert.deepEqual(files, [...SUPPORT_BUNDLE_FILES], `got ${files.join(', ')}`);

    const extracted = path.join(t.home, 'extracted');
    fs.mkdirSync(extracted);
    const untar = await run('tar', ['-xzf', bundle, '-C', extracted]);
    assert.equal(untar.code, 0, untar.stderr);
    const read = (file: string): string => fs.readFileSync(path.join(extracted, top, file), 'utf8');
    for (const file of files) {
      const text = read(file);
      assert.ok(!text.includes(KNOWN_HASH), `${file} holds the password hash`);
      assert.ok(!text.includes(KNOWN_SALT), `${file} holds the salt`);
      assert.doesNotMatch(text, /password/i, `${file} mentions a password`);
    }
    assert.match(read('ovs/dump-flows.txt'), /table=0, .*priority=/);
    assert.match(read('ovs/ovsdb-dump.txt'), /Bridge table/);
    assert.match(read('policies/networkpolicies.yaml'), /name: web-allow/);
    assert.match(read('agent/agentinfo.yaml'), /localPods: 3/);
    assert.match(read('agent/controllerinfo.yaml'), /kind: AntreaControllerInfo/);
    assert.match(read('store/schema-version.txt'), /^\d+\n$/);
    assert.equal((JSON.parse(read('board/profile.json')) as { name: string }).name, 'sim');
    assert.match(read('system/ip-addr.txt'), /antrea-gw0/, 'addresses of the node namespace');
    assert.match(read('system/ip-route.txt'), /10\.10\.0\.0\/24/);
    assert.match(read('logs/antrea-edge.log'), /antrea-edge ready/);
    assert.match(read('logs/antrea-edge.log'), /\[REDACTED\]/);
    assert.match(read('metrics/metrics.txt'), /^antrea_edge_local_pods 3$/m);
  });

  it('answers /readyz 503 with the failing check while OVSDB is down, and 200 again after', async () => {
    await t.node.ovs.stopOvsdb();
    try {
      const notReady = await waitFor('readyz 503', async () => {
        const fetched = await fetchInNode('/readyz');
        return fetched.status === 503 ? fetched : undefined;
      });
      const report = JSON.parse(notReady.body ?? '{}') as { ready: boolean; checks: Record<string, string> };
      assert.equal(report.ready, false);
      assert.equal(report.checks['ovsdb'], 'OVSDB connection is down');
      assert.equal(report.checks['startup'], 'ok');
      assert.equal((await fetchInNode('/healthz')).status, 200, 'the process is still healthy');
      const families = await scrape();
      assert.equal(sampleValue(families, 'antrea_edge_ovsdb_connection_up'), 0);
    } finally {
      await t.node.ovs.startOvsdb();
    }
    await waitFor('readyz 200 again', async () =>
      (await fetchInNode('/readyz')).status === 200 ? true : undefined,
    );
  });
});
