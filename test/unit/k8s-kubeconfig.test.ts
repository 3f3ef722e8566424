// Which kubeconfig cluster mode picks: explicit path, then k3s's, then the in-cluster service account.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeConfigError, loadKubeConfig } from '../../firmware/k8s/kubeconfig';
import { buildConfig, ConfigError, parseOptions, validateBoardProfile } from '../../firmware/core/config';
import { FakeApiServer } from '../support/fake-apiserver';

describe('k8s kubeconfig loader', function () {
  let dir: string;
  const missing = (): string => path.join(dir, 'missing.yaml');

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-kubeconfig-'));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function writeConfig(name: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, new FakeApiServer().kubeconfig());
    return file;
  }

  it('uses an explicit path first, even when k3s has one', () => {
    const explicit = writeConfig('explicit.yaml');
    const k3s = writeConfig('k3s.yaml');
    const loaded = loadKubeConfig({ explicitPath: explicit, k3sPath: k3s, env: {} });
    assert.equal(loaded.source, explicit);
    assert.equal(loaded.kubeConfig.getCurrentCluster()?.name, 'fake');
  });

  it("falls back to k3s's kubeconfig", () => {
    const k3s = writeConfig('k3s.yaml');
    assert.equal(loadKubeConfig({ k3sPath: k3s, env: {} }).source, k3s);
  });

  it('says how to give one when there is none, and names a broken explicit file', () => {
    assert.throws(
      () => loadKubeConfig({ k3sPath: missing(), env: {}, serviceAccountTokenPath: missing() }),
      (error) => error instanceof KubeConfigError && /--kubeconfig PATH/.test(error.message),
    );
    const broken = path.join(dir, 'broken.yaml');
    fs.writeFileSync(broken, 'apiVersion: v1\nkind: Config\ncontexts: []\n');
    assert.throws(
      () => loadKubeConfig({ explicitPath: broken }),
      (error) => error instanceof KubeConfigError && error.message.includes(broken),
    );
  });

  it('uses the in-cluster service account inside a pod', () => {
    const token = path.join(dir, 'token');
    fs.writeFileSync(token, 'secret-token');
    const loaded = loadKubeConfig({
      k3sPath: missing(),
      env: { KUBERNETES_SERVICE_HOST: '10.43.0.1', KUBERNETES_SERVICE_PORT: '443' },
      serviceAccountTokenPath: token,
    });
    assert.equal(loaded.source, 'in-cluster');
  });

  it('takes --mode and --kubeconfig, the kubeconfig defaulting to the board profile', () => {
    const simBoard = path.resolve(__dirname, '../../board/sim/profile.json');
    const profile = validateBoardProfile(JSON.parse(fs.readFileSync(simBoard, 'utf8')), simBoard);
    const parse = (argv: string[]): Map<string, string> => {
      const options = parseOptions(argv);
      assert.notEqual(options, 'help');
      return options as Map<string, string>;
    };
    assert.equal(buildConfig(parse([]), profile, 'h').mode, 'standalone');
    assert.equal(buildConfig(parse([]), profile, 'h').kubeconfig, undefined);
    const cluster = buildConfig(parse(['--mode', 'cluster', '--kubeconfig', '/k/config']), profile, 'h');
    assert.deepEqual([cluster.mode, cluster.kubeconfig], ['cluster', '/k/config']);
    const fromBoard = buildConfig(parse(['--mode=cluster']), { ...profile, kubeconfig: '/b/k.yaml' }, 'h');
    assert.equal(fromBoard.kubeconfig, '/b/k.yaml');
    assert.throws(() => buildConfig(parse(['--mode', 'swarm']), profile, 'h'), ConfigError);
  });
});
