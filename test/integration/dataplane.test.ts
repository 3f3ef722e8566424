// The data plane end to end: a real ovs-vswitchd (userspace datapath) programmed by the firmware, pods as
// network namespaces attached through the real CNI plugin, and real ICMP/TCP/ARP packets.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { flowPackets, run, startTestNode, type TestNode } from '../support/sim-cluster';
import type { SimPod } from '../../scripts/lib/sim-pods';
import Database from 'better-sqlite3';
import { LocalApiClient } from '../../firmware/http/local-api';

describe('data plane: pods on a real OVS bridge', function () {
  this.timeout(180_000);
  let t: TestNode;
  let a: SimPod;
  let b: SimPod;

  before(async () => {
    t = await startTestNode('dp');
    a = await t.pods.add({ namespace: 'default', name: 'alpha', labels: { app: 'a' } });
    b = await t.pods.add({ namespace: 'prod', name: 'beta', labels: { app: 'b' }, httpPort: 8080 });
  });

  after(async () => {
    await t?.stop();
  });

  it('gives each pod an address in the pod subnet, MTU 1450, a default route via the gateway and tx offload off', async () => {
    assert.match(a.ip, /^10\.10\.0\.\d+$/);
    assert.notEqual(a.ip, b.ip);
    const link = await t.pods.exec('default/alpha', ['ip', '-j', 'link', 'show', 'eth0']);
    const info = JSON.parse(link.stdout) as { mtu: number; address: string }[];
    assert.equal(info[0]?.mtu, 1450);
    assert.equal(info[0]?.address, a.mac);
    const route = await t.pods.exec('default/alpha', ['ip', 'route', 'show', 'default']);
    assert.match(route.stdout, /default via 10\.10\.0\.1 dev eth0/);
    const offload = await t.pods.exec('default/alpha', ['ethtool', '-k', 'eth0']);
    assert.match(offload.stdout, /tx-checksumming: off/);
  });

  it('pings pod to pod both ways and pod to gateway', async () => {
    const ab = await t.pods.exec('default/alpha', ['ping', '-c', '3', '-i', '0.2', '-W', '2', b.ip]);
    assert.equal(ab.code, 0, ab.stdout + ab.stderr);
    assert.match(ab.stdout, / 0% packet loss/);
    const ba = await t.pods.exec('prod/beta', ['ping', '-c', '3', '-i', '0.2', '-W', '2', a.ip]);
    assert.equal(ba.code, 0, ba.stdout + ba.stderr);
    const gw = await t.pods.exec('default/alpha', ['ping', '-c', '2', '-i', '0.2', '-W', '2', '10.10.0.1']);
    assert.equal(gw.code, 0, gw.stdout + gw.stderr);
  });

  it('transfers data over TCP both ways (2 MB, checksummed)', async () => {
    const www = path.join(t.home, 'sim', 'www', 'prod_beta');
    const blob = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 7 + (i >> 10)) & 0xff;
    fs.writeFileSync(path.join(www, 'blob.bin'), blob);
    const get = await t.pods.exec('default/alpha', [
      'sh',
      '-c',
      `busybox wget -q -O - http://${b.ip}:8080/blob.bin | md5sum`,
    ]);
    assert.equal(get.code, 0, get.stderr);
    const md5 = await run('md5sum', [path.join(www, 'blob.bin')]);
    assert.equal(get.stdout.split(' ')[0], md5.stdout.split(' ')[0]);

    // The other direction: beta pulls from a server in alpha.
    const blobOut = path.join(t.home, 'sent.bin');
    const server = spawn(
      'ip',
      [
        'netns',
        'exec',
        a.netnsName,
        'sh',
        '-c',
        `head -c 2097152 /dev/urandom | tee ${blobOut} | busybox nc -l -p 9000`,
      ],
      {
        stdio: 'ignore',
      },
    );
    try {
      await new Promise((r) => setTimeout(r, 300));
      const pull = await t.pods.exec('prod/beta', ['sh', '-c', `sleep 3 | busybox nc ${a.ip} 9000 | md5sum`]);
      assert.equal(pull.code, 0, pull.stderr);
      const sent = await run('md5sum', [`${blobOut}`]);
      assert.equal(pull.stdout.split(' ')[0], sent.stdout.split(' ')[0]);
    } finally {
      server.kill();
      fs.rmSync(`${blobOut}`, { force: true });
    }
  });

  it('drops packets from a pod that changes its source IP (SpoofGuard)', async () => {
    const before = await flowPackets(t.node, 10, 'priority=0 ');
    await t.pods.exec('default/alpha', ['ip', 'addr', 'add', '10.10.0.250/32', 'dev', 'eth0']);
    try {
      const spoofed = await t.pods.exec('default/alpha', [
        'ping',
        '-c',
        '3',
        '-i',
        '0.2',
        '-W',
        '1',
        '-I',
        '10.10.0.250',
        b.ip,
      ]);
      assert.notEqual(spoofed.code, 0, 'a spoofed source must not get replies');
      assert.match(spoofed.stdout, /100% packet loss/);
    } finally {
      await t.pods.exec('default/alpha', ['ip', 'addr', 'del', '10.10.0.250/32', 'dev', 'eth0']);
    }
    const after = await flowPackets(t.node, 10, 'priority=0 ');
    assert.ok(
      after - before >= 3,
      `SpoofGuard default drop counted ${after - before} packets, expected >= 3`,
    );
    const ok = await t.pods.exec('default/alpha', ['ping', '-c', '1', '-W', '2', b.ip]);
    assert.equal(ok.code, 0, 'the genuine address still works');
  });

  it('drops ARP with a forged sender IP (SpoofGuard)', async () => {
    const forged = '10.10.0.251';
    const before = await flowPackets(t.node, 10, 'priority=0 ');
    // A raw ARP request "who-has <beta> tell 10.10.0.251" from alpha's real MAC.
    const script = `
import socket, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
mac = bytes.fromhex("${a.mac.replace(/:/g, '')}")
spa = socket.inet_aton("${forged}")
tpa = socket.inet_aton("${b.ip}")
frame = b"\\xff"*6 + mac + b"\\x08\\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + spa + b"\\x00"*6 + tpa
for _ in range(3):
    s.send(frame)
`;
    const sent = await t.pods.exec('default/alpha', ['python3', '-c', script]);
    assert.equal(sent.code, 0, sent.stderr);
    await new Promise((r) => setTimeout(r, 300));
    const after = await flowPackets(t.node, 10, 'priority=0 ');
    assert.ok(
      after - before >= 3,
      `SpoofGuard default drop counted ${after - before} forged ARPs, expected >= 3`,
    );
    const neigh = await t.pods.exec('prod/beta', ['ip', 'neigh', 'show', forged]);
    assert.equal(neigh.stdout.trim(), '', 'beta must not learn the forged address');
  });

  it('reports pods with antctl get podinterface in Antrea columns and json', async () => {
    const [cmd, ...args] = t.node.antctlCommand();
    const env = { ...process.env, ANTREA_EDGE_ANTCTL_SOCKET: t.node.antctlSocket };
    const table = await new Promise<string>((resolve, reject) => {
      const child = spawn(cmd ?? 'node', [...args, 'get', 'podinterface'], { env });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) =>
        code === 0 ? resolve(out) : reject(new Error(`antctl exit ${code}: ${out}`)),
      );
    });
    const [header, ...rows] = table.trim().split('\n');
    assert.deepEqual(header?.trim().split(/\s+/), [
      'NAMESPACE',
      'NAME',
      'INTERFACE-NAME',
      'IP',
      'MAC',
      'PORT-UUID',
      'OF-PORT',
      'CONTAINER-ID',
    ]);
    assert.equal(rows.length, 2);
    const alphaRow =
      rows
        .find((r) => r.includes('alpha'))
        ?.trim()
        .split(/\s+/) ?? [];
    assert.equal(alphaRow[0], 'default');
    assert.match(alphaRow[2] ?? '', /^alpha-[0-9a-f]{6}$/);
    assert.equal(alphaRow[3], a.ip);
    assert.equal(alphaRow[4], a.mac);
    assert.equal(alphaRow[7], a.containerId.slice(0, 12));
  });

  it('installs the seed shapes for a pod (classification, SpoofGuard, L2 forwarding)', async () => {
    const ports = await t.node.ovs.vsctl(['--format=json', '--columns=name,ofport', 'list', 'Interface']);
    const rows = (JSON.parse(ports) as { data: [string, number][] }).data;
    const hostIf = rows.find(([name]) => name.startsWith('alpha-'));
    assert.ok(hostIf, 'alpha has an OVS port');
    const ofport = hostIf[1];
    const dump = await t.node.ovs.ofctl(['--no-stats', '--no-names', 'dump-flows', 'br-int']);
    assert.ok(
      dump.includes(`priority=190,in_port=${ofport} actions=load:0x2->NXM_NX_REG0[0..15],goto_table:10`),
      dump,
    );
    assert.ok(
      dump.includes(
        `table=10, priority=200,ip,in_port=${ofport},dl_src=${a.mac},nw_src=${a.ip} actions=goto_table:30`,
      ),
      dump,
    );
    assert.ok(
      dump.includes(
        `table=10, priority=200,arp,in_port=${ofport},arp_spa=${a.ip},arp_sha=${a.mac} actions=goto_table:20`,
      ),
      dump,
    );
    assert.ok(
      dump.includes(
        `table=80, priority=200,dl_dst=${a.mac} actions=load:0x${ofport.toString(16)}->NXM_NX_REG1[],load:0x1->NXM_NX_REG0[16],goto_table:85`,
      ),
      dump,
    );
  });

  it('keeps pod labels in the store: from CNI ADD, then changed through the local API', async () => {
    const labelsOf = (name: string): unknown => {
      const db = new Database(path.join(t.node.dataDir, 'antrea-edge.db'), { readonly: true });
      try {
        const row = db.prepare('SELECT labels FROM pods WHERE name = ?').get(name) as { labels: string };
        return JSON.parse(row.labels);
      } finally {
        db.close();
      }
    };
    assert.deepEqual(labelsOf('alpha'), { app: 'a' });
    const client = new LocalApiClient({ socketPath: t.node.antctlSocket });
    await client.setPodLabels('default', 'alpha', { app: 'a', tier: 'gold' });
    assert.deepEqual(labelsOf('alpha'), { app: 'a', tier: 'gold' });
    await assert.rejects(client.setPodLabels('default', 'nobody', {}), /not found/);
  });
});
