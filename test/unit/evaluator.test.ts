// The evaluator's enforcement order and matching, against hand-built controller snapshots (so each rule of
// Antrea's semantics is tested on its own, independent of how the controller compiles policies).
import assert from 'node:assert/strict';
import type {
  ContainerPort,
  NamespaceInfo,
  PodInfo,
  Protocol,
  RuleAction,
} from '../../firmware/core/api/types';
import type {
  AddressGroup,
  AppliedToGroup,
  ControllerSnapshot,
  InternalNetworkPolicy,
  InternalRule,
  InternalService,
  IPBlockRef,
  PolicySourceType,
} from '../../firmware/core/controller/internal-types';
import {
  evaluate,
  EvaluationError,
  type EvaluationEndpoint,
  type EvaluationSource,
} from '../../firmware/core/evaluate/evaluator';
import { describeEvaluation } from '../../firmware/core/evaluate/describe';

interface RuleSpec {
  direction: 'In' | 'Out';
  action?: RuleAction;
  /** Pods ("ns/name") of the peer; each list becomes one address group. */
  peerPods?: string[];
  peerBlocks?: IPBlockRef[];
  /** Address groups that stand for a ClusterGroup with ipBlocks. */
  peerGroupBlocks?: IPBlockRef[];
  services?: InternalService[];
  name?: string;
  priority?: number;
  appliedTo?: string[];
}

interface PolicySpec {
  type: PolicySourceType;
  name: string;
  namespace?: string;
  appliedTo?: string[];
  rules: RuleSpec[];
  policyTypes?: ('Ingress' | 'Egress')[];
  priority?: number;
  tier?: string;
  tierPriority?: number;
}

/** A tiny stand-in for the controller: pods, and policies whose groups are lists of pods. */
class FakeController implements EvaluationSource {
  private readonly podMap = new Map<string, PodInfo>();
  private readonly policyMap = new Map<string, InternalNetworkPolicy>();
  private readonly addressGroups = new Map<string, AddressGroup>();
  private readonly appliedToGroups = new Map<string, AppliedToGroup>();
  private groupCount = 0;

  pod(key: string, ip: string, containerPorts: ContainerPort[] = []): this {
    const [namespace, name] = key.split('/') as [string, string];
    this.podMap.set(key, { namespace, name, ip, labels: {}, nodeName: 'node-1', containerPorts });
    return this;
  }

  policy(spec: PolicySpec): this {
    const rules: InternalRule[] = [];
    const perDirection = { In: 0, Out: 0 };
    for (const r of spec.rules) {
      const index = perDirection[r.direction]++;
      const addressGroups: string[] = [];
      if (r.peerPods) addressGroups.push(this.addressGroup(r.peerPods, []));
      if (r.peerGroupBlocks) addressGroups.push(this.addressGroup([], r.peerGroupBlocks));
      rules.push({
        direction: r.direction,
        peer: { addressGroups, ipBlocks: r.peerBlocks ?? [] },
        services: r.services ?? [],
        action: r.action ?? 'Allow',
        priority: r.priority ?? index,
        name: r.name ?? '',
        enableLogging: false,
        appliedToGroups: r.appliedTo ? [this.appliedToGroup(r.appliedTo)] : [],
      });
    }
    const uid = `${spec.type}/${spec.namespace ?? ''}/${spec.name}`;
    const policy: InternalNetworkPolicy = {
      uid,
      name: spec.name,
      sourceRef: { type: spec.type, name: spec.name, uid },
      rules,
      appliedToGroups: spec.appliedTo ? [this.appliedToGroup(spec.appliedTo)] : [],
      policyTypes: spec.policyTypes ?? [],
      span: ['node-1'],
    };
    if (spec.namespace !== undefined) {
      policy.namespace = spec.namespace;
      policy.sourceRef.namespace = spec.namespace;
    }
    if (spec.type !== 'K8sNetworkPolicy') {
      policy.priority = spec.priority ?? 1;
      policy.tierName = spec.tier ?? 'application';
      policy.tierPriority = spec.tierPriority ?? TIERS[policy.tierName] ?? 250;
    }
    this.policyMap.set(uid, policy);
    return this;
  }

