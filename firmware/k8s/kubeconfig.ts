// Which kubeconfig cluster mode uses: an explicit file (--kubeconfig or the board profile), else the k3s server's
// own kubeconfig when this node runs it, else the in-cluster service account (the firmware as a DaemonSet pod).
import * as fs from 'node:fs';
import * as k8s from '@kubernetes/client-node';

export const K3S_KUBECONFIG = '/etc/rancher/k3s/k3s.yaml';
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
  readonly code = 'KubeConfigUnavailable';
}

export interface KubeConfigSearch {
  /** --kubeconfig, or the board profile's kubeconfig. */
  explicitPath?: string;
  /** Default K3S_KUBECONFIG; tests point it elsewhere. */
  k3sPath?: string;
  /** Default process.env: KUBERNETES_SERVICE_HOST/PORT mark an in-cluster pod. */
  env?: NodeJS.ProcessEnv;
  /** Default SERVICE_ACCOUNT_TOKEN. */
  serviceAccountTokenPath?: string;
}

export interface LoadedKubeConfig {
  kubeConfig: k8s.KubeConfig;
  /** Where it came from, for the log: a file path or "in-cluster". */
  source: string;
}

export function loadKubeConfig(search: KubeConfigSearch = {}): LoadedKubeConfig {
  const fromFile = (file: string): LoadedKubeConfig => {
    const kubeConfig = new k8s.KubeConfig();
    try {
      kubeConfig.loadFromFile(file);
    } catch (error) {
      throw new KubeConfigError(
        `cannot load kubeconfig ${file}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (kubeConfig.getCurrentCluster() === null) {
      throw new KubeConfigError(`kubeconfig ${file} has no current context with a cluster`);
    }
    return { kubeConfig, source: file };
  };
  if (search.explicitPath !== undefined) return fromFile(search.explicitPath);
  const k3sPath = search.k3sPath ?? K3S_KUBECONFIG;
  if (fs.existsSync(k3sPath)) return fromFile(k3sPath);
  const env = search.env ?? process.env;
  const tokenPath = search.serviceAccountTokenPath ?? SERVICE_ACCOUNT_TOKEN;
  if (env['KUBERNETES_SERVICE_HOST'] && fs.existsSync(tokenPath)) {
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromCluster();
    return { kubeConfig, source: 'in-cluster' };
  }
  throw new KubeConfigError(
    `cluster mode needs a kubeconfig: pass --kubeconfig PATH, set "kubeconfig" in the board profile, ` +
      `run k3s (${k3sPath}) or run in a pod with a service account`,
  );
}
