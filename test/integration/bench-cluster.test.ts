// `scripts/bench cluster` in a small configuration (3 nodes, 6 pods, 5 policies, 3 updates) on real OVS, real
// pods and real traffic across Geneve: the report has finite latency numbers for both kinds of API change, an RSS
// figure per node with Node-RED on, goals with `ok` and methods, and nothing of the run is left behind. Timings
// are not asserted (the machine is shared); the full-size numbers come from running the script.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  parseClusterBenchArgs,
  runClusterBench,
  type ClusterBenchReport,
  type FlipLatency,
} from '../../scripts/lib/bench-cluster';
import { Teardown } from '../../scripts/lib/bench-enforcement';

const isFiniteNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

function assertFlips(latency: FlipLatency, updates: number, what: string): void {
  for (const d of [latency, latency.lowerBound]) {
    for (const key of ['n', 'p50', 'p99', 'mean', 'min', 'max'] as const) {
      assert.ok(isFiniteNumber(d[key]), `${what}.${key} is finite: ${String(d[key])}`);
    }
    assert.equal(d.n, updates, `${what}: one sample per update`);
    assert.ok(d.min <= d.p50 && d.p50 <= d.p99 && d.p99 <= d.max, `${what} is ordered`);
  }
  assert.ok(latency.lowerBound.p50 <= latency.p50, `${what}: the lower bound is below the sample`);
  assert.ok(latency.method.length > 50, `${what}.method says how`);
}

const aeccNetns = (): string[] =>
  (fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns') : []).filter((n) =>
    n.startsWith('aeccbc'),
  );

describe('scripts/bench cluster (small configuration)', function () {
  this.timeout(600_000);
  const teardown = new Teardown();
  let report: ClusterBenchReport;
  const before_ = new Set(aeccNetns());

  before(async () => {
    report = await runClusterBench({
      ...parseClusterBenchArgs(['--nodes', '3', '--pods', '6', '--policies', '5', '--updates', '3']),
      teardown,
      progress: (message) => process.stderr.write(`      ${message}\n`),
    });
    await teardown.run();
  });

  after(async () => {
    await teardown.run();
  });

  it('parses the CLI flags and rejects bad ones', () => {
    assert.deepEqual(parseClusterBenchArgs([]), { nodes: 3, pods: 100, policies: 100, updates: 50 });
    assert.throws(() => parseClusterBenchArgs(['--nodes', '1']), /--nodes must be 2 to 9/);
    assert.throws(() => parseClusterBenchArgs(['--pods', 'x']), /--pods needs a count/);
    assert.throws(() => parseClusterBenchArgs(['--rules', '3']), /unknown argument --rules/);
  });

  it('measures API change → enforcement on the remote node for a policy create and a pod label change', () => {
    assert.deepEqual(report.config, {
      nodes: 3,
      pods: 6,
      policies: 5,
      updates: 3,
      compiled: false,
      nodeRed: true,
    });
    assert.notEqual(report.placement.enforcingNode, report.placement.probingNode);
    assertFlips(report.latency.policyCreate, 3, 'policyCreate');
    assertFlips(report.latency.podLabelChange, 3, 'podLabelChange');
  });

  it('reports the firmware RSS of every node with Node-RED on, against the goal', () => {
    assert.equal(report.rss.perNode.length, 3);
    for (const node of report.rss.perNode) {
      assert.ok(isFiniteNumber(node.vmRssMb) && node.vmRssMb > 10, `${node.node}: ${node.vmRssMb} MB`);
      assert.ok(node.vmHwmMb >= node.vmRssMb, `${node.node}: peak at least current`);
      assert.equal(node.ok, node.vmRssMb < 150);
      assert.equal(node.pods, 2, `${node.node} has two of the six pods`);
    }
    assert.equal(
      report.rss.ok,
      report.rss.perNode.every((node) => node.ok),
    );
    assert.match(report.rss.goal, /150 MB/);
    assert.equal(report.machine.loadAverage1m.length, 2);
    assert.ok(report.machine.loadAverage1m.every(isFiniteNumber));
  });

  it('leaves no namespace behind', () => {
    assert.deepEqual(
      aeccNetns().filter((name) => !before_.has(name)),
      [],
    );
  });
});