  snapshot(): ControllerSnapshot {
    return {
      networkPolicies: this.policyMap,
      addressGroups: this.addressGroups,
      appliedToGroups: this.appliedToGroups,
    };
  }

  pods(): ReadonlyMap<string, PodInfo> {
    return this.podMap;
  }

  namespaces(): ReadonlyMap<string, NamespaceInfo> {
    return new Map();
  }

  private members(keys: string[]): AddressGroup['members'] {
    return keys.map((key) => {
      const pod = this.podMap.get(key);
      assert.ok(pod, `test set-up: unknown pod ${key}`);
      return { namespace: pod.namespace, name: pod.name, ip: pod.ip, nodeName: pod.nodeName, ports: [] };
    });
  }

  private addressGroup(keys: string[], ipBlocks: IPBlockRef[]): string {
    const name = `ag-${++this.groupCount}`;
    this.addressGroups.set(name, { name, members: this.members(keys), ipBlocks, span: ['node-1'] });
    return name;
  }

  private appliedToGroup(keys: string[]): string {
    const name = `atg-${++this.groupCount}`;
    this.appliedToGroups.set(name, { name, members: this.members(keys), span: ['node-1'] });
    return name;
  }
}

const TIERS: Record<string, number> = {
  emergency: 50,
  securityops: 100,
  networkops: 150,
  platform: 200,
  application: 250,
  baseline: 253,
};

const tcp = (port?: number, endPort?: number): InternalService => {
  const service: InternalService = { protocol: 'TCP' };
  if (port !== undefined) service.port = port;
  if (endPort !== undefined) service.endPort = endPort;
  return service;
};

function cluster(): FakeController {
  return new FakeController()
    .pod('x/a', '10.10.0.2', [{ name: 'http', containerPort: 80, protocol: 'TCP' }])
    .pod('x/b', '10.10.0.3', [{ name: 'http', containerPort: 8080, protocol: 'TCP' }])
    .pod('y/a', '10.10.0.4', [{ name: 'dns', containerPort: 53, protocol: 'UDP' }]);
}

function check(
  source: EvaluationSource,
  from: string | EvaluationEndpoint,
  to: string | EvaluationEndpoint,
  protocol: Protocol = 'TCP',
  port = 80,
) {
  const endpoint = (e: string | EvaluationEndpoint) => (typeof e === 'string' ? { pod: e } : e);
  return evaluate(source, endpoint(from), endpoint(to), protocol, port);
}

describe('evaluate: no policy', () => {
  it('allows everything and names no rule', () => {
    const result = check(cluster(), 'x/a', 'y/a');
    assert.deepEqual(result, {
      verdict: 'Allow',
      egress: { verdict: 'Allow' },
      ingress: { verdict: 'Allow' },
    });
    assert.equal(describeEvaluation(result), 'egress: Allow (no policy); ingress: Allow (no policy)');
  });
});

