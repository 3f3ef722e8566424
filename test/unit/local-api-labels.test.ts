// The write side of the local API: pod labels (standalone mode's store is their source of truth).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError } from '../../firmware/core/antctl/api-error';
import type { AgentCommands, AgentQueries, PodLabelsView } from '../../firmware/core/antctl/views';
import { silentLogger } from '../../firmware/core/logger';
import { LocalApiClient, LocalApiServer } from '../../firmware/http/local-api';

const NO_QUERIES: AgentQueries = {
  podInterfaces: () => Promise.resolve([]),
  ovsFlows: () => Promise.resolve([]),
  agentInfo: () => Promise.reject(new ApiError('Unavailable', 'n/a')),
};

class FakeCommands implements AgentCommands {
  readonly calls: PodLabelsView[] = [];
  setPodLabels(namespace: string, name: string, labels: Record<string, string>): Promise<PodLabelsView> {
    if (name === 'ghost')
      return Promise.reject(new ApiError('NotFound', `pod ${namespace}/${name} not found`));
    this.calls.push({ namespace, name, labels });
    return Promise.resolve({ namespace, name, labels });
  }
}

function raw(
  socketPath: string,
  method: string,
  requestPath: string,
  body?: string,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: requestPath }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('local API: pod labels', () => {
  let dir: string;
  let socketPath: string;
  let server: LocalApiServer;
  let commands: FakeCommands;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-labels-'));
    socketPath = path.join(dir, 'api.sock');
    commands = new FakeCommands();
    server = new LocalApiServer({ socketPath, queries: NO_QUERIES, commands, logger: silentLogger });
    await server.start();
  });

  afterEach(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the client sets labels and gets them back', async () => {
    const client = new LocalApiClient({ socketPath });
    const view = await client.setPodLabels('default', 'web', { app: 'web', tier: 'front' });
    assert.deepEqual(view, { namespace: 'default', name: 'web', labels: { app: 'web', tier: 'front' } });
    assert.deepEqual(commands.calls, [view]);
  });

  it('a missing pod is 404 and becomes ApiError NotFound in the client', async () => {
    const client = new LocalApiClient({ socketPath });
    await assert.rejects(
      client.setPodLabels('default', 'ghost', {}),
      (e: unknown) => e instanceof ApiError && e.code === 'NotFound',
    );
  });

  it('rejects bad bodies, missing parameters and wrong methods without calling the agent', async () => {
    const bad = await raw(
      socketPath,
      'PUT',
      '/v1/podlabels?namespace=default&name=web',
      '{"labels": {"a": 1}}',
    );
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /string value/);
    const notJson = await raw(socketPath, 'PUT', '/v1/podlabels?namespace=default&name=web', '{');
    assert.equal(notJson.status, 400);
    const noName = await raw(socketPath, 'PUT', '/v1/podlabels?namespace=default', '{"labels":{}}');
    assert.equal(noName.status, 400);
    const get = await raw(socketPath, 'GET', '/v1/podlabels?namespace=default&name=web');
    assert.equal(get.status, 405);
    const putElsewhere = await raw(socketPath, 'PUT', '/v1/podinterfaces', '{}');
    assert.equal(putElsewhere.status, 405);
    assert.deepEqual(commands.calls, []);
  });

  it('a read-only server (no commands) answers 503', async () => {
    await server.stop();
    server = new LocalApiServer({ socketPath, queries: NO_QUERIES, logger: silentLogger });
    await server.start();
    const r = await raw(socketPath, 'PUT', '/v1/podlabels?namespace=default&name=web', '{"labels":{}}');
    assert.equal(r.status, 503);
  });
});
