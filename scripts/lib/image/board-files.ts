// Files of the image that depend on the board profile: fstab, networkd configuration, the board's environment
// for the first-boot service and the firmware unit, the initramfs module list, the partition script, GRUB's
// configuration. Pure functions of the profile, so tests check them without building anything.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateBoardProfile, type BoardProfile } from '../../../firmware/core/config';
import {
  fstab,
  placePartitions,
  sfdiskScript,
  type ImageSpec,
  type PartitionLayout,
  type PartitionSpec,
} from '../../../firmware/core/board-image';

export const REPO_DIR = path.resolve(__dirname, '../../..');
export const BOARD_DIR = path.join(REPO_DIR, 'board');

/** Node.js in the image: the official binaries as the npm registry carries them, pinned. */
export const NODE_VERSION = '20.19.6';
/** Where the firmware lives in the image. */
export const FIRMWARE_PREFIX = '/usr/lib/antrea-edge';

/** A board that builds an image: its profile has a layout and an image section. */
export interface ImageBoard extends BoardProfile {
  layout: PartitionLayout;
  image: ImageSpec;
}

export class ImageBoardError extends Error {
  readonly code = 'ImageBoardInvalid';
}

export function imageBoardNames(boardDir = BOARD_DIR): string[] {
  return fs
    .readdirSync(boardDir)
    .filter((name) => fs.existsSync(path.join(boardDir, name, 'profile.json')))
    .filter(
      (name) =>
        (
          JSON.parse(fs.readFileSync(path.join(boardDir, name, 'profile.json'), 'utf8')) as {
            image?: unknown;
          }
        ).image !== undefined,
    )
    .sort();
}

export function loadImageBoard(name: string, boardDir = BOARD_DIR): ImageBoard {
  const file = path.join(boardDir, name, 'profile.json');
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name) || !fs.existsSync(file)) {
    const known = imageBoardNames(boardDir).join(', ');
    throw new ImageBoardError(`unknown board "${name}" (boards with an image: ${known})`);
  }
  const profile = validateBoardProfile(JSON.parse(fs.readFileSync(file, 'utf8')), file);
  if (profile.layout === undefined || profile.image === undefined) {
    throw new ImageBoardError(`board "${name}" has no image (its profile has no layout and image sections)`);
  }
  return profile as ImageBoard;
}

export function partition(board: ImageBoard, name: PartitionSpec['name']): PartitionSpec {
  const found = board.layout.partitions.find((p) => p.name === name);
  if (found === undefined) throw new ImageBoardError(`board ${board.name}: no ${name} partition`);
  return found;
}

/** Node.js's name of the architecture (the node-linux-<arch> package). */
export function nodeArch(board: ImageBoard): 'x64' | 'arm64' {
  return board.image.debianArch === 'amd64' ? 'x64' : 'arm64';
}

/** The kernel command line after `root=`: read-only root by label, then the board's own options. */
export function kernelCmdline(board: ImageBoard): string {
  return `root=LABEL=${partition(board, 'root').label} ro rootwait ${board.image.kernelCmdline}`.trim();
}

/** Every console the board has: the main device first. */
export function consoleDevices(board: BoardProfile): string[] {
  return [board.console.device, ...(board.console.extra ?? [])].filter((d) => d.startsWith('/dev/'));
}

/** Shell-quoted assignment, for files that systemd's EnvironmentFile= and sh both read. */
function assign(name: string, value: string): string {
  return `${name}="${value.replace(/(["\\$`])/g, '\\$1')}"`;
}

/**
 * /etc/antrea-edge/board.env: what the first-boot script and the firmware unit need from the profile, so that
 * neither parses JSON at boot.
 */