describe('evaluate: Kubernetes NetworkPolicy isolation', () => {
  it('isolates a selected pod for ingress only when policyTypes include Ingress', () => {
    const c = cluster().policy({
      type: 'K8sNetworkPolicy',
      namespace: 'x',
      name: 'deny-ingress',
      appliedTo: ['x/a'],
      policyTypes: ['Ingress'],
      rules: [],
    });
    const toA = check(c, 'y/a', 'x/a');
    assert.equal(toA.verdict, 'Drop');
    assert.equal(toA.ingress.rule?.action, 'DefaultDeny');
    assert.equal(toA.ingress.rule?.policy.name, 'deny-ingress');
    assert.equal(toA.ingress.rule?.ruleIndex, -1);
    assert.match(describeEvaluation(toA), /Drop by K8sNetworkPolicy x\/deny-ingress ingress isolation/);
    // The isolated pod can still send, and other pods are not isolated.
    assert.equal(check(c, 'x/a', 'y/a').verdict, 'Allow');
    assert.equal(check(c, 'y/a', 'x/b').verdict, 'Allow');
  });

  it('isolates a selected pod for egress when policyTypes include Egress', () => {
    const c = cluster().policy({
      type: 'K8sNetworkPolicy',
      namespace: 'x',
      name: 'deny-egress',
      appliedTo: ['x/a'],
      policyTypes: ['Egress'],
      rules: [],
    });
    const result = check(c, 'x/a', 'y/a');
    assert.equal(result.verdict, 'Drop');
    assert.equal(result.egress.rule?.action, 'DefaultDeny');
    assert.equal(result.egress.rule?.direction, 'Out');
    assert.equal(result.ingress.verdict, 'Allow');
    assert.equal(check(c, 'y/a', 'x/a').verdict, 'Allow');
  });

  it('allows what any rule of any isolating policy allows (policies are additive)', () => {
    const c = cluster()
      .policy({
        type: 'K8sNetworkPolicy',
        namespace: 'x',
        name: 'allow-from-x-b',
        appliedTo: ['x/a'],
        policyTypes: ['Ingress'],
        rules: [{ direction: 'In', peerPods: ['x/b'] }],
      })
      .policy({
        type: 'K8sNetworkPolicy',
        namespace: 'x',
        name: 'allow-81',
        appliedTo: ['x/a'],
        policyTypes: ['Ingress'],
        rules: [{ direction: 'In', services: [tcp(81)] }],
      });
    const fromB = check(c, 'x/b', 'x/a');
    assert.equal(fromB.verdict, 'Allow');
    assert.equal(fromB.ingress.rule?.policy.name, 'allow-from-x-b');
    assert.equal(fromB.ingress.rule?.action, 'Allow');
    assert.equal(check(c, 'y/a', 'x/a', 'TCP', 80).verdict, 'Drop');
    const on81 = check(c, 'y/a', 'x/a', 'TCP', 81);
    assert.equal(on81.verdict, 'Allow');
    assert.equal(on81.ingress.rule?.policy.name, 'allow-81');
  });

  it('ignores rules of a direction the policy does not isolate', () => {
    const c = cluster().policy({
      type: 'K8sNetworkPolicy',
      namespace: 'x',
      name: 'egress-only',
      appliedTo: ['x/a'],
      policyTypes: ['Egress'],
      rules: [
        { direction: 'In', peerPods: ['x/b'] },
        { direction: 'Out', peerPods: ['x/b'] },
      ],
    });
    // Ingress is not isolated, so the ingress rule neither allows nor isolates.
    assert.deepEqual(check(c, 'y/a', 'x/a').ingress, { verdict: 'Allow' });
    assert.equal(check(c, 'x/a', 'x/b').verdict, 'Allow');
    assert.equal(check(c, 'x/a', 'y/a').verdict, 'Drop');
  });

  it('needs both the egress of the source and the ingress of the destination', () => {
    const c = cluster()
      .policy({
        type: 'K8sNetworkPolicy',
        namespace: 'x',
        name: 'a-egress-to-y',
        appliedTo: ['x/a'],
        policyTypes: ['Egress'],
        rules: [{ direction: 'Out', peerPods: ['y/a'] }],
      })
      .policy({
        type: 'K8sNetworkPolicy',
        namespace: 'y',
        name: 'y-ingress-from-b',
        appliedTo: ['y/a'],
        policyTypes: ['Ingress'],
        rules: [{ direction: 'In', peerPods: ['x/b'] }],
      });
    const aToY = check(c, 'x/a', 'y/a');
    assert.equal(aToY.egress.verdict, 'Allow');
    assert.equal(aToY.ingress.verdict, 'Drop');
    assert.equal(aToY.verdict, 'Drop');
    assert.equal(check(c, 'x/b', 'y/a').verdict, 'Allow');
  });
});

