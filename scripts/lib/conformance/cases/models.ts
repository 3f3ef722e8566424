// The models of test/fixtures/conformance/model.json:
// - k8s-xyz: the Kubernetes e2e netpol model: namespaces x, y, z (label ns=<name>), pods a, b, c (label
//   pod=<name>), one container per port and protocol with port names serve-<port>-<protocol>;
// - antrea-xyz: Antrea's e2e model: the same namespaces and pods (labels pod and app), one container per port
//   named serve-<port> that serves TCP, UDP and SCTP on 80 and 81, TCP on 8080-8085; loopback asserted;
// - tenants: namespaces grouped by purpose and tier labels (Antrea's strict namespace isolation e2e).
import type { Json, ModelSource } from '../case-builder';

const XYZ_PODS = ['x/a', 'x/b', 'x/c', 'y/a', 'y/b', 'y/c', 'z/a', 'z/b', 'z/c'];
const TENANT_NAMESPACES: Record<string, Record<string, string>> = {
  prod1: { purpose: 'test', tier: 'prod' },
  prod2: { purpose: 'test', tier: 'prod' },
  dev1: { purpose: 'test', tier: 'dev' },
  dev2: { purpose: 'test', tier: 'dev' },
  'no-tier': { purpose: 'test-exclusion' },
};
const TENANT_PODS = Object.keys(TENANT_NAMESPACES).flatMap((ns) => [`${ns}/a`, `${ns}/b`]);

export const K8S_XYZ: ModelSource = { name: 'k8s-xyz', pods: XYZ_PODS, assertLoopback: false };
export const ANTREA_XYZ: ModelSource = { name: 'antrea-xyz', pods: XYZ_PODS, assertLoopback: true };
export const TENANTS: ModelSource = { name: 'tenants', pods: TENANT_PODS, assertLoopback: false };

function namespacesOf(names: string[], extra: (ns: string) => Record<string, string>): Json {
  return Object.fromEntries(
    names.map((ns) => [ns, { labels: { 'kubernetes.io/metadata.name': ns, ...extra(ns) } }]),
  );
}

function podsOf(keys: string[], labels: (pod: string) => Record<string, string>): Json {
  return Object.fromEntries(
    keys.map((key) => {
      const [namespace, name] = key.split('/') as [string, string];
      return [key, { namespace, name, labels: labels(name) }];
    }),
  );
}

const k8sPorts = [80, 81].flatMap((port) =>
  ['tcp', 'udp', 'sctp'].map((protocol) => ({
    container: `cont-${port}-${protocol}`,
    name: `serve-${port}-${protocol}`,
    containerPort: port,
    protocol: protocol.toUpperCase(),
  })),
);
const k8sRangePorts = [8080, 8081, 8082, 8083].map((port) => ({
  container: `cont-${port}-tcp`,
  name: `serve-${port}-tcp`,
  containerPort: port,
  protocol: 'TCP',
}));

const antreaPorts = [
  ...[80, 81].map((port) => ({
    container: `c${port}`,
    name: `serve-${port}`,
    containerPort: port,
    protocol: 'TCP',
    serves: ['TCP', 'UDP', 'SCTP'],
  })),
  ...[8080, 8081, 8082, 8083, 8084, 8085].map((port) => ({
    container: `c${port}`,
    name: `serve-${port}`,
    containerPort: port,
    protocol: 'TCP',
  })),
];

export function modelFileJson(): Json {
  return {
    models: {
      [K8S_XYZ.name]: {
        namespaces: namespacesOf(['x', 'y', 'z'], (ns) => ({ ns })),
        pods: podsOf(XYZ_PODS, (pod) => ({ pod })),
        containerPorts: [...k8sPorts, ...k8sRangePorts],
        loopback: 'ignored',
      },
      [ANTREA_XYZ.name]: {
        namespaces: namespacesOf(['x', 'y', 'z'], (ns) => ({ ns })),
        pods: podsOf(XYZ_PODS, (pod) => ({ pod, app: pod })),
        containerPorts: antreaPorts,
        loopback: 'asserted',
      },
      [TENANTS.name]: {
        namespaces: namespacesOf(Object.keys(TENANT_NAMESPACES), (ns) => TENANT_NAMESPACES[ns] ?? {}),
        pods: podsOf(TENANT_PODS, (pod) => ({ pod })),
        containerPorts: [{ container: 'c80', name: 'serve-80', containerPort: 80, protocol: 'TCP' }],
        loopback: 'ignored',
      },
    },
  };
}
