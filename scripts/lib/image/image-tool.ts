// The TypeScript half of scripts/build-image: everything that reads the board profile or writes structured
// output. `node --import tsx scripts/lib/image/image-tool.ts <command> ...`; errors exit 1 with one clear line.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  boardEnv,
  consoleDevices,
  FIRMWARE_PREFIX,
  grubConfig,
  kernelCmdline,
  loadImageBoard,
  NODE_VERSION,
  nodeArch,
  partition,
  partitionPlan,
  renderedRootFiles,
  type ImageBoard,
} from './board-files';
import { checkElfArch } from './elf-arch';
import {
  manifestErrors,
  MANIFEST_FORMAT,
  packageVersion,
  parseDpkgList,
  type ImageManifest,
} from './manifest';
import { debianMirrors } from './apt-sources';

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Everything the shell script needs from the profile, as `NAME='value'` lines for eval. */
function shellVars(board: ImageBoard): string {
  const plan = partitionPlan(board);
  const vars: Record<string, string> = {
    BOARD_NAME: board.name,
    BOARD_MODEL: board.model,
    DEBIAN_ARCH: board.image.debianArch,
    NODE_ARCH: nodeArch(board),
    NODE_VERSION,
    FIRMWARE_PREFIX,
    KERNEL_PACKAGE: board.image.kernelPackage,
    BOOTLOADER: board.image.bootloader,
    KERNEL_CMDLINE: kernelCmdline(board),
    EXTRA_PACKAGES: board.image.packages.join(' '),
    COMPONENTS: ['main', ...(board.image.components ?? [])].join(' '),
    INITRAMFS_MODULES: board.image.initramfsModules.join(' '),
    PARTITION_TABLE: board.layout.table,
    IMAGE_SIZE_MIB: String(plan.imageSizeMiB),
    CONSOLE_DEVICES: consoleDevices(board).join(' '),
    DATAPATH: board.datapathType,
  };
  for (const p of plan.partitions) {
    const key = p.name.toUpperCase();
    vars[`${key}_NUMBER`] = String(p.number);
    vars[`${key}_LABEL`] = p.label;
    vars[`${key}_FS`] = p.filesystem;
    vars[`${key}_OFFSET_MIB`] = String(p.offsetMiB);
    vars[`${key}_SIZE_MIB`] = String(p.sizeMiB);
    vars[`${key}_MOUNT`] = p.mountPoint;
  }
  return Object.entries(vars)
    .map(([name, value]) => `${name}=${shellQuote(value)}`)
    .join('\n');
}

function render(board: ImageBoard, root: string): void {
  for (const [rel, text] of renderedRootFiles(board)) {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
}

function flag(args: string[], name: string): string {
  const i = args.indexOf(name);
  const value = i >= 0 ? args[i + 1] : undefined;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
}

function manifest(args: string[]): ImageManifest {
  const board = loadImageBoard(flag(args, '--board'));
  const imageFile = flag(args, '--image');
  const rootfs = flag(args, '--rootfs');
  const packages = parseDpkgList(fs.readFileSync(flag(args, '--dpkg-list'), 'utf8'));
  const firmwarePackage = JSON.parse(
    fs.readFileSync(path.join(rootfs, FIRMWARE_PREFIX.slice(1), 'package.json'), 'utf8'),
  ) as {
    version: string;
    dependencies?: Record<string, string>;
  };
  const npmDependencies: Record<string, string> = {};
  for (const name of Object.keys(firmwarePackage.dependencies ?? {}).sort()) {
    const file = path.join(rootfs, FIRMWARE_PREFIX.slice(1), 'node_modules', name, 'package.json');
    npmDependencies[name] = fs.existsSync(file)
      ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version
      : 'missing';
  }
  const kernel = packages.find((p) => /^linux-image-\d/.test(p.name));
  const buildSeconds: Record<string, number> = {};
  for (const pair of flag(args, '--timings').split(',').filter(Boolean)) {
    const [stage = '', seconds = ''] = pair.split('=');
    buildSeconds[stage] = Number(seconds);
  }
  const result: ImageManifest = {
    format: MANIFEST_FORMAT,
    board: board.name,
    model: board.model,
    arch: board.arch,
    createdAt: new Date().toISOString(),
    image: {
      file: path.basename(imageFile),
      sizeBytes: fs.statSync(imageFile).size,
      sha256: flag(args, '--sha256'),
      partitionTable: board.layout.table,
    },
    partitions: partitionPlan(board).partitions.map((p) => ({
      number: p.number,
      name: p.name,
      label: p.label,
      filesystem: p.filesystem,
      offsetMiB: p.offsetMiB,
      sizeMiB: p.sizeMiB,
      mountPoint: p.mountPoint,
    })),
    versions: {
      firmware: firmwarePackage.version,
      node: NODE_VERSION,
      debian: fs.readFileSync(path.join(rootfs, 'etc/debian_version'), 'utf8').trim(),
      kernel: kernel === undefined ? 'absent' : `${kernel.name} ${kernel.version}`,
      openvswitch: packageVersion(packages, 'openvswitch-switch'),
    },
    packages,
    npmDependencies,
    buildSeconds,
  };
  const errors = manifestErrors(result);
  if (errors.length > 0) throw new Error(`the manifest is incomplete:\n  ${errors.join('\n  ')}`);
  return result;
}

function main(argv: string[]): void {
  const [command, ...args] = argv;
  switch (command) {
    case 'vars':
      process.stdout.write(`${shellVars(loadImageBoard(args[0] ?? ''))}\n`);
      return;
    case 'render':
      render(loadImageBoard(args[0] ?? ''), args[1] ?? '');
      return;
    case 'board-env':
      process.stdout.write(boardEnv(loadImageBoard(args[0] ?? '')));
      return;
    case 'sfdisk':
      process.stdout.write(partitionPlan(loadImageBoard(args[0] ?? '')).sfdisk);
      return;
    case 'grub-cfg':
      process.stdout.write(grubConfig(loadImageBoard(args[0] ?? ''), args[1] ?? '', args[2] ?? ''));
      return;
    case 'root-label':
      process.stdout.write(`${partition(loadImageBoard(args[0] ?? ''), 'root').label}\n`);
      return;
    case 'mirrors': {
      const mirrors = debianMirrors(args[0]);
      process.stdout.write(
        `MIRROR=${shellQuote(mirrors.main)}\nSECURITY_MIRROR=${shellQuote(mirrors.security)}\n`,
      );
      return;
    }
    case 'check-arch': {
      const arch = args[1];
      if (arch !== 'amd64' && arch !== 'arm64') throw new Error('check-arch ROOT amd64|arm64');
      const report = checkElfArch(args[0] ?? '', arch);
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      if (report.mismatches.length > 0) {
        process.stderr.write(
          `error: ${report.mismatches.length} of ${report.checked} ELF files are not ${report.expected}:\n` +
            report.mismatches
              .slice(0, 20)
              .map((m) => `  ${m.path} (${m.machine})\n`)
              .join(''),
        );
        process.exitCode = 1;
      }
      return;
    }
    case 'manifest':
      process.stdout.write(`${JSON.stringify(manifest(args), null, 2)}\n`);
      return;
    default:
      throw new Error(
        `unknown command "${command ?? ''}" (vars, render, board-env, sfdisk, grub-cfg, root-label, mirrors, check-arch, manifest)`,
      );
  }
}

try {
  main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
