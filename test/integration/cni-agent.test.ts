// CNI conformance against the real agent (not a fake handler): result format, repeated ADD, CHECK, DEL twice,
// requested addresses and error codes, through the plugin executable.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import { startTestNode, type TestNode } from '../support/sim-cluster';
import { deleteNetns } from '../../scripts/lib/dev-node';

interface PluginRun {
  code: number | null;
  stdout: string;
  json: Record<string, unknown>;
}

describe('CNI plugin against the real agent', function () {
  this.timeout(120_000);
  let t: TestNode;
  const id = crypto.randomBytes(3).toString('hex');
  const netns = `aetc-${id}`;
  const netnsPath = `/var/run/netns/${netns}`;
  const containerId = crypto.randomBytes(32).toString('hex');

  function plugin(command: string, env: Record<string, string>, stdin?: object): Promise<PluginRun> {
    const [cmd, ...args] = t.node.cniPluginCommand();
    const config = stdin ?? {
      cniVersion: '1.0.0',
      name: 'antrea',
      type: 'antrea-edge-cni',
      cniSocket: t.node.cniSocket,
    };
    return new Promise((resolve, reject) => {
      const child = spawn(cmd ?? 'node', args, {
        env: { PATH: process.env['PATH'] ?? '', CNI_COMMAND: command, CNI_PATH: '/opt/cni/bin', ...env },
      });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        let json: Record<string, unknown> = {};
        try {
          json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
        } catch {
          json = { unparsable: stdout };
        }
        resolve({ code, stdout, json });
      });
      // VERSION exits without reading stdin: a write to the closed pipe is expected, not a failure.
      child.stdin.on('error', () => undefined);
      child.stdin.end(JSON.stringify(config));
    });
  }

  const podEnv = (cid: string, name: string, extra = ''): Record<string, string> => ({
    CNI_CONTAINERID: cid,
    CNI_NETNS: netnsPath,
    CNI_IFNAME: 'eth0',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name}${extra}`,
  });

  before(async () => {
    t = await startTestNode('cni');
    deleteNetns(netns);
    execFileSync('ip', ['netns', 'add', netns]);
  });

  after(async () => {
    deleteNetns(netns);
    await t?.stop();
  });

  it('VERSION lists the supported versions', async () => {
    const r = await plugin('VERSION', {});
    assert.equal(r.code, 0);
    assert.equal(r.json['cniVersion'], '1.0.0');
    assert.ok((r.json['supportedVersions'] as string[]).includes('1.0.0'));
  });

  it('ADD honours a requested IP and returns a 1.0.0 result; a repeated ADD returns the same result', async () => {
    const r = await plugin('ADD', podEnv(containerId, 'web', ';IP=10.10.0.77'));
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.json['cniVersion'], '1.0.0');
    const interfaces = r.json['interfaces'] as { name: string; mac?: string; sandbox?: string }[];
    assert.equal(interfaces.length, 2);
    assert.match(interfaces[0]?.name ?? '', /^web-[0-9a-f]{6}$/);
    assert.equal(interfaces[1]?.name, 'eth0');
    assert.equal(interfaces[1]?.sandbox, netnsPath);
    assert.match(interfaces[1]?.mac ?? '', /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.deepEqual(r.json['ips'], [{ address: '10.10.0.77/24', gateway: '10.10.0.1', interface: 1 }]);
    assert.deepEqual(r.json['routes'], [{ dst: '0.0.0.0/0', gw: '10.10.0.1' }]);

    const again = await plugin('ADD', podEnv(containerId, 'web', ';IP=10.10.0.77'));
    assert.equal(again.code, 0, again.stdout);
    assert.deepEqual(again.json, r.json);
    const ports = await t.node.ovs.vsctl(['list-ports', 'br-int']);
    assert.equal(ports.split('\n').filter((p) => p.startsWith('web-')).length, 1, 'still one OVS port');
  });

  it('ADD of another pod asking for a taken IP fails with code 101 and leaves nothing behind', async () => {
    const other = crypto.randomBytes(32).toString('hex');
    const otherNs = `aetc2-${id}`;
    execFileSync('ip', ['netns', 'add', otherNs]);
    try {
      const r = await plugin('ADD', {
        ...podEnv(other, 'web2', ';IP=10.10.0.77'),
        CNI_NETNS: `/var/run/netns/${otherNs}`,
      });
      assert.equal(r.code, 1);
      assert.equal(r.json['code'], 101);
      assert.match(String(r.json['msg']), /already allocated/);
      const ports = await t.node.ovs.vsctl(['list-ports', 'br-int']);
      assert.ok(!ports.includes('web2-'), 'no OVS port for the failed pod');
      const links = execFileSync('ip', ['-n', otherNs, 'link', 'show'], { encoding: 'utf8' });
      assert.ok(!links.includes('eth0'), 'no eth0 left in the failed pod');
    } finally {
      deleteNetns(otherNs);
    }
  });

  it('ADD without pod identity fails with code 7', async () => {
    const r = await plugin('ADD', { ...podEnv(crypto.randomBytes(8).toString('hex'), 'x'), CNI_ARGS: '' });
    assert.equal(r.code, 1);
    assert.equal(r.json['code'], 7);
  });

  it('CHECK passes for the attached pod and fails with code 3 for an unknown container', async () => {
    const ok = await plugin('CHECK', podEnv(containerId, 'web'), {
      cniVersion: '1.0.0',
      name: 'antrea',
      type: 'antrea-edge-cni',
      cniSocket: t.node.cniSocket,
      prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.10.0.77/24' }] },
    });
    assert.equal(ok.code, 0, ok.stdout);
    const unknown = await plugin('CHECK', podEnv('f'.repeat(64), 'web'), {
      cniVersion: '1.0.0',
      name: 'antrea',
      type: 'antrea-edge-cni',
      cniSocket: t.node.cniSocket,
      prevResult: { cniVersion: '1.0.0' },
    });
    assert.equal(unknown.code, 1);
    assert.equal(unknown.json['code'], 3);
  });

  it('CHECK notices a pod whose address was removed', async () => {
    execFileSync('ip', ['-n', netns, 'addr', 'del', '10.10.0.77/24', 'dev', 'eth0']);
    try {
      const r = await plugin('CHECK', podEnv(containerId, 'web'), {
        cniVersion: '1.0.0',
        name: 'antrea',
        type: 'antrea-edge-cni',
        cniSocket: t.node.cniSocket,
        prevResult: { cniVersion: '1.0.0' },
      });
      assert.equal(r.code, 1);
      assert.match(String(r.json['msg']), /lacks 10\.10\.0\.77\/24/);
    } finally {
      execFileSync('ip', ['-n', netns, 'addr', 'add', '10.10.0.77/24', 'dev', 'eth0']);
    }
  });

  it('DEL removes port, flows and address; DEL twice (and without a netns) is fine', async () => {
    const del = await plugin('DEL', podEnv(containerId, 'web'));
    assert.equal(del.code, 0, del.stdout);
    assert.equal(del.stdout.trim(), '');
    const ports = await t.node.ovs.vsctl(['list-ports', 'br-int']);
    assert.ok(!ports.includes('web-'));
    const flows = await t.node.ovs.ofctl(['dump-flows', 'br-int']);
    assert.ok(!flows.includes('10.10.0.77'), 'no flow mentions the deleted pod');
    const again = await plugin('DEL', podEnv(containerId, 'web'));
    assert.equal(again.code, 0, again.stdout);
    const noNetns = await plugin('DEL', { ...podEnv(containerId, 'web'), CNI_NETNS: '' });
    assert.equal(noNetns.code, 0, noNetns.stdout);
    // The address is free again.
    const reuse = await plugin(
      'ADD',
      podEnv(crypto.randomBytes(32).toString('hex'), 'web3', ';IP=10.10.0.77'),
    );
    assert.equal(reuse.code, 0, reuse.stdout);
  });
});