describe('evaluate: Antrea tiers, priorities and rule order', () => {
  it('evaluates tiers by tier priority, whatever the policy priorities', () => {
    const c = cluster()
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'app-allow',
        tier: 'application',
        priority: 1,
        appliedTo: ['x/a'],
        rules: [{ direction: 'In', action: 'Allow' }],
      })
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'secops-drop',
        tier: 'securityops',
        priority: 50,
        appliedTo: ['x/a'],
        rules: [{ direction: 'In', action: 'Drop' }],
      });
    const result = check(c, 'y/a', 'x/a');
    assert.equal(result.verdict, 'Drop');
    assert.equal(result.ingress.rule?.policy.name, 'secops-drop');
    assert.equal(result.ingress.rule?.tier, 'securityops');
  });

  it('puts a custom tier where its priority says', () => {
    const c = cluster()
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'emergency-allow',
        tier: 'emergency',
        appliedTo: ['x/a'],
        rules: [{ direction: 'In', action: 'Allow' }],
      })
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'custom-drop',
        tier: 'top',
        tierPriority: 10,
        appliedTo: ['x/a'],
        rules: [{ direction: 'In', action: 'Drop' }],
      });
    assert.equal(check(c, 'y/a', 'x/a').ingress.rule?.policy.name, 'custom-drop');
  });

  it('orders policies of one tier by priority (lower first), across ACNP and ANNP', () => {
    const c = cluster()
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'acnp-drop',
        priority: 5,
        appliedTo: ['x/a'],
        rules: [{ direction: 'In', action: 'Drop' }],
      })
      .policy({
        type: 'AntreaNetworkPolicy',
        namespace: 'x',
        name: 'annp-allow',
        priority: 1.5,
        appliedTo: ['x/a'],
        rules: [{ direction: 'In', action: 'Allow', peerPods: ['y/a'] }],
      });
    assert.equal(check(c, 'y/a', 'x/a').verdict, 'Allow');
    assert.equal(check(c, 'x/b', 'x/a').verdict, 'Drop');
  });

  it('uses rule order within a policy: the first match decides', () => {
    const c = cluster().policy({
      type: 'AntreaClusterNetworkPolicy',
      name: 'ordered',
      appliedTo: ['x/a'],
      rules: [
        { direction: 'In', action: 'Allow', peerPods: ['x/b'], name: 'allow-b' },
        { direction: 'In', action: 'Drop', name: 'drop-rest' },
      ],
    });
    const fromB = check(c, 'x/b', 'x/a');
    assert.equal(fromB.verdict, 'Allow');
    assert.equal(fromB.ingress.rule?.ruleName, 'allow-b');
    const fromY = check(c, 'y/a', 'x/a');
    assert.equal(fromY.verdict, 'Drop');
    assert.equal(fromY.ingress.rule?.ruleIndex, 1);
    assert.match(describeEvaluation(fromY), /ingress rule 1 "drop-rest"/);
  });

  it('interleaves the rules of policies with equal priority by rule index', () => {
    // Antrea e2e "ACNP Rule Priority": rule 0 of both policies comes before rule 1 of either.
    const c = cluster()
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'acnp-deny',
        priority: 5,
        appliedTo: ['x/a'],
        rules: [
          { direction: 'Out', action: 'Drop', peerPods: ['y/a'] },
          { direction: 'Out', action: 'Drop', peerPods: ['x/b'] },
        ],
      })
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'acnp-allow',
        priority: 5,
        appliedTo: ['x/a'],
        rules: [
          { direction: 'Out', action: 'Allow', peerPods: ['x/b'] },
          { direction: 'Out', action: 'Allow', peerPods: ['y/a'] },
        ],
      });
    const toY = check(c, 'x/a', 'y/a');
    assert.equal(toY.verdict, 'Drop');
    assert.equal(toY.egress.rule?.policy.name, 'acnp-deny');
    const toB = check(c, 'x/a', 'x/b');
    assert.equal(toB.verdict, 'Allow');
    assert.equal(toB.egress.rule?.policy.name, 'acnp-allow');
  });

  it('breaks priority ties deterministically by policy name', () => {
    const build = (first: string, second: string) =>
      cluster()
        .policy({
          type: 'AntreaClusterNetworkPolicy',
          name: first,
          appliedTo: ['x/a'],
          rules: [{ direction: 'In', action: first === 'aaa' ? 'Drop' : 'Allow' }],
        })
        .policy({
          type: 'AntreaClusterNetworkPolicy',
          name: second,
          appliedTo: ['x/a'],
          rules: [{ direction: 'In', action: second === 'aaa' ? 'Drop' : 'Allow' }],
        });
    assert.equal(check(build('aaa', 'zzz'), 'y/a', 'x/a').ingress.rule?.policy.name, 'aaa');
    assert.equal(check(build('zzz', 'aaa'), 'y/a', 'x/a').ingress.rule?.policy.name, 'aaa');
  });

  it('lets an Antrea Allow override Kubernetes isolation', () => {
    const c = cluster()
      .policy({
        type: 'K8sNetworkPolicy',
        namespace: 'x',
        name: 'deny-all',
        appliedTo: ['x/a', 'x/b'],
        policyTypes: ['Ingress'],
        rules: [],
      })
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'allow-y',
        appliedTo: ['x/a'],
        rules: [{ direction: 'In', action: 'Allow', peerPods: ['y/a'] }],
      });
    assert.equal(check(c, 'y/a', 'x/a').verdict, 'Allow');
    assert.equal(check(c, 'y/a', 'x/b').verdict, 'Drop');
    assert.equal(check(c, 'x/b', 'x/a').ingress.rule?.action, 'DefaultDeny');
  });

  it('applies per-rule appliedTo instead of the policy-level one', () => {
    const c = cluster().policy({
      type: 'AntreaClusterNetworkPolicy',
      name: 'per-rule',
      rules: [
        { direction: 'In', action: 'Drop', appliedTo: ['x/a'], peerPods: ['y/a'] },
        { direction: 'In', action: 'Drop', appliedTo: ['x/b'], peerPods: ['x/a'] },
      ],
    });
    assert.equal(check(c, 'y/a', 'x/a').verdict, 'Drop');
    assert.equal(check(c, 'y/a', 'x/b').verdict, 'Allow');
    assert.equal(check(c, 'x/a', 'x/b').verdict, 'Drop');
    assert.equal(check(c, 'x/b', 'x/a').verdict, 'Allow');
  });
});

