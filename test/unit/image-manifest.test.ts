import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  manifestErrors,
  MANIFEST_FORMAT,
  parseDpkgList,
  type ImageManifest,
} from '../../scripts/lib/image/manifest';
import { checkElfArch } from '../../scripts/lib/image/elf-arch';
import { debianMirrors, parseAptSources } from '../../scripts/lib/image/apt-sources';

function validManifest(): ImageManifest {
  return {
    format: MANIFEST_FORMAT,
    board: 'qemu-x86_64',
    model: 'QEMU x86_64 virtual machine (boot tests)',
    arch: 'x86_64',
    createdAt: '2026-11-26T17:40:00.000Z',
    image: {
      file: 'antrea-edge-qemu-x86_64.img',
      sizeBytes: 1858 * 1024 * 1024,
      sha256: 'a'.repeat(64),
      partitionTable: 'gpt',
    },
    partitions: [
      {
        number: 1,
        name: 'boot',
        label: 'AE-EFI',
        filesystem: 'vfat',
        offsetMiB: 1,
        sizeMiB: 64,
        mountPoint: '/boot/efi',
      },
      {
        number: 2,
        name: 'root',
        label: 'ae-root',
        filesystem: 'ext4',
        offsetMiB: 65,
        sizeMiB: 1536,
        mountPoint: '/',
      },
      {
        number: 3,
        name: 'data',
        label: 'ae-data',
        filesystem: 'ext4',
        offsetMiB: 1601,
        sizeMiB: 256,
        mountPoint: '/data',
      },
    ],
    versions: {
      firmware: '0.1.0',
      node: '20.19.6',
      debian: '12.12',
      kernel: 'linux-image-6.1.0-56-amd64 6.1.192-2',
      openvswitch: '3.1.0-2+deb12u1',
    },
    packages: parseDpkgList('openvswitch-switch\t3.1.0-2+deb12u1\tamd64\nbusybox\t1:1.35.0-4+b3\tamd64\n'),
    npmDependencies: { 'better-sqlite3': '12.6.2' },
    buildSeconds: { base: 10, total: 98 },
  };
}

describe('image manifest', () => {
  it('accepts a complete manifest; packages are sorted by name', () => {
    const manifest = validManifest();
    assert.deepEqual(manifestErrors(manifest), []);
    assert.deepEqual(
      manifest.packages.map((p) => p.name),
      ['busybox', 'openvswitch-switch'],
    );
    assert.deepEqual(manifestErrors(JSON.parse(JSON.stringify(manifest))), [], 'survives JSON');
  });

  it('lists what is wrong: format, checksum, overlapping or missing partitions, versions', () => {
    const manifest = validManifest() as unknown as Record<string, unknown> & ImageManifest;
    manifest.format = 'v0' as typeof MANIFEST_FORMAT;
    manifest.image.sha256 = 'xyz';
    manifest.image.file = '/abs/path.img';
    manifest.partitions = [manifest.partitions[0]!, { ...manifest.partitions[1]!, offsetMiB: 30 }];
    manifest.versions.kernel = 'absent';
    manifest.packages = [];
    const errors = manifestErrors(manifest).join('\n');
    for (const expected of [
      /^format: must be antrea-edge-image\/v1$/m,
      /^image.sha256/m,
      /^image.file/m,
      /partitions\[1\]: overlaps/,
      /no data partition/,
      /versions.kernel: required/,
      /^packages: required list$/m,
    ]) {
      assert.match(errors, expected);
    }
    const tooSmall = validManifest();
    tooSmall.image.sizeBytes = 1024 * 1024 * 1024;
    assert.match(manifestErrors(tooSmall).join('\n'), /ends after the image/);
  });
});

describe('image: architecture check of every ELF file', () => {
  const elf = (machine: number): Buffer => {
    const header = Buffer.alloc(64);
    header.writeUInt32BE(0x7f454c46, 0);
    header[4] = 2; // 64-bit
    header[5] = 1; // little endian
    header.writeUInt16LE(3, 16); // ET_DYN
    header.writeUInt16LE(machine, 18);
    return header;
  };
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'image-elf-'));
    const put = (rel: string, content: Buffer | string): void => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), content);
    };
    put('usr/bin/node', elf(183));
    put('usr/lib/antrea-edge/node_modules/better-sqlite3/build/Release/better_sqlite3.node', elf(183));
    put('usr/lib/antrea-edge/node_modules/x/prebuilds/linux-x64/x.node', elf(62));
    put('boot/firmware/start4.elf', elf(137));
    put('usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o', elf(247));
    put('etc/motd', 'not an ELF file, longer than twenty bytes');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('finds the binary built for another architecture and leaves out firmware for other processors', () => {
    const report = checkElfArch(root, 'arm64');
    assert.equal(report.expected, 'aarch64');
    assert.equal(report.checked, 3);
    assert.deepEqual(report.mismatches, [
      { path: 'usr/lib/antrea-edge/node_modules/x/prebuilds/linux-x64/x.node', machine: 'x86-64' },
    ]);
    assert.deepEqual(report.exempt.map((e) => e.path).sort(), [
      'boot/firmware/start4.elf',
      'usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o',
    ]);
    assert.equal(checkElfArch(root, 'amd64').mismatches.length, 2);
  });
});

describe("image: Debian mirror from the machine's apt sources", () => {
  it('reads one-line and deb822 sources', () => {
    assert.deepEqual(
      parseAptSources('# comment\ndeb [arch=amd64] http://mirror.invalid/debian bookworm main\n', false),
      [{ uri: 'http://mirror.invalid/debian', suites: ['bookworm'] }],
    );
    const deb822 = [
      'Types: deb',
      'URIs: http://mirror.invalid/debian',
      'Suites: bookworm bookworm-updates',
      'Components: main',
      '',
      'Types: deb-src',
      'URIs: http://source.invalid/debian',
      'Suites: bookworm',
    ].join('\n');
    assert.deepEqual(parseAptSources(deb822, true), [
      { uri: 'http://mirror.invalid/debian', suites: ['bookworm', 'bookworm-updates'] },
    ]);
  });

  it('picks the bookworm and bookworm-security mirrors, or says how to give one', () => {
    const apt = fs.mkdtempSync(path.join(os.tmpdir(), 'image-apt-'));
    try {
      fs.mkdirSync(path.join(apt, 'sources.list.d'));
      assert.throws(() => debianMirrors(undefined, apt), /give one with --mirror URL/);
      fs.writeFileSync(
        path.join(apt, 'sources.list.d', 'debian.sources'),
        'Types: deb\nURIs: http://mirror.invalid/debian/\nSuites: bookworm\n\nTypes: deb\nURIs: http://security.invalid/debian-security\nSuites: bookworm-security\n',
      );
      assert.deepEqual(debianMirrors(undefined, apt), {
        main: 'http://mirror.invalid/debian',
        security: 'http://security.invalid/debian-security',
      });
      assert.equal(debianMirrors('http://other.invalid/debian', apt).main, 'http://other.invalid/debian');
    } finally {
      fs.rmSync(apt, { recursive: true, force: true });
    }
  });
});
