// The CNI plugin executables against a real CniServer on a unix socket, spawned the way a runtime execs them
// (environment + config on stdin). Every case runs through both the native shim (firmware/cni/shim, compiled
// here with the build's flags) and its TypeScript twin (firmware/cni/plugin.ts), and asserts that they print the
// same bytes and exit with the same status.
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { silentLogger } from '../../firmware/core/logger';
import { CniServer, CniServerError, type CniHandler } from '../../firmware/cni/cni-server';
import { PodNetwork, hostInterfaceName } from '../../firmware/cni/pod-network';
import { encodeWireRequest, peekNetConf, versionResult } from '../../firmware/cni/cni-spec';
import {
  CniError,
  MAX_CNI_CONFIG_BYTES,
  type CniRequest,
  type CniResult,
  type RawCniInvocation,
} from '../../firmware/cni/cni-types';

const execFileAsync = promisify(execFile);
const REPO = path.resolve(__dirname, '../..');
const PLUGIN_SOURCE = path.join(REPO, 'firmware/cni/plugin.ts');
const SHIM_SOURCE = path.join(REPO, 'firmware/cni/shim/antrea-edge-cni.c');
/** The flags scripts/lib/setup.sh builds dist/bin/antrea-edge-cni with. */
const CC_FLAGS = ['-std=c99', '-O2', '-Wall', '-Wextra', '-Werror', '-D_POSIX_C_SOURCE=200809L'];
const TS_PLUGIN = [process.execPath, '--import', 'tsx', PLUGIN_SOURCE];

let buildRoot: string | undefined;
function buildDir(): string {
  buildRoot ??= fs.mkdtempSync(path.join(os.tmpdir(), 'cnit-build-'));
  return buildRoot;
}
after(() => {
  if (buildRoot) fs.rmSync(buildRoot, { recursive: true, force: true });
});

let shimBuild: Promise<string> | undefined;
/** Compiles the shim once per run; -Werror makes any warning fail the test. */
function builtShim(): Promise<string> {
  shimBuild ??= (async () => {
    const out = path.join(buildDir(), 'antrea-edge-cni');
    await execFileAsync('cc', [...CC_FLAGS, '-o', out, SHIM_SOURCE], { cwd: REPO });
    return out;
  })();
  return shimBuild;
}

let compiling: Promise<string> | undefined;
/** Compiles the TS plugin (and what it imports) like `npm run build` would, once per run; returns plugin.js. */
function compiledPlugin(): Promise<string> {
  compiling ??= (async () => {
    const outDir = path.join(buildDir(), 'build');
    const tsc = path.join(REPO, 'node_modules/typescript/bin/tsc');
    await execFileAsync(process.execPath, [
      tsc, '--outDir', outDir, '--rootDir', REPO, '--module', 'commonjs', '--target', 'ES2022', '--strict',
      '--skipLibCheck', '--types', 'node', PLUGIN_SOURCE,
    ], { cwd: REPO }); // prettier-ignore
    const compiled = path.join(outDir, 'firmware/cni/plugin.js');
    fs.chmodSync(compiled, 0o755);
    return compiled;
  })();
  return compiling;
}

type Env = Record<string, string | undefined>;

interface PluginRun {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

function runPlugin(command: string[], env: Env, stdin: string | Buffer): Promise<PluginRun> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH };
    for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
    const [file, ...args] = command;
    if (file === undefined) throw new Error('empty command');
    const child = spawn(file, args, { cwd: REPO, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // A plugin that stops reading (VERSION, oversized config) makes the rest of this write fail with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(stdout), stderr }));
  });
}

interface BothRuns {
  status: number | null;
  /** The common stdout, as text. */
  out: string;
  shim: PluginRun;
  ts: PluginRun;
}

/** Runs the shim, then the TS plugin, with the same input; they must agree byte for byte. */
async function runBoth(shim: string, env: Env, stdin: string | Buffer): Promise<BothRuns> {
  const c = await runPlugin([shim], env, stdin);
  const ts = await runPlugin(TS_PLUGIN, env, stdin);
  assert.equal(
    c.stdout.toString('latin1'),
    ts.stdout.toString('latin1'),
    `stdout differs\nshim stderr: ${c.stderr}\nts stderr: ${ts.stderr}`,
  );
  assert.equal(c.status, ts.status, `exit status differs\nshim: ${c.stderr}\nts: ${ts.stderr}`);
  return { status: c.status, out: c.stdout.toString('utf8'), shim: c, ts };
}

interface ErrorBody {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

function errorBody(out: string): ErrorBody {
  assert.ok(out.endsWith('}\n'), `one JSON line: ${out}`);
  return JSON.parse(out) as ErrorBody;
}

class Deferred {
  resolve: () => void = () => undefined;
  readonly promise = new Promise<void>((r) => (this.resolve = r));
}

/** In-memory stand-in for the agent's pod lifecycle; container IDs starting with "fail-" trigger errors. */
class FakeHandler implements CniHandler {
  readonly calls: CniRequest[] = [];
  readonly events: string[] = [];
  readonly attached = new Map<string, CniResult>();
  readonly gates = new Map<string, Deferred>();
  private nextHost = 5;

