// The policy objects the enforcement benchmark applies through the local API. Pure data: every function returns
// the manifests (as JSON objects) for one scenario, so the scenarios can be read in one place.
//
// Pod roles on the benchmark node (label `bench-role`), all in namespace BENCH_NAMESPACE:
//   a, s1         latency pair (a → s1:LATENCY_PORT) and the Reject/Allow pairs of the violations scenario
//   b, s2         the other violations pairs (s2 is isolated by a K8s NetworkPolicy that admits only a)
//   iperf-client, iperf-server   throughput pair (port IPERF_PORT)
//   filler        the remaining pods (labels `bench-index`), targets of background policies only
export const BENCH_NAMESPACE = 'bench';
export const LATENCY_PORT = 8080;
export const VIOLATION_PORT = 8081;
export const IPERF_PORT = 5201;

type Manifest = Record<string, unknown>;

const role = (name: string): Manifest => ({ matchLabels: { 'bench-role': name } });

function acnp(name: string, priority: number, spec: Manifest): Manifest {
  return {
    apiVersion: 'crd.antrea.io/v1beta1',
    kind: 'ClusterNetworkPolicy',
    metadata: { name },
    spec: { priority, ...spec },
  };
}

function k8sPolicy(name: string, spec: Manifest): Manifest {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: BENCH_NAMESPACE, name },
    spec,
  };
}

/** A /32 in 203.0.113.0–203.0.128.255, far from the pod CIDR: rules on it never match pod traffic. */
function unrelatedHost(i: number): string {
  return `203.0.${113 + ((i >> 8) & 0x0f)}.${i & 0xff}/32`;
}

/** The policy whose single rule the latency scenario flips between Reject and Allow. */
export function latencyToggle(action: 'Reject' | 'Allow'): Manifest {
  return acnp('bench-latency-toggle', 1, {
    appliedTo: [{ podSelector: role('s1') }],
    ingress: [
      {
        action,
        from: [{ podSelector: role('a') }],
        ports: [{ protocol: 'TCP', port: LATENCY_PORT }],
      },
    ],
  });
}

export interface ProbedPair {
  from: 'a' | 'b';
  to: 's1' | 's2';
  port: number;
  expect: 'Allow' | 'Reject' | 'Drop';
}

/** What the violations policies decide for the probed pairs, before, during and after every update. */
export const VIOLATION_PAIRS: readonly ProbedPair[] = [
  { from: 'a', to: 's1', port: VIOLATION_PORT, expect: 'Reject' },
  { from: 'b', to: 's1', port: VIOLATION_PORT, expect: 'Allow' },
  { from: 'a', to: 's2', port: VIOLATION_PORT, expect: 'Allow' },
  { from: 'b', to: 's2', port: VIOLATION_PORT, expect: 'Drop' },
];

const rejectAToS1 = {
  action: 'Reject',
  from: [{ podSelector: role('a') }],
  ports: [{ protocol: 'TCP', port: VIOLATION_PORT }],
};
const allowAToS2 = {
  from: [{ podSelector: role('a') }],
  ports: [{ protocol: 'TCP', port: VIOLATION_PORT }],
};

/** The starting point of the violations scenario (what VIOLATION_PAIRS expects). */
export function violationBase(): Manifest[] {
  return violationUpdate(-1).apply;
}

export interface PolicyUpdate {
  apply: Manifest[];
  /** Object keys ("<Kind>/<namespace>/<name>") deleted after the apply. */
  delete: string[];
}

/**
 * Update `i` of the violations scenario: every variant yields the verdicts of VIOLATION_PAIRS, but each one
 * rewrites flows those pairs go through:
 *   0 reorder: the Reject policy and its duplicate swap priorities;
 *   1 unrelated rule inserted before the Reject rule (the Reject rule's index, hence its conjunction, changes);
 *   2 redundant K8s rules around the rule that admits a into s2 (same for the allowing rule);
 *   3 the duplicate Reject policy is deleted, then re-created by variant 4;
 *   4 back to the base objects, with the unrelated Drop rule on s1 and s2 at a new peer and port.
 */
export function violationUpdate(i: number): PolicyUpdate {
  const variant = i < 0 ? -1 : i % 5;
  const unrelatedIngress = {
    action: 'Drop',
    from: [{ ipBlock: { cidr: unrelatedHost(i < 0 ? 0 : i + 1) } }],
    ports: [{ protocol: 'TCP', port: 9000 + (i < 0 ? 0 : i % 100) }],
  };
  const rejectPolicy = acnp('bench-v-reject', variant === 0 ? 6 : 5, {
    appliedTo: [{ podSelector: role('s1') }],
    ingress: variant === 1 ? [unrelatedIngress, rejectAToS1] : [rejectAToS1],
  });
  const duplicate = acnp('bench-v-reject-dup', variant === 0 ? 5 : 6, {
    appliedTo: [{ podSelector: role('s1') }],
    ingress: [rejectAToS1],
  });
  const isolation = k8sPolicy('bench-v-s2', {
    podSelector: role('s2'),
    policyTypes: ['Ingress'],
    ingress:
      variant === 2
        ? [{ from: [{ ipBlock: { cidr: unrelatedHost(4000 + i) } }] }, allowAToS2, allowAToS2]
        : [allowAToS2],
  });
  const unrelated = acnp('bench-v-unrelated', 7, {
    appliedTo: [{ podSelector: role('s1') }, { podSelector: role('s2') }],
    ingress: [unrelatedIngress],
  });
  if (variant === 3) {
    return {
      apply: [rejectPolicy, isolation, unrelated],
      delete: ['ClusterNetworkPolicy//bench-v-reject-dup'],
    };
  }
  return { apply: [rejectPolicy, duplicate, isolation, unrelated], delete: [] };
}

