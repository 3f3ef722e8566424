// Cluster mode assembled for main.ts: the kubeconfig, the watches feeding the policy service, their SQLite copy,
// and the writes to the API server that replace the standalone store's writes.
import type { AgentCommands, PolicyCommands } from '../core/antctl/views';
import type { Logger } from '../core/logger';
import { PolicyServiceError, type NamespaceStore, type PolicyObjectStore } from '../agent/policy-service';
import type { PolicyService } from '../agent/policy-service';
import type { StoreDatabase } from '../store/database';
import { K8sObjectRepository } from '../store/k8s-object-repository';
import type { PodRecord } from '../store/pod-repository';
import { ClusterPolicySource } from './cluster-source';
import { ClusterWrites, withClusterWrites } from './cluster-writes';
import { KubeRestClient } from './kube-rest';
import { loadKubeConfig } from './kubeconfig';
import type * as k8s from '@kubernetes/client-node';

export interface ClusterModeDeps {
  nodeName: string;
  /** --kubeconfig or the board profile's; absent: k3s's, then in-cluster. */
  kubeconfigPath?: string;
  db: StoreDatabase;
  policies: PolicyService;
  localPods: { list(): PodRecord[] };
  logger: Logger;
}

export interface ClusterMode {
  source: ClusterPolicySource;
  writes: ClusterWrites;
  /** Where the kubeconfig came from. */
  kubeconfigSource: string;
  /** The loaded kubeconfig, for other clients of the same API server (the AntreaAgentInfo heartbeat). */
  kubeConfig: k8s.KubeConfig;
  /** The agent's API with writes going to the API server (antctl, console, Node-RED). */
  withWrites<T extends PolicyCommands & AgentCommands>(api: T): T;
  /** For /readyz: which resources have not been listed from the API server yet. */
  readinessProblem(): string | undefined;
}

/** Loads the kubeconfig (throws KubeConfigError when there is none) and builds the source and the writer. */
export function createClusterMode(deps: ClusterModeDeps): ClusterMode {
  const logger = deps.logger.child({ component: 'k8s' });
  const loaded = loadKubeConfig(
    deps.kubeconfigPath === undefined ? {} : { explicitPath: deps.kubeconfigPath },
  );
  const rest = new KubeRestClient(loaded.kubeConfig);
  logger.info('cluster mode', { kubeconfig: loaded.source, server: rest.server });
  const source = new ClusterPolicySource({
    nodeName: deps.nodeName,
    policies: deps.policies,
    store: new K8sObjectRepository(deps.db),
    localPods: deps.localPods,
    kubeConfig: loaded.kubeConfig,
    rest,
    logger,
  });
  const writes = new ClusterWrites({ rest, policies: deps.policies, source, logger });
  return {
    source,
    writes,
    kubeconfigSource: loaded.source,
    kubeConfig: loaded.kubeConfig,
    withWrites: (api) => withClusterWrites(api, writes),
    readinessProblem: () => {
      const unsynced = source.unsyncedResources();
      return unsynced.length === 0
        ? undefined
        : `Kubernetes API not synced yet (${unsynced.join(', ')}); enforcing the last known policies`;
    },
  };
}

function clusterModeWrite(): never {
  throw new PolicyServiceError(
    'InvalidRequest',
    'cluster mode: policies, namespaces and pod labels are written to the Kubernetes API, not to this node',
  );
}

/**
 * The policy service's stores in cluster mode: empty (the cluster source feeds it and keeps its own copy) and
 * refusing writes, so nothing can edit the node's policy state behind the API server's back.
 */
export function clusterModeStores(): {
  pods: { list(): PodRecord[] };
  namespaces: NamespaceStore;
  objects: PolicyObjectStore;
} {
  return {
    pods: { list: () => [] },
    namespaces: {
      list: () => [],
      get: () => undefined,
      ensure: clusterModeWrite,
      setLabels: clusterModeWrite,
    },
    objects: {
      list: () => [],
      get: () => undefined,
      commit: clusterModeWrite,
      delete: clusterModeWrite,
    },
  };
}