  async add(req: CniRequest): Promise<CniResult> {
    this.calls.push(req);
    this.events.push(`add:${req.containerId}:start`);
    await this.gates.get(req.containerId)?.promise;
    if (req.containerId === 'fail-internal') throw new Error('disk on fire');
    if (req.containerId === 'fail-noip')
      throw new CniError(101, 'no IP address available', 'pool 10.10.0.0/24 full');
    // A repeated ADD answers the same result, as the real agent does.
    const known = this.attached.get(req.containerId);
    if (known) return known;
    const ip = req.args.IP ?? `10.10.0.${this.nextHost++}`;
    const result: CniResult = {
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'host-veth', mac: '6a:00:00:00:00:01' },
        { name: req.ifName, mac: '0a:00:00:00:00:02', sandbox: req.netns },
      ],
      ips: [{ address: `${ip}/24`, gateway: '10.10.0.1', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.10.0.1' }],
      dns: {},
    };
    this.attached.set(req.containerId, result);
    this.events.push(`add:${req.containerId}:end`);
    return result;
  }

  async del(req: CniRequest): Promise<void> {
    this.calls.push(req);
    this.events.push(`del:${req.containerId}:start`);
    await this.gates.get(`del:${req.containerId}`)?.promise;
    this.attached.delete(req.containerId);
    this.events.push(`del:${req.containerId}:end`);
  }

