import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  buildConfig,
  ConfigError,
  OPTION_HELP,
  parseHttpListen,
  parseOptions,
  validateBoardProfile,
} from '../../firmware/core/config';
import { gatewayMacFor } from '../../firmware/agent/agent';

const BOARD_DIR = path.resolve(__dirname, '../../board');

function board(name: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(BOARD_DIR, name, 'profile.json'), 'utf8'));
}

describe('board profiles', () => {
  for (const name of fs.readdirSync(BOARD_DIR)) {
    if (!fs.existsSync(path.join(BOARD_DIR, name, 'profile.json'))) continue;
    it(`${name} is valid and named after its folder`, () => {
      const profile = validateBoardProfile(board(name), name);
      assert.equal(profile.name, name);
    });
  }

  it('lists every problem of a bad profile with its field', () => {
    assert.throws(
      () =>
        validateBoardProfile(
          { name: 'x', datapathType: 'kernel', nics: [{ name: 'eth0', role: 'wan' }] },
          'bad',
        ),
      (e: unknown) =>
        e instanceof ConfigError &&
        /model: required/.test(e.message) &&
        /datapathType: must be netdev or system/.test(e.message) &&
        /nics\[0\]\.role/.test(e.message) &&
        /defaults\.podCidr/.test(e.message),
    );
  });
});

describe('firmware options', () => {
  const sim = validateBoardProfile(board('sim'), 'sim');

  it('defaults come from the board profile', () => {
    const options = parseOptions([]);
    assert.notEqual(options, 'help');
    const config = buildConfig(options as Map<string, string>, sim, 'host1');
    assert.equal(config.podCidr, '10.10.0.0/24');
    assert.equal(config.datapathType, 'netdev');
    assert.equal(config.mtu, 1450);
    assert.equal(config.nodeName, 'host1');
    assert.equal(config.ovsdbSocket, '/var/run/openvswitch/db.sock');
  });

  it('accepts --opt value and --opt=value and normalises the pod CIDR', () => {
    const options = parseOptions(['--pod-cidr=10.20.1.7/24', '--mtu', '1400', '--run-dir', '/tmp/r']) as Map<
      string,
      string
    >;
    const config = buildConfig(options, sim, 'h');
    assert.equal(config.podCidr, '10.20.1.0/24');
    assert.equal(config.mtu, 1400);
    assert.equal(config.cniSocket, '/tmp/r/cni.sock');
  });

  it('rejects bad options with a clear message', () => {
    assert.equal(parseOptions(['--help']), 'help');
    assert.throws(() => parseOptions(['--bogus']), /unknown option "--bogus"/);
    assert.throws(() => parseOptions(['--mtu']), /--mtu needs a value/);
    assert.throws(
      () => buildConfig(parseOptions(['--mtu', 'big']) as Map<string, string>, sim, 'h'),
      /--mtu/,
    );
    assert.throws(
      () => buildConfig(parseOptions(['--pod-cidr', '10.0.0.0']) as Map<string, string>, sim, 'h'),
      /CIDR/,
    );
    assert.throws(
      () => buildConfig(parseOptions(['--datapath', 'dpdk']) as Map<string, string>, sim, 'h'),
      /datapath/,
    );
  });

  it('audit-logs default drops only when --audit-default-drops true', () => {
    const config = (argv: string[]) => buildConfig(parseOptions(argv) as Map<string, string>, sim, 'h');
    assert.deepEqual(config([]).policy, { auditDefaultDrops: false });
    assert.deepEqual(config(['--audit-default-drops', 'true']).policy, { auditDefaultDrops: true });
    assert.deepEqual(config(['--audit-default-drops=false']).policy, { auditDefaultDrops: false });
    assert.throws(
      () => config(['--audit-default-drops', 'yes']),
      /--audit-default-drops must be true or false/,
    );
    assert.match(OPTION_HELP, /--audit-default-drops/);
  });

  it('takes the console device and baud rate from the profile unless options override them', () => {
    const config = (argv: string[], profile = sim) =>
      buildConfig(parseOptions(argv) as Map<string, string>, profile, 'h');
    assert.deepEqual(
      config([]).console,
      { baudRate: 115200 },
      'the sim board\'s "pty" has no path: no console',
    );
    assert.deepEqual(config(['--console-device', '/tmp/x/console']).console, {
      device: '/tmp/x/console',
      baudRate: 115200,
    });
    const rpi = validateBoardProfile(board('rpi4-dual-nic'), 'rpi4-dual-nic');
    assert.deepEqual(config([], rpi).console, { device: '/dev/ttyS0', baudRate: 115200 });
    assert.deepEqual(config(['--console-device', 'none', '--console-baud', '9600'], rpi).console, {
      baudRate: 9600,
    });
    assert.throws(() => config(['--console-baud', '1234']), /--console-baud must be one of/);
    assert.throws(() => config(['--console-device', 'ttyS0']), /absolute path or none/);
    assert.match(OPTION_HELP, /--console-device/);
  });
});

describe('--http-listen', () => {
  const sim = validateBoardProfile(board('sim'), 'sim');
  const rpi = validateBoardProfile(board('rpi4-dual-nic'), 'rpi4-dual-nic');
  const listen = (argv: string[], profile = sim) =>
    buildConfig(parseOptions(argv) as Map<string, string>, profile, 'h').httpListen;

  it("defaults to the board's management NIC on port 8080", () => {
    assert.deepEqual(listen([]), { kind: 'interface', interface: 'lo', port: 8080 });
    assert.deepEqual(listen([], rpi), { kind: 'interface', interface: 'eth1', port: 8080 });
    assert.deepEqual(listen(['--http-listen', ':9100'], rpi), {
      kind: 'interface',
      interface: 'eth1',
      port: 9100,
    });
    assert.deepEqual(parseHttpListen(undefined, { nics: [{ name: 'eth0', role: 'cluster' }] }), {
      kind: 'address',
      host: '127.0.0.1',
      port: 8080,
    });
  });

  it('takes IPv4 and bracketed IPv6 addresses, or none', () => {
    assert.deepEqual(listen(['--http-listen', '192.168.1.10:8080']), {
      kind: 'address',
      host: '192.168.1.10',
      port: 8080,
    });
    assert.deepEqual(listen(['--http-listen=[::1]:0']), { kind: 'address', host: '::1', port: 0 });
    assert.deepEqual(listen(['--http-listen', 'none']), { kind: 'none' });
    assert.match(OPTION_HELP, /--http-listen ADDR:PORT/);
  });

  it('explains what is wrong with a bad address', () => {
    for (const bad of ['8080', 'localhost:8080', '1.2.3.4', '1.2.3.4:70000', '300.1.1.1:80', '::1:80']) {
      assert.throws(() => listen(['--http-listen', bad]), ConfigError, bad);
    }
  });
});

describe('gateway MAC', () => {
  it('is a stable, locally administered unicast address per node', () => {
    const mac = gatewayMacFor('node-a');
    assert.match(mac, /^0a:5e(:[0-9a-f]{2}){4}$/);
    assert.equal(gatewayMacFor('node-a'), mac);
    assert.notEqual(gatewayMacFor('node-b'), mac);
  });
});