describe('evaluate: Pass and the baseline tier', () => {
  const passThenDrop = (c: FakeController) =>
    c
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'pass-x',
        tier: 'securityops',
        appliedTo: ['x/a'],
        rules: [{ direction: 'In', action: 'Pass', peerPods: ['x/b'] }],
      })
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'app-drop',
        tier: 'application',
        appliedTo: ['x/a'],
        rules: [{ direction: 'In', action: 'Drop' }],
      });

  it('skips the remaining Antrea rules of the regular tiers', () => {
    const c = passThenDrop(cluster());
    const passed = check(c, 'x/b', 'x/a');
    assert.equal(passed.verdict, 'Allow');
    assert.equal(passed.ingress.rule, undefined);
    assert.equal(passed.ingress.passedBy?.policy.name, 'pass-x');
    assert.equal(passed.ingress.passedBy?.action, 'Pass');
    assert.match(describeEvaluation(passed), /after Pass by AntreaClusterNetworkPolicy pass-x/);
    assert.equal(check(c, 'y/a', 'x/a').ingress.rule?.policy.name, 'app-drop');
  });

  it('hands passed traffic to Kubernetes isolation', () => {
    const c = passThenDrop(cluster()).policy({
      type: 'K8sNetworkPolicy',
      namespace: 'x',
      name: 'deny-all',
      appliedTo: ['x/a'],
      policyTypes: ['Ingress'],
      rules: [],
    });
    const result = check(c, 'x/b', 'x/a');
    assert.equal(result.verdict, 'Drop');
    assert.equal(result.ingress.rule?.action, 'DefaultDeny');
    assert.equal(result.ingress.passedBy?.policy.name, 'pass-x');
  });

  it('hands passed traffic of a non-isolated pod to the baseline tier', () => {
    const c = passThenDrop(cluster()).policy({
      type: 'AntreaClusterNetworkPolicy',
      name: 'baseline-drop',
      tier: 'baseline',
      priority: 1,
      appliedTo: ['x/a'],
      rules: [{ direction: 'In', action: 'Drop', peerPods: ['x/b'] }],
    });
    const result = check(c, 'x/b', 'x/a');
    assert.equal(result.verdict, 'Drop');
    assert.equal(result.ingress.rule?.policy.name, 'baseline-drop');
    assert.equal(result.ingress.rule?.tier, 'baseline');
  });

  it('applies baseline rules after every other tier, whatever their policy priority', () => {
    const c = cluster()
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'baseline-drop',
        tier: 'baseline',
        priority: 1,
        appliedTo: ['x/a'],
        rules: [{ direction: 'In', action: 'Drop' }],
      })
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'app-allow-b',
        priority: 100,
        appliedTo: ['x/a'],
        rules: [{ direction: 'In', action: 'Allow', peerPods: ['x/b'] }],
      });
    assert.equal(check(c, 'x/b', 'x/a').verdict, 'Allow');
    assert.equal(check(c, 'y/a', 'x/a').ingress.rule?.policy.name, 'baseline-drop');
  });

  it('does not reach the baseline tier for pods isolated by Kubernetes policies', () => {
    const c = cluster()
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'baseline-allow',
        tier: 'baseline',
        appliedTo: ['x/a'],
        rules: [{ direction: 'In', action: 'Allow' }],
      })
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'baseline-drop-y',
        tier: 'baseline',
        priority: 0.5,
        appliedTo: ['x/a'],
        rules: [{ direction: 'In', action: 'Drop', peerPods: ['y/a'] }],
      })
      .policy({
        type: 'K8sNetworkPolicy',
        namespace: 'x',
        name: 'allow-y',
        appliedTo: ['x/a'],
        policyTypes: ['Ingress'],
        rules: [{ direction: 'In', peerPods: ['y/a'] }],
      });
    // K8s allows y/a: the baseline drop is never reached.
    const fromY = check(c, 'y/a', 'x/a');
    assert.equal(fromY.verdict, 'Allow');
    assert.equal(fromY.ingress.rule?.policy.type, 'K8sNetworkPolicy');
    // K8s isolation drops x/b: the baseline allow cannot lift it.
    assert.equal(check(c, 'x/b', 'x/a').ingress.rule?.action, 'DefaultDeny');
  });

  it('applies the baseline tier in a direction the pod is not isolated in', () => {
    const c = cluster()
      .policy({
        type: 'K8sNetworkPolicy',
        namespace: 'x',
        name: 'deny-ingress',
        appliedTo: ['x/a'],
        policyTypes: ['Ingress'],
        rules: [],
      })
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'baseline-no-egress',
        tier: 'baseline',
        appliedTo: ['x/a'],
        rules: [{ direction: 'Out', action: 'Reject' }],
      });
    const result = check(c, 'x/a', 'y/a');
    assert.equal(result.verdict, 'Reject');
    assert.equal(result.egress.rule?.policy.name, 'baseline-no-egress');
  });
});

