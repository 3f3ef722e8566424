// The serial console end to end over a real pseudo-terminal pair (socat) on a real node (OVS + firmware in a
// netns, seed pods through the real CNI plugin): a scripted person logs in with CR line endings, sets the
// first-boot password, lists pods, pastes the seed's nginx-allow policy, and real traffic shows busybox → nginx
// blocked. Then the "cable" is unplugged (socat killed) and plugged in again (a new socat with the same links):
// the console comes back on its own.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SerialPort } from 'serialport';
import { PtyPair } from '../../scripts/lib/dev-node';
import { NGINX_ALLOW_EXAMPLE, SEED_NGINX_PODS, SEED_PODS } from '../../scripts/lib/seed';
import { startTestNode, type TestNode } from '../support/sim-cluster';
import { findPod, wget } from '../support/pod-probes';

const PASSWORD = 'edge-console-1';
const PROMPT = /admin@\S+> $/;

/** The person at the other end of the cable: writes keystrokes, waits for text. */
class Terminal {
  private port: SerialPort | undefined;
  private received = '';
  private mark = 0;

  constructor(private readonly device: string) {}

  async open(): Promise<void> {
    const port = new SerialPort({ path: this.device, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    port.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('utf8');
    });
    port.on('error', () => undefined);
    this.port = port;
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  /** Types text; line ends are CR, as a terminal sends them. */
  async send(text: string): Promise<void> {
    const port = this.port;
    if (port === undefined) throw new Error('terminal not open');
    await new Promise<void>((resolve, reject) =>
      port.write(text.replace(/\r?\n/g, '\r'), (error) =>
        error ? reject(error) : port.drain(() => resolve()),
      ),
    );
  }

  /** Waits until the text received since the last expect() matches; returns that text. */
  async expect(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.received.slice(this.mark);
      const match = pattern.exec(text);
      if (match) {
        this.mark += match.index + match[0].length;
        return text.slice(0, match.index + match[0].length);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${String(pattern)}; received: ${JSON.stringify(text.slice(-2000))}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Runs one shell command and returns what it printed before the next prompt. */
  async command(line: string, timeoutMs?: number): Promise<string> {
    await this.send(`${line}\r`);
    return this.expect(PROMPT, timeoutMs);
  }
}

describe('serial console over a real pty pair', function () {
  this.timeout(180_000);
  // The cable's ends live outside the node's home: the firmware is told its device before the node exists.
  const cableDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-serial-console-cable-'));
  const firmwareEnd = path.join(cableDir, 'firmware');
  const userEnd = path.join(cableDir, 'tty');
  let pty = new PtyPair(firmwareEnd, userEnd);
  let t: TestNode;
  const terminal = new Terminal(userEnd);

  before(async () => {
    await pty.start();
    t = await startTestNode('sc', { consoleDevice: firmwareEnd });
    for (const spec of SEED_PODS) await t.pods.add(spec);
  });

  after(async () => {
    await terminal.close();
    await t?.stop();
    await pty.stop();
    fs.rmSync(cableDir, { recursive: true, force: true });
  });

  const busybox = 'default/ch-busybox';
  const nginx = (index: number): string => `default/${SEED_NGINX_PODS[index] ?? ''}`;

  it('logs in with CR line ends, sets the first-boot password, lists pods, applies a pasted policy that real traffic obeys', async () => {
    assert.ok(await wget(t, busybox, nginx(0)), 'before the policy busybox reaches nginx');

    await terminal.open();
    // The banner was written when the firmware opened its end; a CR asks for a fresh login prompt.
    await terminal.send('\r');
    await terminal.expect(/login: $/);
    await terminal.send('admin\r');
    await terminal.expect(/First boot: no password is set for admin[^]*New password: $/);
    await terminal.send(`${PASSWORD}\r`);
    await terminal.expect(/Retype new password: $/);
    await terminal.send(`${PASSWORD}\r`);
    const loggedIn = await terminal.expect(PROMPT);
    assert.match(loggedIn, /Password set\.\r\nLogged in as admin\./);

    const listing = await terminal.command('get podinterface');
    assert.match(listing, /NAMESPACE +NAME +INTERFACE-NAME +IP +MAC +PORT-UUID +OF-PORT +CONTAINER-ID/);
    for (const spec of SEED_PODS) assert.ok(listing.includes(spec.name), spec.name);
    assert.ok(listing.includes(findPod(t, busybox).ip));

    await terminal.send('apply -f -\r');
    await terminal.expect(/Paste the manifest;[^]*Ctrl-C cancels\.\r\n/);
    await terminal.send(fs.readFileSync(NGINX_ALLOW_EXAMPLE, 'utf8'));
    await terminal.send('.\r');
    const applied = await terminal.expect(PROMPT);
    assert.match(applied, /networkpolicy\.networking\.k8s\.io\/nginx-allow created/);

    // Realized in OVS (the console's own view), then real traffic.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const listed = await terminal.command('get networkpolicy');
      if (/K8sNetworkPolicy:default\/nginx-allow.*\btrue\b/.test(listed)) break;
      if (Date.now() > deadline) throw new Error(`nginx-allow not realized: ${listed}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(await wget(t, busybox, nginx(0)), false, 'busybox → nginx is blocked');
    assert.equal(await wget(t, busybox, nginx(1)), false, 'busybox → the other nginx is blocked');
    assert.ok(await wget(t, nginx(1), nginx(0)), 'nginx → nginx is still allowed');

    const evaluation = await terminal.command(
      `query networkpolicyevaluation -S ${busybox} -D ${nginx(0)} --port 80`,
    );
    assert.match(evaluation, /nginx-allow/);
  });

  it('rejects malformed YAML with its line and column and applies nothing', async () => {
    await terminal.send('apply -f -\r');
    await terminal.expect(/Ctrl-C cancels\.\r\n/);
    await terminal.send('apiVersion: networking.k8s.io/v1\rkind: NetworkPolicy\rmetadata: {name: [\r.\r');
    const answer = await terminal.expect(PROMPT);
    assert.match(answer, /<stdin> is not a valid manifest; nothing was applied\r\n {2}<stdin>:\d+:\d+: /);
    const listed = await terminal.command('get networkpolicy -o json');
    assert.equal((listed.match(/"sourceRef"/g) ?? []).length, 1, 'still only nginx-allow');
  });

  it('comes back on its own when the device disappears and returns, and asks for the password again', async () => {
    await terminal.close();
    await pty.stop();
    assert.ok(!fs.existsSync(firmwareEnd), 'the device is gone');
    // The agent keeps serving (and enforcing) while its console is gone.
    assert.ok(await t.node.healthy());
    await new Promise((resolve) => setTimeout(resolve, 1500));

    pty = new PtyPair(firmwareEnd, userEnd);
    await pty.start();
    await terminal.open();
    await terminal.expect(/login: $/, 30_000);
    await terminal.send(`admin\r${PASSWORD}\r`);
    await terminal.expect(PROMPT);
    // Edited in the line as a person fixes a typo: Ctrl-A to the start, insert the missing "g".
    const info = await terminal.command('et agentinfo\x01g');
    assert.ok(
      info.includes('et agentinfo\x1b[12Dget agentinfo\x1b[12D'),
      'the tail is re-printed and the cursor moved back over it',
    );
    assert.match(info, /POD +NODE +STATUS[^]*Healthy/);
    assert.equal(await wget(t, busybox, nginx(0)), false, 'the policy is still enforced');

    const log = fs.readFileSync(t.node.logFile, 'utf8');
    assert.match(log, /console device closed; reopening it when it is back/);
    assert.match(log, /console device is back|console open/);
    assert.ok(!log.includes(PASSWORD), 'the password never reaches the log');
  });
});
