// The installed plugin works as a runtime would use it: scripts' installer (runK3sInstall) puts the C shim and
// the Node.js plugin (behind its launcher) into temporary "k3s" directories, then each installed executable is
// run the way containerd's libcni runs a conflist entry (the entry plus cniVersion and name on stdin, CNI_*
// environment, no socket override) and must reach a real CniServer on the socket the conflist names.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CniServer, type CniHandler } from '../../firmware/cni/cni-server';
import type { CniRequest, CniResult } from '../../firmware/cni/cni-types';
import {
  CONFLIST_FILE,
  PLUGIN_TYPE,
  k3sContainerdConfigPath,
  pluginConfigs,
  runK3sInstall,
} from '../../firmware/cni/k3s-install';
import { silentLogger } from '../../firmware/core/logger';

const execFileAsync = promisify(execFile);
const REPO = path.resolve(__dirname, '../..');
/** The flags scripts/lib/setup.sh builds dist/bin/antrea-edge-cni with. */
const CC_FLAGS = ['-std=c99', '-O2', '-Wall', '-Wextra', '-Werror', '-D_POSIX_C_SOURCE=200809L'];

class RecordingHandler implements CniHandler {
  readonly calls: CniRequest[] = [];

  add(req: CniRequest): Promise<CniResult> {
    this.calls.push(req);
    return Promise.resolve({
      cniVersion: '1.0.0',
      interfaces: [{ name: req.ifName, mac: '0a:00:00:00:00:02', sandbox: req.netns }],
      ips: [{ address: '10.10.0.5/24', gateway: '10.10.0.1', interface: 0 }],
    });
  }

  del(req: CniRequest): Promise<void> {
    this.calls.push(req);
    return Promise.resolve();
  }

  check(req: CniRequest): Promise<void> {
    this.calls.push(req);
    return Promise.resolve();
  }
}

function run(
  file: string,
  env: Record<string, string>,
  stdin: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Only what a runtime passes: no ANTREA_EDGE_CNI_SOCKET, so the socket comes from the conflist.
    const child = spawn(file, [], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('k3s CNI install: the installed plugin reaches the agent through the conflist', function () {
  this.timeout(120_000);
  let root: string;
  let server: CniServer;
  let handler: RecordingHandler;
  let socketPath: string;
  let shim: string;
  let pluginJs: string;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'k3si-int-'));
    shim = path.join(root, 'build', PLUGIN_TYPE);
    fs.mkdirSync(path.dirname(shim), { recursive: true });
    await execFileAsync('cc', [
      ...CC_FLAGS,
      '-o',
      shim,
      path.join(REPO, 'firmware/cni/shim/antrea-edge-cni.c'),
    ]);
    const outDir = path.join(root, 'build', 'js');
    const tsc = path.join(REPO, 'node_modules/typescript/bin/tsc');
    await execFileAsync(process.execPath, [
      tsc, '--outDir', outDir, '--rootDir', REPO, '--module', 'commonjs', '--target', 'ES2022', '--strict',
      '--skipLibCheck', '--types', 'node', path.join(REPO, 'firmware/cni/plugin.ts'),
    ]); // prettier-ignore
    pluginJs = path.join(outDir, 'firmware/cni/plugin.js');
    socketPath = path.join(root, 'run', 'cni.sock');
    handler = new RecordingHandler();
    server = new CniServer({ socketPath, handler, logger: silentLogger });
    await server.start();
  });

  after(async () => {
    await server?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  for (const flavour of ['C shim', 'Node.js plugin'] as const) {
    it(`${flavour}: ADD and DEL through the installed files`, async () => {
      const k3sDataDir = path.join(root, flavour.replace(/\W/g, ''), 'k3s');
      const confDir = path.join(k3sDataDir, 'agent/etc/cni/net.d');
      const binDir = path.join(k3sDataDir, 'data/cni');
      const config = k3sContainerdConfigPath(k3sDataDir);
      fs.mkdirSync(path.dirname(config), { recursive: true });
      fs.writeFileSync(
        config,
        `[plugins."io.containerd.grpc.v1.cri".cni]\n  bin_dir = "${binDir}"\n  conf_dir = "${confDir}"\n`,
      );
      const out: string[] = [];
      const status = runK3sInstall(
        [
          '--k3s-data-dir', k3sDataDir,
          '--plugin', flavour === 'C shim' ? shim : pluginJs,
          '--cni-socket', socketPath,
          '--mtu', '1450',
        ],
        { out: (l) => out.push(l), err: (l) => out.push(l) },
      ); // prettier-ignore
      assert.equal(status, 0, out.join('\n'));

      // What libcni hands the plugin for the list's only entry.
      const conflist: unknown = JSON.parse(fs.readFileSync(path.join(confDir, CONFLIST_FILE), 'utf8'));
      const [entry] = pluginConfigs(conflist);
      assert.ok(entry);
      const executable = path.join(binDir, entry.type);
      const env = {
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: `k3s-${flavour.length}`,
        CNI_NETNS: '/var/run/netns/cni-k3si-test',
        CNI_IFNAME: 'eth0',
        CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0',
        CNI_PATH: binDir,
      };
      const before = handler.calls.length;
      const add = await run(executable, env, JSON.stringify(entry));
      assert.equal(add.status, 0, add.stderr);
      const result = JSON.parse(add.stdout) as CniResult;
      assert.equal(result.cniVersion, '1.0.0');
      assert.deepEqual(result.ips, [{ address: '10.10.0.5/24', gateway: '10.10.0.1', interface: 0 }]);
      const request = handler.calls[before];
      assert.equal(request?.command, 'ADD');
      assert.equal(request?.config.cniSocket, socketPath);
      assert.equal(request?.config.mtu, 1450);
      assert.equal(request?.config.name, 'antrea');
      assert.equal(request?.args.K8S_POD_NAME, 'web-0');

      const del = await run(executable, { ...env, CNI_COMMAND: 'DEL' }, JSON.stringify(entry));
      assert.equal(del.status, 0, del.stderr);
      assert.equal(handler.calls.at(-1)?.command, 'DEL');
    });
  }
});
