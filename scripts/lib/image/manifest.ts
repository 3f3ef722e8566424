// The manifest written next to an image: which board, what is inside (versions, every Debian package), where
// each partition sits (an update rewrites the root partition at its offset and keeps the data partition), and
// the checksum of the raw image.

export const MANIFEST_FORMAT = 'antrea-edge-image/v1';

export interface ManifestPartition {
  number: number;
  name: 'boot' | 'root' | 'data';
  label: string;
  filesystem: string;
  offsetMiB: number;
  sizeMiB: number;
  mountPoint: string;
}

export interface ImageManifest {
  format: typeof MANIFEST_FORMAT;
  board: string;
  model: string;
  arch: string;
  createdAt: string;
  image: { file: string; sizeBytes: number; sha256: string; partitionTable: 'gpt' | 'dos' };
  partitions: ManifestPartition[];
  versions: {
    firmware: string;
    node: string;
    debian: string;
    kernel: string;
    openvswitch: string;
  };
  /** Every Debian package in the root filesystem, sorted by name. */
  packages: { name: string; version: string; arch: string }[];
  /** The firmware's production npm dependencies (direct ones), as installed. */
  npmDependencies: Record<string, string>;
  /** Seconds per build stage. */
  buildSeconds: Record<string, number>;
}

/** `dpkg-query -W -f='${Package}\t${Version}\t${Architecture}\n'` output, parsed and sorted. */
export function parseDpkgList(text: string): ImageManifest['packages'] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [name = '', version = '', arch = ''] = line.split('\t');
      return { name, version, arch };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function packageVersion(packages: ImageManifest['packages'], name: string): string {
  return packages.find((p) => p.name === name)?.version ?? 'absent';
}

/** Every problem of a manifest read back (e.g. by an update tool before it trusts the offsets). */
export function manifestErrors(value: unknown): string[] {
  const errors: string[] = [];
  const m = value as Partial<ImageManifest> | null;
  if (typeof m !== 'object' || m === null) return ['not a JSON object'];
  if (m.format !== MANIFEST_FORMAT) errors.push(`format: must be ${MANIFEST_FORMAT}`);
  for (const field of ['board', 'model', 'arch', 'createdAt'] as const) {
    if (typeof m[field] !== 'string' || m[field] === '') errors.push(`${field}: required string`);
  }
  if (typeof m.createdAt === 'string' && Number.isNaN(Date.parse(m.createdAt)))
    errors.push('createdAt: not a date');
  const image = m.image;
  if (typeof image !== 'object' || image === null) errors.push('image: required object');
  else {
    if (typeof image.file !== 'string' || image.file.includes('/')) errors.push('image.file: a file name');
    if (!/^[0-9a-f]{64}$/.test(String(image.sha256))) errors.push('image.sha256: 64 hex digits');
    if (!Number.isInteger(image.sizeBytes) || image.sizeBytes <= 0)
      errors.push('image.sizeBytes: positive integer');
    if (image.partitionTable !== 'gpt' && image.partitionTable !== 'dos')
      errors.push('image.partitionTable: gpt or dos');
  }
  if (!Array.isArray(m.partitions) || m.partitions.length === 0) errors.push('partitions: required list');
  else {
    let end = 0;
    m.partitions.forEach((p, i) => {
      if (!Number.isInteger(p.offsetMiB) || !Number.isInteger(p.sizeMiB) || p.sizeMiB <= 0) {
        errors.push(`partitions[${i}]: offsetMiB and sizeMiB must be integers`);
        return;
      }
      if (p.offsetMiB < end) errors.push(`partitions[${i}]: overlaps the partition before it`);
      end = p.offsetMiB + p.sizeMiB;
      if (p.number !== i + 1) errors.push(`partitions[${i}].number: must be ${i + 1}`);
    });
    if (
      image !== undefined &&
      image !== null &&
      Number.isInteger(image.sizeBytes) &&
      end * 1024 * 1024 > image.sizeBytes
    ) {
      errors.push('partitions: the last one ends after the image');
    }
    for (const name of ['boot', 'root', 'data']) {
      if (!m.partitions.some((p) => p.name === name)) errors.push(`partitions: no ${name} partition`);
    }
  }
  const versions = m.versions as Record<string, unknown> | undefined;
  for (const field of ['firmware', 'node', 'debian', 'kernel', 'openvswitch']) {
    if (typeof versions?.[field] !== 'string' || versions[field] === '' || versions[field] === 'absent') {
      errors.push(`versions.${field}: required`);
    }
  }
  if (!Array.isArray(m.packages) || m.packages.length === 0) errors.push('packages: required list');
  else if (
    m.packages.some((p) => typeof p?.name !== 'string' || typeof p.version !== 'string' || p.version === '')
  ) {
    errors.push('packages: every entry needs name and version');
  }
  if (typeof m.npmDependencies !== 'object' || m.npmDependencies === null)
    errors.push('npmDependencies: required object');
  if (typeof m.buildSeconds !== 'object' || m.buildSeconds === null)
    errors.push('buildSeconds: required object');
  return errors;
}