/** Keys of every object the violations scenario may have created (for its clean-up). */
export const VIOLATION_KEYS = [
  'ClusterNetworkPolicy//bench-v-reject',
  'ClusterNetworkPolicy//bench-v-reject-dup',
  'ClusterNetworkPolicy//bench-v-unrelated',
  `NetworkPolicy/${BENCH_NAMESPACE}/bench-v-s2`,
];

/**
 * `count` background policies (at least 2): two that apply to the iperf pods and allow the iperf flow (a K8s
 * NetworkPolicy isolating the server, an ACNP allowing egress and ingress), then alternately K8s policies on
 * the filler pods and ACNPs on every pod with Drop rules for unrelated addresses, so that the iperf pods'
 * packets go through populated policy tables.
 */
export function backgroundPolicies(count: number): Manifest[] {
  const policies: Manifest[] = [
    k8sPolicy('bench-bg-iperf', {
      podSelector: role('iperf-server'),
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ podSelector: role('iperf-client') }],
          ports: [{ protocol: 'TCP', port: IPERF_PORT }],
        },
      ],
    }),
    acnp('bench-bg-iperf-allow', 20, {
      appliedTo: [{ podSelector: role('iperf-client') }, { podSelector: role('iperf-server') }],
      ingress: [
        {
          action: 'Allow',
          from: [{ podSelector: role('iperf-client') }],
          ports: [{ protocol: 'TCP', port: IPERF_PORT }],
        },
      ],
      egress: [
        {
          action: 'Allow',
          to: [{ podSelector: role('iperf-server') }],
          ports: [{ protocol: 'TCP', port: IPERF_PORT }],
        },
      ],
    }),
  ];
  for (let i = 2; i < count; i++) {
    if (i % 2 === 0) {
      policies.push(
        k8sPolicy(`bench-bg-${i}`, {
          podSelector: { matchLabels: { 'bench-index': String(i % 50) } },
          ingress: [
            { from: [{ ipBlock: { cidr: unrelatedHost(i) } }], ports: [{ protocol: 'TCP', port: 7000 + i }] },
          ],
        }),
      );
    } else {
      policies.push(
        acnp(`bench-bg-${i}`, 30 + i / 100, {
          appliedTo: [{ podSelector: {} }],
          ingress: [
            {
              action: 'Drop',
              from: [{ ipBlock: { cidr: unrelatedHost(i) } }],
              ports: [{ protocol: 'TCP', port: 7000 + i }],
            },
          ],
          egress: [
            {
              action: 'Drop',
              to: [{ ipBlock: { cidr: unrelatedHost(i + 1000) } }],
              ports: [{ protocol: 'TCP', port: 7000 + i }],
            },
          ],
        }),
      );
    }
  }
  return policies;
}

/**
 * `rules` rules over pods labelled `bucket: 0..buckets-1`: half as K8s NetworkPolicies of one ingress rule
 * each, half as ACNPs of (up to) 10 egress rules alternating Allow and Drop, each rule with its own peer
 * address and port (the shape of the rule-flows integration test's 10k measurement).
 */
export function bulkPolicies(rules: number, buckets: number): Manifest[] {
  const k8sCount = Math.floor(rules / 2);
  const acnpRules = rules - k8sCount;
  const policies: Manifest[] = [];
  for (let i = 0; i < k8sCount; i++) {
    policies.push(
      k8sPolicy(`bulk-${i}`, {
        podSelector: { matchLabels: { bucket: String(i % buckets) } },
        ingress: [
          {
            from: [{ ipBlock: { cidr: `172.16.${(i >> 8) & 0xff}.${i & 0xff}/32` } }],
            ports: [{ protocol: 'TCP', port: 10000 + (i % 50000) }],
          },
        ],
      }),
    );
  }
  for (let p = 0; p * 10 < acnpRules; p++) {
    const size = Math.min(10, acnpRules - p * 10);
    policies.push(
      acnp(`bulk-acnp-${p}`, 1 + p / 10, {
        appliedTo: [{ podSelector: { matchLabels: { bucket: String(p % buckets) } } }],
        egress: Array.from({ length: size }, (_, r) => ({
          action: r % 2 === 0 ? 'Allow' : 'Drop',
          to: [{ ipBlock: { cidr: `172.17.${(p >> 4) & 0xff}.${((p & 15) << 4) | r}/32` } }],
          ports: [{ protocol: 'TCP', port: 20000 + r }],
        })),
      }),
    );
  }
  return policies;
}
