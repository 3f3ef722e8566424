// The parts of a board profile that describe the appliance image: partition layout, how the board boots, and
// the hostname pattern applied at first boot. Pure: scripts/build-image, the first-boot service and the firmware
// all read the same validated profile, so a bad layout fails before anything is built or flashed.

export type PartitionTable = 'gpt' | 'dos';
export type Filesystem = 'vfat' | 'ext4';
export type Bootloader = 'grub-efi' | 'raspi-firmware';

export interface PartitionSpec {
  /** Role of the partition: `boot` (firmware / EFI system partition), `root` (the read-only system), `data`. */
  name: 'boot' | 'root' | 'data';
  /** Filesystem label; fstab, the kernel command line and first boot find partitions by it. */
  label: string;
  filesystem: Filesystem;
  /** Size in the built image; a partition with `grow` fills the disk at first boot. */
  sizeMiB: number;
  mountPoint: string;
  readOnly?: boolean;
  grow?: boolean;
}

export interface PartitionLayout {
  table: PartitionTable;
  partitions: PartitionSpec[];
}

export interface ImageSpec {
  /** Debian's name of the architecture (`amd64`, `arm64`). */
  debianArch: 'amd64' | 'arm64';
  kernelPackage: string;
  bootloader: Bootloader;
  /** Appended to `root=LABEL=<root label> ro`. */
  kernelCmdline: string;
  /** Modules the initramfs carries (initramfs-tools MODULES=list): the storage path to the root partition. */
  initramfsModules: string[];
  /** Debian packages on top of the common set (e.g. raspi-firmware). */
  packages: string[];
  /** Debian archive components beyond `main` (raspi-firmware is in non-free-firmware). */
  components?: string[];
}

/** The first partition starts 1 MiB in (alignment for SD cards and room for the GPT). */
export const FIRST_PARTITION_OFFSET_MIB = 1;
/** Room left after the last partition for GPT's backup header. */
export const TRAILING_MIB = 1;

const PARTITION_NAMES = ['boot', 'root', 'data'] as const;
const HOSTNAME_TOKENS = ['mac4', 'serial4', 'machine4'] as const;
export type HostnameToken = (typeof HOSTNAME_TOKENS)[number];

/** Lists every problem of the image-related fields of a profile; empty when they are valid or absent. */
export function imageProfileErrors(profile: { layout?: unknown; image?: unknown; arch?: unknown }): string[] {
  const errors: string[] = [];
  if (profile.layout !== undefined) errors.push(...layoutErrors(profile.layout));
  if (profile.image !== undefined) errors.push(...imageSpecErrors(profile.image, profile.arch));
  if ((profile.layout === undefined) !== (profile.image === undefined)) {
    errors.push('layout and image: a board that builds an image needs both');
  }
  return errors;
}

