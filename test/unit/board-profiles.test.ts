import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, validateBoardProfile } from '../../firmware/core/config';
import {
  expandHostnamePattern,
  fstab,
  hostnamePatternErrors,
  placePartitions,
  sfdiskScript,
} from '../../firmware/core/board-image';
import {
  boardEnv,
  imageBoardNames,
  kernelCmdline,
  loadImageBoard,
  networkdFiles,
  renderedRootFiles,
} from '../../scripts/lib/image/board-files';

const BOARD_DIR = path.resolve(__dirname, '../../board');
const profile = (name: string): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(BOARD_DIR, name, 'profile.json'), 'utf8')) as Record<string, unknown>;

describe('board profiles: image sections', () => {
  it('the three hardware boards build images; sim does not', () => {
    assert.deepEqual(imageBoardNames(), ['generic-arm64', 'qemu-x86_64', 'rpi4-dual-nic']);
    assert.throws(() => loadImageBoard('sim'), /has no image/);
    assert.throws(() => loadImageBoard('nope'), /unknown board "nope" \(boards with an image: generic-arm64/);
  });

  for (const name of ['generic-arm64', 'qemu-x86_64', 'rpi4-dual-nic']) {
    it(`${name}: boot, read-only root and a growing data partition, by label; datapath and consoles`, () => {
      const board = loadImageBoard(name);
      assert.deepEqual(
        board.layout.partitions.map((p) => p.name),
        ['boot', 'root', 'data'],
      );
      const root = board.layout.partitions[1];
      assert.equal(root?.readOnly, true);
      assert.equal(board.layout.partitions[2]?.grow, true);
      assert.match(kernelCmdline(board), new RegExp(`^root=LABEL=${root?.label ?? ''} ro rootwait `));
      assert.equal(board.datapathType, 'system', 'these kernels have the openvswitch module');
      assert.equal(board.image.debianArch, board.arch === 'x86_64' ? 'amd64' : 'arm64');
      assert.deepEqual(hostnamePatternErrors(board.defaults.hostnamePattern), []);
      assert.ok(
        board.nics.some((n) => n.role === 'cluster') && board.nics.some((n) => n.role === 'management'),
      );
    });
  }

  it('rpi4-dual-nic: onboard eth0 for the cluster, USB eth1 for management, a DOS table and ttyGS0', () => {
    const board = loadImageBoard('rpi4-dual-nic');
    assert.deepEqual(
      board.nics.map((n) => [n.name, n.role]),
      [
        ['eth0', 'cluster'],
        ['eth1', 'management'],
      ],
    );
    assert.equal(board.layout.table, 'dos', 'the Pi boot ROM reads a DOS table');
    assert.equal(board.image.bootloader, 'raspi-firmware');
    assert.ok(board.console.extra?.includes('/dev/ttyGS0'));
    assert.match(sfdiskScript(board.layout, 'arm64'), /type=c, bootable/);
  });

  it('lists every problem of a bad layout and image', () => {
    const bad = {
      ...profile('qemu-x86_64'),
      defaults: { podCidr: '10.10.0.0/24', mtu: 1450, hostnamePattern: 'Edge_{uuid}' },
      layout: {
        table: 'mbr',
        partitions: [
          {
            name: 'root',
            label: 'way-too-long-label',
            filesystem: 'btrfs',
            sizeMiB: 8,
            mountPoint: '/',
            grow: true,
          },
          { name: 'boot', label: 'B', filesystem: 'vfat', sizeMiB: 64, mountPoint: 'boot' },
        ],
      },
      image: {
        debianArch: 'arm64',
        kernelPackage: 'linux-image-amd64',
        bootloader: 'lilo',
        kernelCmdline: 'a\nb',
        initramfsModules: 'virtio',
        packages: [],
      },
    };
    assert.throws(
      () => validateBoardProfile(bad, 'bad'),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        for (const expected of [
          /unknown token \{uuid\}/,
          /hostnamePattern: must give a lower-case hostname/,
          /layout.table: must be gpt or dos/,
          /partitions\[0\].label/,
          /partitions\[0\].filesystem/,
          /partitions\[0\].sizeMiB/,
          /partitions\[1\].mountPoint/,
          /a data partition is required/,
          /the root partition must be readOnly/,
          /the growing partition must be the last one/,
          /image.debianArch: arm64 does not match arch x86_64/,
          /image.bootloader/,
          /image.kernelCmdline/,
          /image.initramfsModules/,
        ]) {
          assert.match(e.message, expected);
        }
        return true;
      },
    );
    const { layout: _layout, ...withoutLayout } = profile('qemu-x86_64');
    assert.throws(() => validateBoardProfile(withoutLayout, 'half'), /needs both/);
  });

  it('expands hostname patterns with the last four hex digits of each fact', () => {
    assert.equal(
      expandHostnamePattern('antrea-edge-{mac4}', { mac4: '52:54:00:12:AB:CD' }),
      'antrea-edge-abcd',
    );
    assert.equal(
      expandHostnamePattern('edge-{serial4}-{machine4}', { serial4: '10000000a3f2c1d9', machine4: '7' }),
      'edge-c1d9-0007',
    );
  });

  it('places partitions from 1 MiB, back to back, and writes the sfdisk script', () => {
    const board = loadImageBoard('qemu-x86_64');
    const plan = placePartitions(board.layout);
    assert.deepEqual(
      plan.partitions.map((p) => [p.number, p.offsetMiB, p.sizeMiB]),
      [
        [1, 1, 64],
        [2, 65, 1536],
        [3, 1601, 256],
      ],
    );
    assert.equal(plan.imageSizeMiB, 1858);
    const script = sfdiskScript(board.layout, 'amd64');
    assert.match(script, /^label: gpt$/m);
    assert.match(script, /start=2048, size=131072, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="boot"/);
    assert.match(
      script,
      /start=3278848, size=524288, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="data"/,
    );
  });

  it('renders fstab (root read-only, data writable, volatile state on tmpfs), networkd and board.env', () => {
    const board = loadImageBoard('qemu-x86_64');
    const table = fstab(board.layout);
    assert.match(table, /^LABEL=ae-root \/ ext4 ro,noatime 0 1$/m);
    assert.match(table, /^LABEL=ae-data \/data ext4 rw,noatime,nofail/m);
    assert.doesNotMatch(table, /AE-EFI/, 'the boot partition is not mounted');
    assert.match(table, /^tmpfs \/var\/log tmpfs/m);
    const network = networkdFiles(board);
    assert.deepEqual([...network.keys()], ['10-antrea-edge-ens3.network', '11-antrea-edge-ens4.network']);
    assert.match(network.get('11-antrea-edge-ens4.network') ?? '', /UseRoutes=no/);
    const env = boardEnv(board);
    assert.match(env, /^ANTREA_EDGE_BOARD="qemu-x86_64"$/m);
    assert.match(env, /^ANTREA_EDGE_HOSTNAME_PATTERN="antrea-edge-qemu-\{mac4\}"$/m);
    assert.match(env, /^ANTREA_EDGE_CLUSTER_NIC="ens3"$/m);
    const files = renderedRootFiles(board);
    assert.match(files.get('etc/initramfs-tools/modules') ?? '', /^virtio_blk$/m);
    assert.equal(files.get('etc/initramfs-tools/conf.d/antrea-edge'), 'MODULES=list\nCOMPRESS=gzip\n');
  });
});
