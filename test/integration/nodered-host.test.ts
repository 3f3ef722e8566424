// Node-RED embedded in a real firmware (OVS + firmware in a netns, pods through the real CNI plugin), spoken to over
// HTTP from inside the node's namespace: no admin password on a new appliance (setup page with the logged token),
// Node-RED's own login against the console account, the admin API and flow endpoints refused without
// credentials, a flow deployed through the admin API serving /api with basic auth; and Node-RED that fails
// (a corrupt flows.json and a node module that throws on load; a userDir it cannot use) leaving /healthz ok and
// policy enforcement working.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, startTestNode, type TestNode } from '../support/sim-cluster';
import { antctlRunner, applyYaml, firmwareLog, waitRealized, type Antctl } from '../support/node-client';
import { connectProbe } from '../support/pod-probes';
import { REPO_DIR } from '../../scripts/lib/dev-node';

/** One HTTP request from inside the node's namespace; prints the answer as JSON. */
const HTTP_JS = `
const [url, method, headersJson, body] = process.argv.slice(2);
fetch(url, { method, headers: JSON.parse(headersJson), body: body === '' ? undefined : body, redirect: 'manual' })
  .then(async (r) => process.stdout.write(JSON.stringify({
    status: r.status,
    location: r.headers.get('location'),
    wwwAuthenticate: r.headers.get('www-authenticate'),
    body: await r.text(),
  })), (e) => process.stdout.write(JSON.stringify({ status: 0, body: String(e) })));
`;

interface Answer {
  status: number;
  location: string | null;
  wwwAuthenticate: string | null;
  body: string;
}

const PASSWORD = 'edge appliance pw';