  check(req: CniRequest): Promise<void> {
    this.calls.push(req);
    if (!this.attached.has(req.containerId)) {
      return Promise.reject(new CniError(3, `container ${req.containerId} is not attached`));
    }
    return Promise.resolve();
  }
}

const config = (fields: Record<string, unknown> = {}): string =>
  JSON.stringify({ cniVersion: '1.0.0', name: 'antrea', type: 'antrea-edge', mtu: 1450, ...fields });

/** A unix socket file nobody listens on (a dead agent's leftover). */
async function bindOnly(socketPath: string): Promise<void> {
  await execFileAsync('python3', [
    '-c',
    'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])',
    socketPath,
  ]);
}

/** A stand-in agent that records each request line and answers with `reply` (or closes when it is undefined). */
async function scriptedAgent(
  socketPath: string,
  reply: Buffer | undefined,
): Promise<{ requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server = net.createServer((socket) => {
    let text = '';
    socket.on('error', () => undefined);
    socket.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      if (!text.includes('\n')) return;
      requests.push(text);
      socket.end(reply ?? Buffer.alloc(0));
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

describe('CNI plugin executables (C shim and plugin.ts) against a CniServer', function () {
  this.timeout(120_000);
  let dir: string;
  let socketPath: string;
  let handler: FakeHandler;
  let server: CniServer;
  let shim: string;
  const env = (fields: Env): Env => ({
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'c1',
    CNI_NETNS: '/var/run/netns/cni-test-1',
    CNI_IFNAME: 'eth0',
    CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_LABELS=app=web,tier=a',
    CNI_PATH: '/opt/cni/bin',
    ANTREA_EDGE_CNI_SOCKET: socketPath,
    ...fields,
  });

  before(async () => {
    shim = await builtShim();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnit-plugin-'));
    socketPath = path.join(dir, 'run', 'cni.sock');
    handler = new FakeHandler();
    server = new CniServer({ socketPath, handler, logger: silentLogger });
    await server.start();
  });

  after(async () => {
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('VERSION answers without an agent and without reading stdin, with exactly versionResult()', async () => {
    const r = await runBoth(
      shim,
      { CNI_COMMAND: 'VERSION', ANTREA_EDGE_CNI_SOCKET: '/nonexistent/cni.sock' },
      '',
    );
    assert.equal(r.status, 0);
    assert.equal(r.out, `${JSON.stringify(versionResult())}\n`);
    assert.equal(r.out, '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}\n');
  });

  it('ADD prints the handler result in the spec shape and passes the parsed request on', async () => {
    const before = handler.calls.length;
    const r = await runBoth(
      shim,
      env({ CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;IP=10.10.0.77' }),
      config(),
    );
    assert.equal(r.status, 0, r.shim.stderr);
    assert.deepEqual(JSON.parse(r.out), {
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'host-veth', mac: '6a:00:00:00:00:01' },
        { name: 'eth0', mac: '0a:00:00:00:00:02', sandbox: '/var/run/netns/cni-test-1' },
      ],
      ips: [{ address: '10.10.0.77/24', gateway: '10.10.0.1', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.10.0.1' }],
      dns: {},
    });
    assert.equal(handler.calls.length, before + 2);
    const [fromShim, fromTs] = handler.calls.slice(-2);
    assert.deepEqual(fromShim, fromTs);
    assert.equal(fromShim?.command, 'ADD');
    assert.equal(fromShim?.containerId, 'c1');
    assert.equal(fromShim?.netns, '/var/run/netns/cni-test-1');
    assert.equal(fromShim?.path, '/opt/cni/bin');
    assert.deepEqual(fromShim?.args, {
      K8S_POD_NAMESPACE: 'default',
      K8S_POD_NAME: 'web-0',
      IP: '10.10.0.77',
    });
    assert.equal(fromShim?.config.mtu, 1450);
  });

  it('ADD with a 0.4.0 config answers in 0.4.0 shape (ips carry version)', async () => {
    const r = await runBoth(shim, env({ CNI_CONTAINERID: 'c-legacy' }), config({ cniVersion: '0.4.0' }));
    assert.equal(r.status, 0, r.shim.stderr);
    const out = JSON.parse(r.out) as { cniVersion: string; ips: { version: string }[] };
    assert.equal(out.cniVersion, '0.4.0');
    assert.equal(out.ips[0]?.version, '4');
  });

  it('CHECK with prevResult succeeds silently for an attached container and fails with code 3 otherwise', async () => {
    const add = await runBoth(shim, env({ CNI_CONTAINERID: 'c-check' }), config());
    assert.equal(add.status, 0, add.shim.stderr);
    const prevResult = JSON.parse(add.out) as CniResult;
    const ok = await runBoth(
      shim,
      env({ CNI_COMMAND: 'CHECK', CNI_CONTAINERID: 'c-check' }),
      config({ prevResult }),
    );
    assert.equal(ok.status, 0, ok.shim.stderr);
    assert.equal(ok.out, '');
    assert.deepEqual(handler.calls.at(-1)?.config.prevResult?.ips, prevResult.ips);

    const unknown = await runBoth(
      shim,
      env({ CNI_COMMAND: 'CHECK', CNI_CONTAINERID: 'c-never' }),
      config({ prevResult }),
    );
    assert.equal(unknown.status, 1);
    assert.deepEqual(errorBody(unknown.out), {
      cniVersion: '1.0.0',
      code: 3,
      msg: 'container c-never is not attached',
    });
    assert.match(unknown.shim.stderr, /not attached/);
    assert.match(unknown.ts.stderr, /not attached/);
  });

  it('DEL twice succeeds with no output, also without CNI_NETNS', async () => {
    const add = await runBoth(shim, env({ CNI_CONTAINERID: 'c-del' }), config());
    assert.equal(add.status, 0, add.shim.stderr);
    const del1 = await runBoth(shim, env({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c-del' }), config());
    const del2 = await runBoth(
      shim,
      env({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c-del', CNI_NETNS: undefined }),
      config(),
    );
    assert.deepEqual([del1.status, del1.out, del2.status, del2.out], [0, '', 0, '']);
    assert.equal(handler.attached.has('c-del'), false);
    assert.equal(handler.calls.at(-1)?.netns, '');
  });

  it('bad environment: code 4 from the agent, handler not called', async () => {
    const before = handler.calls.length;
    const r = await runBoth(shim, env({ CNI_CONTAINERID: undefined }), config());
    assert.equal(r.status, 1);
    const out = errorBody(r.out);
    assert.equal(out.code, 4);
    assert.match(out.msg, /CNI_CONTAINERID/);
    const unknownCommand = await runBoth(shim, env({ CNI_COMMAND: 'FROB' }), config());
    assert.equal(unknownCommand.status, 1);
    assert.equal(errorBody(unknownCommand.out).code, 4);
    const noCommand = await runBoth(shim, env({ CNI_COMMAND: undefined }), config());
    assert.equal(errorBody(noCommand.out).msg, 'required env variables [CNI_COMMAND] missing');
    const badIfName = await runBoth(shim, env({ CNI_IFNAME: 'eth 0' }), config());
    assert.equal(errorBody(badIfName.out).code, 4);
    assert.equal(handler.calls.length, before);
  });

  it('bad JSON on stdin: code 6 (and an empty stdin too)', async () => {
    const r = await runBoth(shim, env({}), '{"cniVersion": "0.4.0", ');
    assert.equal(r.status, 1);
    const out = errorBody(r.out);
    assert.equal(out.code, 6);
    assert.equal(out.cniVersion, '1.0.0');
    const empty = await runBoth(shim, env({ CNI_COMMAND: 'DEL' }), '');
    assert.equal(errorBody(empty.out).code, 6);
  });

  it('unsupported cniVersion: code 1, echoing the requested version', async () => {
    const r = await runBoth(shim, env({}), config({ cniVersion: '0.2.0' }));
    assert.equal(r.status, 1);
    const out = errorBody(r.out);
    assert.equal(out.code, 1);
    assert.equal(out.cniVersion, '0.2.0');
    assert.match(out.details ?? '', /1\.0\.0/);
  });

  it('handler errors: CniError keeps its code and details, anything else is 999 with its message', async () => {
    const noIp = await runBoth(shim, env({ CNI_CONTAINERID: 'fail-noip' }), config({ cniVersion: '0.3.1' }));
    assert.equal(noIp.status, 1);
    assert.deepEqual(errorBody(noIp.out), {
      cniVersion: '0.3.1',
      code: 101,
      msg: 'no IP address available',
      details: 'pool 10.10.0.0/24 full',
    });
    const internal = await runBoth(shim, env({ CNI_CONTAINERID: 'fail-internal' }), config());
    assert.equal(internal.status, 1);
    assert.deepEqual(errorBody(internal.out), { cniVersion: '1.0.0', code: 999, msg: 'disk on fire' });
  });

  it('agent not running (no socket, or a stale socket nobody listens on): code 11 naming socket and errno', async () => {
    const absent = path.join(dir, 'absent.sock');
    const missing = await runBoth(
      shim,
      env({ ANTREA_EDGE_CNI_SOCKET: absent }),
      config({ cniVersion: '0.4.0' }),
    );
    assert.equal(missing.status, 1);
    assert.deepEqual(errorBody(missing.out), {
      cniVersion: '0.4.0',
      code: 11,
      msg: 'antrea-edge agent is not running or not ready',
      details: `cannot connect to ${absent} (ENOENT); the agent creates this socket when it starts`,
    });
    assert.match(missing.shim.stderr, /^antrea-edge-cni: error 11: /);
    assert.equal(missing.shim.stderr, missing.ts.stderr);

    const stale = path.join(dir, 'stale.sock');
    await bindOnly(stale);
    const refused = await runBoth(shim, env({ ANTREA_EDGE_CNI_SOCKET: stale }), '{"cniVersion":"0.4.0",');
    const refusedOut = errorBody(refused.out);
    assert.deepEqual([refusedOut.code, refusedOut.cniVersion], [11, '1.0.0'], 'broken JSON: our version');
    assert.match(refusedOut.details ?? '', /stale\.sock \(ECONNREFUSED\)/);
  });

  it('other connection failures are code 100 with the errno name', async () => {
    const file = path.join(dir, 'regular-file');
    fs.writeFileSync(file, '');
    const notDir = await runBoth(shim, env({ ANTREA_EDGE_CNI_SOCKET: path.join(file, 'x.sock') }), config());
    assert.deepEqual(errorBody(notDir.out), {
      cniVersion: '1.0.0',
      code: 100,
      msg: 'cannot talk to the antrea-edge agent',
      details: `cannot connect to ${file}/x.sock (ENOTDIR)`,
    });
    // sun_path holds 107 bytes; a longer path must not be truncated into some other socket.
    const long = `${dir}/${'x'.repeat(120)}.sock`;
    const tooLong = await runBoth(shim, env({ ANTREA_EDGE_CNI_SOCKET: long }), config());
    assert.equal(errorBody(tooLong.out).details, `cannot connect to ${long} (ENAMETOOLONG)`);
  });

  it('cniSocket from the network config (JSON escapes decoded) is used when the environment does not set one', async () => {
    const escaped = config({ cniSocket: socketPath }).replaceAll('/', '\\/');
    assert.ok(escaped.includes('\\/run\\/cni.sock'));
    const r = await runBoth(
      shim,
      env({ ANTREA_EDGE_CNI_SOCKET: undefined, CNI_CONTAINERID: 'c-conf' }),
      escaped,
    );
    assert.equal(r.status, 0, r.shim.stderr);
    assert.equal(handler.attached.has('c-conf'), true);
    // The environment wins over the config; the last duplicate key wins as with JSON.parse.
    const absent = path.join(dir, 'conf-absent.sock');
    const dup = `{"cniSocket":"${socketPath}","cniVersion":"0.3.1","name":"antrea","type":"t","cniSocket":"${absent}"}`;
    const viaDup = await runBoth(shim, env({ ANTREA_EDGE_CNI_SOCKET: undefined }), dup);
    assert.deepEqual([errorBody(viaDup.out).code, errorBody(viaDup.out).cniVersion], [11, '0.3.1']);
    const overridden = await runBoth(shim, env({ CNI_CONTAINERID: 'c-conf' }), dup);
    assert.equal(overridden.status, 0, overridden.shim.stderr);
    // Not a JSON object, or cniSocket not a string: the socket from the environment is still used.
    const nested = await runBoth(shim, env({}), '{"a":{"cniSocket":"/x"},"cniVersion":"0.4.0"}');
    assert.equal(errorBody(nested.out).code, 7, 'reached the agent, which rejects the config');
  });

  it('the shim finds cniVersion and cniSocket exactly when JSON.parse does (peekNetConf)', async () => {
    const absent = path.join(dir, 'peek-absent.sock');
    const tail = `"cniSocket":"${absent}"`;
    const inputs = [
      `{"cniVersion":"\\u0030.4.0",${tail}}`,
      `{"cni\\u0056ersion":"0.3.1",${tail}}`,
      ` \n\t{"cniVersion":"0.4.0",${tail}}\r\n `,
      `{"n":-0.5e+3,"t":[true,false,null,{},[]],"cniVersion":"0.4.0",${tail}}`,
      `{"x":"\\ud83d\\ude00 \\ud800 \\/ é","cniVersion":"0.4.0",${tail}}`,
      `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)},"cniVersion":"0.4.0",${tail}}`,
      `{"cniVersion":"0.4.0",${tail}} x`,
      `{"n":01,"cniVersion":"0.4.0",${tail}}`,
      `{"n":1.,"cniVersion":"0.4.0",${tail}}`,
      `{"cniVersion":"0.4.0",${tail},}`,
      `{"cniVersion":"0.4.0",${tail},"bad":"\\x"}`,
      `{"cniVersion":"0.4.0",${tail},"n":tru}`,
    ];
    for (const input of inputs) {
      const r = await runBoth(shim, env({ ANTREA_EDGE_CNI_SOCKET: undefined }), input);
      const body = errorBody(r.out);
      const peek = peekNetConf(input);
      assert.equal(body.cniVersion, peek.cniVersion, input.slice(0, 80));
      if (peek.cniSocket !== undefined) {
        assert.equal(
          body.details,
          `cannot connect to ${absent} (ENOENT); the agent creates this socket when it starts`,
        );
      }
    }
  });

  it('an agent that does not answer in time: code 100 after the deadline', async () => {
    const gate = new Deferred();
    handler.gates.set('c-slow', gate);
    try {
      const r = await runBoth(
        shim,
        env({ CNI_CONTAINERID: 'c-slow', ANTREA_EDGE_CNI_TIMEOUT_MS: '300' }),
        config(),
      );
      assert.equal(r.status, 1);
      assert.deepEqual(errorBody(r.out), {
        cniVersion: '1.0.0',
        code: 100,
        msg: 'the antrea-edge agent did not answer in time',
        details: `no reply on ${socketPath} within 300 ms; the operation may still complete in the agent`,
      });
    } finally {
      gate.resolve();
    }
  });

  it('an invalid timeout setting is code 4 before the agent is contacted', async () => {
    const before = handler.calls.length;
    for (const value of ['soon', '0', '1e3', '1000000000']) {
      const r = await runBoth(
        shim,
        env({ ANTREA_EDGE_CNI_TIMEOUT_MS: value }),
        config({ cniVersion: '0.4.0' }),
      );
      assert.deepEqual(errorBody(r.out), {
        cniVersion: '0.4.0',
        code: 4,
        msg: `invalid ANTREA_EDGE_CNI_TIMEOUT_MS "${value}"`,
        details: 'a whole number of milliseconds from 1 to 999999999',
      });
    }
    assert.equal(handler.calls.length, before);
  });

  it('stdin over 1 MiB is code 5 without contacting the agent; exactly 1 MiB is accepted', async () => {
    const before = handler.calls.length;
    const base = config({ cniVersion: '0.4.0' });
    const exact = base + ' '.repeat(MAX_CNI_CONFIG_BYTES - base.length);
    const over = `${exact} `;
    const tooBig = await runBoth(shim, env({ CNI_CONTAINERID: 'c-big' }), over);
    assert.deepEqual(errorBody(tooBig.out), {
      cniVersion: '1.0.0',
      code: 5,
      msg: 'network config on stdin exceeds 1048576 bytes',
    });
    assert.equal(handler.calls.length, before);
    const fits = await runBoth(shim, env({ CNI_CONTAINERID: 'c-big' }), exact);
    assert.equal(fits.status, 0, fits.shim.stderr);
    assert.equal((JSON.parse(fits.out) as CniResult).cniVersion, '0.4.0');
    assert.equal(handler.calls.length, before + 2);
  });

  it('env values and stdin with quotes, backslashes, control characters and non-ASCII arrive intact', async () => {
    const note = 'say "hi" \\ back\\slash\nnew line\ttab \u0001 é 名前 😀';
    const cniPath = '/opt/"cni"/bin:/usr/lib/c\\ni';
    const stdin = config({ note: 'tab\t quote" nul\u0000 del\u007f é 名前 😀', 'key\nwith"': 1 });
    const r = await runBoth(
      shim,
      env({ CNI_CONTAINERID: 'c-chars', CNI_ARGS: `K8S_POD_NAME=web-0;NOTE=${note}`, CNI_PATH: cniPath }),
      stdin,
    );
    assert.equal(r.status, 0, r.shim.stderr);
    const [fromShim, fromTs] = handler.calls.slice(-2);
    assert.deepEqual(fromShim, fromTs);
    assert.equal(fromShim?.args.NOTE, note);
    assert.equal(fromShim?.path, cniPath);
    assert.deepEqual(fromShim?.config, JSON.parse(stdin));

    // Raw bytes: an invalid UTF-8 byte reaches the agent as U+FFFD from both; a raw control character inside a
    // string makes the agent's JSON.parse fail at the same position for both.
    const invalidUtf8 = Buffer.concat([
      Buffer.from(config({ note: 'x' }).replace('"x"}', '"a')),
      Buffer.from([0xff, 0x22, 0x7d]),
    ]);
    const lossy = await runBoth(shim, env({ CNI_CONTAINERID: 'c-bytes' }), invalidUtf8);
    assert.equal(lossy.status, 0, lossy.shim.stderr);
    assert.equal(handler.calls.at(-1)?.config.note, 'a\ufffd');
    const control = await runBoth(shim, env({}), config({ note: 'x' }).replace('"x"', '"a\u0001b"'));
    const body = errorBody(control.out);
    assert.equal(body.code, 6);
    assert.match(body.details ?? '', /control character/i);
  });

  it('both plugins send the same request, and print whatever exit status and bytes the agent answers', async () => {
    const agentSocket = path.join(dir, 'scripted.sock');
    const agent = await scriptedAgent(agentSocket, Buffer.from('{"exitCode":3}\nraw \u00e9 bytes\u0000\n'));
    try {
      const weird = { CNI_ARGS: 'A="q"\\;B=é', CNI_NETNS: undefined, ANTREA_EDGE_CNI_SOCKET: agentSocket };
      const stdin = 'not json at all: "\\ \u0002 ü';
      const r = await runBoth(shim, env(weird), stdin);
      assert.equal(r.status, 3);
      assert.equal(r.out, 'raw \u00e9 bytes\u0000\n');
      assert.match(r.shim.stderr, /^antrea-edge-cni: raw/);
      assert.equal(agent.requests.length, 2);
      const [fromShim, fromTs] = agent.requests.map((line) => JSON.parse(line) as { raw: RawCniInvocation });
      assert.deepEqual(fromShim, fromTs);
      assert.deepEqual(JSON.parse(agent.requests[0] ?? ''), JSON.parse(encodeWireRequest(env(weird), stdin)));
      assert.equal(fromShim?.raw.env.CNI_NETNS, undefined, 'absent variables are left out');
      assert.equal(fromShim?.raw.stdin, stdin);
      assert.ok(agent.requests.every((line) => line.indexOf('\n') === line.length - 1));
    } finally {
      await agent.close();
    }
  });

  it('broken replies are code 100: none, not the header, a status over 255, or too large', async () => {
    const cases: [Buffer | undefined, string][] = [
      [undefined, 'the agent closed the connection without a reply'],
      [Buffer.from('hello\n'), 'the reply does not start with {"exitCode":N}'],
      [Buffer.from('{"exitCode":256}\n'), 'the reply does not start with {"exitCode":N}'],
      [Buffer.from('{"exitCode":01}\n'), 'the reply does not start with {"exitCode":N}'],
      [Buffer.from('{"exitCode":0}'), 'the reply does not start with {"exitCode":N}'],
      [Buffer.alloc(1024 * 1024 + 1, '{"exitCode":0}\n'), 'the reply exceeds 1048576 bytes'],
    ];
    for (const [i, [reply, details]] of cases.entries()) {
      const agentSocket = path.join(dir, `broken-${i}.sock`);
      const agent = await scriptedAgent(agentSocket, reply);
      try {
        const r = await runBoth(shim, env({ ANTREA_EDGE_CNI_SOCKET: agentSocket }), config());
        assert.deepEqual(
          errorBody(r.out),
          { cniVersion: '1.0.0', code: 100, msg: 'malformed reply from the antrea-edge agent', details },
          `case ${i}`,
        );
      } finally {
        await agent.close();
      }
    }
  });

  it('the C shim runs clean under valgrind (no invalid access, every block freed)', async function () {
    const valgrind = ['valgrind', '--error-exitcode=97', '--leak-check=full', '--show-leak-kinds=all',
      '--errors-for-leak-kinds=all', shim]; // prettier-ignore
    const gate = new Deferred();
    handler.gates.set('c-vg-slow', gate);
    const cases: [string, Env, string | Buffer, number][] = [
      ['ADD', env({ CNI_CONTAINERID: 'c-vg' }), config(), 0],
      ['DEL', env({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c-vg' }), config(), 0],
      ['VERSION', { CNI_COMMAND: 'VERSION' }, '', 0],
      ['unreachable', env({ ANTREA_EDGE_CNI_SOCKET: path.join(dir, 'vg-absent.sock') }), config(), 1],
      ['oversized', env({}), Buffer.alloc(MAX_CNI_CONFIG_BYTES + 10, 0x20), 1],
      ['timeout', env({ CNI_CONTAINERID: 'c-vg-slow', ANTREA_EDGE_CNI_TIMEOUT_MS: '500' }), config(), 1],
      ['escapes', env({ CNI_ARGS: 'N="\\\n\u0001é' }), config({ cniSocket: '/x', n: '\u0000"' }), 0],
    ];
    try {
      for (const [name, caseEnv, stdin, status] of cases) {
        const plain = await runPlugin([shim], caseEnv, stdin);
        const checked = await runPlugin(valgrind, caseEnv, stdin);
        assert.equal(checked.status, status, `${name}: ${checked.stderr}`);
        assert.equal(plain.status, status, name);
        assert.equal(checked.stdout.toString(), plain.stdout.toString(), name);
        assert.match(checked.stderr, /ERROR SUMMARY: 0 errors/, name);
        assert.match(checked.stderr, /All heap blocks were freed -- no leaks are possible/, name);
      }
    } finally {
      gate.resolve();
    }
  });

  it('measures ADD exec time: C shim vs TS plugin (prints both)', async () => {
    const samples: Record<'shim' | 'ts', number[]> = { shim: [], ts: [] };
    for (let i = 0; i < 15; i++) {
      const commands: ['shim' | 'ts', string[]][] = [
        ['shim', [shim]],
        ['ts', TS_PLUGIN],
      ];
      for (const [kind, command] of commands) {
        const started = process.hrtime.bigint();
        const r = await runPlugin(command, env({ CNI_CONTAINERID: `perf-${kind}-${i}` }), config());
        samples[kind].push(Number(process.hrtime.bigint() - started) / 1e6);
        assert.equal(r.status, 0, r.stderr);
      }
    }
    for (const kind of ['shim', 'ts'] as const) {
      console.log(
        `      CNI ADD exec (fake handler) via ${kind === 'shim' ? 'C shim   ' : 'plugin.ts'}: ` +
          `p50 ${percentile(samples[kind], 0.5).toFixed(1)} ms, p95 ${percentile(samples[kind], 0.95).toFixed(1)} ms`,
      );
    }
  });

  it('the compiled TS plugin runs directly through its shebang', async () => {
    const compiled = await compiledPlugin();
    assert.equal(fs.readFileSync(compiled, 'utf8').split('\n')[0], '#!/usr/bin/env node');
    const version = await runPlugin([compiled], { CNI_COMMAND: 'VERSION' }, '');
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.toString(), `${JSON.stringify(versionResult())}\n`);
    const add = await runPlugin([compiled], env({ CNI_CONTAINERID: 'c-compiled' }), config());
    assert.equal(add.status, 0, add.stderr);
    assert.equal((JSON.parse(add.stdout.toString()) as CniResult).interfaces?.[1]?.name, 'eth0');
  });
});

/** A minimal agent: IP from CNI_ARGS, plumbing by PodNetwork, CHECK against prevResult. */
class PlumbingHandler implements CniHandler {
  constructor(private readonly pods: PodNetwork) {}

  private hostIfName(req: CniRequest): string {
    return hostInterfaceName(req.args.K8S_POD_NAMESPACE ?? '', req.args.K8S_POD_NAME ?? '', req.containerId);
  }

  async add(req: CniRequest): Promise<CniResult> {
    const ipCidr = `${req.args.IP ?? ''}/24`;
    const attached = await this.pods.attach({
      netns: req.netns,
      ifName: req.ifName,
      hostIfName: this.hostIfName(req),
      ipCidr,
      gatewayIp: '10.79.0.1',
      mtu: req.config.mtu ?? 1450,
    });
    return {
      cniVersion: req.config.cniVersion,
      interfaces: [
        { name: attached.hostIfName },
        { name: req.ifName, mac: attached.containerMac, sandbox: req.netns },
      ],
      ips: [{ address: ipCidr, gateway: '10.79.0.1', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.79.0.1' }],
    };
  }

  del(req: CniRequest): Promise<void> {
    return this.pods.detach({ hostIfName: this.hostIfName(req) });
  }

  async check(req: CniRequest): Promise<void> {
    const seen = await this.pods.inspect({ netns: req.netns, ifName: req.ifName });
    const want = req.config.prevResult?.ips?.[0]?.address ?? '';
    if (!seen.exists) throw new CniError(102, `${req.ifName} is missing in ${req.netns}`);
    if (!seen.ipCidrs.includes(want)) throw new CniError(102, `${req.ifName} lacks ${want}`);
  }
}

describe('CNI plugin end to end with real pod plumbing (C shim)', function () {
  this.timeout(120_000);
  const tag = `cnit${process.pid % 100000}e`;
  const pods = 10;
  const namespaces: string[] = [];
  let dir: string;
  let socketPath: string;
  let server: CniServer;
  let shim: string;

  before(async () => {
    shim = await builtShim();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnit-e2e-'));
    socketPath = path.join(dir, 'cni.sock');
    server = new CniServer({
      socketPath,
      handler: new PlumbingHandler(new PodNetwork({ logger: silentLogger })),
      logger: silentLogger,
    });
    await server.start();
    for (let i = 0; i < pods; i++) {
      const name = `${tag}${i}`;
      await execFileAsync('ip', ['netns', 'add', name]);
      namespaces.push(name);
    }
  });

  after(async () => {
    await server?.stop();
    for (const [i, ns] of namespaces.entries()) {
      const host = hostInterfaceName('e2e', `pod${i}`, `${tag}-${i}`);
      await execFileAsync('ip', ['link', 'del', host]).catch(() => undefined);
      await execFileAsync('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ADD, CHECK, DEL, DEL through the shim; prints ADD latency', async () => {
    const envFor = (i: number, command: string): Record<string, string> => ({
      CNI_COMMAND: command,
      CNI_CONTAINERID: `${tag}-${i}`,
      CNI_NETNS: `/run/netns/${tag}${i}`,
      CNI_IFNAME: 'eth0',
      CNI_ARGS: `K8S_POD_NAMESPACE=e2e;K8S_POD_NAME=pod${i};IP=10.79.0.${i + 10}`,
      CNI_PATH: '/opt/cni/bin',
      ANTREA_EDGE_CNI_SOCKET: socketPath,
    });
    const addMs: number[] = [];
    const results: string[] = [];
    for (let i = 0; i < pods; i++) {
      const started = process.hrtime.bigint();
      const add = await runPlugin([shim], envFor(i, 'ADD'), config());
      addMs.push(Number(process.hrtime.bigint() - started) / 1e6);
      assert.equal(add.status, 0, add.stdout.toString() + add.stderr);
      results.push(add.stdout.toString());
      const out = JSON.parse(add.stdout.toString()) as CniResult;
      assert.equal(out.ips?.[0]?.address, `10.79.0.${i + 10}/24`);
      const routes = (await execFileAsync('ip', ['-n', `${tag}${i}`, 'route', 'show', 'default'])).stdout;
      assert.match(routes, /default via 10\.79\.0\.1 dev eth0/);
    }
    const prevResult = JSON.parse(results[0] ?? '') as unknown;
    const check = await runPlugin([shim], envFor(0, 'CHECK'), config({ prevResult }));
    assert.equal(check.status, 0, check.stdout.toString() + check.stderr);

    const del = await runPlugin([shim], envFor(0, 'DEL'), config());
    assert.equal(del.status, 0, del.stdout.toString());
    const delAgain = await runPlugin([shim], envFor(0, 'DEL'), config());
    assert.equal(delAgain.status, 0, delAgain.stdout.toString());
    const checkGone = await runPlugin([shim], envFor(0, 'CHECK'), config({ prevResult }));
    assert.equal(checkGone.status, 1);
    assert.equal(errorBody(checkGone.stdout.toString()).code, 102);

    console.log(
      `      CNI ADD via C shim + CniServer + PodNetwork: p50 ${percentile(addMs, 0.5).toFixed(1)} ms, ` +
        `p95 ${percentile(addMs, 0.95).toFixed(1)} ms`,
    );
  });
});

/** Sends one raw request to the server and returns everything it answered until it closed. */
function rawRequest(socketPath: string, payload: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let reply = '';
    socket.on('data', (c: Buffer) => (reply += c.toString()));
    socket.on('end', () => {
      socket.destroy();
      resolve(reply);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may reset a client that is still sending (oversized request); the reply counts.
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') resolve(reply);
      else reject(err);
    });
    socket.write(payload);
  });
}

/** The reply split into its exit status and the plugin's stdout. */
function decodeReply(reply: string): { exitCode: number; stdout: string } {
  const newline = reply.indexOf('\n');
  assert.ok(newline > 0, `reply has a header line: ${JSON.stringify(reply)}`);
  const header = JSON.parse(reply.slice(0, newline)) as { exitCode: number };
  return { exitCode: header.exitCode, stdout: reply.slice(newline + 1) };
}

function wireRequest(command: 'ADD' | 'DEL' | 'CHECK', containerId: string): string {
  return encodeWireRequest(
    {
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: '/var/run/netns/x',
      CNI_IFNAME: 'eth0',
      CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${containerId}`,
    },
    config(),
  );
}

describe('CniServer', function () {
  this.timeout(30_000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnit-server-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serialises requests of one container and runs different containers concurrently', async () => {
    const socketPath = path.join(dir, 'serial.sock');
    const handler = new FakeHandler();
    const server = new CniServer({ socketPath, handler, logger: silentLogger });
    await server.start();
    const gate = new Deferred();
    try {
      handler.gates.set('pod-a', gate);
      const add = rawRequest(socketPath, wireRequest('ADD', 'pod-a'));
      await waitUntil(() => handler.events.includes('add:pod-a:start'));
      const del = rawRequest(socketPath, wireRequest('DEL', 'pod-a'));
      // Another container is not held up by pod-a's slow ADD.
      const other = decodeReply(await rawRequest(socketPath, wireRequest('ADD', 'pod-b')));
      assert.equal(other.exitCode, 0);
      assert.equal((JSON.parse(other.stdout) as CniResult).ips?.[0]?.address, '10.10.0.5/24');
      assert.equal(
        handler.events.includes('del:pod-a:start'),
        false,
        'DEL must wait for the ADD in progress',
      );
      gate.resolve();
      const [addReply, delReply] = await Promise.all([add, del]);
      assert.equal(decodeReply(addReply).exitCode, 0);
      assert.equal(delReply, '{"exitCode":0}\n');
      const podA = handler.events.filter((e) => e.includes('pod-a'));
      assert.deepEqual(podA, ['add:pod-a:start', 'add:pod-a:end', 'del:pod-a:start', 'del:pod-a:end']);
    } finally {
      gate.resolve();
      await server.stop();
    }
  });

  it('answers malformed and oversized request lines with codes 6 and 5', async () => {
    const socketPath = path.join(dir, 'limits.sock');
    const server = new CniServer({
      socketPath,
      handler: new FakeHandler(),
      logger: silentLogger,
      maxRequestBytes: 4096,
    });
    await server.start();
    try {
      const old = decodeReply(await rawRequest(socketPath, '{"command":"ADD"}\n'));
      assert.equal(old.exitCode, 1);
      assert.deepEqual(errorBody(old.stdout), {
        cniVersion: '1.0.0',
        code: 6,
        msg: 'malformed CNI request',
        details: 'not a {"raw":{...}} object',
      });
      const garbage = decodeReply(await rawRequest(socketPath, 'hello\n'));
      assert.equal(errorBody(garbage.stdout).code, 6);
      const big = decodeReply(await rawRequest(socketPath, Buffer.alloc(64 * 1024, 0x61)));
      assert.equal(big.exitCode, 1);
      assert.deepEqual(errorBody(big.stdout), {
        cniVersion: '1.0.0',
        code: 5,
        msg: 'CNI request exceeds 4096 bytes',
      });
    } finally {
      await server.stop();
    }
  });

  it('accepts a request terminated by half-closing instead of a newline', async () => {
    const socketPath = path.join(dir, 'halfclose.sock');
    const server = new CniServer({ socketPath, handler: new FakeHandler(), logger: silentLogger });
    await server.start();
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = net.createConnection(socketPath);
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
        socket.end(wireRequest('DEL', 'pod-h').trimEnd());
      });
      assert.equal(reply, '{"exitCode":0}\n');
    } finally {
      await server.stop();
    }
  });

  it('removes a stale socket, refuses a live one and a non-socket path, and removes its socket on stop', async () => {
    const socketPath = path.join(dir, 'stale.sock');
    await bindOnly(socketPath);
    const first = new CniServer({ socketPath, handler: new FakeHandler(), logger: silentLogger });
    await first.start();
    assert.equal((fs.statSync(socketPath).mode & 0o777).toString(8), '600');
    const second = new CniServer({ socketPath, handler: new FakeHandler(), logger: silentLogger });
    await assert.rejects(
      second.start(),
      (e: unknown) => e instanceof CniServerError && e.code === 'CNI_SOCKET_IN_USE',
    );
    assert.equal(await rawRequest(socketPath, wireRequest('DEL', 'pod-s')), '{"exitCode":0}\n');
    await first.stop();
    assert.equal(fs.existsSync(socketPath), false);

    const regular = path.join(dir, 'regular-file');
    fs.writeFileSync(regular, 'keep me');
    const third = new CniServer({ socketPath: regular, handler: new FakeHandler(), logger: silentLogger });
    await assert.rejects(
      third.start(),
      (e: unknown) => e instanceof CniServerError && e.code === 'CNI_SOCKET_PATH_NOT_SOCKET',
    );
    assert.equal(fs.readFileSync(regular, 'utf8'), 'keep me');
  });

  it('stop() lets a request in progress finish and deliver its reply, and drops idle clients', async () => {
    const socketPath = path.join(dir, 'stop.sock');
    const handler = new FakeHandler();
    const server = new CniServer({ socketPath, handler, logger: silentLogger });
    await server.start();
    const idle = net.createConnection(socketPath);
    const idleClosed = new Promise<void>((resolve) => idle.on('close', () => resolve()));
    idle.on('error', () => undefined);
    const gate = new Deferred();
    handler.gates.set('pod-stop', gate);
    const add = rawRequest(socketPath, wireRequest('ADD', 'pod-stop'));
    await waitUntil(() => handler.events.includes('add:pod-stop:start'));
    let stopped = false;
    const stopping = server.stop().then(() => (stopped = true));
    try {
      await idleClosed;
      assert.equal(stopped, false, 'stop() must wait for the ADD in progress');
    } finally {
      gate.resolve();
    }
    const reply = decodeReply(await add);
    assert.equal(reply.exitCode, 0);
    assert.equal((JSON.parse(reply.stdout) as CniResult).ips?.[0]?.gateway, '10.10.0.1');
    await stopping;
    assert.equal(fs.existsSync(socketPath), false);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}
