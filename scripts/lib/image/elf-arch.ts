// Checks that every ELF file of a root filesystem is built for the image's architecture: a native module built
// for the build machine, or a prebuilt binary for another platform, would only fail on the board.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** ELF e_machine values (elf.h). */
const MACHINES: Record<number, string> = { 3: 'x86', 62: 'x86-64', 40: 'arm', 183: 'aarch64', 243: 'riscv' };
const EXPECTED: Record<'amd64' | 'arm64', number> = { amd64: 62, arm64: 183 };

export interface ElfMismatch {
  path: string;
  machine: string;
}

export interface ElfArchReport {
  expected: string;
  /** ELF files checked (executables, shared objects, kernel modules). */
  checked: number;
  mismatches: ElfMismatch[];
  /** Files left out on purpose, with why. */
  exempt: { path: string; reason: string }[];
}

/**
 * Files that are ELF but not for the CPU: the Raspberry Pi's GPU firmware (VideoCore start*.elf) and device
 * firmware blobs, loaded by other processors.
 */
const EXEMPT: { pattern: RegExp; reason: string }[] = [
  { pattern: /^boot\/firmware\/start[^/]*\.elf$/, reason: 'VideoCore GPU firmware' },
  { pattern: /^(usr\/)?lib\/firmware\//, reason: 'device firmware, run by the device' },
  { pattern: /\/bpf\/[^/]+\.o$/, reason: 'eBPF programs (libxdp), run by the kernel' },
];

function machineOf(file: string): number | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const header = Buffer.alloc(20);
    if (fs.readSync(fd, header, 0, 20, 0) < 20) return undefined;
    if (header.readUInt32BE(0) !== 0x7f454c46) return undefined;
    const littleEndian = header[5] === 1;
    return littleEndian ? header.readUInt16LE(18) : header.readUInt16BE(18);
  } finally {
    fs.closeSync(fd);
  }
}

export function checkElfArch(root: string, debianArch: 'amd64' | 'arm64'): ElfArchReport {
  const expected = EXPECTED[debianArch];
  const report: ElfArchReport = {
    expected: MACHINES[expected] ?? String(expected),
    checked: 0,
    mismatches: [],
    exempt: [],
  };
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        const rel = path.relative(root, full);
        if (rel === 'proc' || rel === 'sys' || rel === 'dev') continue;
        walk(full);
      } else if (entry.isFile()) {
        let stat: fs.Stats;
        try {
          stat = fs.statSync(full);
        } catch {
          continue;
        }
        if (stat.size < 20) continue;
        const machine = machineOf(full);
        if (machine === undefined) continue;
        const rel = path.relative(root, full);
        const exempt = EXEMPT.find((e) => e.pattern.test(rel));
        if (exempt !== undefined) {
          if (machine !== expected) report.exempt.push({ path: rel, reason: exempt.reason });
          continue;
        }
        report.checked++;
        if (machine !== expected)
          report.mismatches.push({ path: rel, machine: MACHINES[machine] ?? `e_machine ${machine}` });
      }
    }
  };
  walk(root);
  return report;
}
