// The editor end to end in a real browser: Debian's Chromium (playwright-core) against the Node-RED of a real
// firmware, with the seed's pods behind the real CNI plugin. The admin password is set on the setup page and the
// editor reached through its login form; the shipped example flow is cleared in the editor, a *policy* node is
// dragged from the "antrea edge" palette, the seed's nginx-allow built in its edit dialog and deployed; real
// traffic from busybox to nginx then is dropped. An inject → *label pod* flow imported in the editor relabels
// busybox app=nginx, and the same traffic is let through. Screenshots go to the test artefacts directory.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { startTestNode, type TestNode } from '../support/sim-cluster';
import { antctlRunner, firmwareLog, listPolicies, type Antctl } from '../support/node-client';
import { connectProbe, wget } from '../support/pod-probes';
import { launchBrowserInNetns, requireChromium, screenshot, type NetnsBrowser } from '../support/browser';
import { SEED_NGINX_PODS, SEED_PODS } from '../../scripts/lib/seed';
import { REPO_DIR } from '../../scripts/lib/dev-node';

const PASSWORD = 'browser e2e pw';
const BUSYBOX = 'default/ch-busybox';
const NGINX_NAME = SEED_NGINX_PODS[0] ?? 'nginx';
const NGINX = `default/${NGINX_NAME}`;
/** The palette category "antrea edge" as Node-RED escapes it in element ids. */
const CATEGORY_ID = 'antrea_edge';

/** inject → label pod: busybox keeps its own label and gains app=nginx, the label nginx-allow admits. */
const RELABEL_FLOW = [
  {
    id: 'nrb0inject',
    type: 'inject',
    name: 'relabel busybox',
    props: [{ p: 'payload' }],
    repeat: '',
    once: false,
    topic: '',
    payload: '',
    payloadType: 'date',
    x: 180,
    y: 320,
    wires: [['nrb0label']],
  },
  {
    id: 'nrb0label',
    type: 'antrea-label-pod',
    name: 'busybox app=nginx',
    namespace: 'default',
    podName: 'ch-busybox',
    labels: JSON.stringify({ run: 'ch-busybox', app: 'nginx' }),
    x: 420,
    y: 320,
    wires: [[]],
  },
];

