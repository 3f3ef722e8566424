import assert from 'node:assert/strict';
import { silentLogger } from '../../firmware/core/logger';
import { resolveOwnPodCidr, type OwnNodeApi } from '../../firmware/k8s/own-node';

const node = (podCIDR?: string, podCIDRs?: string[]): unknown => ({
  metadata: { name: 'edge-1' },
  spec: { ...(podCIDR ? { podCIDR } : {}), ...(podCIDRs ? { podCIDRs } : {}) },
});

function api(answer: unknown): OwnNodeApi & { paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    request: <T>(request: { path: string }): Promise<T> => {
      paths.push(request.path);
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer as T);
    },
  };
}

const store = (rows: { name: string; body: unknown }[]) => ({
  list: (resource?: string) => (resource === 'nodes' ? rows : []),
});

describe("cluster mode: this node's Pod subnet", () => {
  it("takes the Node object's spec.podCIDR from the API server", async () => {
    const server = api(node('10.42.3.0/24'));
    const result = await resolveOwnPodCidr({
      nodeName: 'edge-1',
      configured: '10.10.0.0/24',
      api: server,
      store: store([{ name: 'edge-1', body: node('10.42.9.0/24') }]),
      logger: silentLogger,
    });
    assert.deepEqual(result, { podCidr: '10.42.3.0/24', source: 'api' });
    assert.deepEqual(server.paths, ['/api/v1/nodes/edge-1']);
  });

  it('uses the first IPv4 entry of podCIDRs on a dual-stack Node', async () => {
    const result = await resolveOwnPodCidr({
      nodeName: 'edge-1',
      configured: '10.10.0.0/24',
      api: api(node(undefined, ['fd00:42::/64', '10.42.5.0/24'])),
      store: store([]),
      logger: silentLogger,
    });
    assert.deepEqual(result, { podCidr: '10.42.5.0/24', source: 'api' });
  });

  it('falls back to the stored Node when the API server does not answer (reboot while offline)', async () => {
    const result = await resolveOwnPodCidr({
      nodeName: 'edge-1',
      configured: '10.10.0.0/24',
      api: api(new Error('connect ECONNREFUSED')),
      store: store([
        { name: 'edge-2', body: { metadata: { name: 'edge-2' }, spec: { podCIDR: '10.42.8.0/24' } } },
        { name: 'edge-1', body: node('10.42.9.0/24') },
      ]),
      logger: silentLogger,
    });
    assert.deepEqual(result, { podCidr: '10.42.9.0/24', source: 'store' });
  });

  it('keeps the configured subnet when neither knows one', async () => {
    const result = await resolveOwnPodCidr({
      nodeName: 'edge-1',
      configured: '10.10.0.0/24',
      api: api(node()),
      store: store([]),
      logger: silentLogger,
    });
    assert.deepEqual(result, { podCidr: '10.10.0.0/24', source: 'configured' });
  });
});
