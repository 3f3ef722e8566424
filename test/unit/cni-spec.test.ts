import assert from 'node:assert/strict';
import {
  buildRequest,
  compareVersions,
  declaredCniVersion,
  formatError,
  formatResult,
  normalizeResult,
  parseCniArgs,
  parseEnvironment,
  parseNetConf,
  parseWireReply,
  parseWireRequest,
  resolveSocketPath,
  resolveTimeoutMs,
  toCniError,
  versionResult,
  type Environment,
} from '../../firmware/cni/cni-spec';
import {
  CniError,
  CniErrorCode,
  DEFAULT_CNI_SOCKET_PATH,
  type CniResult,
} from '../../firmware/cni/cni-types';

const addEnv: Environment = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c0ffee-1',
  CNI_NETNS: '/var/run/netns/cni-1',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
  CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
};

const conf = (fields: Record<string, unknown> = {}): string =>
  JSON.stringify({ cniVersion: '1.0.0', name: 'antrea', type: 'antrea-edge', ...fields });

function cniCode(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CniError, `expected a CniError, got ${String(e)}`);
    return e.code;
  }
  assert.fail('expected a CniError');
}

const sampleResult: CniResult = {
  cniVersion: '1.0.0',
  interfaces: [
    { name: 'web0-1a2b3c', mac: '6a:00:00:00:00:01' },
    { name: 'eth0', mac: '0a:00:00:00:00:02', sandbox: '/var/run/netns/cni-1' },
  ],
  ips: [{ address: '10.10.0.5/24', gateway: '10.10.0.1', interface: 1 }],
  routes: [{ dst: '0.0.0.0/0', gw: '10.10.0.1' }],
};

describe('cni-spec: environment', () => {
  it('parses a complete ADD environment', () => {
    const inv = parseEnvironment(addEnv);
    assert.deepEqual(inv, {
      command: 'ADD',
      containerId: 'c0ffee-1',
      netns: '/var/run/netns/cni-1',
      ifName: 'eth0',
      args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'web-0' },
      path: '/opt/cni/bin:/usr/lib/cni',
    });
  });

  it('VERSION needs nothing but CNI_COMMAND', () => {
    assert.deepEqual(parseEnvironment({ CNI_COMMAND: 'VERSION' }), { command: 'VERSION' });
  });

  it('missing or unknown CNI_COMMAND is code 4', () => {
    assert.equal(
      cniCode(() => parseEnvironment({})),
      CniErrorCode.InvalidEnvironment,
    );
    assert.equal(
      cniCode(() => parseEnvironment({ ...addEnv, CNI_COMMAND: 'GC' })),
      4,
    );
  });

  it('names every missing variable in the message (code 4)', () => {
    try {
      parseEnvironment({ CNI_COMMAND: 'ADD', CNI_IFNAME: 'eth0' });
      assert.fail('expected an error');
    } catch (e) {
      assert.ok(e instanceof CniError);
      assert.equal(e.code, 4);
      assert.match(e.message, /CNI_CONTAINERID/);
      assert.match(e.message, /CNI_NETNS/);
      assert.doesNotMatch(e.message, /CNI_IFNAME/);
    }
  });

  it('CHECK requires CNI_NETNS, DEL does not', () => {
    const { CNI_NETNS: _unused, ...noNetns } = addEnv;
    assert.equal(
      cniCode(() => parseEnvironment({ ...noNetns, CNI_COMMAND: 'CHECK' })),
      4,
    );
    const del = parseEnvironment({ ...noNetns, CNI_COMMAND: 'DEL' });
    assert.ok(del.command !== 'VERSION');
    assert.equal(del.command, 'DEL');
    assert.equal(del.netns, '');
  });

  it('CNI_PATH and CNI_ARGS are optional', () => {
    const { CNI_PATH: _p, CNI_ARGS: _a, ...minimal } = addEnv;
    const inv = parseEnvironment(minimal);
    assert.ok(inv.command !== 'VERSION');
    assert.equal(inv.path, '');
    assert.deepEqual(inv.args, {});
  });

  it('rejects container IDs and interface names the spec and the kernel refuse (code 4)', () => {
    assert.equal(
      cniCode(() => parseEnvironment({ ...addEnv, CNI_CONTAINERID: '-leading-dash' })),
      4,
    );
    assert.equal(
      cniCode(() => parseEnvironment({ ...addEnv, CNI_CONTAINERID: 'has space' })),
      4,
    );
    assert.equal(
      cniCode(() => parseEnvironment({ ...addEnv, CNI_IFNAME: 'a-very-long-name0' })),
      4,
    );
    assert.equal(
      cniCode(() => parseEnvironment({ ...addEnv, CNI_IFNAME: 'eth/0' })),
      4,
    );
    assert.equal(
      cniCode(() => parseEnvironment({ ...addEnv, CNI_IFNAME: '..' })),
      4,
    );
    assert.equal(
      cniCode(() => parseEnvironment({ ...addEnv, CNI_NETNS: 'relative/ns' })),
      4,
    );
    assert.equal(parseEnvironment({ ...addEnv, CNI_IFNAME: 'net1.100' }).command, 'ADD');
  });
});

