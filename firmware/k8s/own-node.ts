// Cluster mode: this node's Pod subnet is the one Kubernetes gave its Node object (spec.podCIDR, assigned by the
// controller manager), so peers route to the subnet our pods really use. Read once at start-up, before the gateway
// and IPAM are set up: from the API server when it answers, else from the last copy in SQLite (a reboot while the
// API is down keeps the subnet the pods had), else the configured one.
import type { Logger } from '../core/logger';
import { nodePodCidr, type NodeObject } from '../core/pipeline/node-route-flows';
import { resourceByName, resourcePath } from './resources';

export interface OwnNodeApi {
  request<T = unknown>(request: { method: 'GET'; path: string }): Promise<T>;
}

export interface StoredNodes {
  list(resource?: string): { name: string; body: unknown }[];
}

export type PodCidrSource = 'api' | 'store' | 'configured';

export async function resolveOwnPodCidr(deps: {
  nodeName: string;
  configured: string;
  api: OwnNodeApi;
  store: StoredNodes;
  logger: Logger;
}): Promise<{ podCidr: string; source: PodCidrSource }> {
  const { nodeName, configured, logger } = deps;
  const nodes = resourceByName('nodes');
  let fromApi: string | undefined;
  try {
    const node = await deps.api.request<NodeObject>({
      method: 'GET',
      path: resourcePath(nodes, undefined, nodeName),
    });
    fromApi = nodePodCidr(node);
    if (fromApi === undefined) logger.warn('this Node has no IPv4 spec.podCIDR yet', { node: nodeName });
  } catch (error) {
    logger.warn('Node object not read from the API server; trying the stored copy', {
      node: nodeName,
      error,
    });
  }
  const stored = deps.store.list('nodes').find((row) => row.name === nodeName);
  const fromStore = stored === undefined ? undefined : nodePodCidr(stored.body as NodeObject);
  const chosen: { podCidr: string; source: PodCidrSource } =
    fromApi !== undefined
      ? { podCidr: fromApi, source: 'api' }
      : fromStore !== undefined
        ? { podCidr: fromStore, source: 'store' }
        : { podCidr: configured, source: 'configured' };
  if (chosen.source !== 'configured' && chosen.podCidr !== configured) {
    logger.info('Pod subnet taken from the Node object', {
      node: nodeName,
      podCidr: chosen.podCidr,
      configured,
      source: chosen.source,
    });
  }
  return chosen;
}