function layoutErrors(value: unknown): string[] {
  const errors: string[] = [];
  const layout = value as Partial<PartitionLayout> | null;
  if (typeof layout !== 'object' || layout === null) return ['layout: must be an object'];
  if (layout.table !== 'gpt' && layout.table !== 'dos') errors.push('layout.table: must be gpt or dos');
  if (!Array.isArray(layout.partitions)) return [...errors, 'layout.partitions: required array'];
  const seen = new Set<string>();
  layout.partitions.forEach((part: Partial<PartitionSpec> | null, i) => {
    const at = `layout.partitions[${i}]`;
    if (typeof part !== 'object' || part === null) {
      errors.push(`${at}: must be an object`);
      return;
    }
    if (!PARTITION_NAMES.includes(part.name as PartitionSpec['name'])) {
      errors.push(`${at}.name: must be boot, root or data`);
    } else if (seen.has(part.name as string)) errors.push(`${at}.name: ${part.name} appears twice`);
    else seen.add(part.name as string);
    if (typeof part.label !== 'string' || !/^[A-Za-z0-9_-]{1,11}$/.test(part.label)) {
      // 11 characters: the longest label FAT takes, so one rule serves every filesystem.
      errors.push(`${at}.label: 1-11 letters, digits, - or _`);
    }
    if (part.filesystem !== 'vfat' && part.filesystem !== 'ext4')
      errors.push(`${at}.filesystem: vfat or ext4`);
    if (!Number.isInteger(part.sizeMiB) || (part.sizeMiB as number) < 16) {
      errors.push(`${at}.sizeMiB: integer of at least 16`);
    }
    if (typeof part.mountPoint !== 'string' || !part.mountPoint.startsWith('/')) {
      errors.push(`${at}.mountPoint: absolute path`);
    }
  });
  for (const name of PARTITION_NAMES) {
    if (!seen.has(name)) errors.push(`layout.partitions: a ${name} partition is required`);
  }
  const parts = layout.partitions as Partial<PartitionSpec>[];
  const root = parts.find((p) => p?.name === 'root');
  if (root !== undefined) {
    if (root.mountPoint !== '/') errors.push('layout: the root partition mounts at /');
    if (root.readOnly !== true) errors.push('layout: the root partition must be readOnly');
    if (root.filesystem !== 'ext4') errors.push('layout: the root partition must be ext4');
  }
  const growing = parts.filter((p) => p?.grow === true);
  if (growing.length > 1) errors.push('layout: only one partition can grow');
  if (growing.length === 1 && parts[parts.length - 1] !== growing[0]) {
    errors.push('layout: the growing partition must be the last one');
  }
  const data = parts.find((p) => p?.name === 'data');
  if (data !== undefined && data.filesystem !== 'ext4')
    errors.push('layout: the data partition must be ext4');
  if (layout.table === 'dos' && parts.length > 4) errors.push('layout: dos tables hold 4 primary partitions');
  return errors;
}

function imageSpecErrors(value: unknown, arch: unknown): string[] {
  const errors: string[] = [];
  const image = value as Partial<ImageSpec> | null;
  if (typeof image !== 'object' || image === null) return ['image: must be an object'];
  const expectedDebianArch = arch === 'x86_64' ? 'amd64' : arch === 'arm64' ? 'arm64' : undefined;
  if (image.debianArch !== 'amd64' && image.debianArch !== 'arm64')
    errors.push('image.debianArch: amd64 or arm64');
  else if (expectedDebianArch !== undefined && image.debianArch !== expectedDebianArch) {
    errors.push(`image.debianArch: ${image.debianArch} does not match arch ${String(arch)}`);
  }
  if (typeof image.kernelPackage !== 'string' || !/^[a-z0-9][a-z0-9.+-]+$/.test(image.kernelPackage)) {
    errors.push('image.kernelPackage: a Debian package name');
  }
  if (image.bootloader !== 'grub-efi' && image.bootloader !== 'raspi-firmware') {
    errors.push('image.bootloader: grub-efi or raspi-firmware');
  }
  if (typeof image.kernelCmdline !== 'string' || /[\n"]/.test(image.kernelCmdline)) {
    errors.push('image.kernelCmdline: one line without quotes');
  }
  for (const field of ['initramfsModules', 'packages', 'components'] as const) {
    const list = image[field];
    if (list === undefined && field === 'components') continue;
    if (
      !Array.isArray(list) ||
      list.some((entry) => typeof entry !== 'string' || !/^[a-z0-9][a-z0-9_.+-]*$/.test(entry))
    ) {
      errors.push(`image.${field}: list of names`);
    }
  }
  return errors;
}

/** Problems of a hostname pattern: only known `{tokens}`, and what remains must be hostname characters. */
export function hostnamePatternErrors(pattern: string): string[] {
  const errors: string[] = [];
  const literal = pattern.replace(/\{([a-z0-9]+)\}/g, (_match, token: string) => {
    if (!HOSTNAME_TOKENS.includes(token as HostnameToken)) {
      errors.push(
        `defaults.hostnamePattern: unknown token {${token}} (known: ${HOSTNAME_TOKENS.map((t) => `{${t}}`).join(', ')})`,
      );
    }
    return 'x';
  });
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(literal)) {
    errors.push(
      'defaults.hostnamePattern: must give a lower-case hostname of letters, digits and - (at most 63)',
    );
  }
  return errors;
}