describe('cni-spec: CNI_ARGS', () => {
  it('splits pairs, skips empty segments and keeps "=" inside values', () => {
    assert.deepEqual(parseCniArgs('A=1;;B=x=y;IP=10.10.0.9;'), { A: '1', B: 'x=y', IP: '10.10.0.9' });
    assert.deepEqual(parseCniArgs(''), {});
    assert.deepEqual(parseCniArgs('EMPTY='), { EMPTY: '' });
  });

  it('rejects a pair without key or "=" (code 4)', () => {
    assert.equal(
      cniCode(() => parseCniArgs('A=1;junk')),
      4,
    );
    assert.equal(
      cniCode(() => parseCniArgs('=value')),
      4,
    );
  });
});

describe('cni-spec: network config', () => {
  it('keeps unknown keys and our own fields', () => {
    const c = parseNetConf(
      conf({ mtu: 1450, cniSocket: '/run/x.sock', ipam: { type: 'host-local' } }),
      'ADD',
    );
    assert.equal(c.mtu, 1450);
    assert.equal(c.cniSocket, '/run/x.sock');
    assert.deepEqual(c.ipam, { type: 'host-local' });
  });

  it('bad JSON and non-objects are code 6', () => {
    assert.equal(
      cniCode(() => parseNetConf('{not json', 'ADD')),
      CniErrorCode.DecodingFailure,
    );
    assert.equal(
      cniCode(() => parseNetConf('[1,2]', 'ADD')),
      6,
    );
    assert.equal(
      cniCode(() => parseNetConf('', 'DEL')),
      6,
    );
  });

  it('unsupported or missing cniVersion is code 1', () => {
    assert.equal(
      cniCode(() => parseNetConf(conf({ cniVersion: '0.2.0' }), 'ADD')),
      CniErrorCode.IncompatibleVersion,
    );
    assert.equal(
      cniCode(() => parseNetConf(conf({ cniVersion: '2.0.0' }), 'ADD')),
      1,
    );
    assert.equal(
      cniCode(() => parseNetConf(conf({ cniVersion: undefined }), 'ADD')),
      1,
    );
    for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0']) {
      assert.equal(parseNetConf(conf({ cniVersion: v }), 'ADD').cniVersion, v);
    }
  });

  it('CHECK needs at least 0.4.0 (code 1)', () => {
    assert.equal(
      cniCode(() => parseNetConf(conf({ cniVersion: '0.3.1' }), 'CHECK')),
      1,
    );
    assert.equal(parseNetConf(conf({ cniVersion: '0.4.0' }), 'CHECK').cniVersion, '0.4.0');
  });

  it('invalid name, type, mtu or cniSocket is code 7', () => {
    assert.equal(
      cniCode(() => parseNetConf(conf({ name: '' }), 'ADD')),
      CniErrorCode.InvalidNetworkConfig,
    );
    assert.equal(
      cniCode(() => parseNetConf(conf({ name: '_bad' }), 'ADD')),
      7,
    );
    assert.equal(
      cniCode(() => parseNetConf(conf({ type: '../x' }), 'ADD')),
      7,
    );
    assert.equal(
      cniCode(() => parseNetConf(conf({ mtu: 1450.5 }), 'ADD')),
      7,
    );
    assert.equal(
      cniCode(() => parseNetConf(conf({ mtu: '1450' }), 'ADD')),
      7,
    );
    assert.equal(
      cniCode(() => parseNetConf(conf({ cniSocket: 'relative.sock' }), 'ADD')),
      7,
    );
  });

  it('normalises a 0.4.0 prevResult to the 1.0.0 shape', () => {
    const c = parseNetConf(
      conf({
        cniVersion: '0.4.0',
        prevResult: {
          cniVersion: '0.4.0',
          interfaces: [{ name: 'eth0', mac: '0a:00:00:00:00:02', sandbox: '/var/run/netns/cni-1' }],
          ips: [{ version: '4', address: '10.10.0.5/24', gateway: '10.10.0.1', interface: 0 }],
          routes: [{ dst: '0.0.0.0/0' }],
          dns: { nameservers: ['10.96.0.10'] },
        },
      }),
      'CHECK',
    );
    assert.deepEqual(c.prevResult, {
      cniVersion: '0.4.0',
      interfaces: [{ name: 'eth0', mac: '0a:00:00:00:00:02', sandbox: '/var/run/netns/cni-1' }],
      ips: [{ address: '10.10.0.5/24', gateway: '10.10.0.1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0' }],
      dns: { nameservers: ['10.96.0.10'] },
    });
  });

  it('an undecodable prevResult is code 6', () => {
    assert.equal(
      cniCode(() => parseNetConf(conf({ prevResult: { ips: [{ gateway: 'x' }] } }), 'DEL')),
      6,
    );
    assert.equal(
      cniCode(() => normalizeResult('nope', '1.0.0')),
      6,
    );
  });

  it('buildRequest joins environment and config', () => {
    const inv = parseEnvironment(addEnv);
    assert.ok(inv.command !== 'VERSION');
    const req = buildRequest(inv, conf());
    assert.equal(req.command, 'ADD');
    assert.equal(req.args.K8S_POD_NAME, 'web-0');
    assert.equal(req.config.name, 'antrea');
  });

  it('declaredCniVersion falls back to 1.0.0 for undecodable input', () => {
    assert.equal(declaredCniVersion(conf({ cniVersion: '0.3.1' })), '0.3.1');
    assert.equal(declaredCniVersion('garbage'), '1.0.0');
    assert.equal(declaredCniVersion('{}'), '1.0.0');
  });
});

