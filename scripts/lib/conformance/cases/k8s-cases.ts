// Kubernetes NetworkPolicy cases, from the Kubernetes documentation ("Network Policies") and the e2e suite
// test/e2e/network/netpol/network_policy.go (same scenarios, written against the k8s-xyz model). Expected
// tables state the documented semantics: a pod is isolated in a direction once a policy with that policyType
// selects it; it then accepts only what some rule of those policies allows; policies are additive.
import {
  cidrOfPod,
  expression,
  k8sPolicy,
  matchExpressions,
  matchLabels,
  Reachability,
  type CaseSource,
  type Json,
} from '../case-builder';
import { K8S_XYZ } from './models';

const R = (fill: boolean) => new Reachability<boolean>(K8S_XYZ.pods, fill);
const nsLabel = (ns: string): Json => matchLabels({ 'kubernetes.io/metadata.name': ns });
const podLabel = (pod: string): Json => matchLabels({ pod });

function single(
  id: string,
  description: string,
  policies: Json[],
  expected: [string[], Reachability<boolean>][],
  extra: {
    podLabels?: Record<string, Record<string, string>>;
    namespaceLabels?: Record<string, Record<string, string>>;
  } = {},
): CaseSource {
  return {
    id: `k8s: ${id}`,
    kind: 'k8s',
    model: K8S_XYZ.name,
    description,
    steps: [{ name: id, policies, expected, ...extra }],
  };
}

