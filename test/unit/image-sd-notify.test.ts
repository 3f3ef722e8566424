import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../firmware/core/logger';
import {
  SdNotify,
  SystemdNotifyCommand,
  watchdogPingIntervalMs,
  type NotifyTransport,
  type SdNotifyTimers,
} from '../../firmware/system/sd-notify';

/**
 * A real AF_UNIX SOCK_DGRAM socket, as systemd's NOTIFY_SOCKET is, with SO_PASSCRED so each datagram's sender
 * pid is seen as systemd sees it. Python, because Node.js cannot bind a unix datagram socket.
 */
class NotifySocket {
  readonly messages: { pid: number; lines: string[] }[] = [];
  private receiver: ChildProcessWithoutNullStreams | undefined;
  private waiters: (() => void)[] = [];

  constructor(readonly path: string) {}

  async start(): Promise<void> {
    const script = [
      'import socket, struct, sys, json',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)',
      `s.bind(${JSON.stringify(this.path)})`,
      'print("ready", flush=True)',
      'while True:',
      '    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(12))',
      '    pid = [struct.unpack("iII", d[:12])[0] for l, t, d in anc if t == socket.SCM_CREDENTIALS]',
      '    print(json.dumps({"pid": pid[0] if pid else -1, "text": msg.decode()}), flush=True)',
    ].join('\n');
    const receiver = spawn('python3', ['-c', script]);
    this.receiver = receiver;
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      receiver.on('error', reject);
      receiver.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (line === 'ready') resolve();
          else {
            const parsed = JSON.parse(line) as { pid: number; text: string };
            this.messages.push({ pid: parsed.pid, lines: parsed.text.split('\n') });
            for (const wake of this.waiters.splice(0)) wake();
          }
        }
      });
    });
  }

  async waitFor(count: number): Promise<void> {
    while (this.messages.length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  stop(): void {
    this.receiver?.kill();
  }
}

describe('sd_notify (firmware/system/sd-notify.ts)', () => {
  let dir: string;
  let socket: NotifySocket;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'image-sd-notify-'));
    socket = new NotifySocket(path.join(dir, 'notify'));
    await socket.start();
  });

  afterEach(() => {
    socket.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sends READY=1 with a status, then STOPPING=1, on the real socket, attributed to our pid', async () => {
    const notify = new SdNotify({
      env: { NOTIFY_SOCKET: socket.path },
      pid: process.pid,
      transport: new SystemdNotifyCommand(),
      logger: silentLogger,
    });
    assert.equal(notify.enabled, true);
    await notify.ready('enforcing (standalone, board qemu-x86_64)');
    await socket.waitFor(1);
    await notify.stopping('stopping (SIGTERM)');
    await socket.waitFor(2);
    const [ready, stopping] = socket.messages;
    assert.equal(ready?.pid, process.pid, 'systemd must see the datagram as coming from the main process');
    assert.ok(ready?.lines.includes('READY=1'));
    assert.ok(ready?.lines.includes('STATUS=enforcing (standalone, board qemu-x86_64)'));
    assert.ok(stopping?.lines.includes('STOPPING=1'));
    assert.ok(stopping?.lines.includes('STATUS=stopping (SIGTERM)'));
  });

  it('pings WATCHDOG=1 at half of WATCHDOG_USEC until stopped', async () => {
    const notify = new SdNotify({
      env: { NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: '400000', WATCHDOG_PID: String(process.pid) },
      pid: process.pid,
      transport: new SystemdNotifyCommand(),
      logger: silentLogger,
    });
    assert.equal(notify.watchdogIntervalMs, 200);
    notify.start();
    await socket.waitFor(3);
    notify.stop();
    const pings = socket.messages.filter((m) => m.lines.includes('WATCHDOG=1'));
    assert.ok(pings.length >= 3);
    assert.ok(pings.every((m) => m.pid === process.pid));
  });

  it('does nothing outside systemd, and keeps quiet when the watchdog is meant for another process', async () => {
    const sent: string[][] = [];
    const transport: NotifyTransport = {
      send: (_socket, _pid, lines) => {
        sent.push([...lines]);
        return Promise.resolve();
      },
    };
    const outside = new SdNotify({ env: {}, pid: 10, transport, logger: silentLogger });
    await outside.ready('x');
    outside.start();
    assert.equal(outside.enabled, false);
    assert.deepEqual(sent, []);
    assert.equal(watchdogPingIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '11' }, 10), undefined);
    assert.equal(watchdogPingIntervalMs({ WATCHDOG_USEC: '30000000' }, 10), 15000);
    assert.equal(watchdogPingIntervalMs({ WATCHDOG_USEC: 'soon' }, 10), undefined);
  });

  it('skips a ping while the previous one is still being sent, and survives a failing transport', async () => {
    let tick: (() => void) | undefined;
    const timers: SdNotifyTimers = {
      setInterval: (callback) => ((tick = callback), 1),
      clearInterval: () => (tick = undefined),
    };
    let release: (() => void) | undefined;
    let calls = 0;
    const transport: NotifyTransport = {
      send: () => {
        calls++;
        return calls === 1
          ? new Promise<void>((resolve) => (release = resolve))
          : Promise.reject(new Error('gone'));
      },
    };
    const notify = new SdNotify({
      env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '1000000' },
      pid: 1,
      transport,
      logger: silentLogger,
      timers,
    });
    notify.start();
    tick?.();
    tick?.();
    assert.equal(calls, 1, 'the second tick found the first ping in flight');
    release?.();
    await new Promise((resolve) => setImmediate(resolve));
    tick?.();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls, 2);
    await notify.status('still here'); // rejected by the transport: logged, not thrown
    notify.stop();
    assert.equal(tick, undefined);
  });
});
