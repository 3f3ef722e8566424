// `scripts/bench enforcement` in a small configuration on real OVS, real pods and real traffic: the report has
// every measurement with finite numbers, a goal, `ok` and a method, the raw baseline re-installed exactly the
// firmware's flows, and rapid updates that keep the probed verdicts produced no wrong verdict. Timings are not
// asserted (the machine is shared); the full-size numbers come from running the script.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  MEASUREMENTS,
  parseEnforcementArgs,
  runEnforcementBench,
  Teardown,
  type Distribution,
  type EnforcementReport,
} from '../../scripts/lib/bench-enforcement';

const isFiniteNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

function assertDistribution(d: Distribution, what: string): void {
  for (const key of ['n', 'p50', 'p99', 'mean', 'min', 'max'] as const) {
    assert.ok(isFiniteNumber(d[key]), `${what}.${key} is finite: ${String(d[key])}`);
  }
  assert.ok(d.min <= d.p50 && d.p50 <= d.p99 && d.p99 <= d.max, `${what} is ordered`);
}

function assertGoal(m: { goal: unknown; ok: unknown; method: unknown }, what: string): void {
  assert.equal(typeof m.goal, 'string', `${what}.goal`);
  assert.equal(typeof m.ok, 'boolean', `${what}.ok`);
  assert.ok(typeof m.method === 'string' && m.method.length > 20, `${what}.method says how`);
}