const denyIngressX = k8sPolicy('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });

export function k8sCases(): CaseSource[] {
  const cases: CaseSource[] = [];

  cases.push(
    single(
      'default-deny-ingress',
      "e2e: should support a 'default-deny-ingress' policy (TCP, UDP and SCTP variants)",
      [denyIngressX],
      [[['TCP/80', 'UDP/80', 'SCTP/80'], R(true).expectPeer({}, { ns: 'x' }, false)]],
    ),
  );

  cases.push(
    single(
      'default-deny-all',
      "e2e: should support a 'default-deny-all' policy",
      [k8sPolicy('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
      [[['TCP/80', 'UDP/81'], R(true).expectPeer({}, { ns: 'x' }, false).expectPeer({ ns: 'x' }, {}, false)]],
    ),
  );

  cases.push(
    single(
      'allow ingress from pods of the same namespace by podSelector',
      'e2e: should enforce policy to allow traffic from pods within server namespace based on PodSelector',
      [
        k8sPolicy('x', 'x-a-allows-x-b', {
          podSelector: podLabel('a'),
          ingress: [{ from: [{ podSelector: podLabel('b') }] }],
        }),
      ],
      [[['TCP/80'], R(true).expectAllIngress('x/a', false).expect('x/b', 'x/a', true)]],
    ),
  );

  cases.push(
    single(
      'allow ingress to one target in a default-deny namespace',
      'e2e: should enforce policy to allow ingress traffic for a target (policies are additive)',
      [
        k8sPolicy('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress'] }),
        k8sPolicy('x', 'allow-all-to-a', {
          podSelector: podLabel('a'),
          ingress: [{ from: [{ podSelector: {}, namespaceSelector: {} }] }],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true).expectAllIngress('x/a', true).expectAllIngress('x/b', false).expectAllIngress('x/c', false),
        ],
      ],
    ),
  );

  cases.push(
    single(
      'allow ingress from pods in all namespaces (empty namespaceSelector)',
      'e2e: should enforce policy to allow ingress traffic from pods in all namespaces',
      [
        k8sPolicy('x', 'allow-from-another-ns', {
          podSelector: podLabel('a'),
          ingress: [{ from: [{ namespaceSelector: {} }] }],
        }),
      ],
      [[['TCP/80'], R(true)]],
    ),
  );

  cases.push(
    single(
      'allow ingress only from another namespace by namespaceSelector',
      'e2e: should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector',
      [
        k8sPolicy('x', 'allow-client-a-via-ns-selector', {
          podSelector: podLabel('a'),
          ingress: [{ from: [{ namespaceSelector: matchLabels({ ns: 'y' }) }] }],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectPeer({ ns: 'x' }, { ns: 'x', pod: 'a' }, false)
            .expectPeer({ ns: 'z' }, { ns: 'x', pod: 'a' }, false),
        ],
      ],
    ),
  );

  cases.push(
    single(
      'podSelector with matchExpressions In',
      'e2e: should enforce policy based on PodSelector with MatchExpressions',
      [
        k8sPolicy('x', 'x-a-allows-x-b', {
          podSelector: podLabel('a'),
          ingress: [{ from: [{ podSelector: matchExpressions(expression('pod', 'In', ['b'])) }] }],
        }),
      ],
      [[['TCP/80'], R(true).expectAllIngress('x/a', false).expect('x/b', 'x/a', true)]],
    ),
  );

  cases.push(
    single(
      'namespaceSelector with matchExpressions In on the default namespace label',
      'e2e: should enforce policy based on NamespaceSelector with MatchExpressions',
      [
        k8sPolicy('x', 'allow-ns-y-match-selector', {
          podSelector: podLabel('a'),
          ingress: [
            {
              from: [
                {
                  namespaceSelector: matchExpressions(expression('kubernetes.io/metadata.name', 'In', ['y'])),
                },
              ],
            },
          ],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectPeer({ ns: 'x' }, { ns: 'x', pod: 'a' }, false)
            .expectPeer({ ns: 'z' }, { ns: 'x', pod: 'a' }, false),
        ],
      ],
    ),
  );

  cases.push(
    single(
      'podSelector OR namespaceSelector (two peers)',
      'e2e: should enforce policy based on PodSelector or NamespaceSelector',
      [
        k8sPolicy('x', 'allow-ns-not-x-or-pod-b', {
          podSelector: podLabel('a'),
          ingress: [
            {
              from: [
                {
                  namespaceSelector: matchExpressions(
                    expression('kubernetes.io/metadata.name', 'NotIn', ['x']),
                  ),
                },
                { podSelector: podLabel('b') },
              ],
            },
          ],
        }),
      ],
      [[['TCP/80'], R(true).expect('x/c', 'x/a', false)]],
    ),
  );

  cases.push(
    single(
      'podSelector AND namespaceSelector (one peer)',
      'e2e: should enforce policy based on PodSelector and NamespaceSelector',
      [
        k8sPolicy('x', 'allow-ns-not-x-and-pod-b', {
          podSelector: podLabel('a'),
          ingress: [
            {
              from: [
                {
                  namespaceSelector: matchExpressions(
                    expression('kubernetes.io/metadata.name', 'NotIn', ['x']),
                  ),
                  podSelector: podLabel('b'),
                },
              ],
            },
          ],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true).expectAllIngress('x/a', false).expect('y/b', 'x/a', true).expect('z/b', 'x/a', true),
        ],
      ],
    ),
  );

  cases.push(
    single(
      'several values in combined pod and namespace selectors',
      'e2e: should enforce policy based on Multiple PodSelectors and NamespaceSelectors',
      [
        k8sPolicy('x', 'allow-ns-y-z-pod-b-c', {
          podSelector: podLabel('a'),
          ingress: [
            {
              from: [
                {
                  namespaceSelector: matchExpressions(
                    expression('kubernetes.io/metadata.name', 'NotIn', ['x']),
                  ),
                  podSelector: matchExpressions(expression('pod', 'In', ['b', 'c'])),
                },
              ],
            },
          ],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectPeer({ ns: 'x' }, { ns: 'x', pod: 'a' }, false)
            .expect('y/a', 'x/a', false)
            .expect('z/a', 'x/a', false),
        ],
      ],
    ),
  );

  cases.push(
    single(
      'any of several podSelectors',
      'e2e: should enforce policy based on any PodSelectors',
      [
        k8sPolicy('x', 'allow-ns-x-pod-b-c', {
          podSelector: podLabel('a'),
          ingress: [{ from: [{ podSelector: podLabel('b') }, { podSelector: podLabel('c') }] }],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true).expectAllIngress('x/a', false).expect('x/b', 'x/a', true).expect('x/c', 'x/a', true),
        ],
      ],
    ),
  );

  cases.push(
    single(
      'allow one pod of another namespace (TCP, UDP, SCTP)',
      'e2e: should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector',
      [
        k8sPolicy('x', 'allow-ns-y-pod-a-via-namespace-pod-selector', {
          podSelector: podLabel('a'),
          ingress: [{ from: [{ namespaceSelector: nsLabel('y'), podSelector: podLabel('a') }] }],
        }),
      ],
      [[['TCP/80', 'UDP/80', 'SCTP/80'], R(true).expectAllIngress('x/a', false).expect('y/a', 'x/a', true)]],
    ),
  );

  const allow81FromY = k8sPolicy('x', 'allow-client-a-via-ns-selector', {
    podSelector: podLabel('a'),
    ingress: [{ from: [{ namespaceSelector: nsLabel('y') }], ports: [{ port: 81, protocol: 'TCP' }] }],
  });
  const only81FromY = () =>
    R(true)
      .expectPeer({ ns: 'x' }, { ns: 'x', pod: 'a' }, false)
      .expectPeer({ ns: 'y' }, { ns: 'x', pod: 'a' }, true)
      .expectPeer({ ns: 'z' }, { ns: 'x', pod: 'a' }, false);
  cases.push(
    single(
      'allow one port and protocol from one namespace',
      'e2e: should enforce policy based on Ports',
      [allow81FromY],
      [
        [['TCP/81'], only81FromY()],
        [['TCP/80', 'UDP/81'], R(true).expectAllIngress('x/a', false)],
      ],
    ),
  );

  cases.push({
    id: 'k8s: stacked policies with overlapping podSelectors',
    kind: 'k8s',
    model: K8S_XYZ.name,
    description: 'e2e: should enforce multiple, stacked policies with overlapping podSelectors',
    steps: [
      {
        name: 'port 81 allowed from y',
        policies: [allow81FromY],
        expected: [
          [['TCP/81'], only81FromY()],
          [['TCP/80'], R(true).expectAllIngress('x/a', false)],
        ],
      },
      {
        name: 'a second policy opens port 80 from y too',
        actions: ['create NetworkPolicy x/allow-client-a-via-ns-selector-80'],
        policies: [
          allow81FromY,
          k8sPolicy('x', 'allow-client-a-via-ns-selector-80', {
            podSelector: podLabel('a'),
            ingress: [
              { from: [{ namespaceSelector: nsLabel('y') }], ports: [{ port: 80, protocol: 'TCP' }] },
            ],
          }),
        ],
        expected: [[['TCP/80', 'TCP/81'], only81FromY()]],
      },
    ],
  });

  cases.push(
    single(
      'allow-all ingress policy',
      'e2e: should support allow-all policy',
      [k8sPolicy('x', 'allow-all', { podSelector: {}, ingress: [{}] })],
      [[['TCP/80', 'TCP/81', 'UDP/80'], R(true)]],
    ),
  );

  cases.push(
    single(
      'ingress on one named port',
      'e2e: should allow ingress access on one named port',
      [k8sPolicy('x', 'allow-all', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] })],
      [
        [['TCP/81'], R(true)],
        // The named port is TCP (the default protocol): UDP 81 is not allowed, nor is port 80.
        [['TCP/80', 'UDP/81'], R(true).expectPeer({}, { ns: 'x' }, false)],
      ],
    ),
  );

  cases.push(
    single(
      'ingress from a namespace on one named port',
      'e2e: should allow ingress access from namespace on one named port',
      [
        k8sPolicy('x', 'allow-client-a-via-ns-selector-80', {
          podSelector: podLabel('a'),
          ingress: [
            {
              from: [{ namespaceSelector: nsLabel('y') }],
              ports: [{ port: 'serve-80-tcp', protocol: 'TCP' }],
            },
          ],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectPeer({ ns: 'x' }, { ns: 'x', pod: 'a' }, false)
            .expectPeer({ ns: 'z' }, { ns: 'x', pod: 'a' }, false),
        ],
        [['TCP/81'], R(true).expectAllIngress('x/a', false)],
      ],
    ),
  );

  cases.push(
    single(
      'egress on one named port',
      'e2e: should allow egress access on one named port (resolved on the destination pods)',
      [
        k8sPolicy('x', 'allow-egress', {
          podSelector: {},
          policyTypes: ['Egress'],
          egress: [{ ports: [{ port: 'serve-80-tcp' }] }],
        }),
      ],
      [
        [['TCP/80'], R(true)],
        [['TCP/81', 'UDP/80'], R(true).expectPeer({ ns: 'x' }, {}, false)],
      ],
    ),
  );

  cases.push(
    single(
      'named port resolves only with its declared protocol',
      'docs: a named port refers to the container port of that name and protocol',
      [
        k8sPolicy('x', 'allow-udp-by-name', {
          podSelector: podLabel('a'),
          ingress: [{ ports: [{ protocol: 'UDP', port: 'serve-80-udp' }] }],
        }),
        // serve-81-tcp is a TCP port: asked for with UDP it resolves to nothing, so x/b only gets isolated.
        k8sPolicy('x', 'udp-on-tcp-name', {
          podSelector: podLabel('b'),
          ingress: [{ ports: [{ protocol: 'UDP', port: 'serve-81-tcp' }] }],
        }),
      ],
      [
        [['UDP/80'], R(true).expectAllIngress('x/b', false)],
        [['TCP/80'], R(true).expectAllIngress('x/a', false).expectAllIngress('x/b', false)],
        [['UDP/81', 'TCP/81'], R(true).expectAllIngress('x/a', false).expectAllIngress('x/b', false)],
      ],
    ),
  );

  const allowAll = k8sPolicy('x', 'allow-all-mutate-to-deny-all', { podSelector: {}, ingress: [{}] });
  cases.push({
    id: 'k8s: updated policy goes from allow-all to deny-all',
    kind: 'k8s',
    model: K8S_XYZ.name,
    description: 'e2e: should enforce updated policy',
    steps: [
      { name: 'allow all', policies: [allowAll], expected: [[['TCP/81'], R(true)]] },
      {
        name: 'same policy with no ingress rule',
        actions: ['update NetworkPolicy x/allow-all-mutate-to-deny-all'],
        policies: [
          k8sPolicy('x', 'allow-all-mutate-to-deny-all', {
            podSelector: {},
            policyTypes: ['Ingress'],
            ingress: [],
          }),
        ],
        expected: [[['TCP/81'], R(true).expectPeer({}, { ns: 'x' }, false)]],
      },
    ],
  });

  const fromNs2Updated = k8sPolicy('x', 'allow-client-a-via-ns-selector', {
    podSelector: podLabel('a'),
    ingress: [{ from: [{ namespaceSelector: matchLabels({ ns2: 'updated' }) }] }],
  });
  cases.push({
    id: 'k8s: ingress from a namespace once it gets the label',
    kind: 'k8s',
    model: K8S_XYZ.name,
    description: 'e2e: should allow ingress access from updated namespace (plus the label going away again)',
    steps: [
      {
        name: 'no namespace has ns2=updated',
        policies: [fromNs2Updated],
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false)]],
      },
      {
        name: 'label namespace y ns2=updated',
        actions: ['label namespace y ns2=updated'],
        policies: [fromNs2Updated],
        namespaceLabels: { y: { 'kubernetes.io/metadata.name': 'y', ns: 'y', ns2: 'updated' } },
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false).expectPeer({ ns: 'y' }, {}, true)]],
      },
      {
        name: 'namespace y back to its model labels',
        actions: ['unlabel namespace y ns2'],
        policies: [fromNs2Updated],
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false)]],
      },
    ],
  });

  const fromUpdatedPod = k8sPolicy('x', 'allow-client-a-via-pod-selector', {
    podSelector: podLabel('a'),
    ingress: [{ from: [{ podSelector: matchLabels({ pod: 'b', pod2: 'updated' }) }] }],
  });
  cases.push({
    id: 'k8s: ingress from a pod once it gets the label',
    kind: 'k8s',
    model: K8S_XYZ.name,
    description: 'e2e: should allow ingress access from updated pod (plus the label going away again)',
    steps: [
      {
        name: 'no pod matches',
        policies: [fromUpdatedPod],
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false)]],
      },
      {
        name: 'label x/b pod2=updated',
        actions: ['label pod x/b pod2=updated'],
        policies: [fromUpdatedPod],
        podLabels: { 'x/b': { pod: 'b', pod2: 'updated' } },
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false).expect('x/b', 'x/a', true)]],
      },
      {
        name: 'x/b back to its model labels',
        actions: ['unlabel pod x/b pod2'],
        policies: [fromUpdatedPod],
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false)]],
      },
    ],
  });

  cases.push(
    single(
      'deny ingress from other namespaces (empty podSelector peer)',
      'e2e: should deny ingress from pods on other namespaces',
      [k8sPolicy('x', 'deny-empty-policy', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })],
      [
        [
          ['TCP/80'],
          R(true).expectPeer({ ns: 'y' }, { ns: 'x' }, false).expectPeer({ ns: 'z' }, { ns: 'x' }, false),
        ],
      ],
    ),
  );

  const denyIsolated = k8sPolicy('x', 'deny-ingress-via-label-selector', {
    podSelector: matchLabels({ target: 'isolated' }),
    policyTypes: ['Ingress'],
  });
  cases.push({
    id: 'k8s: deny ingress to a pod once it gets the label',
    kind: 'k8s',
    model: K8S_XYZ.name,
    description: 'e2e: should deny ingress access to updated pod',
    steps: [
      { name: 'no pod selected', policies: [denyIsolated], expected: [[['TCP/80'], R(true)]] },
      {
        name: 'label x/a target=isolated',
        actions: ['label pod x/a target=isolated'],
        policies: [denyIsolated],
        podLabels: { 'x/a': { pod: 'a', target: 'isolated' } },
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false)]],
      },
    ],
  });

  cases.push(
    single(
      'deny egress of selected pods',
      'e2e: should deny egress from pods based on PodSelector',
      [k8sPolicy('x', 'deny-egress-pod-a', { podSelector: podLabel('a'), policyTypes: ['Egress'] })],
      [[['TCP/80'], R(true).expectAllEgress('x/a', false)]],
    ),
  );

  cases.push(
    single(
      'deny egress of a whole namespace',
      'e2e: should deny egress from all pods in a namespace',
      [k8sPolicy('x', 'deny-egress-ns-x', { podSelector: {}, policyTypes: ['Egress'] })],
      [[['TCP/80', 'UDP/80'], R(true).expectPeer({ ns: 'x' }, {}, false)]],
    ),
  );

  cases.push(
    single(
      'ingress and egress rules in one policy',
      'e2e: should work with Ingress, Egress specified together',
      [
        k8sPolicy('x', 'allow-client-a-via-pod-selector', {
          podSelector: podLabel('a'),
          ingress: [{ from: [{ podSelector: podLabel('b') }] }],
          egress: [{ ports: [{ port: 80 }] }],
          policyTypes: ['Egress', 'Ingress'],
        }),
      ],
      [
        [['TCP/80'], R(true).expectAllIngress('x/a', false).expect('x/b', 'x/a', true)],
        [
          ['TCP/81'],
          R(true).expectAllIngress('x/a', false).expectAllEgress('x/a', false).expect('x/b', 'x/a', true),
        ],
      ],
    ),
  );

  const ingressFromXA = [{ from: [{ namespaceSelector: nsLabel('x'), podSelector: podLabel('a') }] }];
  cases.push(
    single(
      'egress denied at the client even when the server allows it',
      'e2e: should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)',
      [
        k8sPolicy('x', 'allow-to-ns-y-pod-a', {
          podSelector: podLabel('a'),
          policyTypes: ['Egress'],
          egress: [{ to: [{ namespaceSelector: nsLabel('y'), podSelector: podLabel('a') }] }],
        }),
        k8sPolicy('y', 'allow-from-xa-on-ya-match-selector', {
          podSelector: podLabel('a'),
          ingress: ingressFromXA,
        }),
        k8sPolicy('y', 'allow-from-xa-on-yb-match-selector', {
          podSelector: podLabel('b'),
          ingress: ingressFromXA,
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectAllEgress('x/a', false)
            .expectAllIngress('y/a', false)
            .expect('x/a', 'y/a', true)
            .expectAllIngress('y/b', false),
        ],
      ],
    ),
  );

  cases.push(
    single(
      'egress to a pod of another namespace by podSelector and namespaceSelector',
      'e2e: should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector',
      [
        k8sPolicy('x', 'allow-to-ns-y-pod-a', {
          podSelector: podLabel('a'),
          policyTypes: ['Egress'],
          egress: [{ to: [{ namespaceSelector: nsLabel('y'), podSelector: podLabel('a') }] }],
        }),
      ],
      [[['TCP/80'], R(true).expectAllEgress('x/a', false).expect('x/a', 'y/a', true)]],
    ),
  );

  cases.push(
    single(
      'any port of one protocol',
      'e2e: should enforce ingress policy allowing any port traffic to a server on a specific protocol',
      [
        k8sPolicy('x', 'allow-ingress-by-proto', {
          podSelector: podLabel('a'),
          ingress: [{ ports: [{ protocol: 'TCP' }] }],
        }),
      ],
      [
        [['TCP/80', 'TCP/8083'], R(true)],
        [['UDP/80'], R(true).expectAllIngress('x/a', false)],
      ],
    ),
  );

  const onlyPort80 = k8sPolicy('x', 'allow-ingress-port-80', {
    podSelector: {},
    ingress: [{ ports: [{ port: 80 }] }],
  });
  cases.push({
    id: 'k8s: an allow-all ingress policy opens what a narrower one closed',
    kind: 'k8s',
    model: K8S_XYZ.name,
    description:
      'e2e: should enforce multiple ingress policies with ingress allow-all policy taking precedence',
    steps: [
      {
        name: 'only port 80',
        policies: [onlyPort80],
        expected: [[['TCP/81'], R(true).expectPeer({}, { ns: 'x' }, false)]],
      },
      {
        name: 'plus allow-all',
        actions: ['create NetworkPolicy x/allow-ingress'],
        policies: [onlyPort80, k8sPolicy('x', 'allow-ingress', { podSelector: {}, ingress: [{}] })],
        expected: [[['TCP/81'], R(true)]],
      },
    ],
  });

  const egressOnly80 = k8sPolicy('x', 'allow-egress-port-80', {
    podSelector: {},
    policyTypes: ['Egress'],
    egress: [{ ports: [{ port: 80 }] }],
  });
  cases.push({
    id: 'k8s: an allow-all egress policy opens what a narrower one closed',
    kind: 'k8s',
    model: K8S_XYZ.name,
    description:
      'e2e: should enforce multiple egress policies with egress allow-all policy taking precedence',
    steps: [
      {
        name: 'only port 80',
        policies: [egressOnly80],
        expected: [[['TCP/81'], R(true).expectPeer({ ns: 'x' }, {}, false)]],
      },
      {
        name: 'plus allow-all egress',
        actions: ['create NetworkPolicy x/allow-egress'],
        policies: [
          egressOnly80,
          k8sPolicy('x', 'allow-egress', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] }),
        ],
        expected: [[['TCP/81', 'TCP/80'], R(true)]],
      },
    ],
  });

  cases.push({
    id: 'k8s: policies stop applying once deleted',
    kind: 'k8s',
    model: K8S_XYZ.name,
    description: 'e2e: should stop enforcing policies after they are deleted',
    steps: [
      {
        name: 'deny all in and out of x',
        policies: [k8sPolicy('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
        expected: [
          [['TCP/80'], R(true).expectPeer({ ns: 'x' }, {}, false).expectPeer({}, { ns: 'x' }, false)],
        ],
      },
      {
        name: 'deleted',
        actions: ['delete NetworkPolicy x/deny-all'],
        policies: [],
        expected: [[['TCP/80'], R(true)]],
      },
    ],
  });

  cases.push(
    single(
      'egress to a server in a CIDR block',
      'e2e: should allow egress access to server in CIDR block',
      [
        k8sPolicy('x', 'allow-client-a-via-cidr-egress-rule', {
          podSelector: podLabel('a'),
          policyTypes: ['Egress'],
          egress: [{ to: [{ ipBlock: { cidr: cidrOfPod('y/b', 32) } }] }],
        }),
      ],
      [[['TCP/80'], R(true).expectAllEgress('x/a', false).expect('x/a', 'y/b', true)]],
    ),
  );

  const exceptXB = k8sPolicy('x', 'allow-client-a-via-cidr-egress-rule', {
    podSelector: podLabel('a'),
    policyTypes: ['Egress'],
    egress: [{ to: [{ ipBlock: { cidr: cidrOfPod('x/b', 4), except: [cidrOfPod('x/b', 32)] } }] }],
  });
  cases.push(
    single(
      'ipBlock except on egress',
      'e2e: should enforce except clause while egress access to server in CIDR block (the /4 has host bits set)',
      [exceptXB],
      [[['TCP/80'], R(true).expect('x/a', 'x/b', false)]],
    ),
  );

  cases.push({
    id: 'k8s: an address in cidr and except can still be allowed by another policy',
    kind: 'k8s',
    model: K8S_XYZ.name,
    description: 'e2e: should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed',
    steps: [
      {
        name: 'except x/b',
        policies: [exceptXB],
        expected: [[['TCP/80'], R(true).expect('x/a', 'x/b', false)]],
      },
      {
        name: 'a second policy allows x/b',
        actions: ['create NetworkPolicy x/allow-x-b-cidr'],
        policies: [
          exceptXB,
          k8sPolicy('x', 'allow-x-b-cidr', {
            podSelector: podLabel('a'),
            policyTypes: ['Egress'],
            egress: [{ to: [{ ipBlock: { cidr: cidrOfPod('x/b', 32) } }] }],
          }),
        ],
        expected: [[['TCP/80'], R(true)]],
      },
      {
        name: 'the first policy now allows only x/b, the second is gone',
        actions: [
          'update NetworkPolicy x/allow-client-a-via-cidr-egress-rule',
          'delete NetworkPolicy x/allow-x-b-cidr',
        ],
        policies: [
          k8sPolicy('x', 'allow-client-a-via-cidr-egress-rule', {
            podSelector: podLabel('a'),
            policyTypes: ['Egress'],
            egress: [{ to: [{ ipBlock: { cidr: cidrOfPod('x/b', 32) } }] }],
          }),
        ],
        expected: [[['TCP/80'], R(true).expectAllEgress('x/a', false).expect('x/a', 'x/b', true)]],
      },
    ],
  });

  const egressAllForA = k8sPolicy('x', 'allow-egress-for-target', {
    podSelector: podLabel('a'),
    policyTypes: ['Egress'],
    egress: [{}],
  });
  cases.push({
    id: 'k8s: ingress and egress are controlled independently',
    kind: 'k8s',
    model: K8S_XYZ.name,
    description:
      'e2e: should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector',
    steps: [
      { name: 'egress allow-all for x/a', policies: [egressAllForA], expected: [[['TCP/80'], R(true)]] },
      {
        name: 'plus deny ingress to x/a',
        actions: ['create NetworkPolicy x/deny-ingress-via-label-selector'],
        policies: [
          egressAllForA,
          k8sPolicy('x', 'deny-ingress-via-label-selector', {
            podSelector: podLabel('a'),
            policyTypes: ['Ingress'],
          }),
        ],
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false)]],
      },
    ],
  });

  cases.push(
    single(
      'an SCTP allow rule does not allow TCP',
      "e2e: should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP",
      [
        denyIngressX,
        k8sPolicy('x', 'allow-only-sctp-ingress-on-port-81', {
          podSelector: podLabel('a'),
          ingress: [{ ports: [{ port: 81, protocol: 'SCTP' }] }],
        }),
      ],
      [
        [['TCP/81'], R(true).expectPeer({}, { ns: 'x' }, false)],
        [['SCTP/81'], R(true).expectAllIngress('x/b', false).expectAllIngress('x/c', false)],
      ],
    ),
  );

  cases.push(
    single(
      'a policy allowing only SCTP still isolates the pod for TCP',
      "e2e: should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP",
      [
        k8sPolicy('x', 'allow-only-sctp-ingress-on-port-80', {
          podSelector: podLabel('a'),
          ingress: [{ ports: [{ port: 80, protocol: 'SCTP' }] }],
        }),
      ],
      [
        [['TCP/81', 'SCTP/81', 'TCP/80'], R(true).expectAllIngress('x/a', false)],
        [['SCTP/80'], R(true)],
      ],
    ),
  );

  cases.push(
    single(
      'a UDP-only policy does not allow TCP',
      'e2e: should not allow access by TCP when a policy specifies only UDP',
      [
        k8sPolicy('x', 'allow-only-udp-ingress-on-port-81', {
          podSelector: podLabel('a'),
          ingress: [{ ports: [{ port: 81, protocol: 'UDP' }] }],
        }),
      ],
      [
        [['TCP/81'], R(true).expectAllIngress('x/a', false)],
        [['UDP/81'], R(true)],
      ],
    ),
  );

  cases.push(
    single(
      'namespaceSelector matchLabels on the default namespace label',
      'e2e: should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label',
      [
        k8sPolicy('x', 'allow-client-a-via-ns-selector-for-immutable-ns-label', {
          podSelector: podLabel('a'),
          ingress: [{ from: [{ namespaceSelector: nsLabel('y') }] }],
        }),
      ],
      [
        [
          ['TCP/80', 'UDP/81'],
          R(true)
            .expectPeer({ ns: 'x' }, { ns: 'x', pod: 'a' }, false)
            .expectPeer({ ns: 'z' }, { ns: 'x', pod: 'a' }, false),
        ],
      ],
    ),
  );

  cases.push(
    single(
      'egress namespaceSelector NotIn on the default namespace label',
      'e2e: should enforce policy based on NamespaceSelector with MatchExpressions using default ns label',
      [
        k8sPolicy('x', 'allow-ns-y-match-selector-for-immutable-ns-label', {
          podSelector: podLabel('a'),
          policyTypes: ['Egress'],
          egress: [
            {
              to: [
                {
                  namespaceSelector: matchExpressions(
                    expression('kubernetes.io/metadata.name', 'NotIn', ['y']),
                  ),
                },
              ],
            },
          ],
        }),
      ],
      [[['TCP/80'], R(true).expectPeer({ ns: 'x', pod: 'a' }, { ns: 'y' }, false)]],
    ),
  );

  cases.push(
    single(
      'endPort allows a port range on ingress',
      'docs: "Targeting a range of ports" (port 8080 to endPort 8082, inclusive)',
      [
        k8sPolicy('x', 'allow-8080-8082', {
          podSelector: podLabel('a'),
          ingress: [{ ports: [{ protocol: 'TCP', port: 8080, endPort: 8082 }] }],
        }),
      ],
      [
        [['TCP/8080', 'TCP/8081', 'TCP/8082'], R(true)],
        [['TCP/8083', 'TCP/80'], R(true).expectAllIngress('x/a', false)],
      ],
    ),
  );

  cases.push(
    single(
      'endPort on egress to a namespace',
      'docs: endPort with a namespace peer on egress (80-81 to namespace y only)',
      [
        k8sPolicy('x', 'egress-80-81-to-y', {
          podSelector: podLabel('a'),
          policyTypes: ['Egress'],
          egress: [{ to: [{ namespaceSelector: nsLabel('y') }], ports: [{ port: 80, endPort: 81 }] }],
        }),
      ],
      [
        [
          ['TCP/80', 'TCP/81'],
          R(true).expectAllEgress('x/a', false).expectPeer({ ns: 'x', pod: 'a' }, { ns: 'y' }, true),
        ],
        [['UDP/80', 'TCP/8080'], R(true).expectAllEgress('x/a', false)],
      ],
    ),
  );

  cases.push(
    single(
      'policyTypes default to Ingress and Egress when egress rules exist',
      'docs: policyTypes defaulting: an egress section makes the policy isolate both directions',
      [
        k8sPolicy('x', 'egress-within-x', {
          podSelector: podLabel('a'),
          egress: [{ to: [{ podSelector: {} }] }],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectAllIngress('x/a', false)
            .expectAllEgress('x/a', false)
            .expectPeer({ ns: 'x', pod: 'a' }, { ns: 'x' }, true),
        ],
      ],
    ),
  );

  cases.push(
    single(
      'policyTypes default to Ingress for a bare podSelector',
      'docs: "Default deny all ingress traffic" with policyTypes omitted',
      [k8sPolicy('y', 'bare', { podSelector: podLabel('c') })],
      [[['TCP/80'], R(true).expectAllIngress('y/c', false)]],
    ),
  );

  cases.push(
    single(
      'an Egress-only policy leaves ingress open',
      'docs: policyTypes ["Egress"] isolates egress only',
      [
        k8sPolicy('x', 'egress-to-b', {
          podSelector: podLabel('a'),
          policyTypes: ['Egress'],
          egress: [{ to: [{ podSelector: podLabel('b') }] }],
        }),
      ],
      [[['TCP/80'], R(true).expectAllEgress('x/a', false).expect('x/a', 'x/b', true)]],
    ),
  );

  cases.push(
    single(
      'ipBlock peer on ingress',
      'docs: ipBlock selects sources by CIDR',
      [
        k8sPolicy('x', 'from-y-a-address', {
          podSelector: podLabel('a'),
          ingress: [{ from: [{ ipBlock: { cidr: cidrOfPod('y/a', 32) } }] }],
        }),
      ],
      [[['TCP/80'], R(true).expectAllIngress('x/a', false).expect('y/a', 'x/a', true)]],
    ),
  );

  cases.push(
    single(
      'ipBlock with host bits set and an except',
      'docs: a CIDR with host bits set is accepted (as Kubernetes does) and means its network',
      [
        k8sPolicy('z', 'from-the-pod-subnet-but-y-b', {
          podSelector: podLabel('c'),
          ingress: [{ from: [{ ipBlock: { cidr: cidrOfPod('x/a', 24), except: [cidrOfPod('y/b', 32)] } }] }],
        }),
      ],
      [[['TCP/80'], R(true).expect('y/b', 'z/c', false)]],
    ),
  );

  cases.push(
    single(
      'matchExpressions Exists, DoesNotExist and NotIn',
      'docs: label selector operators',
      [
        k8sPolicy('x', 'from-any-env', {
          podSelector: podLabel('a'),
          ingress: [
            { from: [{ namespaceSelector: {}, podSelector: matchExpressions(expression('env', 'Exists')) }] },
          ],
        }),
        k8sPolicy('y', 'isolate-pods-without-env', {
          podSelector: matchExpressions(expression('env', 'DoesNotExist')),
          policyTypes: ['Ingress'],
        }),
        k8sPolicy('z', 'from-not-prod', {
          podSelector: podLabel('a'),
          ingress: [
            {
              from: [
                {
                  namespaceSelector: {},
                  podSelector: matchExpressions(
                    expression('env', 'NotIn', ['prod']),
                    expression('env', 'Exists'),
                  ),
                },
              ],
            },
          ],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectAllIngress('x/a', false)
            .expect('x/b', 'x/a', true)
            .expect('y/c', 'x/a', true)
            .expectAllIngress('y/a', false)
            .expectAllIngress('y/b', false)
            .expectAllIngress('z/a', false)
            .expect('y/c', 'z/a', true),
        ],
      ],
      { podLabels: { 'x/b': { pod: 'b', env: 'prod' }, 'y/c': { pod: 'c', env: 'dev' } } },
    ),
  );

  const fromClients = k8sPolicy('x', 'from-clients', {
    podSelector: podLabel('a'),
    ingress: [{ from: [{ namespaceSelector: {}, podSelector: matchLabels({ role: 'client' }) }] }],
  });
  cases.push({
    id: 'k8s: relabeling pods moves them in and out of selectors',
    kind: 'k8s',
    model: K8S_XYZ.name,
    description: 'docs: selectors follow label changes (peer and target)',
    steps: [
      {
        name: 'no client',
        policies: [fromClients],
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false)]],
      },
      {
        name: 'y/b becomes a client',
        actions: ['label pod y/b role=client'],
        policies: [fromClients],
        podLabels: { 'y/b': { pod: 'b', role: 'client' } },
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false).expect('y/b', 'x/a', true)]],
      },
      {
        name: 'z/c is the client instead',
        actions: ['unlabel pod y/b role', 'label pod z/c role=client'],
        policies: [fromClients],
        podLabels: { 'z/c': { pod: 'c', role: 'client' } },
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false).expect('z/c', 'x/a', true)]],
      },
      {
        name: 'x/a no longer matches the policy podSelector',
        actions: ['label pod x/a pod=a2'],
        policies: [fromClients],
        podLabels: { 'z/c': { pod: 'c', role: 'client' }, 'x/a': { pod: 'a2' } },
        expected: [[['TCP/80'], R(true)]],
      },
      {
        name: 'everything back to the model',
        actions: ['unlabel pod z/c role', 'label pod x/a pod=a'],
        policies: [fromClients],
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false)]],
      },
    ],
  });

  const fromBlue = k8sPolicy('x', 'from-team-blue', {
    podSelector: podLabel('a'),
    ingress: [{ from: [{ namespaceSelector: matchLabels({ team: 'blue' }), podSelector: podLabel('b') }] }],
  });
  cases.push({
    id: 'k8s: relabeling a namespace selects its pods',
    kind: 'k8s',
    model: K8S_XYZ.name,
    description: 'docs: namespaceSelector follows namespace label changes',
    steps: [
      {
        name: 'no namespace is blue',
        policies: [fromBlue],
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false)]],
      },
      {
        name: 'z is blue',
        actions: ['label namespace z team=blue'],
        policies: [fromBlue],
        namespaceLabels: { z: { 'kubernetes.io/metadata.name': 'z', ns: 'z', team: 'blue' } },
        expected: [[['TCP/80'], R(true).expectAllIngress('x/a', false).expect('z/b', 'x/a', true)]],
      },
      {
        name: 'y and z are blue',
        actions: ['label namespace y team=blue'],
        policies: [fromBlue],
        namespaceLabels: {
          y: { 'kubernetes.io/metadata.name': 'y', ns: 'y', team: 'blue' },
          z: { 'kubernetes.io/metadata.name': 'z', ns: 'z', team: 'blue' },
        },
        expected: [
          [
            ['TCP/80'],
            R(true).expectAllIngress('x/a', false).expect('z/b', 'x/a', true).expect('y/b', 'x/a', true),
          ],
        ],
      },
    ],
  });

  cases.push(
    single(
      'a policy selects pods of its own namespace only',
      'docs: podSelector of a NetworkPolicy selects pods in the policy namespace',
      [k8sPolicy('y', 'deny-a', { podSelector: podLabel('a'), policyTypes: ['Ingress'] })],
      [[['TCP/80'], R(true).expectAllIngress('y/a', false)]],
    ),
  );

  cases.push(
    single(
      'egress allowed only for UDP',
      'docs: protocol in an egress port',
      [
        k8sPolicy('x', 'udp-egress', {
          podSelector: podLabel('a'),
          policyTypes: ['Egress'],
          egress: [{ ports: [{ protocol: 'UDP', port: 80 }] }],
        }),
      ],
      [
        [['UDP/80'], R(true)],
        [['TCP/80', 'UDP/81', 'SCTP/80'], R(true).expectAllEgress('x/a', false)],
      ],
    ),
  );

  cases.push(
    single(
      'rules of one policy are ORed',
      'docs: traffic is allowed if it matches at least one rule',
      [
        k8sPolicy('x', 'two-rules', {
          podSelector: podLabel('a'),
          ingress: [
            { from: [{ podSelector: podLabel('b') }] },
            { from: [{ namespaceSelector: nsLabel('y') }], ports: [{ port: 81 }] },
          ],
        }),
      ],
      [
        [['TCP/80'], R(true).expectAllIngress('x/a', false).expect('x/b', 'x/a', true)],
        [
          ['TCP/81'],
          R(true)
            .expectAllIngress('x/a', false)
            .expect('x/b', 'x/a', true)
            .expectPeer({ ns: 'y' }, { ns: 'x', pod: 'a' }, true),
        ],
      ],
    ),
  );

  cases.push(
    single(
      'egress and ingress isolation combine across namespaces',
      'docs: a connection needs the egress of the client and the ingress of the server',
      [
        k8sPolicy('y', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] }),
        k8sPolicy('z', 'ingress-from-y', {
          podSelector: {},
          ingress: [{ from: [{ namespaceSelector: nsLabel('y') }] }],
        }),
      ],
      [
        [
          ['TCP/80'],
          R(true)
            .expectPeer({ ns: 'y' }, {}, false)
            .expectPeer({ ns: 'x' }, { ns: 'z' }, false)
            .expectPeer({ ns: 'z' }, { ns: 'z' }, false),
        ],
      ],
    ),
  );

  return cases;
}
