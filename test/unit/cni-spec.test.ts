import assert from 'node:assert/strict';
import {
  buildRequest,
  compareVersions,
  declaredCniVersion,
  encodeWireReply,
  encodeWireRequest,
  errorOutput,
  executeInvocation,
  formatError,
  formatResult,
  normalizeResult,
  parseCniArgs,
  parseEnvironment,
  parseNetConf,
  parseWireReplyHeader,
  parseWireRequest,
  peekNetConf,
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
  type CniRequest,
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

  it('peekNetConf takes top-level non-empty cniVersion and cniSocket strings of a JSON object only', () => {
    assert.deepEqual(peekNetConf(conf({ cniVersion: '0.4.0', cniSocket: '/run/a.sock' })), {
      cniVersion: '0.4.0',
      cniSocket: '/run/a.sock',
    });
    assert.deepEqual(peekNetConf('{"cniVersion":"","cniSocket":""}'), { cniVersion: '1.0.0' });
    assert.deepEqual(peekNetConf('{"cniVersion":4,"cniSocket":["/x"]}'), { cniVersion: '1.0.0' });
    assert.deepEqual(peekNetConf('{"nested":{"cniVersion":"0.3.1","cniSocket":"/x"}}'), {
      cniVersion: '1.0.0',
    });
    // The last duplicate wins, as JSON.parse has it (the C shim copies this rule).
    assert.deepEqual(peekNetConf('{"cniVersion":"0.3.1","cniVersion":"0.4.0"}'), { cniVersion: '0.4.0' });
    assert.deepEqual(peekNetConf('{"cniVersion":"0.3.1","cniVersion":null}'), { cniVersion: '1.0.0' });
    assert.deepEqual(peekNetConf('{"cniSocket":"\\/run\\/x.sock"}'), {
      cniVersion: '1.0.0',
      cniSocket: '/run/x.sock',
    });
    assert.deepEqual(peekNetConf('{"cniVersion":"0.4.0",'), { cniVersion: '1.0.0' });
    assert.deepEqual(peekNetConf('["cniVersion","0.4.0"]'), { cniVersion: '1.0.0' });
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
    assert.equal(resolveSocketPath({ cniSocket: '/a.sock' }, { ANTREA_EDGE_CNI_SOCKET: '' }), '/a.sock');
  });

  it('timeout: default, override, anything but 1-999999999 in plain digits is code 4', () => {
    assert.equal(resolveTimeoutMs({}), 120_000);
    assert.equal(resolveTimeoutMs({ ANTREA_EDGE_CNI_TIMEOUT_MS: '' }), 120_000);
    assert.equal(resolveTimeoutMs({ ANTREA_EDGE_CNI_TIMEOUT_MS: '250' }), 250);
    assert.equal(resolveTimeoutMs({ ANTREA_EDGE_CNI_TIMEOUT_MS: '999999999' }), 999_999_999);
    for (const bad of ['soon', '0', '-5', '1e3', ' 250', '250.0', '0250', '0x10', '1000000000']) {
      assert.equal(
        cniCode(() => resolveTimeoutMs({ ANTREA_EDGE_CNI_TIMEOUT_MS: bad })),
        4,
        bad,
      );
    }
  });

  it('compareVersions orders semantic versions numerically', () => {
    assert.equal(compareVersions('0.10.0', '0.4.0'), 1);
    assert.equal(compareVersions('0.3.1', '0.4.0'), -1);
    assert.equal(compareVersions('1.0.0', '1.0.0'), 0);
    assert.equal(compareVersions('1.0', '1.0.0'), undefined);
  });

  it('parseWireRequest accepts what the plugin sends and rejects the rest with code 6', () => {
    const line = encodeWireRequest({ ...addEnv, HOME: '/root', ANTREA_EDGE_CNI_SOCKET: '/x' }, conf());
    assert.ok(line.endsWith('}\n'));
    assert.equal(line.indexOf('\n'), line.length - 1, 'one line');
    assert.deepEqual(parseWireRequest(line.trimEnd()), { env: addEnv, stdin: conf() });
    const { CNI_NETNS: _n, ...noNetns } = addEnv;
    assert.deepEqual(parseWireRequest(encodeWireRequest(noNetns, '')).env, noNetns);
    // Other keys are ignored: only the CNI_* variables reach parseEnvironment.
    assert.deepEqual(parseWireRequest('{"raw":{"env":{"FOO":"1","CNI_IFNAME":"eth0"},"stdin":"x"}}'), {
      env: { CNI_IFNAME: 'eth0' },
      stdin: 'x',
    });
    const bad = [
      '{',
      '{"command":"ADD"}',
      '{"raw":{"env":{},"stdin":1}}',
      '{"raw":{"env":[],"stdin":""}}',
      '{"raw":{"env":{"CNI_COMMAND":1},"stdin":""}}',
      '{"raw":"x"}',
    ];
    for (const text of bad) {
      assert.equal(
        cniCode(() => parseWireRequest(text)),
        CniErrorCode.DecodingFailure,
        text,
      );
    }
  });

  it('reply: header line then stdout; the header must be exactly {"exitCode":0..255}', () => {
    assert.equal(encodeWireReply({ exitCode: 0, stdout: '' }), '{"exitCode":0}\n');
    assert.equal(encodeWireReply({ exitCode: 1, stdout: '{"code":4}\n' }), '{"exitCode":1}\n{"code":4}\n');
    assert.equal(parseWireReplyHeader('{"exitCode":0}'), 0);
    assert.equal(parseWireReplyHeader('{"exitCode":255}'), 255);
    for (const bad of [
      '',
      '{"exitCode":256}',
      '{"exitCode":01}',
      '{"exitCode": 1}',
      '{"exitCode":1} ',
      '{}',
    ]) {
      assert.equal(parseWireReplyHeader(bad), undefined, bad);
    }
  });
});

