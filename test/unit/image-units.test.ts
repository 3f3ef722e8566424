import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOTFS = path.resolve(__dirname, '../../scripts/lib/image/rootfs');
const UNIT_DIR = path.join(ROOTFS, 'etc/systemd/system');
const UNITS = ['antrea-edge.service', 'antrea-edge-firstboot.service', 'antrea-edge-k3s-cni.service'];

/** `Key=value` lines of a unit, by section (repeated keys keep every value). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section?.[1] !== undefined) {
      current = new Map();
      sections.set(section[1], current);
      continue;
    }
    const pair = /^(\w+)=(.*)$/.exec(line);
    assert.ok(pair?.[1] !== undefined && current !== undefined, `not a unit line: ${line}`);
    current.set(pair[1], [...(current.get(pair[1]) ?? []), pair[2] ?? '']);
  }
  return sections;
}

const unit = (name: string) => parseUnit(fs.readFileSync(path.join(UNIT_DIR, name), 'utf8'));
const value = (u: Map<string, Map<string, string[]>>, section: string, key: string): string[] =>
  u.get(section)?.get(key) ?? [];

describe('image: systemd units', () => {
  it('systemd-analyze verify accepts every unit in a root with what they reference', function () {
    this.timeout(30000);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'image-units-'));
    try {
      const systemDir = path.join(root, 'etc/systemd/system');
      fs.mkdirSync(systemDir, { recursive: true });
      // systemd's own units (targets), as the image has them from Debian's systemd package.
      fs.cpSync('/lib/systemd/system', path.join(root, 'lib/systemd/system'), {
        recursive: true,
        verbatimSymlinks: true,
      });
      for (const name of UNITS) fs.copyFileSync(path.join(UNIT_DIR, name), path.join(systemDir, name));
      // What Debian's openvswitch-switch package and fstab (data.mount) provide in the image.
      fs.writeFileSync(path.join(systemDir, 'ovsdb-server.service'), '[Service]\nExecStart=/bin/true\n');
      fs.writeFileSync(path.join(systemDir, 'ovs-vswitchd.service'), '[Service]\nExecStart=/bin/true\n');
      fs.writeFileSync(
        path.join(systemDir, 'data.mount'),
        '[Mount]\nWhat=/dev/disk/by-label/ae-data\nWhere=/data\n',
      );
      for (const exe of ['usr/bin/node', 'usr/lib/antrea-edge/libexec/first-boot', 'bin/true']) {
        fs.mkdirSync(path.dirname(path.join(root, exe)), { recursive: true });
        fs.writeFileSync(path.join(root, exe), '#!/bin/sh\n', { mode: 0o755 });
      }
      const verify = spawnSync(
        'systemd-analyze',
        ['verify', '--man=no', `--root=${root}`, ...UNITS.map((name) => `/etc/systemd/system/${name}`)],
        { encoding: 'utf8' },
      );
      assert.equal(verify.error, undefined, 'systemd-analyze (Debian package systemd) must be installed');
      assert.equal(`${verify.stdout}${verify.stderr}`.trim(), '');
      assert.equal(verify.status, 0);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('the firmware is Type=notify with a watchdog, after OVS and first boot, restarted when it stops', () => {
    const firmware = unit('antrea-edge.service');
    assert.deepEqual(value(firmware, 'Service', 'Type'), ['notify']);
    assert.deepEqual(value(firmware, 'Service', 'WatchdogSec'), ['30s']);
    assert.deepEqual(value(firmware, 'Service', 'Restart'), ['always']);
    // systemd-notify sends for us (Node.js has no unix datagram sockets): the helper's messages must count.
    assert.deepEqual(value(firmware, 'Service', 'NotifyAccess'), ['all']);
    assert.match(
      value(firmware, 'Service', 'ExecStart')[0] ?? '',
      /^\/usr\/bin\/node \/usr\/lib\/antrea-edge\/dist\/firmware\/main\.js --board \$\{ANTREA_EDGE_BOARD\}/,
    );
    for (const dependency of [
      'antrea-edge-firstboot.service',
      'ovsdb-server.service',
      'ovs-vswitchd.service',
    ]) {
      assert.match(value(firmware, 'Unit', 'After')[0] ?? '', new RegExp(dependency.replace('.', '\\.')));
      assert.match(value(firmware, 'Unit', 'Requires')[0] ?? '', new RegExp(dependency.replace('.', '\\.')));
    }
    assert.ok(fs.existsSync(path.resolve(__dirname, '../../firmware/main.ts')));
  });

  it('first boot runs before OVS, the network and the firmware, once the data partition is mounted', () => {
    const firstBoot = unit('antrea-edge-firstboot.service');
    assert.deepEqual(value(firstBoot, 'Unit', 'DefaultDependencies'), ['no']);
    assert.match(value(firstBoot, 'Unit', 'After')[0] ?? '', /data\.mount/);
    for (const later of ['ovsdb-server.service', 'systemd-networkd.service', 'antrea-edge.service']) {
      assert.ok((value(firstBoot, 'Unit', 'Before')[0] ?? '').split(' ').includes(later), later);
    }
    assert.deepEqual(value(firstBoot, 'Service', 'Type'), ['oneshot']);
    const script = path.join(ROOTFS, 'usr/lib/antrea-edge/libexec/first-boot');
    assert.ok((fs.statSync(script).mode & 0o111) !== 0, 'first-boot is executable');
    const syntax = spawnSync('sh', ['-n', script], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
  });

  it('the k3s hook installs the CNI plugin before k3s, only where k3s is installed', () => {
    const hook = unit('antrea-edge-k3s-cni.service');
    assert.match(value(hook, 'Unit', 'Before')[0] ?? '', /k3s\.service/);
    assert.ok(value(hook, 'Unit', 'ConditionPathExists').every((c) => c.startsWith('|')));
    assert.match(value(hook, 'Service', 'ExecStart')[0] ?? '', /dist\/firmware\/cni\/k3s-install\.js$/);
    assert.ok(fs.existsSync(path.resolve(__dirname, '../../firmware/cni/k3s-install.ts')));
  });
});
