// scripts/boot-test: boots a built image under QEMU (software emulation), drives the firmware's serial console
// like a person at the board (first-boot password, login), and checks that the agent reports itself healthy and
// that the OVS bridge exists. Prints how long each stage took; exits non-zero on the first failed check.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadImageBoard, type ImageBoard } from './board-files';

const HELP = `Usage: scripts/boot-test --board NAME [--image FILE] [--timeout SECONDS] [--log FILE] [--keep]

Boots the image built by scripts/build-image for the board under QEMU with software emulation (TCG), on a
copy-on-write overlay (the image is not changed) that is 4 GiB large, so first boot grows the data partition.
Talks to the serial console: waits for the login prompt, logs in as admin and sets the first-boot password,
runs "get agentinfo" until the agent is Healthy, and checks "show interfaces" for the OVS bridge br-int.
Prints the time of each stage and the whole console transcript's path.

Options:
  --board NAME       qemu-x86_64 (x86-64 UEFI) or generic-arm64 (qemu-system-aarch64 -M virt, UEFI)
  --image FILE       the raw image (default: $ANTREA_EDGE_IMAGE_DIR/NAME/antrea-edge-NAME.img, with
                     ANTREA_EDGE_IMAGE_DIR defaulting to /var/tmp/antrea-edge-image)
  --timeout SECONDS  the whole test's limit (default: 600)
  --log FILE         where the console transcript goes (default: next to the image, boot-test.log)
  --keep             keep the VM's overlay disk
  -h, --help         show this help
`;

export class BootTestError extends Error {
  readonly code = 'BootTestFailed';
}

interface Options {
  board: ImageBoard;
  image: string;
  timeoutMs: number;
  log: string;
  keep: boolean;
}

function parseArgs(argv: string[]): Options | 'help' {
  const values = new Map<string, string>();
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-h' || arg === '--help') return 'help';
    if (arg === '--keep') {
      keep = true;
      continue;
    }
    if (!['--board', '--image', '--timeout', '--log'].includes(arg))
      throw new BootTestError(`unknown option "${arg}" (see --help)`);
    const value = argv[++i];
    if (value === undefined) throw new BootTestError(`${arg} needs a value`);
    values.set(arg, value);
  }
  const boardName = values.get('--board');
  if (boardName === undefined) throw new BootTestError('--board NAME is required (see --help)');
  const board = loadImageBoard(boardName);
  const imageDir = process.env.ANTREA_EDGE_IMAGE_DIR ?? '/var/tmp/antrea-edge-image';
  const image = values.get('--image') ?? path.join(imageDir, board.name, `antrea-edge-${board.name}.img`);
  if (!fs.existsSync(image))
    throw new BootTestError(`no image at ${image}: run scripts/build-image --board ${board.name} first`);
  const timeoutSeconds = Number(values.get('--timeout') ?? '600');
  if (!(timeoutSeconds > 0)) throw new BootTestError('--timeout must be a positive number of seconds');
  return {
    board,
    image,
    timeoutMs: timeoutSeconds * 1000,
    log: values.get('--log') ?? path.join(path.dirname(image), 'boot-test.log'),
    keep,
  };
}

/** The QEMU command line for a board: UEFI firmware, the disk on virtio, the profile's two NICs on user networking. */
export function qemuCommand(board: ImageBoard, disk: string): { command: string; args: string[] } {
  // restrict=on: the guest reaches nothing beyond QEMU's own DHCP server, only the console is used.
  const nics = (slots: (number | undefined)[]): string[] =>
    slots.flatMap((slot, i) => [
      '-netdev',
      `user,id=n${i},restrict=on`,
      '-device',
      `virtio-net-pci,netdev=n${i}${slot === undefined ? '' : `,addr=${slot}`}`,
    ]);
  const common = [
    '-m',
    '1024',
    '-smp',
    '2',
    '-display',
    'none',
    '-serial',
    'stdio',
    '-monitor',
    'none',
    '-no-reboot',
  ];
  const drive = ['-drive', `file=${disk},if=virtio,format=qcow2`];
  if (board.image.debianArch === 'amd64') {
    // The profile names the NICs ens3 and ens4: i440fx slots 3 and 4.
    return {
      command: 'qemu-system-x86_64',
      args: [
        '-M',
        'pc',
        '-accel',
        'tcg',
        '-cpu',
        'max',
        '-bios',
        '/usr/share/ovmf/OVMF.fd',
        ...common,
        ...drive,
        ...nics([3, 4]),
      ],
    };
  }
  return {
    command: 'qemu-system-aarch64',
    args: [
      '-M',
      'virt',
      '-cpu',
      'cortex-a72',
      '-accel',
      'tcg',
      '-bios',
      '/usr/share/qemu-efi-aarch64/QEMU_EFI.fd',
      ...common,
      ...drive,
      ...nics([undefined, undefined]),
    ],
  };
}

