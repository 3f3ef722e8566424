// Restart safety: the firmware killed with SIGKILL and started again loses no pod traffic (it rebuilds its
// state from OVSDB + SQLite and touches no flow), and an ovs-vswitchd restart gets every flow back.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startTestNode, type TestNode } from '../support/sim-cluster';
import type { SimPod } from '../../scripts/lib/sim-pods';

async function dumpFlows(t: TestNode): Promise<string[]> {
  const text = await t.node.ovs.ofctl(['--no-stats', '--no-names', 'dump-flows', 'br-int']);
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('cookie='))
    .sort();
}

/** Pings at 10 Hz from a pod for `count` packets; resolves with ping's summary. */
function pingInBackground(
  netns: string,
  ip: string,
  count: number,
): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', [
      'netns',
      'exec',
      netns,
      'ping',
      '-i',
      '0.1',
      '-c',
      String(count),
      '-W',
      '1',
      ip,
    ]);
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
}

function transmittedReceived(stdout: string): [number, number] {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(stdout);
  return [Number(m?.[1] ?? -1), Number(m?.[2] ?? -2)];
}

describe('restart safety', function () {
  this.timeout(180_000);
  let t: TestNode;
  let a: SimPod;
  let b: SimPod;

  before(async () => {
    t = await startTestNode('rs');
    a = await t.pods.add({ namespace: 'default', name: 'pinger' });
    b = await t.pods.add({ namespace: 'default', name: 'target' });
    const warm = await t.pods.exec('default/pinger', ['ping', '-c', '1', '-W', '2', b.ip]);
    assert.equal(warm.code, 0, warm.stdout);
  });

  after(async () => {
    await t?.stop();
  });

  it('SIGKILL + restart of the firmware while a pod pings another at 10 Hz: zero lost replies, no flow touched', async () => {
    const flowsBefore = await dumpFlows(t);
    const ping = pingInBackground(a.netnsName, b.ip, 60);
    await new Promise((r) => setTimeout(r, 1500));
    await t.node.killFirmware('SIGKILL');
    await t.node.startFirmware();
    const result = await ping;
    const [sent, received] = transmittedReceived(result.stdout);
    assert.equal(sent, 60, result.stdout);
    assert.equal(received, 60, `lost replies across the restart:\n${result.stdout}`);
    assert.deepEqual(await dumpFlows(t), flowsBefore, 'the restarted firmware must not change any flow');
    // The restarted agent still knows the pods (state rebuilt from SQLite + OVSDB).
    const c = await t.pods.add({ namespace: 'default', name: 'after-restart' });
    assert.notEqual(c.ip, a.ip);
    assert.notEqual(c.ip, b.ip);
    const ping2 = await t.pods.exec('default/after-restart', [
      'ping',
      '-c',
      '2',
      '-i',
      '0.2',
      '-W',
      '2',
      a.ip,
    ]);
    assert.equal(ping2.code, 0, ping2.stdout);
    await t.pods.del('default/after-restart');
  });

  it('ovs-vswitchd restart: flows replayed without duplicates and traffic recovers', async () => {
    const flowsBefore = await dumpFlows(t);
    assert.ok(flowsBefore.length > 20, `expected the pipeline installed, got ${flowsBefore.length} flows`);
    await t.node.ovs.restartVswitchd();
    // The agent notices through OVSDB and replays; wait for the flows to be back.
    const deadline = Date.now() + 30_000;
    let flowsAfter = await dumpFlows(t);
    while (flowsAfter.length < flowsBefore.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      flowsAfter = await dumpFlows(t);
    }
    await new Promise((r) => setTimeout(r, 500));
    flowsAfter = await dumpFlows(t);
    assert.deepEqual(flowsAfter, flowsBefore, 'the same flows, once each');
    let ok = false;
    for (let i = 0; i < 20 && !ok; i++) {
      const ping = await t.pods.exec('default/pinger', ['ping', '-c', '1', '-W', '1', b.ip]);
      ok = ping.code === 0;
    }
    assert.ok(ok, 'traffic recovers after ovs-vswitchd restarts');
    const gw = await t.pods.exec('default/pinger', ['ping', '-c', '1', '-W', '2', '10.10.0.1']);
    assert.equal(gw.code, 0, 'the gateway address is configured again on the recreated tap');
  });
});
