// Antrea-native policy cases, from docs/antrea-network-policy.md and Antrea's e2e suite
// (test/e2e/antreapolicy_test.go), written against the antrea-xyz and tenants models. Expected tables follow
// the documented order: Antrea tiers by priority (then policy priority, then rule order) before K8s
// NetworkPolicy, the baseline tier after it; `Pass` hands over to K8s NetworkPolicy; K8s isolation cannot be
// lifted by baseline rules; a pod's traffic to its own address always connects (Antrea e2e ExpectSelf).
import type { Connectivity } from '../case-format';
import {
  antreaPolicy,
  cidrOfPod,
  clusterGroup,
  clusterPolicy,
  expression,
  group,
  k8sPolicy,
  matchExpressions,
  matchLabels,
  Reachability,
  service,
  tier,
  type CaseSource,
  type Json,
  type StepSource,
} from '../case-builder';
import { ANTREA_XYZ, TENANTS } from './models';

const R = (fill: boolean) => new Reachability<boolean>(ANTREA_XYZ.pods, fill);
const V = (fill: Connectivity) => new Reachability<Connectivity>(ANTREA_XYZ.pods, fill);
const T = (fill: boolean) => new Reachability<boolean>(TENANTS.pods, fill);
const ns = (name: string): Json => matchLabels({ ns: name });
const pod = (name: string): Json => matchLabels({ pod: name });
const tcp = (port: number, endPort?: number): Json =>
  endPort === undefined ? { protocol: 'TCP', port } : { protocol: 'TCP', port, endPort };
const defaultDenyAll = ['x', 'y', 'z'].map((n) =>
  k8sPolicy(n, 'default-deny-namespace', { podSelector: {}, policyTypes: ['Ingress'] }),
);

function antreaCase(
  id: string,
  description: string,
  steps: StepSource[],
  model = ANTREA_XYZ.name,
): CaseSource {
  return { id: `antrea: ${id}`, kind: 'antrea', model, description, steps };
}

function one(
  id: string,
  description: string,
  policies: Json[],
  expected: StepSource['expected'],
  verdicts?: StepSource['verdicts'],
): CaseSource {
  const step: StepSource = { name: id, policies, expected };
  if (verdicts) step.verdicts = verdicts;
  return antreaCase(id, description, [step]);
}