const basic = (user: string, password: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

const DROP_CLIENT_TO_SERVER = `apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata:
  name: nrh-drop-client
spec:
  priority: 5
  appliedTo:
  - podSelector:
      matchLabels:
        app: nrh-server
  ingress:
  - action: Drop
    from:
    - podSelector:
        matchLabels:
          app: nrh-client
    ports:
    - protocol: TCP
      port: 8081
`;

describe('nodered-host: Node-RED in a real firmware', function () {
  this.timeout(300_000);
  let t: TestNode;
  let antctl: Antctl;
  let script: string;
  let accessToken = '';

  const http = async (
    urlPath: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Answer> => {
    const result = await run('ip', [
      'netns',
      'exec',
      t.node.nodeNs,
      process.execPath,
      script,
      `http://127.0.0.1:8080${urlPath}`,
      init.method ?? 'GET',
      JSON.stringify(init.headers ?? {}),
      init.body ?? '',
    ]);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as Answer;
  };

  const readyz = async (): Promise<{ ready: boolean; checks: Record<string, string> } | 'ok'> => {
    const answer = await http('/readyz');
    return answer.status === 200
      ? 'ok'
      : (JSON.parse(answer.body) as { ready: boolean; checks: Record<string, string> });
  };

  /** Polls /readyz until `accept` says yes (100 ms, 60 s at most). */
  const waitReadyz = async (
    what: string,
    accept: (report: Awaited<ReturnType<typeof readyz>>) => boolean,
  ): Promise<Awaited<ReturnType<typeof readyz>>> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const report = await readyz().catch(() => undefined);
      if (report !== undefined && accept(report)) return report;
      if (Date.now() > deadline) throw new Error(`${what}: last /readyz ${JSON.stringify(report)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const login = (password: string): Promise<Answer> =>
    http('/red/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: 'node-red-editor',
        grant_type: 'password',
        scope: '*',
        username: 'admin',
        password,
      }),
    });

  before(async () => {
    t = await startTestNode('nrh', { nodeRed: true });
    antctl = antctlRunner(t.node);
    script = path.join(t.home, 'http.js');
    fs.writeFileSync(script, HTTP_JS);
    await t.pods.add({ namespace: 'default', name: 'nrh-client', labels: { app: 'nrh-client' } });
    await t.pods.add({ namespace: 'default', name: 'nrh-server', labels: { app: 'nrh-server' } });
  });

  after(async () => {
    await t?.stop();
  });

  it('starts Node-RED with the default flows; /healthz and /readyz are ok', async () => {
    assert.equal((await http('/healthz')).status, 200);
    await waitReadyz('Node-RED running', (report) => report === 'ok');
    const started = firmwareLog(t.node).find((record) => record['msg'] === 'Node-RED started');
    assert.ok(started, 'the firmware logs that Node-RED started');
    assert.equal(started['userDir'], path.join(t.node.dataDir, 'node-red'));
    const flows = JSON.parse(
      fs.readFileSync(path.join(t.node.dataDir, 'node-red', 'flows.json'), 'utf8'),
    ) as {
      id: string;
    }[];
    const shipped = JSON.parse(
      fs.readFileSync(path.join(REPO_DIR, 'flows', 'policy-editor.json'), 'utf8'),
    ) as {
      id: string;
    }[];
    assert.deepEqual(
      flows.map((node) => node.id),
      shipped.map((node) => node.id),
      'first start installs flows/policy-editor.json',
    );
  });

  it('without an admin password: the admin API says setup required and browsers go to the setup page', async () => {
    const api = await http('/red/flows');
    assert.equal(api.status, 503);
    assert.equal((JSON.parse(api.body) as { error: string }).error, 'setup required');
    const browser = await http('/red/', { headers: { accept: 'text/html' } });
    assert.equal(browser.status, 303);
    assert.equal(browser.location, '/red/setup');
    const page = await http('/red/setup');
    assert.equal(page.status, 200);
    assert.match(page.body, /setup token/i);
    assert.equal((await http('/api/anything')).status, 503, 'flow endpoints are closed too');
  });

  it('the setup page refuses a wrong token and sets the password with the logged one, once', async () => {
    const record = firmwareLog(t.node).find((entry) => typeof entry['setupToken'] === 'string');
    assert.ok(record, 'the setup token is in the firmware log');
    const token = String(record['setupToken']);
    assert.match(String(record['setupUrl']), /^http:\/\/127\.0\.0\.1:8080\/red\/setup$/);
    const form = (fields: Record<string, string>): Promise<Answer> =>
      http('/red/setup', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
        body: new URLSearchParams(fields).toString(),
      });
    const wrong = await form({ token: `${token}x`, password: PASSWORD, confirm: PASSWORD });
    assert.equal(wrong.status, 403);
    assert.match(wrong.body, /Wrong setup token/);
    assert.equal((await http('/red/flows')).status, 503, 'still closed');
    const done = await form({ token, password: PASSWORD, confirm: PASSWORD });
    assert.equal(done.status, 303, done.body);
    assert.equal(done.location, '/red/');
    const again = await form({ token, password: 'another password', confirm: 'another password' });
    assert.equal(again.status, 410, 'the token works once');
  });

  it('the admin API needs a token: 401 without; a wrong password is refused; the right one logs in', async () => {
    const anonymous = await http('/red/flows');
    assert.equal(anonymous.status, 401);
    const refused = await login('not the password');
    assert.equal(refused.status, 403, refused.body);
    assert.ok(!refused.body.includes('access_token'));
    const loggedIn = await login(PASSWORD);
    assert.equal(loggedIn.status, 200, loggedIn.body);
    accessToken = (JSON.parse(loggedIn.body) as { access_token: string }).access_token;
    assert.ok(accessToken.length > 20);
    const flows = await http('/red/flows', { headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal(flows.status, 200, flows.body);
    assert.ok(Array.isArray(JSON.parse(flows.body)));
    const settings = await http('/red/settings', { headers: { authorization: `Bearer ${accessToken}` } });
    const safe = JSON.parse(settings.body) as { httpNodeRoot: string; user: { username: string } };
    assert.equal(safe.httpNodeRoot, '/api');
    assert.equal(safe.user.username, 'admin');
    assert.equal((await http('/red/flows', { headers: { authorization: 'Bearer forged' } })).status, 401);
  });

  it('a flow deployed through the admin API serves /api only with basic auth of the admin account', async () => {
    const flow = [
      { id: 'nrhtab', type: 'tab', label: 'nrh' },
      { id: 'nrhin', type: 'http in', z: 'nrhtab', url: '/hello', method: 'get', wires: [['nrhtpl']] },
      {
        id: 'nrhtpl',
        type: 'template',
        z: 'nrhtab',
        field: 'payload',
        fieldType: 'msg',
        syntax: 'plain',
        template: 'hello from a flow',
        output: 'str',
        wires: [['nrhout']],
      },
      { id: 'nrhout', type: 'http response', z: 'nrhtab', statusCode: '', wires: [] },
    ];
    const deployed = await http('/red/flows', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${accessToken}`,
        'content-type': 'application/json',
        'node-red-deployment-type': 'full',
      },
      body: JSON.stringify(flow),
    });
    assert.equal(deployed.status, 204, deployed.body);
    const anonymous = await http('/api/hello');
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.wwwAuthenticate ?? '', /^Basic /);
    assert.equal((await http('/api/hello', { headers: basic('admin', 'wrong password') })).status, 401);
    const deadline = Date.now() + 10_000;
    let served: Answer;
    do {
      served = await http('/api/hello', { headers: basic('admin', PASSWORD) });
    } while (served.status === 404 && Date.now() < deadline);
    assert.equal(served.status, 200, served.body);
    assert.equal(served.body, 'hello from a flow');
  });

  it('a corrupt flows.json and a node that throws on load: Node-RED logs them, the firmware runs on', async () => {
    await t.node.killFirmware('SIGTERM');
    const userDir = path.join(t.node.dataDir, 'node-red');
    fs.writeFileSync(path.join(userDir, 'flows.json'), '[{"id": "broken", ');
    const module = path.join(userDir, 'node_modules', 'node-red-contrib-nrh-throws');
    fs.mkdirSync(module, { recursive: true });
    fs.writeFileSync(
      path.join(module, 'package.json'),
      JSON.stringify({
        name: 'node-red-contrib-nrh-throws',
        version: '1.0.0',
        'node-red': { nodes: { t: 'throws.js' } },
      }),
    );
    fs.writeFileSync(path.join(module, 'throws.js'), "throw new Error('nrh node fails on load');\n");
    const logOffset = fs.statSync(t.node.logFile).size;
    await t.node.startFirmware();
    assert.equal((await http('/healthz')).status, 200);
    await waitReadyz('Node-RED running despite the broken parts', (report) => report === 'ok');
    const log = firmwareLog(t.node, logOffset);
    const nodeRedLines = log.filter((record) => record['component'] === 'node-red');
    assert.ok(
      nodeRedLines.some((record) => /nrh node fails on load/.test(String(record['msg']))),
      'the failing node is logged through the firmware logger',
    );
    assert.ok(
      nodeRedLines.some(
        (record) => record['level'] === 'warn' && /not valid json/i.test(String(record['msg'])),
      ),
      'the corrupt flow file is logged',
    );
    assert.equal((await login(PASSWORD)).status, 200, 'the editor login still works');
  });

  it('a Node-RED that cannot start: /healthz ok, /readyz says why, /red 503, and policies are enforced', async () => {
    await t.node.killFirmware('SIGTERM');
    const userDir = path.join(t.node.dataDir, 'node-red');
    fs.rmSync(userDir, { recursive: true, force: true });
    fs.writeFileSync(userDir, 'a file where Node-RED wants its user directory\n');
    await t.node.startFirmware();
    assert.equal((await http('/healthz')).status, 200);
    const report = await waitReadyz(
      'Node-RED failure reported',
      (r) => r !== 'ok' && /failed/.test(r.checks['node-red'] ?? ''),
    );
    assert.ok(report !== 'ok');
    assert.match(report.checks['node-red'] ?? '', /^Node-RED failed to start: .*(EEXIST|ENOTDIR)/);
    assert.equal(report.checks['agent'], 'ok');
    assert.equal(report.checks['startup'], 'ok');
    const red = await http('/red/flows', { headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal(red.status, 503);
    assert.equal((JSON.parse(red.body) as { error: string }).error, 'node-red failed to start');
    assert.ok(
      firmwareLog(t.node).some(
        (record) => record['level'] === 'error' && /Node-RED did not start/.test(String(record['msg'])),
      ),
    );

    assert.equal(
      await connectProbe(t, 'default/nrh-client', 'default/nrh-server', 8081),
      'refused',
      'allowed before',
    );
    await applyYaml(antctl, t.home, 'nrh-drop', DROP_CLIENT_TO_SERVER);
    await waitRealized(antctl, { atLeast: ['nrh-drop-client'] });
    assert.equal(
      await connectProbe(t, 'default/nrh-client', 'default/nrh-server', 8081),
      'timeout',
      'dropped',
    );
  });
});
