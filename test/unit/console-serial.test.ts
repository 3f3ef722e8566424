// The serial console service against serialport's mock binding: retries while the device is missing, one session
// per opening, a new session after the device closes, 8N1 at the configured rate. The real pty round trip is in
// test/integration/serial-console.test.ts.
import assert from 'node:assert/strict';
import { MockBinding } from '@serialport/binding-mock';
import { SerialPortMock } from 'serialport';
import { silentLogger } from '../../firmware/core/logger';
import {
  SerialConsole,
  type SerialPortSettings,
  type SerialSession,
} from '../../firmware/console/serial-console';

const DEVICE = '/dev/ttyMOCK0';

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('serial console service', () => {
  afterEach(() => MockBinding.reset());

  it('retries until the device exists, runs a session per opening and reopens after the device closes', async () => {
    const sessions: { input: string; stopped: boolean; write: (text: string) => void }[] = [];
    const settings: SerialPortSettings[] = [];
    const ports: SerialPortMock[] = [];
    const service = new SerialConsole({
      device: DEVICE,
      baudRate: 115200,
      logger: silentLogger,
      retry: { initialMs: 10, maxMs: 40 },
      createPort: (options) => {
        settings.push(options);
        const port = new SerialPortMock({ ...options, autoOpen: false });
        ports.push(port);
        return port;
      },
      createSession: (write): SerialSession => {
        const record = { input: '', stopped: false, write };
        sessions.push(record);
        return {
          start: () => write('login: '),
          input: (bytes) => {
            record.input += Buffer.from(bytes).toString('utf8');
          },
          stop: () => {
            record.stopped = true;
          },
        };
      },
    });
    service.start();
    await until(() => settings.length >= 3, 'retries while the device is missing');
    assert.equal(service.currentState === 'open', false);
    assert.deepEqual(settings[0], {
      path: DEVICE,
      baudRate: 115200,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
    });

    MockBinding.createPort(DEVICE, { echo: false, record: true });
    await until(() => service.currentState === 'open', 'the device to open');
    assert.equal(sessions.length, 1);
    const first = ports[ports.length - 1];
    const binding = first?.port;
    await until(() => binding?.recording.toString('utf8') === 'login: ', 'the session output on the wire');
    binding?.emitData('admin\r');
    await until(() => sessions[0]?.input === 'admin\r', 'input to reach the session');

    // Unplugged: the port closes as disconnected; the session ends and the device is opened again.
    first?.close(undefined, { disconnected: true } as never);
    await until(() => sessions[0]?.stopped === true, 'the first session to stop');
    await until(
      () => sessions.length === 2 && service.currentState === 'open',
      'a new session after reopening',
    );
    assert.equal(service.openCount, 2);

    await service.stop();
    assert.equal(service.currentState, 'stopped');
    assert.equal(sessions[1]?.stopped, true);
  });
});
