// Support bundles without a node: the ustar writer (checked by Debian's tar), the redaction rules, and the
// collector against fakes: file list, progress, failures in errors.txt, secrets absent from every file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ApiError } from '../../firmware/core/antctl/api-error';
import type { AgentInfoView, ControllerInfoView } from '../../firmware/core/antctl/views';
import { silentLogger } from '../../firmware/core/logger';
import {
  isSecretName,
  REDACTED,
  redactKnownSecrets,
  redactLog,
  redactLogLine,
} from '../../firmware/observability/redaction';
import {
  ERRORS_FILE,
  readTail,
  SUPPORT_BUNDLE_FILES,
  SupportBundle,
  type CommandRunner,
  type SupportBundleOptions,
} from '../../firmware/observability/support-bundle';
import { tarArchive, TarArchiveError } from '../../firmware/observability/tar-archive';

const HASH = 'b64ScryptHashXYZ0123456789abcdefghijklmnopq=';
const SALT = 'SaltSaltSalt1234567890==';

describe('ustar writer', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-tar-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes archives that tar lists and extracts byte for byte', () => {
    const longDir = `top/${'deep-directory-name/'.repeat(6)}`;
    const binary = new Uint8Array(1000).map((_v, i) => (i * 7) % 256);
    const mtime = new Date('2024-05-06T07:08:09Z');
    const archive = tarArchive([
      { path: 'top/', mtime },
      { path: 'top/hello.txt', data: 'héllo wörld\n', mtime },
      { path: 'top/empty.txt', data: '', mtime },
      { path: `${longDir}file.bin`, data: binary, mode: 0o600, mtime },
    ]);
    assert.equal(archive.length % 512, 0);
    const file = path.join(dir, 'a.tar.gz');
    fs.writeFileSync(file, zlib.gzipSync(archive));
    const listing = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(listing, ['top/', 'top/hello.txt', 'top/empty.txt', `${longDir}file.bin`]);
    execFileSync('tar', ['-xzf', file, '-C', dir]);
    assert.equal(fs.readFileSync(path.join(dir, 'top/hello.txt'), 'utf8'), 'héllo wörld\n');
    assert.equal(fs.statSync(path.join(dir, 'top/empty.txt')).size, 0);
    const extracted = path.join(dir, longDir, 'file.bin');
    assert.deepEqual(new Uint8Array(fs.readFileSync(extracted)), binary);
    assert.equal(fs.statSync(extracted).mode & 0o777, 0o600);
    assert.equal(fs.statSync(extracted).mtime.toISOString(), mtime.toISOString());
  });

  it('refuses absolute, parent and over-long paths', () => {
    const mtime = new Date();
    for (const bad of ['/etc/passwd', 'a/../b', '']) {
      assert.throws(
        () => tarArchive([{ path: bad, data: 'x', mtime }]),
        (e: unknown) => e instanceof TarArchiveError && e.code === 'INVALID_PATH',
      );
    }
    assert.throws(
      () => tarArchive([{ path: `${'x'.repeat(200)}/${'y'.repeat(101)}`, data: 'x', mtime }]),
      (e: unknown) => e instanceof TarArchiveError && e.code === 'PATH_TOO_LONG',
    );
  });
});

describe('support bundle redaction', () => {
  it('replaces known secret values anywhere, longest first, ignoring values too short to be secrets', () => {
    const text = `hash=${HASH} salt ${SALT}${SALT} short=abc`;
    assert.equal(
      redactKnownSecrets(text, [SALT, HASH, 'abc', `${SALT}${SALT}`]),
      `hash=${REDACTED} salt ${REDACTED} short=abc`,
    );
  });

  it('drops secret-named fields from JSON log lines at any depth and counts them', () => {
    const line = JSON.stringify({
      level: 'info',
      msg: 'user updated',
      user: 'admin',
      password: 'hunter22',
      record: { passwordHash: HASH, salt: SALT, keep: 1 },
      apiToken: 'x',
    });
    const redacted = JSON.parse(redactLogLine(line)) as Record<string, unknown>;
    assert.deepEqual(redacted, {
      level: 'info',
      msg: 'user updated',
      user: 'admin',
      record: { keep: 1 },
      redactedFields: 4,
    });
    const clean = JSON.stringify({ level: 'info', msg: 'flows updated', owner: 'pod/5' });
    assert.equal(redactLogLine(clean), clean, 'lines without secrets are left byte for byte');
  });

  it('removes secret-named key=value pairs from text lines', () => {
    assert.equal(
      redactLogLine('login ok user=admin password=hunter22 db_secret: "a b" token=xyz'),
      `login ok user=admin ${REDACTED} ${REDACTED} ${REDACTED}`,
    );
    assert.equal(redactLog('a=1\npasswd=2\n'), `a=1\n${REDACTED}\n`);
    assert.equal(
      redactLogLine('table=90, priority=200 actions=conjunction(3,1/2)'),
      'table=90, priority=200 actions=conjunction(3,1/2)',
    );
  });

  it('knows secret field names', () => {
    for (const name of [
      'password',
      'passwordHash',
      'password_hash',
      'salt',
      'token',
      'clientSecret',
      'passwd',
    ]) {
      assert.ok(isSecretName(name), name);
    }
    for (const name of ['user', 'msg', 'component', 'flows', 'podName']) assert.ok(!isSecretName(name), name);
  });
});