export function boardEnv(board: ImageBoard): string {
  const data = partition(board, 'data');
  const cluster = board.nics.find((n) => n.role === 'cluster') ?? board.nics[0];
  const lines = [
    '# Written by scripts/build-image from the board profile.',
    assign('ANTREA_EDGE_BOARD', board.name),
    assign('ANTREA_EDGE_DATA_LABEL', data.label),
    assign('ANTREA_EDGE_DATA_MOUNT', data.mountPoint),
    assign('ANTREA_EDGE_DATA_GROW', data.grow === true ? 'yes' : 'no'),
    assign('ANTREA_EDGE_PARTITION_TABLE', board.layout.table),
    assign('ANTREA_EDGE_HOSTNAME_PATTERN', board.defaults.hostnamePattern),
    assign('ANTREA_EDGE_CLUSTER_NIC', cluster?.name ?? ''),
    assign('ANTREA_EDGE_CONSOLES', consoleDevices(board).join(' ')),
    assign('ANTREA_EDGE_DATAPATH', board.datapathType),
    // Extra firmware options; the data partition's firmware.env can override them (see the unit).
    assign('ANTREA_EDGE_OPTIONS', ''),
  ];
  return `${lines.join('\n')}\n`;
}

/** systemd-networkd: DHCP on every NIC the profile gives a role to, except spares. */
export function networkdFiles(board: BoardProfile): Map<string, string> {
  const files = new Map<string, string>();
  board.nics
    .filter((nic) => nic.role !== 'spare')
    .forEach((nic, i) => {
      const lines = [
        `# ${nic.role}${nic.description ? `: ${nic.description}` : ''} (from the board profile)`,
        '[Match]',
        `Name=${nic.name}`,
        '',
        '[Network]',
        'DHCP=ipv4',
        'LinkLocalAddressing=no',
        'IPv6AcceptRA=no',
        '',
        '[DHCPv4]',
        // Only the uplink/cluster NIC's gateway becomes the default route; management stays local.
        `UseRoutes=${nic.role === 'management' ? 'no' : 'yes'}`,
        '',
        '[Link]',
        // Booting must not wait for a cable.
        'RequiredForOnline=no',
      ];
      files.set(`${String(10 + i)}-antrea-edge-${nic.name}.network`, `${lines.join('\n')}\n`);
    });
  return files;
}

/** initramfs-tools: only the listed modules (MODULES=most makes the initramfs slow to build and to load). */
export function initramfsFiles(board: ImageBoard): { conf: string; modules: string } {
  return {
    conf: 'MODULES=list\nCOMPRESS=gzip\n',
    modules: `# Written by scripts/build-image: the storage path to the root partition.\n${board.image.initramfsModules.join('\n')}\n`,
  };
}

/** GRUB's configuration, embedded in the standalone EFI binary: boot the one kernel, at once. */
export function grubConfig(board: ImageBoard, kernel: string, initrd: string): string {
  return [
    'set timeout=0',
    `search --no-floppy --label --set=root ${partition(board, 'root').label}`,
    `linux ${kernel} ${kernelCmdline(board)}`,
    `initrd ${initrd}`,
    'boot',
    '',
  ].join('\n');
}

/** Every generated file, by path in the root filesystem. */
export function renderedRootFiles(board: ImageBoard): Map<string, string> {
  const files = new Map<string, string>();
  files.set('etc/fstab', fstab(board.layout));
  files.set('etc/antrea-edge/board.env', boardEnv(board));
  files.set('etc/hostname', `${board.defaults.hostnamePattern.replace(/\{[a-z0-9]+\}/g, '0000')}\n`);
  for (const [name, text] of networkdFiles(board)) files.set(`etc/systemd/network/${name}`, text);
  const initramfs = initramfsFiles(board);
  files.set('etc/initramfs-tools/conf.d/antrea-edge', initramfs.conf);
  files.set('etc/initramfs-tools/modules', initramfs.modules);
  return files;
}

/** The partition table script and offsets, for the assembly step. */
export function partitionPlan(board: ImageBoard): {
  sfdisk: string;
  imageSizeMiB: number;
  partitions: ReturnType<typeof placePartitions>['partitions'];
} {
  const placed = placePartitions(board.layout);
  return { sfdisk: sfdiskScript(board.layout, board.image.debianArch), ...placed };
}
