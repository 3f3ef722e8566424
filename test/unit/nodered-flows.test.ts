// Every shipped flow (flows/*.json) loads into Node-RED with the palette and the core nodes: no node is of a
// missing type or fails to start.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { helper } from '../support/nodered-palette-helper';
import { PaletteError, type PaletteServices } from '../../firmware/nodered/palette/services';

const REPO = path.resolve(__dirname, '../..');
const FLOWS = path.join(REPO, 'flows');
const CORE = path.dirname(require.resolve('@node-red/nodes/package.json'));

const paletteManifest = JSON.parse(
  fs.readFileSync(path.join(REPO, 'firmware/nodered/palette/package.json'), 'utf8'),
) as { 'node-red': { nodes: Record<string, string> } };

function paletteNodes(): unknown[] {
  return Object.values(paletteManifest['node-red'].nodes).map((file): unknown =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(path.join(REPO, 'firmware/nodered/palette', file.replace(/\.js$/, ''))),
  );
}

const coreNodes = [
  'core/common/20-inject.js',
  'core/common/21-debug.js',
  'core/common/90-comment.js',
  'core/function/80-template.js',
  'core/function/89-delay.js',
].map((file): unknown => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(CORE, file));
});

/** Answers nothing: loading must not depend on the appliance state. */
const idleServices: PaletteServices = {
  apply: () => Promise.reject(new PaletteError('Unavailable', 'idle')),
  deletePolicy: () => Promise.reject(new PaletteError('Unavailable', 'idle')),
  listPods: () => Promise.resolve([]),
  labelPod: () => Promise.reject(new PaletteError('Unavailable', 'idle')),
  whatIf: () => Promise.reject(new PaletteError('Unavailable', 'idle')),
  ruleStats: () => Promise.resolve([]),
  realization: () => Promise.resolve({ state: 'Pending' }),
  traceflow: () => Promise.reject(new PaletteError('Unavailable', 'idle')),
  subscribe: () => () => undefined,
};

const flowFiles = fs
  .readdirSync(FLOWS)
  .filter((name) => name.endsWith('.json'))
  .sort();

describe('nodered flows shipped in flows/', function () {
  this.timeout(20000);

  afterEach(async () => {
    await helper.unload();
  });

  it('ships the five flows of the issue', () => {
    assert.deepEqual(flowFiles, [
      'default-deny-namespace.json',
      'drop-alerts.json',
      'maintenance-window.json',
      'nginx-allow.json',
      'policy-editor.json',
    ]);
  });

  for (const file of flowFiles) {
    it(`${file} loads with every node started`, async () => {
      const flow = JSON.parse(fs.readFileSync(path.join(FLOWS, file), 'utf8')) as {
        id: string;
        type: string;
        d?: boolean;
      }[];
      helper.settings({ antreaEdge: idleServices });
      await helper.load([...paletteNodes(), ...coreNodes], flow);
      // Disabled nodes are not started (Node-RED's `d` flag): the default flow ships its policy that way.
      const missing = flow.filter(
        (node) => node.type !== 'tab' && node.d !== true && helper.getNode(node.id) === null,
      );
      assert.deepEqual(
        missing.map((node) => `${node.type} ${node.id}`),
        [],
      );
      const types = new Set(flow.map((node) => node.type));
      assert.ok(
        [...types].some((type) => type.startsWith('antrea-')),
        'uses the palette',
      );
    });
  }

  it('the default flow of a new appliance applies no policy until someone enables and deploys it', () => {
    const flow = JSON.parse(fs.readFileSync(path.join(FLOWS, 'policy-editor.json'), 'utf8')) as {
      type: string;
      d?: boolean;
    }[];
    const policies = flow.filter((node) => node.type === 'antrea-policy');
    assert.ok(policies.length > 0, 'the editor flow offers a policy node');
    assert.ok(
      policies.every((node) => node.d === true),
      'every policy node ships disabled',
    );
  });

  it('the palette package.json lists a node file and an editor template with help for every node', () => {
    const nodes = paletteManifest['node-red'].nodes;
    for (const [type, file] of Object.entries(nodes)) {
      const base = file.replace(/\.js$/, '');
      assert.ok(fs.existsSync(path.join(REPO, 'firmware/nodered/palette', `${base}.ts`)), `${type} runtime`);
      const html = fs.readFileSync(path.join(REPO, 'firmware/nodered/palette', `${base}.html`), 'utf8');
      assert.ok(html.includes(`RED.nodes.registerType('${type}'`), `${type} registered in the editor`);
      assert.ok(html.includes(`data-template-name="${type}"`), `${type} edit dialog`);
      assert.ok(html.includes(`data-help-name="${type}"`), `${type} help text`);
      assert.ok(html.includes("category: 'antrea edge'"), `${type} category`);
    }
  });
});
