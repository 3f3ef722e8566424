// Human-readable explanations of an evaluation, shared by the conformance runner and antctl.
import type { DecidingRule, DirectionResult, EvaluationResult } from './evaluator';

/** e.g. `K8sNetworkPolicy x/deny-all ingress isolation` or `AntreaClusterNetworkPolicy acnp (tier securityops) egress rule 1 "drop-z"`. */
export function describeRule(rule: DecidingRule): string {
  const policy = rule.policy.namespace
    ? `${rule.policy.type} ${rule.policy.namespace}/${rule.policy.name}`
    : `${rule.policy.type} ${rule.policy.name}`;
  const tier = rule.tier !== undefined ? ` (tier ${rule.tier})` : '';
  const direction = rule.direction === 'In' ? 'ingress' : 'egress';
  if (rule.action === 'DefaultDeny') return `${policy} ${direction} isolation (no rule allows)`;
  const name = rule.ruleName !== '' ? ` "${rule.ruleName}"` : '';
  return `${policy}${tier} ${direction} rule ${rule.ruleIndex}${name}`;
}

/** e.g. `Drop by K8sNetworkPolicy x/deny ingress isolation (no rule allows)` or `Allow (no policy)`. */
export function describeDirection(result: DirectionResult): string {
  const verdict = result.rule
    ? `${result.verdict} by ${describeRule(result.rule)}`
    : `${result.verdict} (no policy)`;
  return result.passedBy ? `${verdict}, after Pass by ${describeRule(result.passedBy)}` : verdict;
}

/** The direction that decided, or both directions when the traffic is allowed. */
export function describeEvaluation(result: EvaluationResult): string {
  if (result.egress.verdict !== 'Allow') return describeDirection(result.egress);
  if (result.ingress.verdict !== 'Allow') return describeDirection(result.ingress);
  return `egress: ${describeDirection(result.egress)}; ingress: ${describeDirection(result.ingress)}`;
}