export function antreaCases(): CaseSource[] {
  const cases: CaseSource[] = [];

  const allowXBtoA = clusterPolicy('acnp-allow-xb-to-a', {
    priority: 1,
    appliedTo: [{ podSelector: pod('a') }],
    ingress: [
      { action: 'Allow', from: [{ podSelector: pod('b'), namespaceSelector: ns('x') }], ports: [tcp(80)] },
    ],
  });
  const xbToA = () =>
    R(false).expect('x/b', 'x/a', true).expect('x/b', 'y/a', true).expect('x/b', 'z/a', true);
  cases.push(
    one(
      'ACNP Allow over K8s default-deny policies',
      'e2e testACNPAllowXBtoA: an Antrea Allow is enforced before K8s NetworkPolicy isolation',
      [...defaultDenyAll, allowXBtoA],
      [
        [['TCP/80'], xbToA()],
        [['TCP/81'], R(false)],
      ],
      [
        [
          ['TCP/80'],
          V('Dropped')
            .expect('x/b', 'x/a', 'Connected')
            .expect('x/b', 'y/a', 'Connected')
            .expect('x/b', 'z/a', 'Connected'),
        ],
      ],
    ),
  );

  cases.push(
    one(
      'higher-priority Drop beats a lower-priority Allow over K8s default deny',
      'e2e testACNPPriorityOverrideDefaultDeny',
      [
        ...defaultDenyAll,
        clusterPolicy('acnp-priority2', {
          priority: 2,
          appliedTo: [{ namespaceSelector: ns('x') }],
          ingress: [{ action: 'Allow', from: [{ namespaceSelector: ns('z') }], ports: [tcp(80)] }],
        }),
        clusterPolicy('acnp-priority1', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a'), namespaceSelector: ns('x') }],
          ingress: [{ action: 'Drop', from: [{ namespaceSelector: ns('z') }], ports: [tcp(80)] }],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(false)
            .expectPeer({ ns: 'z' }, { ns: 'x', pod: 'b' }, true)
            .expectPeer({ ns: 'z' }, { ns: 'x', pod: 'c' }, true),
        ],
      ],
    ),
  );

  cases.push(
    one(
      'ACNP Allow rules do not isolate',
      'e2e testACNPAllowNoDefaultIsolation: unlike K8s policies, Antrea policies isolate nothing by themselves',
      [
        clusterPolicy('acnp-allow-x-ingress-y-egress-z', {
          priority: 1.1,
          appliedTo: [{ namespaceSelector: ns('x') }],
          ingress: [{ action: 'Allow', from: [{ namespaceSelector: ns('y') }], ports: [tcp(81)] }],
          egress: [{ action: 'Allow', to: [{ namespaceSelector: ns('z') }], ports: [tcp(81)] }],
        }),
      ],
      [[['TCP/81', 'TCP/80', 'UDP/81'], R(true)]],
    ),
  );

  cases.push(
    one(
      'ACNP Drop egress from pods a to namespace z, TCP only',
      'e2e testACNPDropEgress and testACNPNoEffectOnOtherProtocols; a podSelector alone selects in all namespaces',
      [
        clusterPolicy('acnp-deny-a-to-z-egress', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a') }],
          egress: [{ action: 'Drop', to: [{ namespaceSelector: ns('z') }], ports: [tcp(80)] }],
        }),
      ],
      [
        [['TCP/80'], R(true).expectPeer({ pod: 'a' }, { ns: 'z' }, false)],
        [['UDP/80', 'TCP/81', 'SCTP/80'], R(true)],
      ],
      [[['TCP/80'], V('Connected').expectPeer({ pod: 'a' }, { ns: 'z' }, 'Dropped')]],
    ),
  );

  cases.push(
    one(
      'ACNP Drop all ingress to a namespace (rule without from)',
      'e2e testACNPDropIngressInSelectedNamespace: an empty from matches every source',
      [
        clusterPolicy('acnp-deny-ingress-to-x', {
          priority: 1,
          appliedTo: [{ namespaceSelector: ns('x') }],
          ingress: [{ action: 'Drop', ports: [tcp(80)], name: 'drop-all-ingress', enableLogging: true }],
        }),
      ],
      [
        [['TCP/80'], R(true).expectPeer({}, { ns: 'x' }, false)],
        [['TCP/81'], R(true)],
      ],
    ),
  );

  const dropAllButXaXb = clusterPolicy('acnp-drop-all-egress-from-ya-except-xa-xb-ip', {
    priority: 1,
    appliedTo: [{ podSelector: pod('a'), namespaceSelector: ns('y') }],
    egress: [
      {
        action: 'Drop',
        to: [
          { ipBlock: { cidr: cidrOfPod('x/a', 8), except: [cidrOfPod('x/a', 32), cidrOfPod('x/b', 32)] } },
        ],
        ports: [tcp(80)],
        name: 'egress-drop-except',
      },
    ],
  });
  cases.push(
    antreaCase(
      'ACNP ipBlock with except',
      'e2e testACNPDropIPBlockWithExcept (Antrea >= 2.2 ipBlock except)',
      [
        {
          name: 'drop everything but x/a and x/b',
          policies: [dropAllButXaXb],
          expected: [
            [
              ['TCP/80'],
              R(true).expectAllEgress('y/a', false).expect('y/a', 'x/a', true).expect('y/a', 'x/b', true),
            ],
          ],
        },
        {
          name: 'an excepted address can still be dropped by another rule',
          actions: ['create ClusterNetworkPolicy acnp-drop-egress-from-ya-to-xa'],
          policies: [
            dropAllButXaXb,
            clusterPolicy('acnp-drop-egress-from-ya-to-xa', {
              priority: 2,
              appliedTo: [{ podSelector: pod('a'), namespaceSelector: ns('y') }],
              egress: [
                {
                  action: 'Drop',
                  to: [{ podSelector: pod('a'), namespaceSelector: ns('x') }],
                  ports: [tcp(80)],
                },
              ],
            }),
          ],
          expected: [[['TCP/80'], R(true).expectAllEgress('y/a', false).expect('y/a', 'x/b', true)]],
        },
      ],
    ),
  );

  cases.push(
    one(
      'tiers are enforced in tier order, whatever the policy priorities',
      'docs "Ordering based on Tier priority": emergency > securityops > networkops > platform > application',
      [
        clusterPolicy('secops-allow-xb', {
          tier: 'securityops',
          priority: 100,
          appliedTo: [{ podSelector: pod('a') }],
          ingress: [{ action: 'Allow', from: [{ podSelector: pod('b'), namespaceSelector: ns('x') }] }],
        }),
        clusterPolicy('app-drop-all-to-a', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a') }],
          ingress: [{ action: 'Drop' }],
        }),
        clusterPolicy('emergency-drop-y-to-z', {
          tier: 'emergency',
          priority: 50,
          appliedTo: [{ namespaceSelector: ns('z') }],
          ingress: [{ action: 'Drop', from: [{ namespaceSelector: ns('y') }] }],
        }),
        clusterPolicy('networkops-allow-y-to-z', {
          tier: 'networkops',
          priority: 1,
          appliedTo: [{ namespaceSelector: ns('z') }],
          ingress: [{ action: 'Allow', from: [{ namespaceSelector: ns('y') }] }],
        }),
        clusterPolicy('platform-drop-y-to-x-c', {
          tier: 'platform',
          priority: 1,
          appliedTo: [{ podSelector: pod('c'), namespaceSelector: ns('x') }],
          ingress: [{ action: 'Drop', from: [{ namespaceSelector: ns('y') }] }],
        }),
      ],
      [
        [
          ['TCP/80', 'UDP/81'],
          R(true)
            .expectPeer({}, { pod: 'a' }, false)
            .expectPeer({ ns: 'x', pod: 'b' }, { pod: 'a' }, true)
            .expectPeer({ ns: 'y' }, { ns: 'z' }, false)
            .expectPeer({ ns: 'y' }, { ns: 'x', pod: 'c' }, false),
        ],
      ],
    ),
  );

  cases.push(
    one(
      'custom tiers take their place by priority',
      'e2e testACNPCustomTiers (tiers 245 and 246), plus a custom tier above emergency',
      [
        tier('high-priority', 245),
        tier('low-priority', 246),
        tier('above-emergency', 20, 'enforced before the static emergency tier'),
        clusterPolicy('acnp-tier-high', {
          tier: 'high-priority',
          priority: 100,
          appliedTo: [{ podSelector: pod('a'), namespaceSelector: ns('x') }],
          ingress: [{ action: 'Allow', from: [{ namespaceSelector: ns('z') }], ports: [tcp(80)] }],
        }),
        clusterPolicy('acnp-tier-low', {
          tier: 'low-priority',
          priority: 1,
          appliedTo: [{ namespaceSelector: ns('x') }],
          ingress: [{ action: 'Drop', from: [{ namespaceSelector: ns('z') }], ports: [tcp(80)] }],
        }),
        clusterPolicy('acnp-above-emergency', {
          tier: 'above-emergency',
          priority: 10,
          appliedTo: [{ podSelector: pod('c'), namespaceSelector: ns('y') }],
          ingress: [{ action: 'Drop', from: [{ namespaceSelector: ns('x') }] }],
        }),
        clusterPolicy('acnp-emergency-allow', {
          tier: 'emergency',
          priority: 1,
          appliedTo: [{ podSelector: pod('c'), namespaceSelector: ns('y') }],
          ingress: [{ action: 'Allow', from: [{ namespaceSelector: ns('x') }] }],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectPeer({ ns: 'z' }, { ns: 'x', pod: 'b' }, false)
            .expectPeer({ ns: 'z' }, { ns: 'x', pod: 'c' }, false)
            .expectPeer({ ns: 'x' }, { ns: 'y', pod: 'c' }, false),
        ],
      ],
    ),
  );

  cases.push(
    one(
      'conflicting rules: the lower priority number wins',
      'e2e testACNPPriorityConflictingRule',
      [
        clusterPolicy('acnp-drop', {
          priority: 1,
          appliedTo: [{ namespaceSelector: ns('x') }],
          ingress: [{ action: 'Drop', from: [{ namespaceSelector: ns('z') }], ports: [tcp(80)] }],
        }),
        clusterPolicy('acnp-allow', {
          priority: 2,
          appliedTo: [{ namespaceSelector: ns('x') }],
          ingress: [{ action: 'Allow', from: [{ namespaceSelector: ns('z') }], ports: [tcp(80)] }],
        }),
      ],
      [[['TCP/80'], R(true).expectPeer({ ns: 'z' }, { ns: 'x' }, false)]],
    ),
  );

  cases.push(
    one(
      'rules of policies with equal priority interleave by rule index',
      'e2e testACNPRulePriority',
      [
        clusterPolicy('acnp-deny', {
          priority: 5,
          appliedTo: [{ namespaceSelector: ns('x') }],
          egress: [
            { action: 'Drop', to: [{ namespaceSelector: ns('y') }], ports: [tcp(80)] },
            { action: 'Drop', to: [{ namespaceSelector: ns('z') }], ports: [tcp(80)] },
          ],
        }),
        clusterPolicy('acnp-allow', {
          priority: 5,
          appliedTo: [{ namespaceSelector: ns('x') }],
          egress: [
            { action: 'Allow', to: [{ namespaceSelector: ns('z') }], ports: [tcp(80)] },
            { action: 'Allow', to: [{ namespaceSelector: ns('y') }], ports: [tcp(80)] },
          ],
        }),
      ],
      [[['TCP/80'], R(true).expectPeer({ ns: 'x' }, { ns: 'y' }, false)]],
    ),
  );

  const allowXBtoXA = (priority: number) =>
    clusterPolicy('acnp-allow-xb-to-xa', {
      priority,
      appliedTo: [{ podSelector: pod('a'), namespaceSelector: ns('x') }],
      ingress: [{ action: 'Allow', from: [{ podSelector: pod('b'), namespaceSelector: ns('x') }] }],
    });
  const dropWithinX = clusterPolicy('acnp-drop-within-x', {
    priority: 2,
    appliedTo: [{ namespaceSelector: ns('x') }],
    ingress: [{ action: 'Drop', from: [{ namespaceSelector: ns('x') }] }],
  });
  const withinXDropped = () => R(true).expectPeer({ ns: 'x' }, { ns: 'x' }, false);
  cases.push(
    antreaCase(
      'policy priority changes reorder policies, across ACNP and ANNP',
      'e2e testACNPPriorityOverride (adapted)',
      [
        { name: 'drop within x', policies: [dropWithinX], expected: [[['TCP/80'], withinXDropped()]] },
        {
          name: 'priority 1 allows x/b to x/a',
          policies: [dropWithinX, allowXBtoXA(1)],
          expected: [[['TCP/80'], withinXDropped().expect('x/b', 'x/a', true)]],
        },
        {
          name: 'the allow moves to priority 3',
          actions: ['update ClusterNetworkPolicy acnp-allow-xb-to-xa priority 3'],
          policies: [dropWithinX, allowXBtoXA(3)],
          expected: [[['TCP/80'], withinXDropped()]],
        },
        {
          name: 'an ANNP of priority 1.5 comes before the ACNP of priority 2',
          policies: [
            dropWithinX,
            antreaPolicy('x', 'annp-allow-xc-to-xa', {
              priority: 1.5,
              appliedTo: [{ podSelector: pod('a') }],
              ingress: [{ action: 'Allow', from: [{ podSelector: pod('c') }] }],
            }),
          ],
          expected: [[['TCP/80'], withinXDropped().expect('x/c', 'x/a', true)]],
        },
      ],
    ),
  );

  cases.push(
    one(
      'rule order within a policy: first match decides',
      'docs: "rules will be enforced in the order in which they are written"',
      [
        clusterPolicy('acnp-ordered-rules', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a') }],
          ingress: [
            {
              action: 'Allow',
              from: [{ podSelector: pod('b'), namespaceSelector: ns('x') }],
              name: 'allow-x-b',
            },
            { action: 'Drop', from: [{ namespaceSelector: ns('x') }], name: 'drop-rest-of-x' },
          ],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectPeer({ ns: 'x' }, { pod: 'a' }, false)
            .expectPeer({ ns: 'x', pod: 'b' }, { pod: 'a' }, true),
        ],
      ],
    ),
  );

  const passFromY = clusterPolicy('secops-pass-from-y', {
    tier: 'securityops',
    priority: 1,
    appliedTo: [{ namespaceSelector: ns('x') }],
    ingress: [{ action: 'Pass', from: [{ namespaceSelector: ns('y') }] }],
  });
  const appDropIntoX = clusterPolicy('app-drop-into-x', {
    priority: 1,
    appliedTo: [{ namespaceSelector: ns('x') }],
    ingress: [{ action: 'Drop' }],
  });
  cases.push(
    one(
      'Pass skips the remaining Antrea tiers',
      'docs "action": a Pass rule skips lower Antrea rules of the regular tiers and delegates to K8s NetworkPolicy',
      [passFromY, appDropIntoX],
      [[['TCP/80'], R(true).expectPeer({}, { ns: 'x' }, false).expectPeer({ ns: 'y' }, { ns: 'x' }, true)]],
    ),
  );

  cases.push(
    one(
      'Pass hands the decision to K8s NetworkPolicy',
      'docs "action": after Pass, K8s NetworkPolicy isolation and rules decide',
      [
        passFromY,
        appDropIntoX,
        k8sPolicy('x', 'x-a-from-pods-b', {
          podSelector: pod('a'),
          ingress: [{ from: [{ namespaceSelector: {}, podSelector: pod('b') }] }],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectPeer({}, { ns: 'x' }, false)
            .expectPeer({ ns: 'y' }, { ns: 'x' }, true)
            .expectPeer({ ns: 'y' }, { ns: 'x', pod: 'a' }, false)
            .expect('y/b', 'x/a', true),
        ],
      ],
    ),
  );

  cases.push(
    one(
      'Pass then baseline: baseline rules decide for pods K8s policies do not isolate',
      'docs "action" and "Static tiers": if no K8s NetworkPolicy matches, baseline tier rules are tested',
      [
        passFromY,
        clusterPolicy('baseline-drop-y-to-x', {
          tier: 'baseline',
          priority: 1,
          appliedTo: [{ namespaceSelector: ns('x') }],
          ingress: [{ action: 'Drop', from: [{ namespaceSelector: ns('y') }] }],
        }),
        k8sPolicy('x', 'x-a-from-y-a', {
          podSelector: pod('a'),
          ingress: [{ from: [{ namespaceSelector: ns('y'), podSelector: pod('a') }] }],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectAllIngress('x/a', false)
            .expect('y/a', 'x/a', true)
            .expectPeer({ ns: 'y' }, { ns: 'x', pod: 'b' }, false)
            .expectPeer({ ns: 'y' }, { ns: 'x', pod: 'c' }, false),
        ],
      ],
    ),
  );

  const baselineIsolateX = clusterPolicy('acnp-baseline-isolate-ns-x', {
    tier: 'baseline',
    priority: 1,
    appliedTo: [{ namespaceSelector: ns('x') }],
    ingress: [
      {
        action: 'Drop',
        from: [{ namespaceSelector: matchExpressions(expression('ns', 'NotIn', ['x'])) }],
        ports: [tcp(80)],
      },
    ],
  });
  cases.push(
    antreaCase('baseline namespace isolation and a K8s policy', 'e2e testBaselineNamespaceIsolation', [
      {
        name: 'baseline ACNP',
        policies: [baselineIsolateX],
        expected: [
          [
            ['TCP/80'],
            R(true).expectPeer({ ns: 'y' }, { ns: 'x' }, false).expectPeer({ ns: 'z' }, { ns: 'x' }, false),
          ],
        ],
      },
      {
        name: 'baseline ACNP with a K8s policy on x/a',
        actions: ['create NetworkPolicy x/allow-y-a-to-x-a'],
        policies: [
          baselineIsolateX,
          k8sPolicy('x', 'allow-y-a-to-x-a', {
            podSelector: pod('a'),
            policyTypes: ['Ingress'],
            ingress: [{ from: [{ podSelector: pod('a'), namespaceSelector: ns('y') }], ports: [tcp(80)] }],
          }),
        ],
        expected: [
          [
            ['TCP/80'],
            R(true)
              .expect('x/b', 'x/a', false)
              .expect('x/c', 'x/a', false)
              .expect('y/a', 'x/b', false)
              .expect('y/a', 'x/c', false)
              .expectPeer({ ns: 'y', pod: 'b' }, { ns: 'x' }, false)
              .expectPeer({ ns: 'y', pod: 'c' }, { ns: 'x' }, false)
              .expectPeer({ ns: 'z' }, { ns: 'x' }, false),
          ],
        ],
      },
    ]),
  );

  cases.push(
    one(
      'baseline Allow cannot lift K8s isolation; baseline applies where K8s does not isolate',
      'docs "Static tiers": baseline policies cannot counteract the isolated Pod behavior of K8s NetworkPolicies',
      [
        k8sPolicy('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] }),
        clusterPolicy('baseline-allow-into-x', {
          tier: 'baseline',
          priority: 1,
          appliedTo: [{ namespaceSelector: ns('x') }],
          ingress: [{ action: 'Allow' }],
        }),
        clusterPolicy('baseline-drop-y-to-z', {
          tier: 'baseline',
          priority: 2,
          appliedTo: [{ namespaceSelector: ns('y') }],
          egress: [{ action: 'Drop', to: [{ namespaceSelector: ns('z') }] }],
        }),
      ],
      [[['TCP/80'], R(true).expectPeer({}, { ns: 'x' }, false).expectPeer({ ns: 'y' }, { ns: 'z' }, false)]],
    ),
  );

  cases.push(
    one(
      'baseline Reject only where K8s egress isolation does not apply',
      'docs "Static tiers" with a K8s egress policy: isolation drops before the baseline tier',
      [
        k8sPolicy('z', 'z-a-egress-to-y', {
          podSelector: pod('a'),
          policyTypes: ['Egress'],
          egress: [{ to: [{ namespaceSelector: ns('y') }] }],
        }),
        clusterPolicy('baseline-reject-z-to-x', {
          tier: 'baseline',
          priority: 1,
          appliedTo: [{ namespaceSelector: ns('z') }],
          egress: [{ action: 'Reject', to: [{ namespaceSelector: ns('x') }] }],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectAllEgress('z/a', false)
            .expectPeer({ ns: 'z', pod: 'a' }, { ns: 'y' }, true)
            .expectPeer({ ns: 'z' }, { ns: 'x' }, false),
        ],
      ],
      [
        [
          ['TCP/80', 'UDP/80'],
          V('Connected')
            .expectAllEgress('z/a', 'Dropped')
            .expectPeer({ ns: 'z', pod: 'a' }, { ns: 'y' }, 'Connected')
            .expectPeer({ ns: 'z', pod: 'b' }, { ns: 'x' }, 'Rejected')
            .expectPeer({ ns: 'z', pod: 'c' }, { ns: 'x' }, 'Rejected'),
        ],
      ],
    ),
  );

  cases.push(
    one(
      'Reject on ingress answers TCP, UDP and SCTP',
      'e2e testACNPRejectIngress: the client gets a TCP reset or ICMP unreachable instead of a timeout',
      [
        clusterPolicy('acnp-reject-y-to-a', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a') }],
          ingress: [{ action: 'Reject', from: [{ namespaceSelector: ns('y') }] }],
        }),
      ],
      [[['TCP/80', 'UDP/80'], R(true).expectPeer({ ns: 'y' }, { pod: 'a' }, false)]],
      [[['TCP/80', 'UDP/80', 'SCTP/81'], V('Connected').expectPeer({ ns: 'y' }, { pod: 'a' }, 'Rejected')]],
    ),
  );

  cases.push(
    one(
      'Reject on egress',
      'e2e testACNPRejectEgress',
      [
        clusterPolicy('acnp-reject-a-to-z-egress', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a') }],
          egress: [{ action: 'Reject', to: [{ namespaceSelector: ns('z') }], ports: [tcp(80)] }],
        }),
      ],
      [[['TCP/80'], R(true).expectPeer({ pod: 'a' }, { ns: 'z' }, false)]],
      [
        [['TCP/80'], V('Connected').expectPeer({ pod: 'a' }, { ns: 'z' }, 'Rejected')],
        [['TCP/81'], V('Connected')],
      ],
    ),
  );

  cases.push(
    one(
      'Reject and Drop: the egress side decides first',
      'a packet dropped or rejected on egress never meets the destination ingress rules',
      [
        clusterPolicy('egress-drop-x-to-a', {
          priority: 1,
          appliedTo: [{ namespaceSelector: ns('x') }],
          egress: [{ action: 'Drop', to: [{ podSelector: pod('a') }] }],
        }),
        clusterPolicy('ingress-reject-x-y-to-a', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a') }],
          ingress: [
            {
              action: 'Reject',
              from: [{ namespaceSelector: matchExpressions(expression('ns', 'In', ['x', 'y'])) }],
            },
          ],
        }),
        clusterPolicy('egress-reject-z-to-c', {
          priority: 1,
          appliedTo: [{ namespaceSelector: ns('z') }],
          egress: [{ action: 'Reject', to: [{ podSelector: pod('c') }] }],
        }),
        clusterPolicy('ingress-drop-z-to-c', {
          priority: 1,
          appliedTo: [{ podSelector: pod('c') }],
          ingress: [{ action: 'Drop', from: [{ namespaceSelector: ns('z') }] }],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectPeer({ ns: 'x' }, { pod: 'a' }, false)
            .expectPeer({ ns: 'y' }, { pod: 'a' }, false)
            .expectPeer({ ns: 'z' }, { pod: 'c' }, false),
        ],
      ],
      [
        [
          ['TCP/80', 'UDP/81'],
          V('Connected')
            .expectPeer({ ns: 'x' }, { pod: 'a' }, 'Dropped')
            .expectPeer({ ns: 'y' }, { pod: 'a' }, 'Rejected')
            .expectPeer({ ns: 'z' }, { pod: 'c' }, 'Rejected'),
        ],
      ],
    ),
  );

  cases.push(
    one(
      'ANNP appliedTo per rule',
      'e2e testAppliedToPerRule (ANNP): each rule applies to its own pods',
      [
        antreaPolicy('y', 'np1', {
          priority: 1,
          ingress: [
            {
              action: 'Drop',
              appliedTo: [{ podSelector: pod('a') }],
              from: [{ podSelector: pod('b'), namespaceSelector: ns('x') }],
              ports: [tcp(80)],
            },
            {
              action: 'Drop',
              appliedTo: [{ podSelector: pod('b') }],
              from: [{ podSelector: pod('b'), namespaceSelector: ns('z') }],
              ports: [tcp(80)],
            },
          ],
        }),
      ],
      [[['TCP/80'], R(true).expect('x/b', 'y/a', false).expect('z/b', 'y/b', false)]],
    ),
  );

  cases.push(
    one(
      'ACNP appliedTo per rule',
      'e2e testAppliedToPerRule (ACNP)',
      [
        clusterPolicy('cnp1', {
          priority: 1,
          ingress: [
            {
              action: 'Drop',
              appliedTo: [{ podSelector: pod('a') }],
              from: [{ podSelector: pod('b'), namespaceSelector: ns('x') }],
              ports: [tcp(80)],
            },
            {
              action: 'Drop',
              appliedTo: [{ podSelector: pod('b'), namespaceSelector: ns('y') }],
              from: [{ podSelector: pod('b'), namespaceSelector: ns('z') }],
              ports: [tcp(80)],
            },
          ],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true).expectPeer({ ns: 'x', pod: 'b' }, { pod: 'a' }, false).expect('z/b', 'y/b', false),
        ],
      ],
    ),
  );

  cases.push(
    one(
      'ClusterGroup in appliedTo, named port',
      'e2e testACNPAppliedToDenyXBtoCGWithYA',
      [
        clusterGroup('cg-pods-ya', { namespaceSelector: ns('y'), podSelector: pod('a') }),
        clusterPolicy('acnp-deny-cg-with-ya-from-xb', {
          priority: 2,
          appliedTo: [{ group: 'cg-pods-ya' }],
          ingress: [
            {
              action: 'Drop',
              from: [{ podSelector: pod('b'), namespaceSelector: ns('x') }],
              ports: [{ protocol: 'TCP', port: 'serve-81' }],
            },
          ],
        }),
      ],
      [
        [['TCP/81'], R(true).expect('x/b', 'y/a', false)],
        [['TCP/80', 'UDP/81'], R(true)],
      ],
    ),
  );

  cases.push(
    one(
      'ClusterGroup as an ingress peer',
      'e2e testACNPIngressRuleDenyCGWithXBtoYA',
      [
        clusterGroup('cg-pods-xb', { namespaceSelector: ns('x'), podSelector: pod('b') }),
        clusterPolicy('acnp-deny-cg-with-xb-to-ya', {
          priority: 2,
          appliedTo: [{ podSelector: pod('a'), namespaceSelector: ns('y') }],
          ingress: [
            {
              action: 'Drop',
              from: [{ group: 'cg-pods-xb' }],
              ports: [{ protocol: 'TCP', port: 'serve-81' }],
            },
          ],
        }),
      ],
      [
        [['TCP/81'], R(true).expect('x/b', 'y/a', false)],
        [['TCP/80'], R(true)],
      ],
    ),
  );

  const aToZ = () => R(true).expectPeer({ pod: 'a' }, { ns: 'z' }, false);
  cases.push(
    one(
      'ClusterGroup of a namespace as an egress peer',
      'e2e testACNPEgressRulePodsAToCGWithNsZ',
      [
        clusterGroup('cg-ns-z', { namespaceSelector: ns('z') }),
        clusterPolicy('acnp-deny-a-to-cg-with-z-egress', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a') }],
          egress: [{ action: 'Drop', to: [{ group: 'cg-ns-z' }], ports: [tcp(80)] }],
        }),
      ],
      [[['TCP/80'], aToZ()]],
    ),
  );

  cases.push(
    one(
      'ClusterGroup as a per-rule appliedTo',
      'e2e testACNPAppliedToRuleCGWithPodsAToNsZ',
      [
        clusterGroup('cg-pods-a', { podSelector: pod('a') }),
        clusterPolicy('acnp-deny-cg-with-a-to-z', {
          priority: 1,
          egress: [
            {
              action: 'Drop',
              appliedTo: [{ group: 'cg-pods-a' }],
              to: [{ namespaceSelector: ns('z') }],
              ports: [tcp(80)],
            },
          ],
        }),
      ],
      [[['TCP/80'], aToZ()]],
    ),
  );

  const cgAppliedTo = clusterPolicy('acnp-deny-cg-to-z', {
    priority: 1,
    appliedTo: [{ group: 'cg-pods-a-then-c' }],
    egress: [{ action: 'Drop', to: [{ namespaceSelector: ns('z') }], ports: [tcp(80)] }],
  });
  cases.push(
    antreaCase(
      'updating a ClusterGroup selector moves the policy',
      'e2e testACNPClusterGroupUpdateAppliedTo',
      [
        {
          name: 'group selects pods a',
          policies: [clusterGroup('cg-pods-a-then-c', { podSelector: pod('a') }), cgAppliedTo],
          expected: [[['TCP/80'], aToZ()]],
        },
        {
          name: 'group selects pods c',
          actions: ['update ClusterGroup cg-pods-a-then-c'],
          policies: [clusterGroup('cg-pods-a-then-c', { podSelector: pod('c') }), cgAppliedTo],
          expected: [[['TCP/80'], R(true).expectPeer({ pod: 'c' }, { ns: 'z' }, false)]],
        },
      ],
    ),
  );

  cases.push(
    one(
      'ClusterGroup ipBlocks as a peer',
      'e2e testACNPClusterGroupRefRuleIPBlocks',
      [
        clusterGroup('cg-ipb-x-a-b', {
          ipBlocks: [{ cidr: cidrOfPod('x/a', 32) }, { cidr: cidrOfPod('x/b', 32) }],
        }),
        clusterPolicy('acnp-deny-x-ips-ingress-for-ya', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a'), namespaceSelector: ns('y') }],
          ingress: [{ action: 'Drop', from: [{ group: 'cg-ipb-x-a-b' }], ports: [tcp(80)] }],
        }),
      ],
      [[['TCP/80'], R(true).expect('x/a', 'y/a', false).expect('x/b', 'y/a', false)]],
    ),
  );

  const svc1 = (app: string) => service('x', 'svc1', { app });
  const nestedPolicy = clusterPolicy('cnp-nested-cg', {
    priority: 1,
    appliedTo: [{ namespaceSelector: ns('z') }],
    ingress: [{ action: 'Drop', from: [{ group: 'cg-nested' }], ports: [tcp(80)] }],
  });
  const childGroups = [
    clusterGroup('cg-svc-x-a', { serviceReference: { name: 'svc1', namespace: 'x' } }),
    clusterGroup('cg-select-y-b', { namespaceSelector: ns('y'), podSelector: pod('b') }),
    clusterGroup('cg-select-y-c', { namespaceSelector: ns('y'), podSelector: pod('c') }),
  ];
  const nested = (...children: string[]) => clusterGroup('cg-nested', { childGroups: children });
  const toZFrom = (...pods: string[]) => {
    const r = R(true);
    for (const p of pods) r.expectPeer({ ns: p.split('/')[0], pod: p.split('/')[1] }, { ns: 'z' }, false);
    return r;
  };
  cases.push(
    antreaCase(
      'nested ClusterGroups (childGroups) with a serviceReference child',
      'e2e testACNPNestedClusterGroupCreateAndUpdate',
      [
        {
          name: 'cg-nested has the Service group only',
          policies: [svc1('a'), ...childGroups, nested('cg-svc-x-a'), nestedPolicy],
          expected: [[['TCP/80'], toZFrom('x/a')]],
        },
        {
          name: 'cg-nested also has cg-select-y-b',
          actions: ['update ClusterGroup cg-nested'],
          policies: [svc1('a'), ...childGroups, nested('cg-svc-x-a', 'cg-select-y-b'), nestedPolicy],
          expected: [[['TCP/80'], toZFrom('x/a', 'y/b')]],
        },
        {
          name: 'cg-nested has all three children',
          actions: ['update ClusterGroup cg-nested'],
          policies: [
            svc1('a'),
            ...childGroups,
            nested('cg-svc-x-a', 'cg-select-y-b', 'cg-select-y-c'),
            nestedPolicy,
          ],
          expected: [[['TCP/80'], toZFrom('x/a', 'y/b', 'y/c')]],
        },
        {
          name: 'the Service now selects app=b',
          actions: ['update Service x/svc1 selector app=b'],
          policies: [
            svc1('b'),
            ...childGroups,
            nested('cg-svc-x-a', 'cg-select-y-b', 'cg-select-y-c'),
            nestedPolicy,
          ],
          expected: [[['TCP/80'], toZFrom('x/b', 'y/b', 'y/c')]],
        },
      ],
    ),
  );

  const ipbChildren = [
    clusterGroup('cg-x-a-ipb', { ipBlocks: [{ cidr: cidrOfPod('x/a', 32) }] }),
    clusterGroup('cg-x-b-ipb', { ipBlocks: [{ cidr: cidrOfPod('x/b', 32) }] }),
  ];
  const denyFromParent = clusterPolicy('acnp-deny-x-ips-ingress-for-ya', {
    priority: 1,
    appliedTo: [{ podSelector: pod('a'), namespaceSelector: ns('y') }],
    ingress: [{ action: 'Drop', from: [{ group: 'cg-parent' }], ports: [tcp(80)] }],
  });
  cases.push(
    antreaCase('nested ClusterGroups with ipBlocks', 'e2e testACNPNestedIPBlockClusterGroupCreateAndUpdate', [
      {
        name: 'parent of two ipBlock groups',
        policies: [
          ...ipbChildren,
          clusterGroup('cg-parent', { childGroups: ['cg-x-a-ipb', 'cg-x-b-ipb'] }),
          denyFromParent,
        ],
        expected: [[['TCP/80'], R(true).expect('x/a', 'y/a', false).expect('x/b', 'y/a', false)]],
      },
      {
        name: 'parent of an ipBlock group and a selector group',
        policies: [
          ...ipbChildren,
          clusterGroup('cg-select-x-c', { namespaceSelector: ns('x'), podSelector: pod('c') }),
          clusterGroup('cg-parent', { childGroups: ['cg-x-a-ipb', 'cg-select-x-c'] }),
          denyFromParent,
        ],
        expected: [[['TCP/80'], R(true).expect('x/a', 'y/a', false).expect('x/c', 'y/a', false)]],
      },
    ]),
  );

  const svcRefPolicy = clusterPolicy('cnp-cg-svc-ref', {
    priority: 1,
    appliedTo: [{ group: 'cg-svc1' }],
    ingress: [{ action: 'Drop', from: [{ group: 'cg-svc2' }], ports: [tcp(80)] }],
  });
  const svcRefGroup = (name: string, svc: string, namespace: string) =>
    clusterGroup(name, { serviceReference: { name: svc, namespace } });
  cases.push(
    antreaCase(
      'ClusterGroup serviceReference follows the Service',
      'e2e testACNPClusterGroupServiceRefCreateAndUpdate',
      [
        {
          name: 'svc1 (x, app=a) may not be reached from svc2 (y, app=b)',
          policies: [
            service('x', 'svc1', { app: 'a' }),
            service('y', 'svc2', { app: 'b' }),
            svcRefGroup('cg-svc1', 'svc1', 'x'),
            svcRefGroup('cg-svc2', 'svc2', 'y'),
            svcRefPolicy,
          ],
          expected: [[['TCP/80'], R(true).expect('y/b', 'x/a', false)]],
        },
        {
          name: 'svc1 selects app=b, cg-svc2 refers to svc3 (y, app=a)',
          actions: ['update Service x/svc1', 'create Service y/svc3', 'update ClusterGroup cg-svc2'],
          policies: [
            service('x', 'svc1', { app: 'b' }),
            service('y', 'svc2', { app: 'b' }),
            service('y', 'svc3', { app: 'a' }),
            svcRefGroup('cg-svc1', 'svc1', 'x'),
            svcRefGroup('cg-svc2', 'svc3', 'y'),
            svcRefPolicy,
          ],
          expected: [[['TCP/80'], R(true).expect('y/a', 'x/b', false)]],
        },
        {
          name: 'the policy uses selectors instead',
          actions: ['update ClusterNetworkPolicy cnp-cg-svc-ref'],
          policies: [
            service('x', 'svc1', { app: 'b' }),
            service('y', 'svc2', { app: 'b' }),
            service('y', 'svc3', { app: 'a' }),
            svcRefGroup('cg-svc1', 'svc1', 'x'),
            svcRefGroup('cg-svc2', 'svc3', 'y'),
            clusterPolicy('cnp-cg-svc-ref', {
              priority: 1,
              appliedTo: [{ podSelector: pod('a'), namespaceSelector: ns('x') }],
              ingress: [
                {
                  action: 'Drop',
                  from: [{ podSelector: pod('b'), namespaceSelector: ns('y') }],
                  ports: [tcp(80)],
                },
              ],
            }),
          ],
          expected: [[['TCP/80'], R(true).expect('y/b', 'x/a', false)]],
        },
      ],
    ),
  );

  cases.push(
    one(
      'Group as an ANNP ingress peer, named port',
      'e2e testANNPIngressRuleDenyGrpWithXCtoXA',
      [
        group('x', 'grp-pods-xb', { podSelector: pod('b') }),
        antreaPolicy('x', 'annp-deny-grp-with-xb-to-xa', {
          priority: 2,
          appliedTo: [{ podSelector: pod('a') }],
          ingress: [
            {
              action: 'Drop',
              from: [{ group: 'grp-pods-xb' }],
              ports: [{ protocol: 'TCP', port: 'serve-81' }],
            },
          ],
        }),
      ],
      [
        [['TCP/81'], R(true).expect('x/b', 'x/a', false)],
        [['TCP/80'], R(true)],
      ],
    ),
  );

  const annpToGroup = antreaPolicy('x', 'annp-deny-xa-to-grp-egress', {
    priority: 1,
    appliedTo: [{ podSelector: pod('a') }],
    egress: [{ action: 'Drop', to: [{ group: 'grp-xc-then-xb' }], ports: [tcp(80)] }],
  });
  cases.push(
    antreaCase(
      'Group as an ANNP egress peer, then updated',
      'e2e testANNPEgressRulePodsAToGrpWithPodsC and testANNPGroupUpdate',
      [
        {
          name: 'group selects x/c',
          policies: [group('x', 'grp-xc-then-xb', { podSelector: pod('c') }), annpToGroup],
          expected: [[['TCP/80'], R(true).expect('x/a', 'x/c', false)]],
        },
        {
          name: 'group selects x/b',
          actions: ['update Group x/grp-xc-then-xb'],
          policies: [group('x', 'grp-xc-then-xb', { podSelector: pod('b') }), annpToGroup],
          expected: [[['TCP/80'], R(true).expect('x/a', 'x/b', false)]],
        },
      ],
    ),
  );

  cases.push(
    one(
      'Group as an ANNP appliedTo',
      'e2e testANNPAppliedToDenyXBtoGrpWithXA',
      [
        group('x', 'grp-pods-xa', { podSelector: pod('a') }),
        antreaPolicy('x', 'annp-deny-xb-to-grp-xa', {
          priority: 1,
          appliedTo: [{ group: 'grp-pods-xa' }],
          ingress: [{ action: 'Drop', from: [{ podSelector: pod('b') }], ports: [tcp(80)] }],
        }),
      ],
      [[['TCP/80'], R(true).expect('x/b', 'x/a', false)]],
    ),
  );

  cases.push(
    one(
      'Group with a namespaceSelector as a peer',
      'docs "Group": a namespaceSelector groups all pods of the selected namespaces',
      [
        group('x', 'grp-ns-y', { namespaceSelector: ns('y') }),
        antreaPolicy('x', 'annp-deny-y-to-xa', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a') }],
          ingress: [{ action: 'Drop', from: [{ group: 'grp-ns-y' }] }],
        }),
      ],
      [[['TCP/80'], R(true).expectPeer({ ns: 'y' }, { ns: 'x', pod: 'a' }, false)]],
    ),
  );

  cases.push(
    one(
      'nested Groups with serviceReference, selector and ipBlocks children',
      'e2e testANNPNestedGroupCreateAndUpdate (adapted); docs "Group": childGroups are looked up in the namespace',
      [
        service('x', 'svc-x-b', { app: 'b' }),
        group('x', 'grp-svc', { serviceReference: { name: 'svc-x-b', namespace: 'x' } }),
        group('x', 'grp-c', { podSelector: pod('c') }),
        group('x', 'grp-ips', { ipBlocks: [{ cidr: cidrOfPod('z/c', 32) }] }),
        group('x', 'grp-nested', { childGroups: ['grp-svc', 'grp-c', 'grp-ips'] }),
        antreaPolicy('x', 'annp-deny-xa-to-nested', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a') }],
          egress: [{ action: 'Drop', to: [{ group: 'grp-nested' }], ports: [tcp(80)] }],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true).expect('x/a', 'x/b', false).expect('x/a', 'x/c', false).expect('x/a', 'z/c', false),
        ],
      ],
    ),
  );

  cases.push(
    one(
      'ANNP selectors: podSelector alone is the policy namespace',
      'docs "Key differences from Antrea ClusterNetworkPolicy" and e2e testANNPBasic',
      [
        antreaPolicy('y', 'annp-selectors', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a') }],
          ingress: [
            { action: 'Drop', from: [{ podSelector: pod('b') }] },
            { action: 'Drop', from: [{ namespaceSelector: ns('z') }] },
          ],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true).expect('y/b', 'y/a', false).expectPeer({ ns: 'z' }, { ns: 'y', pod: 'a' }, false),
        ],
      ],
    ),
  );

  cases.push(
    one(
      'ACNP selectors: podSelector alone selects every namespace',
      'docs "Key differences from K8s NetworkPolicy"',
      [
        clusterPolicy('acnp-drop-b-to-a', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a') }],
          ingress: [{ action: 'Drop', from: [{ podSelector: pod('b') }] }],
        }),
      ],
      [[['TCP/80'], R(true).expectPeer({ pod: 'b' }, { pod: 'a' }, false)]],
    ),
  );

  const annpSameName = antreaPolicy('y', 'np-same-name', {
    priority: 1,
    appliedTo: [{ podSelector: pod('a') }],
    ingress: [
      { action: 'Drop', from: [{ podSelector: pod('b'), namespaceSelector: ns('x') }], ports: [tcp(80)] },
    ],
  });
  cases.push(
    antreaCase('ANNP and K8s NetworkPolicy of the same name', 'e2e testANNPBasic', [
      {
        name: 'ANNP only',
        policies: [annpSameName],
        expected: [[['TCP/80'], R(true).expect('x/b', 'y/a', false)]],
      },
      {
        name: 'plus a K8s NetworkPolicy y/np-same-name allowing port 80',
        actions: ['create NetworkPolicy (networking.k8s.io) y/np-same-name'],
        policies: [
          annpSameName,
          k8sPolicy('y', 'np-same-name', {
            podSelector: pod('a'),
            ingress: [{ ports: [{ protocol: 'TCP', port: 80 }] }],
          }),
        ],
        expected: [
          [['TCP/80'], R(true).expect('x/b', 'y/a', false)],
          [['TCP/81'], R(true).expectAllIngress('y/a', false)],
        ],
      },
    ]),
  );

  cases.push(
    one(
      'namespaces match Self',
      'docs "Selecting Pods in the same Namespace with Self" (allow-self-ns, with Drop for the doc\'s Deny)',
      [
        clusterPolicy('allow-self-ns', {
          tier: 'platform',
          priority: 1,
          appliedTo: [{ namespaceSelector: {} }],
          ingress: [{ action: 'Allow', from: [{ namespaces: { match: 'Self' } }] }, { action: 'Drop' }],
          egress: [{ action: 'Allow', to: [{ namespaces: { match: 'Self' } }] }, { action: 'Drop' }],
        }),
      ],
      [
        [
          ['TCP/80', 'UDP/81'],
          R(false)
            .expectPeer({ ns: 'x' }, { ns: 'x' }, true)
            .expectPeer({ ns: 'y' }, { ns: 'y' }, true)
            .expectPeer({ ns: 'z' }, { ns: 'z' }, true),
        ],
      ],
    ),
  );

  const denySelfAtoB = clusterPolicy('deny-self-ns-a-to-b', {
    tier: 'securityops',
    priority: 1,
    appliedTo: [{ namespaceSelector: {}, podSelector: pod('b') }],
    ingress: [{ action: 'Drop', from: [{ namespaces: { match: 'Self' }, podSelector: pod('a') }] }],
  });
  const sameNsAtoB = (r: Reachability<boolean>) =>
    r.expect('x/a', 'x/b', false).expect('y/a', 'y/b', false).expect('z/a', 'z/b', false);
  cases.push(
    antreaCase(
      'namespaces Self with a podSelector',
      'docs "Selecting Pods in the same Namespace with Self" (deny-self-ns-a-to-b)',
      [
        {
          name: 'deny a to b within each namespace',
          policies: [denySelfAtoB],
          expected: [[['TCP/80'], sameNsAtoB(R(true))]],
        },
        {
          name: 'together with allow-self-ns',
          policies: [
            denySelfAtoB,
            clusterPolicy('allow-self-ns', {
              tier: 'platform',
              priority: 1,
              appliedTo: [{ namespaceSelector: {} }],
              ingress: [{ action: 'Allow', from: [{ namespaces: { match: 'Self' } }] }, { action: 'Drop' }],
            }),
          ],
          expected: [
            [
              ['TCP/80'],
              sameNsAtoB(
                R(false)
                  .expectPeer({ ns: 'x' }, { ns: 'x' }, true)
                  .expectPeer({ ns: 'y' }, { ns: 'y' }, true)
                  .expectPeer({ ns: 'z' }, { ns: 'z' }, true),
              ),
            ],
          ],
        },
      ],
    ),
  );

  const strictIsolation = clusterPolicy('test-acnp-strict-ns-isolation', {
    tier: 'securityops',
    priority: 1,
    appliedTo: [{ namespaceSelector: {} }],
    ingress: [
      { action: 'Pass', from: [{ namespaces: { match: 'Self' } }], ports: [{ protocol: 'TCP' }] },
      { action: 'Drop', from: [{ namespaceSelector: {} }], ports: [{ protocol: 'TCP' }] },
    ],
  });
  const intraNamespace = () =>
    R(false)
      .expectPeer({ ns: 'x' }, { ns: 'x' }, true)
      .expectPeer({ ns: 'y' }, { ns: 'y' }, true)
      .expectPeer({ ns: 'z' }, { ns: 'z' }, true);
  cases.push(
    antreaCase(
      'strict namespace isolation with Pass, then a K8s policy',
      'e2e testACNPStrictNamespacesIsolation',
      [
        {
          name: 'namespace isolation',
          policies: [strictIsolation],
          expected: [[['TCP/80'], intraNamespace()]],
        },
        {
          name: 'K8s default-deny in x decides the passed intra-x traffic',
          actions: ['create NetworkPolicy x/default-deny-in-namespace-x'],
          policies: [
            strictIsolation,
            k8sPolicy('x', 'default-deny-in-namespace-x', { podSelector: {}, policyTypes: ['Ingress'] }),
          ],
          expected: [[['TCP/80'], intraNamespace().expectPeer({ ns: 'x' }, { ns: 'x' }, false)]],
        },
      ],
    ),
  );

  const tenantsIsolation = (labels: string[]) =>
    clusterPolicy(`test-acnp-strict-ns-isolation-by-${labels.join('-')}`, {
      tier: 'securityops',
      priority: 1,
      appliedTo: [{ namespaceSelector: {} }],
      ingress: [
        { action: 'Pass', from: [{ namespaces: { sameLabels: labels } }], ports: [{ protocol: 'TCP' }] },
        { action: 'Drop', ports: [{ protocol: 'TCP' }] },
      ],
    });
  const tenantNamespaces = ['prod1', 'prod2', 'dev1', 'dev2', 'no-tier'];
  const connectGroups = (r: Reachability<boolean>, groups: string[][]) => {
    for (const members of groups) {
      for (const a of members) for (const b of members) r.expectPeer({ ns: a }, { ns: b }, true);
    }
    return r;
  };
  cases.push(
    antreaCase(
      'namespaces sameLabels [purpose, tier]',
      'e2e testACNPStrictNamespacesIsolationByLabels: namespaces lacking a listed label get no sameLabels rule, but the Drop rule still applies to them',
      [
        {
          name: 'isolation by purpose and tier',
          policies: [tenantsIsolation(['purpose', 'tier'])],
          expected: [
            [
              ['TCP/80'],
              connectGroups(T(false), [
                ['prod1', 'prod2'],
                ['dev1', 'dev2'],
              ]),
            ],
          ],
        },
      ],
      TENANTS.name,
    ),
  );

  cases.push(
    antreaCase(
      'namespaces sameLabels [purpose] follows namespace labels',
      'e2e testACNPStrictNamespacesIsolationBySingleLabel',
      [
        {
          name: 'isolation by purpose',
          policies: [tenantsIsolation(['purpose'])],
          expected: [
            [['TCP/80'], connectGroups(T(false), [['prod1', 'prod2', 'dev1', 'dev2'], ['no-tier']])],
          ],
        },
        {
          name: 'no-tier gets purpose=test',
          actions: ['label namespace no-tier purpose=test'],
          policies: [tenantsIsolation(['purpose'])],
          namespaceLabels: { 'no-tier': { 'kubernetes.io/metadata.name': 'no-tier', purpose: 'test' } },
          expected: [[['TCP/80'], connectGroups(T(false), [tenantNamespaces])]],
        },
        {
          name: 'no-tier back to purpose=test-exclusion',
          policies: [tenantsIsolation(['purpose'])],
          expected: [
            [['TCP/80'], connectGroups(T(false), [['prod1', 'prod2', 'dev1', 'dev2'], ['no-tier']])],
          ],
        },
      ],
      TENANTS.name,
    ),
  );

  cases.push(
    one(
      'ACNP port range (endPort) on egress',
      'e2e testACNPPortRange',
      [
        clusterPolicy('acnp-deny-a-to-z-egress-port-range', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a') }],
          egress: [
            {
              action: 'Drop',
              to: [{ namespaceSelector: ns('z') }],
              ports: [tcp(8080, 8082)],
              name: 'acnp-port-range',
            },
          ],
        }),
      ],
      [
        [['TCP/8080', 'TCP/8081', 'TCP/8082'], aToZ()],
        [['TCP/8083', 'TCP/80'], R(true)],
      ],
    ),
  );

  cases.push(
    one(
      'ANNP port range (endPort) on ingress',
      'e2e testANNPPortRange',
      [
        antreaPolicy('y', 'annp-deny-x-to-yb-port-range', {
          priority: 1,
          appliedTo: [{ podSelector: pod('b') }],
          ingress: [{ action: 'Drop', from: [{ namespaceSelector: ns('x') }], ports: [tcp(8080, 8085)] }],
        }),
      ],
      [
        [['TCP/8080', 'TCP/8083', 'TCP/8085'], R(true).expectPeer({ ns: 'x' }, { ns: 'y', pod: 'b' }, false)],
        [['TCP/80'], R(true)],
      ],
    ),
  );

  cases.push(
    one(
      'named port in an ACNP resolves on the destination pods',
      'docs: ports may name a container port; it resolves to the port of that name and protocol',
      [
        clusterPolicy('acnp-drop-x-to-z-serve-81', {
          priority: 1,
          appliedTo: [{ namespaceSelector: ns('z') }],
          ingress: [
            { action: 'Drop', from: [{ namespaceSelector: ns('x') }], ports: [{ port: 'serve-81' }] },
          ],
        }),
        clusterPolicy('acnp-drop-y-egress-serve-8084', {
          priority: 1,
          appliedTo: [{ namespaceSelector: ns('y') }],
          egress: [{ action: 'Drop', ports: [{ protocol: 'TCP', port: 'serve-8084' }] }],
        }),
      ],
      [
        [['TCP/81'], R(true).expectPeer({ ns: 'x' }, { ns: 'z' }, false)],
        [['TCP/8084'], R(true).expectPeer({ ns: 'y' }, {}, false)],
        // serve-81 is declared TCP: UDP and SCTP to 81 are not the named port.
        [['TCP/80', 'UDP/81', 'SCTP/81', 'TCP/8085'], R(true)],
      ],
    ),
  );

  cases.push(
    one(
      'rules limited to privileged source ports do not match ordinary clients',
      'e2e testACNPSourcePort (inverted): clients connect from ephemeral ports, outside 1-1023',
      [
        clusterPolicy('acnp-drop-privileged-source-ports', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a') }],
          ingress: [
            {
              action: 'Drop',
              from: [{ namespaceSelector: ns('x') }],
              ports: [{ protocol: 'TCP', port: 80, sourcePort: 1, sourceEndPort: 1023 }],
            },
          ],
        }),
      ],
      [[['TCP/80'], R(true)]],
    ),
  );

  cases.push(
    one(
      'the older crd.antrea.io/v1alpha1 API version is accepted',
      'issue 3: v1alpha1 names are accepted unchanged',
      [
        clusterPolicy(
          'acnp-v1alpha1',
          {
            priority: 1,
            appliedTo: [{ podSelector: pod('c'), namespaceSelector: ns('x') }],
            ingress: [{ action: 'Drop', from: [{ namespaceSelector: ns('y') }] }],
          },
          'crd.antrea.io/v1alpha1',
        ),
      ],
      [[['TCP/80'], R(true).expectPeer({ ns: 'y' }, { ns: 'x', pod: 'c' }, false)]],
    ),
  );

  const dropYtoX = clusterPolicy('acnp-drop-y-to-x', {
    priority: 1,
    appliedTo: [{ namespaceSelector: ns('x') }],
    ingress: [{ action: 'Drop', from: [{ namespaceSelector: ns('y') }] }],
  });
  cases.push(
    antreaCase('deleting a policy restores traffic', 'docs: policies apply while they exist', [
      {
        name: 'drop y to x',
        policies: [dropYtoX],
        expected: [[['TCP/80'], R(true).expectPeer({ ns: 'y' }, { ns: 'x' }, false)]],
      },
      {
        name: 'deleted',
        actions: ['delete ClusterNetworkPolicy acnp-drop-y-to-x'],
        policies: [],
        expected: [[['TCP/80'], R(true)]],
      },
    ]),
  );

  const dbFromWeb = clusterPolicy('acnp-db-drop-web', {
    priority: 1,
    appliedTo: [{ podSelector: matchLabels({ role: 'db' }) }],
    ingress: [{ action: 'Drop', from: [{ podSelector: matchLabels({ role: 'web' }) }] }],
  });
  cases.push(
    antreaCase(
      'pod labels move pods into appliedTo and peer groups',
      'docs: groups follow pod label changes',
      [
        { name: 'nobody has a role', policies: [dbFromWeb], expected: [[['TCP/80'], R(true)]] },
        {
          name: 'x/a is db, y/b is web',
          actions: ['label pod x/a role=db', 'label pod y/b role=web'],
          policies: [dbFromWeb],
          podLabels: {
            'x/a': { pod: 'a', app: 'a', role: 'db' },
            'y/b': { pod: 'b', app: 'b', role: 'web' },
          },
          expected: [[['TCP/80'], R(true).expect('y/b', 'x/a', false)]],
        },
        {
          name: 'z/c is web too',
          actions: ['label pod z/c role=web'],
          policies: [dbFromWeb],
          podLabels: {
            'x/a': { pod: 'a', app: 'a', role: 'db' },
            'y/b': { pod: 'b', app: 'b', role: 'web' },
            'z/c': { pod: 'c', app: 'c', role: 'web' },
          },
          expected: [[['TCP/80'], R(true).expect('y/b', 'x/a', false).expect('z/c', 'x/a', false)]],
        },
        {
          name: 'x/a is no longer db',
          actions: ['unlabel pod x/a role'],
          policies: [dbFromWeb],
          podLabels: {
            'y/b': { pod: 'b', app: 'b', role: 'web' },
            'z/c': { pod: 'c', app: 'c', role: 'web' },
          },
          expected: [[['TCP/80'], R(true)]],
        },
      ],
    ),
  );

  cases.push(
    one(
      'an Antrea Drop comes before a K8s allow',
      'docs: K8s NetworkPolicies are enforced once all Antrea tiers but baseline have been',
      [
        k8sPolicy('x', 'allow-all-to-a', { podSelector: pod('a'), ingress: [{}] }),
        clusterPolicy('acnp-drop-y-to-xa', {
          priority: 1,
          appliedTo: [{ podSelector: pod('a'), namespaceSelector: ns('x') }],
          ingress: [{ action: 'Drop', from: [{ namespaceSelector: ns('y') }] }],
        }),
      ],
      [[['TCP/80'], R(true).expectPeer({ ns: 'y' }, { ns: 'x', pod: 'a' }, false)]],
    ),
  );

  cases.push(
    one(
      'an Antrea egress Allow lifts K8s egress isolation where it matches',
      'docs: Antrea tiers before K8s NetworkPolicy, on egress too',
      [
        k8sPolicy('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] }),
        clusterPolicy('acnp-allow-x-to-y', {
          tier: 'networkops',
          priority: 3,
          appliedTo: [{ namespaceSelector: ns('x') }],
          egress: [{ action: 'Allow', to: [{ namespaceSelector: ns('y') }] }],
        }),
      ],
      [[['TCP/80'], R(true).expectPeer({ ns: 'x' }, {}, false).expectPeer({ ns: 'x' }, { ns: 'y' }, true)]],
    ),
  );

  return cases;
}