describe('evaluate: ports', () => {
  it('resolves an ingress named port against the destination pod', () => {
    const c = cluster().policy({
      type: 'K8sNetworkPolicy',
      namespace: 'x',
      name: 'allow-http',
      appliedTo: ['x/a', 'x/b'],
      policyTypes: ['Ingress'],
      rules: [{ direction: 'In', services: [{ protocol: 'TCP', port: 'http' }] }],
    });
    // x/a serves "http" on 80, x/b on 8080.
    assert.equal(check(c, 'y/a', 'x/a', 'TCP', 80).verdict, 'Allow');
    assert.equal(check(c, 'y/a', 'x/a', 'TCP', 8080).verdict, 'Drop');
    assert.equal(check(c, 'y/a', 'x/b', 'TCP', 8080).verdict, 'Allow');
    assert.equal(check(c, 'y/a', 'x/b', 'TCP', 80).verdict, 'Drop');
    // The named port is TCP: UDP to the same number does not match.
    assert.equal(check(c, 'y/a', 'x/a', 'UDP', 80).verdict, 'Drop');
  });

  it('resolves an egress named port against the destination pod, never the source', () => {
    const c = cluster().policy({
      type: 'K8sNetworkPolicy',
      namespace: 'x',
      name: 'egress-http',
      appliedTo: ['x/a'],
      policyTypes: ['Egress'],
      rules: [{ direction: 'Out', services: [{ protocol: 'TCP', port: 'http' }] }],
    });
    assert.equal(check(c, 'x/a', 'x/b', 'TCP', 8080).verdict, 'Allow');
    // x/a's own "http" is 80, but x/b's is 8080.
    assert.equal(check(c, 'x/a', 'x/b', 'TCP', 80).verdict, 'Drop');
    // y/a has no "http" port at all; neither has an address outside the cluster.
    assert.equal(check(c, 'x/a', 'y/a', 'TCP', 80).verdict, 'Drop');
    assert.equal(check(c, 'x/a', { ip: '192.0.2.1' }, 'TCP', 80).verdict, 'Drop');
  });

  it('matches a named port only with the protocol it is declared with', () => {
    const c = cluster().policy({
      type: 'K8sNetworkPolicy',
      namespace: 'y',
      name: 'dns',
      appliedTo: ['y/a'],
      policyTypes: ['Ingress'],
      rules: [{ direction: 'In', services: [{ protocol: 'TCP', port: 'dns' }] }],
    });
    // "dns" is UDP/53 on y/a: a TCP rule naming it resolves to nothing.
    assert.equal(check(c, 'x/a', 'y/a', 'TCP', 53).verdict, 'Drop');
    assert.equal(check(c, 'x/a', 'y/a', 'UDP', 53).verdict, 'Drop');
  });

  it('treats endPort as an inclusive range', () => {
    const c = cluster().policy({
      type: 'K8sNetworkPolicy',
      namespace: 'x',
      name: 'range',
      appliedTo: ['x/a'],
      policyTypes: ['Ingress'],
      rules: [{ direction: 'In', services: [tcp(8080, 8082)] }],
    });
    assert.deepEqual(
      [8079, 8080, 8081, 8082, 8083].map((port) => check(c, 'y/a', 'x/a', 'TCP', port).verdict),
      ['Drop', 'Allow', 'Allow', 'Allow', 'Drop'],
    );
  });

  it('matches a protocol-only service on every port of that protocol and no other protocol', () => {
    const c = cluster().policy({
      type: 'K8sNetworkPolicy',
      namespace: 'x',
      name: 'udp-only',
      appliedTo: ['x/a'],
      policyTypes: ['Ingress'],
      rules: [{ direction: 'In', services: [{ protocol: 'UDP' }] }],
    });
    assert.equal(check(c, 'y/a', 'x/a', 'UDP', 9999).verdict, 'Allow');
    assert.equal(check(c, 'y/a', 'x/a', 'TCP', 9999).verdict, 'Drop');
    assert.equal(check(c, 'y/a', 'x/a', 'SCTP', 9999).verdict, 'Drop');
  });

  it('treats rules constrained by source ports as not matching (a probe source port is unknowable)', () => {
    const c = cluster().policy({
      type: 'AntreaClusterNetworkPolicy',
      name: 'src-port',
      appliedTo: ['x/a'],
      rules: [
        {
          direction: 'In',
          action: 'Drop',
          services: [{ protocol: 'TCP', port: 80, srcPort: 32768, srcEndPort: 60999 }],
        },
        { direction: 'In', action: 'Reject', services: [{ protocol: 'TCP', srcPort: 1 }] },
      ],
    });
    assert.deepEqual(check(c, 'y/a', 'x/a').ingress, { verdict: 'Allow' });
  });
});

