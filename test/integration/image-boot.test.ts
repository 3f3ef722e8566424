// The appliance image end to end: scripts/build-image for the qemu-x86_64 board, then scripts/boot-test boots it
// under QEMU (software emulation), sets the first-boot password on the serial console, logs in and checks that
// the agent is healthy and br-int exists. Measured here: ~6 min cold (debootstrap, kernel, npm), ~1 min with
// the cache in /var/tmp/antrea-edge-image/cache, and ~2 min for the boot test.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { manifestErrors, type ImageManifest } from '../../scripts/lib/image/manifest';

const REPO = path.resolve(__dirname, '../..');

describe('appliance image (qemu-x86_64): build, boot, console login, healthy agent', function () {
  this.timeout(45 * 60 * 1000);
  let out: string;

  before(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'image-boot-'));
  });
  after(() => fs.rmSync(out, { recursive: true, force: true }));

  it('builds the image with its checksum and manifest, then boots it to a healthy agent and br-int', async () => {
    const build = spawnSync(
      path.join(REPO, 'scripts/build-image'),
      ['--board', 'qemu-x86_64', '--out', out],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    assert.equal(build.status, 0, 'scripts/build-image failed');
    const image = path.join(out, 'antrea-edge-qemu-x86_64.img');
    const manifest = JSON.parse(
      fs.readFileSync(path.join(out, 'antrea-edge-qemu-x86_64.manifest.json'), 'utf8'),
    ) as ImageManifest;
    assert.deepEqual(manifestErrors(manifest), []);
    const hash = createHash('sha256');
    for await (const chunk of fs.createReadStream(image)) hash.update(chunk as Buffer);
    const sha256 = hash.digest('hex');
    assert.equal(manifest.image.sha256, sha256);
    assert.equal(fs.readFileSync(`${image}.sha256`, 'utf8'), `${sha256}  antrea-edge-qemu-x86_64.img\n`);
    assert.ok(manifest.packages.some((p) => p.name === 'openvswitch-switch'));

    const boot = spawnSync(
      path.join(REPO, 'scripts/boot-test'),
      ['--board', 'qemu-x86_64', '--image', image, '--timeout', '900'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    assert.equal(
      boot.status,
      0,
      `scripts/boot-test failed (console transcript: ${path.join(out, 'boot-test.log')})`,
    );
    const result = JSON.parse(boot.stdout) as { stages: { name: string; seconds: number }[] };
    assert.deepEqual(
      result.stages.map((s) => s.name).filter((n) => /login prompt|AgentHealthy|br-int/.test(n)),
      ['login prompt', 'get agentinfo: AgentHealthy True', 'OVS bridge br-int exists with its flows'],
    );
  });
});