describe('cni-spec: output shapes', () => {
  it('VERSION output lists the supported versions', () => {
    assert.equal(
      JSON.stringify(versionResult()),
      '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}',
    );
  });

  it('1.0.0 results carry no ips[].version and always a dns object', () => {
    const out = formatResult(sampleResult, '1.0.0');
    assert.deepEqual(out, { ...sampleResult, dns: {} });
    assert.deepEqual(Object.keys(out), ['cniVersion', 'interfaces', 'ips', 'routes', 'dns']);
  });

  it('0.3.x/0.4.0 results get ips[].version and the requested cniVersion', () => {
    const out = formatResult(
      { ...sampleResult, ips: [...(sampleResult.ips ?? []), { address: 'fd00::5/64', interface: 1 }] },
      '0.3.1',
    );
    assert.equal(out.cniVersion, '0.3.1');
    assert.deepEqual(out.ips, [
      { version: '4', address: '10.10.0.5/24', gateway: '10.10.0.1', interface: 1 },
      { version: '6', address: 'fd00::5/64', interface: 1 },
    ]);
  });

  it('empty lists are left out', () => {
    assert.deepEqual(formatResult({ cniVersion: '1.0.0', interfaces: [], ips: [] }, '1.0.0'), {
      cniVersion: '1.0.0',
      dns: {},
    });
  });

  it('errors carry cniVersion, code, msg and details only when present', () => {
    assert.deepEqual(formatError(new CniError(7, 'Invalid Configuration', 'too small'), '0.4.0'), {
      cniVersion: '0.4.0',
      code: 7,
      msg: 'Invalid Configuration',
      details: 'too small',
    });
    assert.deepEqual(formatError(new CniError(11, 'later'), '1.0.0'), {
      cniVersion: '1.0.0',
      code: 11,
      msg: 'later',
    });
  });

  it('anything that is not a CniError becomes code 999 with its message', () => {
    const e = toCniError(new Error('boom'));
    assert.equal(e.code, CniErrorCode.Internal);
    assert.equal(e.code, 999);
    assert.equal(e.message, 'boom');
    const same = new CniError(101, 'no IP');
    assert.equal(toCniError(same), same);
  });
});