/** Reads the serial console as a person would: wait for text, type a line. */
class SerialConsole {
  private text = '';
  private waiters: (() => void)[] = [];
  /** Everything before this offset has been matched already. */
  private consumed = 0;

  constructor(
    private readonly vm: ChildProcessWithoutNullStreams,
    private readonly transcript: fs.WriteStream,
  ) {
    vm.stdout.on('data', (chunk: Buffer) => {
      const s = chunk.toString('latin1');
      this.text += s;
      transcript.write(chunk);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Resolves with the text up to and including the match, once `pattern` appears after what was matched. */
  async waitFor(pattern: RegExp, timeoutMs: number, what: string, poke?: () => void): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let lastPoke = Date.now();
    for (;;) {
      const rest = this.text.slice(this.consumed);
      const match = pattern.exec(rest);
      if (match !== null) {
        const end = this.consumed + match.index + match[0].length;
        const seen = this.text.slice(this.consumed, end);
        this.consumed = end;
        return seen;
      }
      if (this.vm.exitCode !== null)
        throw new BootTestError(`QEMU exited (${this.vm.exitCode}) while waiting for ${what}`);
      if (Date.now() > deadline)
        throw new BootTestError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
      if (poke !== undefined && Date.now() - lastPoke > 5000) {
        lastPoke = Date.now();
        poke();
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  type(line: string): void {
    this.transcript.write(
      `\n[boot-test types: ${/password/i.test(line) ? '********' : JSON.stringify(line)}]\n`,
    );
    this.vm.stdin.write(`${line}\r`);
  }

  typeSecret(line: string): void {
    this.transcript.write('\n[boot-test types the password]\n');
    this.vm.stdin.write(`${line}\r`);
  }
}

interface Stage {
  name: string;
  seconds: number;
}

async function bootTest(options: Options): Promise<Stage[]> {
  const { board } = options;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `boot-test-${board.name}-`));
  const disk = path.join(workDir, 'disk.qcow2');
  const created = spawnSync(
    'qemu-img',
    ['create', '-q', '-f', 'qcow2', '-b', path.resolve(options.image), '-F', 'raw', disk, '4G'],
    {
      encoding: 'utf8',
    },
  );
  if (created.status !== 0) {
    throw new BootTestError(
      `qemu-img failed: ${created.stderr || created.error?.message || ''} (apt-get install -y qemu-utils)`,
    );
  }
  const { command, args } = qemuCommand(board, disk);
  const transcript = fs.createWriteStream(options.log);
  const started = Date.now();
  const stages: Stage[] = [];
  let last = started;
  const mark = (name: string): void => {
    const now = Date.now();
    stages.push({ name, seconds: (now - last) / 1000 });
    process.stderr.write(
      `==> ${name}: ${((now - last) / 1000).toFixed(1)} s (at ${((now - started) / 1000).toFixed(1)} s)\n`,
    );
    last = now;
  };
  process.stderr.write(
    `==> booting ${path.basename(options.image)} (${command}, software emulation); console: ${options.log}\n`,
  );
  const vm = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  vm.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const spawnError = new Promise<never>((_resolve, reject) =>
    vm.on('error', (error) =>
      reject(
        new BootTestError(
          `cannot start ${command}: ${error.message} (apt-get install -y qemu-system-x86 / qemu-system-arm)`,
        ),
      ),
    ),
  );
  const deadline = started + options.timeoutMs;
  const left = (): number => Math.max(1000, deadline - Date.now());
  const serial = new SerialConsole(vm, transcript);
  const password = `boot-test-${Math.random().toString(36).slice(2, 10)}`;
  try {
    const steps = (async () => {
      await serial.waitFor(/[^]/, left(), 'any output on the serial console');
      mark('QEMU start to the first console output (UEFI)');
      // The overlay is new, so this is the image's first boot: the first-boot service reports on the console.
      await serial.waitFor(/antrea-edge first boot: done/, left(), 'the first-boot service');
      mark('boot loader, kernel and early boot to the end of the first-boot service');
      // The console shell starts once the agent enforces; Enter shows the banner and the login prompt again.
      const banner = await serial.waitFor(/login: $/m, left(), 'the login prompt', () => serial.type(''));
      mark('login prompt');
      const hostname = /(\S+) login: $/m.exec(banner)?.[1] ?? '';
      serial.type('admin');
      await serial.waitFor(
        /First boot: no password is set[^]*New password: /,
        left(),
        'the first-boot password question',
      );
      serial.typeSecret(password);
      await serial.waitFor(/Retype new password: /, left(), 'the password confirmation');
      serial.typeSecret(password);
      const prompt = new RegExp(`admin@${hostname.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}> $`, 'm');
      await serial.waitFor(prompt, left(), 'the shell prompt after setting the password');
      mark('first-boot password set, logged in');
      let healthy = false;
      let lastAnswer = '';
      while (!healthy) {
        serial.type('get agentinfo -o json');
        lastAnswer = await serial.waitFor(prompt, left(), 'the answer of get agentinfo');
        healthy = /"type":\s*"AgentHealthy",\s*"status":\s*"True"/.test(lastAnswer);
        if (!healthy) {
          if (Date.now() > deadline)
            throw new BootTestError(`the agent never became healthy:\n${lastAnswer}`);
          await new Promise((resolve) => setTimeout(resolve, 2000));
        }
      }
      mark('get agentinfo: AgentHealthy True');
      serial.type('show interfaces');
      const interfaces = await serial.waitFor(prompt, left(), 'the answer of show interfaces');
      if (!/^\s*br-int\s/m.test(interfaces))
        throw new BootTestError(`show interfaces lists no br-int:\n${interfaces}`);
      serial.type('get ovsflows -T 0');
      const flows = await serial.waitFor(prompt, left(), 'the answer of get ovsflows');
      if (!/table=0/.test(flows)) throw new BootTestError(`br-int has no flows in table 0:\n${flows}`);
      mark('OVS bridge br-int exists with its flows');
      serial.type('show system');
      await serial.waitFor(prompt, left(), 'the answer of show system');
      serial.type('logout');
    })();
    await Promise.race([steps, spawnError]);
  } catch (error) {
    if (error instanceof BootTestError && stderr.trim() !== '')
      error.message += `\nQEMU said: ${stderr.trim()}`;
    throw error;
  } finally {
    vm.kill('SIGKILL');
    await new Promise((resolve) => (vm.exitCode !== null ? resolve(undefined) : vm.once('exit', resolve)));
    transcript.end();
    if (options.keep) process.stderr.write(`==> overlay disk kept: ${disk}\n`);
    else fs.rmSync(workDir, { recursive: true, force: true });
  }
  stages.push({ name: 'total', seconds: (Date.now() - started) / 1000 });
  return stages;
}

async function main(argv: string[]): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseArgs(argv);
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    const stages = await bootTest(options);
    process.stdout.write(
      `${JSON.stringify({ board: options.board.name, image: options.image, stages }, null, 2)}\n`,
    );
    process.stderr.write(`==> boot test passed in ${stages.at(-1)?.seconds.toFixed(1) ?? '?'} s\n`);
    return 0;
  } catch (error) {
    process.stderr.write(
      `error: boot test failed: ${(error as Error).message}\n(console transcript: ${options.log})\n`,
    );
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`error: ${String(error)}\n`);
    process.exit(1);
  },
);