describe('support bundle collector', () => {
  let dir: string;
  let npLog: string;
  let runs: string[];

  const queries = {
    agentInfo: () =>
      Promise.resolve({
        nodeName: 'n1',
        localPods: 2,
        flowsPerTable: { Classification: 3 },
      } as unknown as AgentInfoView),
    controllerInfo: () =>
      Promise.resolve({ kind: 'AntreaControllerInfo', version: '0.1.0' } as unknown as ControllerInfoView),
    networkPolicies: () => Promise.resolve([{ name: 'web-allow', uid: 'u1' }] as never[]),
    addressGroups: () => Promise.resolve([{ name: 'ag1' }]),
    appliedToGroups: () => Promise.resolve([{ name: 'atg1' }]),
    networkPolicyStats: () => Promise.resolve([]),
  };

  const fakeRun: CommandRunner = (file, args) => {
    runs.push([file, ...args].join(' '));
    if (file === 'ovsdb-client')
      return Promise.reject(new Error('ovsdb-client: failed to connect to socket'));
    if (file === 'ovs-ofctl') {
      return Promise.resolve({
        stdout: ` cookie=0x1, table=0, priority=200 actions=goto_table:10 # ${HASH}\n`,
      });
    }
    return Promise.resolve({ stdout: `${file} output\n` });
  };

  const bundleOptions = (overrides: Partial<SupportBundleOptions> = {}): SupportBundleOptions => ({
    nodeName: 'node 1/x',
    version: '0.1.0',
    defaultDir: path.join(dir, 'default'),
    queries,
    firmwareLog: (maxBytes) =>
      [
        JSON.stringify({ level: 'info', msg: 'antrea-edge ready' }),
        JSON.stringify({ level: 'info', msg: 'console user', password: 'hunter22', hash: HASH }),
        `{"level":"debug","msg":"lookup","name":"${SALT}"}`,
        '',
      ]
        .join('\n')
        .slice(-maxBytes),
    npLogFile: npLog,
    bridgeName: 'br-int',
    ovsdbSocket: '/run/ovs/db.sock',
    ovsEnv: {},
    storeSchemaVersion: () => 5,
    boardProfile: { name: 'sim', nics: [{ name: 'lo', role: 'management' }] },
    config: { nodeName: 'n1', dataDir: '/var/lib/antrea-edge' },
    secrets: () => [HASH, SALT],
    metrics: () =>
      Promise.resolve(
        '# HELP antrea_edge_local_pods x\n# TYPE antrea_edge_local_pods gauge\nantrea_edge_local_pods 2\n',
      ),
    logger: silentLogger,
    run: fakeRun,
    now: () => new Date('2024-01-31T23:59:58.123Z'),
    ...overrides,
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-bundle-'));
    npLog = path.join(dir, 'np.log');
    fs.writeFileSync(
      npLog,
      '2024/01/31 23:59:00.000000 IngressDefaultRule K8sNetworkPolicy:default/web <nil> Drop\n',
    );
    runs = [];
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const extract = (file: string): string => {
    const out = path.join(dir, 'out');
    fs.mkdirSync(out, { recursive: true });
    execFileSync('tar', ['-xzf', file, '-C', out]);
    const [top] = fs.readdirSync(out);
    return path.join(out, top ?? '');
  };

  it('writes every part, lists a failed one in errors.txt, and reports progress per part', async () => {
    const progress: string[] = [];
    const bundle = new SupportBundle(bundleOptions());
    const view = await bundle.collect({ dir: path.join(dir, 'bundles') }, (line) => progress.push(line));
    assert.equal(
      view.path,
      path.join(dir, 'bundles', 'antrea-edge-supportbundle_node_1_x_20240131T235958Z.tar.gz'),
    );
    assert.equal(view.bytes, fs.statSync(view.path).size);
    assert.equal(fs.statSync(view.path).mode & 0o777, 0o600);
    const expected = [...SUPPORT_BUNDLE_FILES.filter((file) => file !== 'ovs/ovsdb-dump.txt'), ERRORS_FILE];
    assert.deepEqual(view.files, expected);
    assert.equal(view.failures.length, 1);
    assert.match(view.failures[0] ?? '', /^ovs\/ovsdb-dump\.txt: .*failed to connect to socket/);
    assert.equal(
      progress.filter((line) => line.startsWith('collecting ')).length,
      SUPPORT_BUNDLE_FILES.length,
    );
    assert.ok(progress.includes('  failed: ovsdb-client: failed to connect to socket'));
    assert.equal(progress[progress.length - 1], 'writing the archive');
    assert.ok(runs.includes('ovs-ofctl -O OpenFlow13 dump-flows br-int'));
    assert.ok(runs.includes('ovsdb-client dump unix:/run/ovs/db.sock Open_vSwitch'));

    const listed = execFileSync('tar', ['-tzf', view.path], { encoding: 'utf8' }).trim().split('\n');
    const top = 'antrea-edge-supportbundle_node_1_x_20240131T235958Z';
    assert.deepEqual(listed, [`${top}/`, ...expected.map((file) => `${top}/${file}`)]);

    const root = extract(view.path);
    for (const file of expected) {
      const text = fs.readFileSync(path.join(root, file), 'utf8');
      assert.ok(!text.includes(HASH), `${file} holds the hash`);
      assert.ok(!text.includes(SALT), `${file} holds the salt`);
      assert.doesNotMatch(text, /password|hunter22/i, `${file} holds a password`);
    }
    assert.match(
      fs.readFileSync(path.join(root, 'ovs/dump-flows.txt'), 'utf8'),
      /table=0, priority=200 .*\[REDACTED\]/,
    );
    assert.equal(fs.readFileSync(path.join(root, 'store/schema-version.txt'), 'utf8'), '5\n');
    assert.match(fs.readFileSync(path.join(root, 'agent/agentinfo.yaml'), 'utf8'), /^nodeName: n1$/m);
    assert.match(
      fs.readFileSync(path.join(root, 'policies/networkpolicies.yaml'), 'utf8'),
      /name: web-allow/,
    );
    assert.match(fs.readFileSync(path.join(root, 'logs/np.log'), 'utf8'), /IngressDefaultRule/);
    assert.match(fs.readFileSync(path.join(root, 'logs/antrea-edge.log'), 'utf8'), /"redactedFields":2/);
    assert.equal(fs.readdirSync(path.join(dir, 'bundles')).length, 1, 'no partial file is left');
  });

  it('uses the default directory, and refuses a relative one', async () => {
    const bundle = new SupportBundle(bundleOptions());
    const view = await bundle.collect({}, () => undefined);
    assert.equal(path.dirname(view.path), path.join(dir, 'default'));
    await assert.rejects(
      bundle.collect({ dir: 'relative/dir' }, () => undefined),
      (error: unknown) => error instanceof ApiError && error.code === 'BadRequest',
    );
  });

  it('collects one bundle at a time', async () => {
    let release: (() => void) | undefined;
    const slow = new SupportBundle(
      bundleOptions({
        run: (file, args, options) =>
          file === 'uname' && release === undefined
            ? new Promise((resolve) => (release = () => resolve({ stdout: 'Linux\n' })))
            : fakeRun(file, args, options),
      }),
    );
    const first = slow.collect({ dir }, () => undefined);
    while (release === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    await assert.rejects(
      slow.collect({ dir }, () => undefined),
      (error: unknown) => error instanceof ApiError && error.code === 'Conflict',
    );
    release?.();
    const view = await first;
    assert.ok(view.files.includes('system/uname.txt'));
    // Once done, the next one may run.
    await slow.collect({ dir: path.join(dir, 'second') }, () => undefined);
  });

  it('says when there is no audit log yet, and reads only the tail of a long one from a line start', async () => {
    assert.equal(await readTail(path.join(dir, 'missing.log'), 100, 'none\n'), 'none\n');
    const long = path.join(dir, 'long.log');
    fs.writeFileSync(long, Array.from({ length: 100 }, (_v, i) => `line ${i}`).join('\n') + '\n');
    const tail = await readTail(long, 30);
    assert.ok(tail.length <= 30);
    assert.ok(tail.startsWith('line '), tail);
    assert.ok(tail.endsWith('line 99\n'));
  });
});