describe('cni-spec: executeInvocation (what the CNI server runs for every forwarded call)', () => {
  const okResult: CniResult = { ...sampleResult, dns: { nameservers: ['10.96.0.10'] } };
  function recorder(result: CniResult | undefined | Error) {
    const seen: CniRequest[] = [];
    const dispatch = (req: CniRequest): Promise<CniResult | undefined> => {
      seen.push(req);
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    };
    return { seen, dispatch };
  }

  it('ADD: dispatches the parsed request and prints the result for the config version', async () => {
    const { seen, dispatch } = recorder(okResult);
    const outcome = await executeInvocation({ env: addEnv, stdin: conf({ cniVersion: '0.4.0' }) }, dispatch);
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.output.exitCode, 0);
    assert.equal(outcome.output.stdout, `${JSON.stringify(formatResult(okResult, '0.4.0'))}\n`);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.containerId, 'c0ffee-1');
    assert.equal(seen[0]?.config.cniVersion, '0.4.0');
    assert.equal(outcome.request, seen[0]);
  });

  it('DEL and CHECK print nothing on success', async () => {
    for (const command of ['DEL', 'CHECK']) {
      const { seen, dispatch } = recorder(undefined);
      const outcome = await executeInvocation(
        { env: { ...addEnv, CNI_COMMAND: command }, stdin: conf() },
        dispatch,
      );
      assert.deepEqual(outcome.output, { exitCode: 0, stdout: '' });
      assert.equal(seen[0]?.command, command);
    }
  });

  it('VERSION answers without the handler', async () => {
    const { seen, dispatch } = recorder(okResult);
    const outcome = await executeInvocation({ env: { CNI_COMMAND: 'VERSION' }, stdin: '' }, dispatch);
    assert.deepEqual(outcome.output, { exitCode: 0, stdout: `${JSON.stringify(versionResult())}\n` });
    assert.equal(seen.length, 0);
  });

  it('environment errors: code 4 at version 1.0.0, handler not called', async () => {
    const { seen, dispatch } = recorder(okResult);
    const { CNI_CONTAINERID: _c, ...noId } = addEnv;
    const outcome = await executeInvocation({ env: noId, stdin: conf({ cniVersion: '0.4.0' }) }, dispatch);
    assert.equal(outcome.output.exitCode, 1);
    const body = JSON.parse(outcome.output.stdout) as { cniVersion: string; code: number; msg: string };
    assert.equal(body.code, 4);
    assert.equal(body.cniVersion, '1.0.0');
    assert.match(body.msg, /CNI_CONTAINERID/);
    assert.equal(outcome.error?.code, 4);
    assert.equal(outcome.request, undefined);
    assert.equal(seen.length, 0);
  });

  it('config errors carry the declared version; handler not called', async () => {
    const { seen, dispatch } = recorder(okResult);
    const bad = await executeInvocation({ env: addEnv, stdin: '{"cniVersion":"0.4.0",' }, dispatch);
    assert.deepEqual(
      [bad.output.exitCode, (JSON.parse(bad.output.stdout) as { code: number; cniVersion: string }).code],
      [1, 6],
    );
    const old = await executeInvocation({ env: addEnv, stdin: conf({ cniVersion: '0.2.0' }) }, dispatch);
    assert.deepEqual(JSON.parse(old.output.stdout), {
      cniVersion: '0.2.0',
      code: 1,
      msg: 'incompatible CNI versions',
      details: 'config is "0.2.0", plugin supports 0.3.0, 0.3.1, 0.4.0, 1.0.0',
    });
    assert.equal(seen.length, 0);
  });

  it('handler errors keep their code; anything else is 999; the output equals errorOutput()', async () => {
    const typed = await executeInvocation(
      { env: addEnv, stdin: conf({ cniVersion: '0.3.1' }) },
      recorder(new CniError(101, 'no IP address available', 'pool full')).dispatch,
    );
    assert.deepEqual(
      typed.output,
      errorOutput(new CniError(101, 'no IP address available', 'pool full'), '0.3.1'),
    );
    assert.ok(typed.request !== undefined, 'the handler ran');
    const crash = await executeInvocation(
      { env: addEnv, stdin: conf() },
      recorder(new Error('disk on fire')).dispatch,
    );
    assert.equal(crash.output.stdout, '{"cniVersion":"1.0.0","code":999,"msg":"disk on fire"}\n');
  });

  it('an ADD without a result or with a malformed one is code 999, never a half-printed result', async () => {
    const none = await executeInvocation({ env: addEnv, stdin: conf() }, recorder(undefined).dispatch);
    assert.equal((JSON.parse(none.output.stdout) as { code: number }).code, 999);
    const broken = await executeInvocation(
      { env: addEnv, stdin: conf() },
      recorder({ cniVersion: '1.0.0', ips: 'x' } as unknown as CniResult).dispatch,
    );
    assert.equal(broken.output.exitCode, 1);
    const body = JSON.parse(broken.output.stdout) as { code: number; details: string };
    assert.equal(body.code, 999);
    assert.match(body.details, /ips is not a list/);
  });
});