describe('cni-spec: settings and wire protocol', () => {
  it('socket path: env override, then config, then default', () => {
    assert.equal(resolveSocketPath({}, {}), DEFAULT_CNI_SOCKET_PATH);
    assert.equal(resolveSocketPath({ cniSocket: '/a.sock' }, {}), '/a.sock');
    assert.equal(
      resolveSocketPath({ cniSocket: '/a.sock' }, { ANTREA_EDGE_CNI_SOCKET: '/b.sock' }),
      '/b.sock',
    );
  });

  it('timeout: default, override, invalid override is code 4', () => {
    assert.equal(resolveTimeoutMs({}), 120_000);
    assert.equal(resolveTimeoutMs({ ANTREA_EDGE_CNI_TIMEOUT_MS: '250' }), 250);
    assert.equal(
      cniCode(() => resolveTimeoutMs({ ANTREA_EDGE_CNI_TIMEOUT_MS: 'soon' })),
      4,
    );
  });

  it('compareVersions orders semantic versions numerically', () => {
    assert.equal(compareVersions('0.10.0', '0.4.0'), 1);
    assert.equal(compareVersions('0.3.1', '0.4.0'), -1);
    assert.equal(compareVersions('1.0.0', '1.0.0'), 0);
    assert.equal(compareVersions('1.0', '1.0.0'), undefined);
  });

  it('parseWireRequest accepts what the plugin sends and rejects the rest with code 6', () => {
    const inv = parseEnvironment(addEnv);
    assert.ok(inv.command !== 'VERSION');
    const req = buildRequest(inv, conf());
    assert.deepEqual(parseWireRequest(JSON.stringify(req)), req);
    assert.equal(
      cniCode(() => parseWireRequest('{')),
      6,
    );
    assert.equal(
      cniCode(() => parseWireRequest(JSON.stringify({ ...req, command: 'VERSION' }))),
      6,
    );
    assert.equal(
      cniCode(() => parseWireRequest(JSON.stringify({ ...req, args: { A: 1 } }))),
      6,
    );
    assert.equal(
      cniCode(() => parseWireRequest(JSON.stringify({ ...req, config: { name: 'x' } }))),
      6,
    );
  });

  it('parseWireReply decodes both reply kinds and maps garbage to code 100', () => {
    assert.deepEqual(parseWireReply('{"ok":true}'), { ok: true });
    assert.deepEqual(parseWireReply(JSON.stringify({ ok: true, result: sampleResult })), {
      ok: true,
      result: sampleResult,
    });
    assert.deepEqual(
      parseWireReply('{"ok":false,"error":{"code":101,"msg":"no IP","details":"pool full"}}'),
      {
        ok: false,
        error: { code: 101, msg: 'no IP', details: 'pool full' },
      },
    );
    assert.equal(
      cniCode(() => parseWireReply('<html>')),
      CniErrorCode.AgentUnreachable,
    );
    assert.equal(
      cniCode(() => parseWireReply('{"ok":false}')),
      100,
    );
    assert.equal(
      cniCode(() => parseWireReply('{"ok":true,"result":{"ips":"x"}}')),
      100,
    );
  });
});