describe('scripts/bench enforcement (small configuration)', function () {
  this.timeout(600_000);
  const teardown = new Teardown();
  let report: EnforcementReport;
  const netnsBefore = new Set(fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns') : []);

  before(async () => {
    const options = parseEnforcementArgs(['--pods', '6', '--rules', '200', '--updates', '5']);
    report = await runEnforcementBench({
      ...options,
      backgroundPolicies: 20,
      iperfSeconds: 2,
      teardown,
      progress: (message) => process.stderr.write(`      ${message}\n`),
    });
  });

  after(async () => {
    await teardown.run();
  });

  it('parses the CLI flags and rejects bad ones', () => {
    assert.deepEqual(parseEnforcementArgs([]), { pods: 100, rules: 10_000, updates: 100 });
    assert.deepEqual(parseEnforcementArgs(['--only', 'bulk', '--rules', '50']), {
      pods: 100,
      rules: 50,
      updates: 100,
      only: 'bulk',
    });
    assert.throws(() => parseEnforcementArgs(['--only', 'nope']), { code: 'BAD_ARGS' });
    assert.throws(() => parseEnforcementArgs(['--pods', '3']), { code: 'BAD_ARGS' });
    assert.throws(() => parseEnforcementArgs(['--rules', 'x']), { code: 'BAD_ARGS' });
  });

  it('reports all four measurements and its configuration', () => {
    assert.equal(report.benchmark, 'enforcement');
    assert.deepEqual(report.config, {
      pods: 6,
      rules: 200,
      updates: 5,
      backgroundPolicies: 20,
      iperfSeconds: 2,
      probeIntervalMs: 2.5,
    });
    for (const name of MEASUREMENTS) assert.ok(report[name], `${name} measured`);
    // The whole report is plain JSON.
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  });

  it('bulk: the firmware realized every rule and raw add-flows of its dump took finite time', () => {
    const bulk = report.bulk;
    assert.ok(bulk);
    assertGoal(bulk, 'bulk');
    assert.equal(bulk.rules, 200);
    assert.equal(bulk.policies, 100 + 10, '100 K8s policies, 10 ACNPs of 10 rules');
    // 4 flows per rule (action, peer, applied-to, port) with applied-to flows of the same pod shared by the
    // K8s rules, plus one isolation flow per pod: at least 3 per rule.
    assert.ok(bulk.flows >= 3 * 200, `flows: ${bulk.flows}`);
    assert.ok(isFiniteNumber(bulk.oursMs) && bulk.oursMs > 0);
    const b = bulk.oursBreakdown;
    assert.ok(b.apiAnsweredMs <= b.realizedReportedMs && b.realizedReportedMs <= b.dumpShowsAllMs);
    assert.equal(b.dumpShowsAllMs, bulk.oursMs);
    assert.equal(bulk.rawMs.length, 3);
    assert.ok(bulk.rawMs.every(isFiniteNumber));
    assert.equal(bulk.rawBestMs, Math.min(...bulk.rawMs));
    assert.ok(isFiniteNumber(bulk.ratio) && bulk.ratio > 0);
    assert.ok(isFiniteNumber(bulk.agentRatio) && bulk.agentRatio > 0);
    assert.ok(bulk.agentRealizationMs > 0 && bulk.agentRealizationMs <= bulk.oursMs);
    assert.equal(bulk.ok, bulk.agentRatio >= 0.5);
    assert.equal(bulk.endToEndOk, bulk.ratio >= 0.5);
    assert.ok(bulk.firmwareRealizations.some((r) => r.added > 0 && r.flows === bulk.flows));
  });

  it('latency: every update flipped the probed verdict; the numbers are finite', () => {
    const latency = report.latency;
    assert.ok(latency);
    assertGoal(latency, 'latency');
    assert.equal(latency.n, 5);
    assertDistribution(latency, 'latency');
    assertDistribution(latency.lowerBound, 'latency.lowerBound');
    assertDistribution(latency.apiAnsweredMs, 'latency.apiAnsweredMs');
    assert.ok(latency.lowerBound.p50 <= latency.p50, 'the last old verdict precedes the first new one');
    assert.ok(latency.min > 0);
    assert.equal(latency.ok, latency.p99 < 100);
    assert.match(latency.clock, /CLOCK_MONOTONIC/);
    assertDistribution(latency.firmwareReconcileMs, 'latency.firmwareReconcileMs');
    assert.equal(latency.byDirection.toReject.n + latency.byDirection.toAllow.n, 5);
    assert.ok(latency.ovsOfctlMs);
    assertDistribution(latency.ovsOfctlMs.noopWriteMs, 'latency.ovsOfctlMs.noopWriteMs');
    assertDistribution(latency.ovsOfctlMs.readMs, 'latency.ovsOfctlMs.readMs');
    assert.ok(latency.withoutBackgroundPolicies);
    assertDistribution(latency.withoutBackgroundPolicies, 'latency.withoutBackgroundPolicies');
    assert.ok(
      latency.policyFlows > latency.withoutBackgroundPolicies.policyFlows,
      'background policies add flows',
    );
  });

  it('violations: rapid updates that keep the verdicts produced no wrong verdict', () => {
    const violations = report.violations;
    assert.ok(violations);
    assertGoal(violations, 'violations');
    assert.equal(violations.updates, 5);
    assert.equal(violations.pairs.length, 4);
    assert.deepEqual(
      violations.pairs.map((p) => p.expect),
      ['Reject', 'Allow', 'Allow', 'Drop'],
    );
    for (const pair of violations.pairs) assert.ok(pair.probes > 0, `${pair.pair} was probed`);
    assert.equal(
      violations.probes,
      violations.pairs.reduce((s, p) => s + p.probes, 0),
    );
    assert.ok(violations.probesDuringUpdates > 0, 'probes ran while the updates were applied');
    assert.ok(
      violations.firmwareReconciles > 0 && violations.flowModsApplied > 0,
      'the updates changed flows',
    );
    assert.deepEqual(
      violations.pairs.filter((p) => p.wrong !== 0),
      [],
      'no pair saw a wrong verdict',
    );
    assert.equal(violations.wrong, 0);
    assert.equal(violations.ok, true);
  });

  it('throughput: both paths carried traffic', () => {
    const throughput = report.throughput;
    assert.ok(throughput);
    assertGoal(throughput, 'throughput');
    assert.equal(throughput.oursGbps.length, 3);
    assert.equal(throughput.normalGbps.length, 3);
    for (const gbps of [...throughput.oursGbps, ...throughput.normalGbps, ...throughput.noPoliciesGbps]) {
      assert.ok(isFiniteNumber(gbps) && gbps > 0, `throughput ${gbps}`);
    }
    assert.ok(isFiniteNumber(throughput.ratio) && throughput.ratio > 0);
    assert.equal(throughput.ok, throughput.ratio >= 0.9);
  });

  it('cleans up: no network namespace of the run is left', async () => {
    await teardown.run();
    const left = (fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns') : []).filter(
      (name) => name.startsWith('aebe') && !netnsBefore.has(name),
    );
    assert.deepEqual(left, []);
  });
});