/** The hostname a pattern gives: each token becomes the last four hex digits of its fact, in lower case. */
export function expandHostnamePattern(
  pattern: string,
  facts: Partial<Record<HostnameToken, string>>,
): string {
  return pattern.replace(/\{([a-z0-9]+)\}/g, (_match, token: string) => {
    const hex = (facts[token as HostnameToken] ?? '').toLowerCase().replace(/[^0-9a-f]/g, '');
    return hex.length >= 4 ? hex.slice(-4) : hex.padStart(4, '0');
  });
}

export interface PlacedPartition extends PartitionSpec {
  /** 1-based, as the kernel numbers it (sda1, mmcblk0p1). */
  number: number;
  offsetMiB: number;
}

/** Where each partition sits in the image, and the image's size. */
export function placePartitions(layout: PartitionLayout): {
  partitions: PlacedPartition[];
  imageSizeMiB: number;
} {
  let offset = FIRST_PARTITION_OFFSET_MIB;
  const partitions = layout.partitions.map((part, i): PlacedPartition => {
    const placed = { ...part, number: i + 1, offsetMiB: offset };
    offset += part.sizeMiB;
    return placed;
  });
  return { partitions, imageSizeMiB: offset + TRAILING_MIB };
}

const GPT_TYPES: Record<PartitionSpec['name'], string> = {
  boot: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', // EFI System
  root: '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709', // Linux root (x86-64); firmware boots by label, not type
  data: '0FC63DAF-8483-4772-8E79-3D69D8477DE4', // Linux filesystem
};

/** The sfdisk script that partitions the image. */
export function sfdiskScript(layout: PartitionLayout, debianArch: ImageSpec['debianArch']): string {
  const { partitions } = placePartitions(layout);
  const sectors = (mib: number): number => mib * 2048;
  const lines = [`label: ${layout.table}`, 'unit: sectors', ''];
  for (const part of partitions) {
    let type: string;
    if (layout.table === 'gpt') {
      type =
        part.name === 'root' && debianArch === 'arm64'
          ? 'B921B045-1DF0-41C3-AF44-4C6F280D3FAE' // Linux root (ARM-64)
          : GPT_TYPES[part.name];
    } else type = part.filesystem === 'vfat' ? 'c' : '83';
    const extra = layout.table === 'gpt' ? `, name="${part.name}"` : part.name === 'boot' ? ', bootable' : '';
    lines.push(`start=${sectors(part.offsetMiB)}, size=${sectors(part.sizeMiB)}, type=${type}${extra}`);
  }
  return `${lines.join('\n')}\n`;
}

/** fstab for the image: the root read-only, volatile state on tmpfs, the data partition writable. */
export function fstab(layout: PartitionLayout): string {
  const lines = [
    '# Written by scripts/build-image from the board profile. Root is read-only; state lives on the data partition.',
  ];
  // The boot partition is not mounted: only the boot ROM / UEFI and the boot loader read it, and updates rewrite
  // it whole (waiting for it at boot cost 10 s when its label was slow to appear).
  for (const part of layout.partitions.filter((p) => p.name !== 'boot')) {
    // Under emulation on a loaded host, udev took over 30 s to create the data partition's by-label link.
    const options = part.name === 'root' ? 'ro,noatime' : 'rw,noatime,nofail,x-systemd.device-timeout=5min';
    const pass = part.name === 'root' ? 1 : 2;
    lines.push(`LABEL=${part.label} ${part.mountPoint} ${part.filesystem} ${options} 0 ${pass}`);
  }
  lines.push('tmpfs /tmp tmpfs nosuid,nodev,mode=1777,size=25% 0 0');
  lines.push('tmpfs /var/tmp tmpfs nosuid,nodev,mode=1777,size=64m 0 0');
  lines.push('tmpfs /var/log tmpfs nosuid,nodev,mode=0755,size=64m 0 0');
  lines.push('tmpfs /var/lib/systemd tmpfs nosuid,nodev,mode=0755,size=8m 0 0');
  return `${lines.join('\n')}\n`;
}
