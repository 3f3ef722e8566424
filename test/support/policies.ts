// Manifests the integration tests apply to the seed's pods.

/** An ingress rule of nginxWebAcnp: what it does to TCP port 80 of nginx, for which pods. */
export interface WebRule {
  action: 'Allow' | 'Drop' | 'Reject';
  /** Antrea generates one when absent. */
  name?: string;
  /** matchLabels of the client pods. */
  from: Record<string, string>;
  /** Clients in any namespace (namespaceSelector: {}). */
  anyNamespace?: boolean;
}

/** An Antrea ClusterNetworkPolicy applied to the seed's nginx pods, whose rules all match TCP port 80. */
export function nginxWebAcnp(name: string, priority: number, rules: readonly WebRule[]): string {
  const ruleYaml = (rule: WebRule): string => {
    const labels = Object.entries(rule.from)
      .map(([key, value]) => `          ${key}: ${value}\n`)
      .join('');
    const peer = rule.anyNamespace
      ? '    - namespaceSelector: {}\n      podSelector:\n'
      : '    - podSelector:\n';
    return (
      `  - action: ${rule.action}\n` +
      (rule.name === undefined ? '' : `    name: ${rule.name}\n`) +
      `    from:\n${peer}        matchLabels:\n${labels}` +
      '    ports:\n    - protocol: TCP\n      port: 80\n'
    );
  };
  return `apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata:
  name: ${name}
spec:
  priority: ${priority}
  appliedTo:
  - podSelector:
      matchLabels:
        app: nginx
  ingress:
${rules.map(ruleYaml).join('')}`;
}