describe('nodered-browser: the editor in Chromium builds nginx-allow and relabels busybox', function () {
  this.timeout(600_000);
  let t: TestNode | undefined;
  let antctl: Antctl;
  let browser: NetnsBrowser | undefined;
  let page: Page;
  const screenshots: string[] = [];

  const node = (): TestNode => {
    assert.ok(t, 'the test node started');
    return t;
  };

  /** The first probe result `wanted` within 60 s of probing (2 s connect timeout each), else the last one. */
  const probeUntil = async (wanted: string): Promise<string> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const result = await connectProbe(node(), BUSYBOX, NGINX, 80);
      if (result === wanted || Date.now() > deadline) return result;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  /** Polls `condition` (250 ms) until it holds; throws `what` after `timeoutMs`. */
  const until = async (
    what: string,
    condition: () => Promise<boolean>,
    timeoutMs = 60_000,
  ): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  /** The workspace node whose label is `label` (exactly). */
  const flowNode = (label: string): Locator =>
    page.locator('#red-ui-workspace-chart g.red-ui-flow-node-group').filter({
      has: page.locator('text.red-ui-flow-node-label-text', {
        hasText: new RegExp(`^${escapeRegExp(label)}$`),
      }),
    });

  /**
   * Waits until no dialog shade lies over the workspace: the shade of a closed dialog fades out over it and
   * catches the mouse until it is gone (locator actions wait for that themselves; raw mouse actions do not).
   */
  const workspaceReady = (): Promise<void> =>
    page.locator('#red-ui-editor-shade').waitFor({ state: 'hidden' });

  /** Clicks Deploy and waits until the editor says the flows are deployed (the button goes back to disabled). */
  const deploy = async (): Promise<void> => {
    await page.locator('#red-ui-header-button-deploy:not(.disabled)').click();
    await page.locator('#red-ui-header-button-deploy.disabled').waitFor({ state: 'attached' });
  };

  // The steps build on each other: after a failed one, the rest fail at once instead of waiting on a stuck editor.
  let failedStep: string | undefined;
  beforeEach(function () {
    if (failedStep !== undefined) throw new Error(`an earlier step failed: ${failedStep}`);
  });
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || failedStep !== undefined) return;
    failedStep = this.currentTest.title;
    // What the editor showed when the step failed.
    if (browser) screenshots.push(await screenshot(page, 'nodered-browser-failed').catch(String));
  });

  before(async () => {
    // Fail at once, and clearly, where the browser or the palette module is missing: no skipping.
    requireChromium();
    const palette = path.join(REPO_DIR, 'dist/nodered-palette/package.json');
    assert.ok(
      fs.existsSync(palette),
      `${palette} is missing: build the palette (npx tsc -p tsconfig.build.json && npx tsx scripts/lib/build-palette.ts)`,
    );
    t = await startTestNode('nrb', { nodeRed: true });
    antctl = antctlRunner(t.node);
    for (const spec of SEED_PODS) {
      if (spec.name === 'ch-busybox' || spec.name === NGINX_NAME) await t.pods.add(spec);
    }
    browser = await launchBrowserInNetns({ netns: t.node.nodeNs, workDir: t.home });
    page = browser.page;
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await t?.stop();
    if (screenshots.length > 0)
      process.stdout.write(`      screenshots:\n        ${screenshots.join('\n        ')}\n`);
  });

  it('sets the admin password on the setup page, then logs in through the editor login form', async () => {
    let record: Record<string, unknown> | undefined;
    await until('the setup token in the firmware log (Node-RED started?)', () => {
      record = firmwareLog(node().node).find((entry) => typeof entry['setupToken'] === 'string');
      return Promise.resolve(record !== undefined);
    });
    // The editor where the firmware says it is (the management server in the node's namespace).
    const editor = new URL('/red/', String(record?.['setupUrl'])).href;
    // Node-RED starts in the background: 503 until it runs.
    await until('Node-RED answers', async () => {
      const response = await page.goto(editor).catch(() => null);
      return response !== null && response.status() === 200;
    });
    assert.equal(new URL(page.url()).pathname, '/red/setup', 'a new appliance sends the browser to setup');
    await page.fill('input[name=token]', String(record?.['setupToken']));
    await page.fill('input[name=password]', PASSWORD);
    await page.fill('input[name=confirm]', PASSWORD);
    await page.click('button[type=submit]');

    await page.locator('#node-dialog-login-username').waitFor({ state: 'visible' });
    assert.equal(new URL(page.url()).pathname, '/red/');
    await page.fill('#node-dialog-login-username', 'admin');
    await page.fill('#node-dialog-login-password', PASSWORD);
    await page.click('#node-dialog-login-submit');
    await page.locator('#red-ui-palette-container-antrea_edge').waitFor({ state: 'visible' });
    await page.locator('#red-ui-workspace-chart').waitFor({ state: 'visible' });
  });

  it('clears the shipped example flow in the editor: no policy left, busybox → nginx:80 connects', async () => {
    // First boot installs flows/policy-editor.json (its nginx-allow policy node ships disabled): start empty.
    assert.equal((await listPolicies(antctl)).length, 0, 'the default flow applied no policy');
    await page.locator('#red-ui-workspace-chart').click({ position: { x: 800, y: 700 } });
    await page.keyboard.press('Control+a');
    await page.keyboard.press('Delete');
    await deploy();
    await until('no policy on the node', async () => (await listPolicies(antctl)).length === 0);
    assert.equal(await probeUntil('connected'), 'connected', 'busybox reaches nginx without a policy');
    assert.equal(await wget(node(), BUSYBOX, NGINX), true, 'and gets the page');
  });

  it('drags a policy node from the "antrea edge" palette, builds nginx-allow in its dialog and deploys it: Realized', async () => {
    const category = page.locator(`#red-ui-palette-header-${CATEGORY_ID}`);
    assert.equal((await category.textContent())?.trim(), 'antrea edge');
    const paletteNode = page.locator(
      `#red-ui-palette-container-${CATEGORY_ID} .red-ui-palette-node[data-palette-type="antrea-policy"]`,
    );
    await paletteNode.scrollIntoViewIfNeeded();
    // A real drag: jQuery UI's draggable on the palette node, dropped on the workspace's droppable.
    const chart = await page.locator('#red-ui-workspace-chart').boundingBox();
    assert.ok(chart, 'the workspace is on screen');
    await workspaceReady();
    await paletteNode.hover();
    await page.mouse.down();
    await page.mouse.move(chart.x + 300, chart.y + 160, { steps: 25 });
    await page.mouse.up();
    const dropped = flowNode('policy');
    await dropped.waitFor({ state: 'visible' });
    assert.equal(await dropped.count(), 1, 'one policy node on the workspace');

    await dropped.locator('rect.red-ui-flow-node').dblclick();
    await page.locator('#node-input-kind').waitFor({ state: 'visible' });
    await page.selectOption('#node-input-kind', 'K8sNetworkPolicy');
    await page.fill('#node-input-name', 'nginx-allow');
    await page.locator('#node-input-namespace').waitFor({ state: 'visible' });
    await page.fill('#node-input-namespace', 'default');
    assert.equal(await page.locator('#node-input-priority').isVisible(), false, 'no priority for K8s kinds');

    const appliedTo = page.locator('#node-input-appliedTo-list .antrea-peer-type');
    assert.equal(await appliedTo.count(), 1);
    await appliedTo.selectOption('pods');
    await page.fill('#node-input-appliedTo-list .antrea-peer-value', 'app=nginx');

    const rule = page.locator('#node-input-rules-list > li');
    assert.equal(await rule.count(), 1, 'the dialog starts with one rule');
    await rule.locator('.antrea-rule-direction').selectOption('Ingress');
    await rule.locator('.antrea-rule-action').selectOption('Allow');
    await rule.locator('button.red-ui-editableList-addButton', { hasText: 'peer' }).click();
    const peer = rule.locator('.antrea-rule-peers > li');
    await peer.waitFor({ state: 'visible' });
    await peer.locator('.antrea-peer-type').selectOption('pods');
    await peer.locator('.antrea-peer-value').fill('app=nginx');
    await page.click('#node-dialog-ok');
    await page.locator('#node-input-kind').waitFor({ state: 'detached' });

    const policyNode = flowNode('nginx-allow');
    await policyNode.waitFor({ state: 'visible' });
    assert.equal(
      await policyNode.locator('.red-ui-flow-node-error').isVisible(),
      false,
      'the editor finds the form valid',
    );
    await deploy();
    const status = policyNode.locator('text.red-ui-flow-node-status-label');
    await until('the policy node says Realized', async () =>
      /^Realized/.test((await status.textContent().catch(() => '')) ?? ''),
    );
    screenshots.push(await screenshot(page, 'nodered-browser-nginx-allow-realized'));

    const policies = await listPolicies(antctl);
    assert.deepEqual(
      policies.map((p) => [
        p.sourceRef.type,
        p.sourceRef.namespace,
        p.sourceRef.name,
        p.realization?.realized,
      ]),
      [['K8sNetworkPolicy', 'default', 'nginx-allow', true]],
    );
  });

  it('busybox → nginx:80 is now dropped by real traffic', async () => {
    assert.equal(await probeUntil('timeout'), 'timeout', 'the connect is dropped, not refused');
    assert.equal(await wget(node(), BUSYBOX, NGINX), false, 'no page either');
  });

  it('an inject → label pod flow imported in the editor relabels busybox app=nginx: busybox → nginx connects', async () => {
    await page.locator('#red-ui-workspace-chart').click({ position: { x: 800, y: 700 } });
    await page.keyboard.press('Control+i');
    const text = page.locator('#red-ui-clipboard-dialog-import-text');
    await text.waitFor({ state: 'visible' });
    await text.fill(JSON.stringify(RELABEL_FLOW));
    await page.locator('#red-ui-clipboard-dialog-ok:not(.ui-state-disabled)').click();
    // Imported nodes hang on the mouse until a click on the workspace places them.
    const chart = await page.locator('#red-ui-workspace-chart').boundingBox();
    assert.ok(chart);
    await workspaceReady();
    await page.mouse.move(chart.x + 400, chart.y + 360, { steps: 10 });
    await page.mouse.click(chart.x + 400, chart.y + 360);
    const inject = flowNode('relabel busybox');
    const label = flowNode('busybox app=nginx');
    await inject.waitFor({ state: 'visible' });
    await label.waitFor({ state: 'visible' });
    await deploy();

    // The inject's button sends only once the deployed flows run; the editor marks it stopped until then.
    const button = inject.locator('.red-ui-flow-node-button');
    await until(
      'the inject button is live',
      async () => !/stopped/.test((await button.getAttribute('class')) ?? 'stopped'),
    );
    // The mouse at the button, not locator.click(): that scrolls the workspace to put the node at its top edge.
    await workspaceReady();
    const buttonBox = await button.boundingBox();
    assert.ok(buttonBox, 'the inject button is on screen');
    await page.mouse.click(buttonBox.x + buttonBox.width / 2, buttonBox.y + buttonBox.height / 2);
    const labelStatus = label.locator('text.red-ui-flow-node-status-label');
    let lastStatus = '';
    await until('label pod says busybox is labelled', async () => {
      lastStatus = (await labelStatus.textContent().catch(() => '')) ?? '';
      return lastStatus === 'default/ch-busybox labelled';
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}; the label pod node's status: ${JSON.stringify(lastStatus)}`);
    });
    assert.equal(await probeUntil('connected'), 'connected', 'busybox, now app=nginx, reaches nginx');
    assert.equal(await wget(node(), BUSYBOX, NGINX), true);
    // Busybox got through because of its label, not because nginx-allow went away.
    assert.deepEqual(
      (await listPolicies(antctl)).map((p) => [p.sourceRef.name, p.realization?.realized]),
      [['nginx-allow', true]],
    );
    assert.match(
      (await flowNode('nginx-allow').locator('text.red-ui-flow-node-status-label').textContent()) ?? '',
      /^Realized/,
    );
    screenshots.push(await screenshot(page, 'nodered-browser-busybox-relabelled'));
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