describe('evaluate: ipBlocks and IP endpoints', () => {
  it('matches ipBlock CIDRs minus their except list', () => {
    const c = cluster().policy({
      type: 'K8sNetworkPolicy',
      namespace: 'x',
      name: 'cidr',
      appliedTo: ['x/a'],
      policyTypes: ['Egress'],
      rules: [{ direction: 'Out', peerBlocks: [{ cidr: '10.10.0.0/24', except: ['10.10.0.4/32'] }] }],
    });
    assert.equal(check(c, 'x/a', 'x/b').verdict, 'Allow');
    assert.equal(check(c, 'x/a', 'y/a').verdict, 'Drop');
    assert.equal(check(c, 'x/a', { ip: '10.10.0.200' }).verdict, 'Allow');
    assert.equal(check(c, 'x/a', { ip: '10.10.1.1' }).verdict, 'Drop');
  });

  it('matches the ipBlocks of a group (ClusterGroup ipBlocks)', () => {
    const c = cluster().policy({
      type: 'AntreaClusterNetworkPolicy',
      name: 'cg-blocks',
      appliedTo: ['x/a'],
      rules: [{ direction: 'In', action: 'Drop', peerGroupBlocks: [{ cidr: '10.10.0.0/30', except: [] }] }],
    });
    assert.equal(check(c, 'x/b', 'x/a').verdict, 'Drop'); // 10.10.0.3
    assert.equal(check(c, 'y/a', 'x/a').verdict, 'Allow'); // 10.10.0.4
    assert.equal(check(c, { ip: '10.10.0.1' }, 'x/a').verdict, 'Drop');
  });

  it('gives an address outside the cluster no policies of its own', () => {
    const c = cluster()
      .policy({
        type: 'K8sNetworkPolicy',
        namespace: 'x',
        name: 'deny-egress-a',
        appliedTo: ['x/a'],
        policyTypes: ['Egress'],
        rules: [],
      })
      .policy({
        type: 'K8sNetworkPolicy',
        namespace: 'x',
        name: 'allow-external',
        appliedTo: ['x/b'],
        policyTypes: ['Ingress'],
        rules: [{ direction: 'In', peerBlocks: [{ cidr: '192.0.2.0/24', except: [] }] }],
      });
    const fromOutside = check(c, { ip: '192.0.2.7' }, 'x/b');
    assert.equal(fromOutside.verdict, 'Allow');
    assert.deepEqual(fromOutside.egress, { verdict: 'Allow' });
    assert.equal(check(c, { ip: '198.51.100.1' }, 'x/b').verdict, 'Drop');
    const toOutside = check(c, 'x/a', { ip: '192.0.2.7' });
    assert.equal(toOutside.verdict, 'Drop');
    assert.deepEqual(toOutside.ingress, { verdict: 'Allow' });
  });

  it('treats a bare IP that belongs to a known pod as that pod', () => {
    const c = cluster().policy({
      type: 'K8sNetworkPolicy',
      namespace: 'x',
      name: 'deny-ingress',
      appliedTo: ['x/a'],
      policyTypes: ['Ingress'],
      rules: [{ direction: 'In', peerPods: ['x/b'] }],
    });
    assert.equal(check(c, { ip: '10.10.0.4' }, { ip: '10.10.0.2' }).verdict, 'Drop');
    assert.equal(check(c, { ip: '10.10.0.3' }, { ip: '10.10.0.2' }).verdict, 'Allow');
  });

  it('rejects unknown pods and malformed endpoints with typed errors', () => {
    const c = cluster();
    assert.throws(
      () => check(c, 'x/nope', 'x/a'),
      (err: unknown) =>
        err instanceof EvaluationError && err.code === 'UnknownPod' && /x\/nope/.test(err.message),
    );
    assert.throws(
      () => check(c, { ip: '10.10.0' }, 'x/a'),
      (err: unknown) => err instanceof EvaluationError && err.code === 'InvalidEndpoint',
    );
    assert.throws(
      () => check(c, {}, 'x/a'),
      (err: unknown) => err instanceof EvaluationError && err.code === 'InvalidEndpoint',
    );
  });
});

