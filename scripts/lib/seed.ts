// The seed walkthrough's pods and policy, shared by scripts/start and the tests that replay the walkthrough.
import * as path from 'node:path';
import type { ContainerPort } from '../../firmware/core/api/types';
import type { SimPodSpec } from './sim-pods';

const NGINX_PORTS: ContainerPort[] = [{ name: 'http', containerPort: 80, protocol: 'TCP' }];

const nginx = (name: string): SimPodSpec => ({
  namespace: 'default',
  name,
  labels: { app: 'nginx' },
  ports: NGINX_PORTS,
  httpPort: 80,
});

export const SEED_PODS: readonly SimPodSpec[] = [
  nginx('nginx-deployment-cc7df4f8f-69cm2'),
  nginx('nginx-deployment-cc7df4f8f-ms5jm'),
  nginx('nginx-deployment-cc7df4f8f-pcn79'),
  { namespace: 'default', name: 'ch-busybox', labels: { run: 'ch-busybox' } },
  { namespace: 'cassandra', name: 'cassandra-1', labels: { app: 'cassandra' } },
];

/** Names of the seed's nginx pods (namespace default). */
export const SEED_NGINX_PODS: readonly string[] = SEED_PODS.filter((p) => p.labels?.['app'] === 'nginx').map(
  (p) => p.name,
);

/** The seed's nginx-allow NetworkPolicy as shipped for users (README walkthrough). */
export const NGINX_ALLOW_EXAMPLE = path.resolve(__dirname, '../../examples/nginx-allow.yaml');