describe('evaluate: overall verdict', () => {
  const both = (egress: RuleAction, ingress: RuleAction) =>
    cluster()
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'egress',
        appliedTo: ['x/a'],
        rules: [{ direction: 'Out', action: egress }],
      })
      .policy({
        type: 'AntreaClusterNetworkPolicy',
        name: 'ingress',
        appliedTo: ['y/a'],
        rules: [{ direction: 'In', action: ingress }],
      });

  it('is decided by the egress side first', () => {
    assert.equal(check(both('Drop', 'Reject'), 'x/a', 'y/a').verdict, 'Drop');
    assert.equal(check(both('Reject', 'Drop'), 'x/a', 'y/a').verdict, 'Reject');
    assert.equal(check(both('Allow', 'Reject'), 'x/a', 'y/a').verdict, 'Reject');
    assert.equal(check(both('Allow', 'Drop'), 'x/a', 'y/a').verdict, 'Drop');
    assert.equal(check(both('Allow', 'Allow'), 'x/a', 'y/a').verdict, 'Allow');
  });

  it('still reports both directions', () => {
    const result = check(both('Drop', 'Reject'), 'x/a', 'y/a');
    assert.equal(result.egress.verdict, 'Drop');
    assert.equal(result.ingress.verdict, 'Reject');
    assert.equal(result.ingress.rule?.policy.name, 'ingress');
  });
});
