// Label selector semantics shared by the controller (group membership) and the evaluator: Kubernetes'
// metav1.LabelSelector rules (matchLabels AND matchExpressions; NotIn and DoesNotExist also match pods that lack
// the key) and one canonical text per selector, so that equal selectors name the same shared group.
import type { LabelSelector, LabelSelectorRequirement } from './types';

export type Labels = Readonly<Record<string, string>>;

/** A selector compiled once and applied to many label sets (group membership runs it per pod). */
export type LabelMatcher = (labels: Labels) => boolean;

const hasOwn = (labels: Labels, key: string): boolean => Object.prototype.hasOwnProperty.call(labels, key);

interface Requirement {
  key: string;
  operator: LabelSelectorRequirement['operator'];
  values: readonly string[];
}

function requirementsOf(selector: LabelSelector): Requirement[] {
  const requirements: Requirement[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    requirements.push({ key, operator: 'In', values: [value] });
  }
  for (const expression of selector.matchExpressions ?? []) {
    requirements.push({
      key: expression.key,
      operator: expression.operator,
      values: expression.values ?? [],
    });
  }
  return requirements;
}

function requirementMatches(
  requirement: Requirement,
  labels: Labels,
  valueSet?: ReadonlySet<string>,
): boolean {
  const present = hasOwn(labels, requirement.key);
  switch (requirement.operator) {
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    case 'In': {
      if (!present) return false;
      const value = labels[requirement.key] as string;
      return valueSet ? valueSet.has(value) : requirement.values.includes(value);
    }
    case 'NotIn': {
      if (!present) return true;
      const value = labels[requirement.key] as string;
      return valueSet ? !valueSet.has(value) : !requirement.values.includes(value);
    }
    default:
      // Validation rejects unknown operators; an object that slipped through must not select anything.
      return false;
  }
}

/** Whether `selector` selects `labels`. An absent selector selects nothing; `{}` selects everything. */
export function matchesSelector(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (selector === undefined) return false;
  for (const requirement of requirementsOf(selector)) {
    if (!requirementMatches(requirement, labels)) return false;
  }
  return true;
}

/** Compiles `selector` for repeated use; same semantics as `matchesSelector`. */
export function compileSelector(selector: LabelSelector | undefined): LabelMatcher {
  if (selector === undefined) return () => false;
  const requirements = requirementsOf(selector);
  if (requirements.length === 0) return () => true;
  const compiled = requirements.map((requirement) => ({
    requirement,
    valueSet: requirement.values.length > 4 ? new Set(requirement.values) : undefined,
  }));
  return (labels) => {
    for (const { requirement, valueSet } of compiled) {
      if (!requirementMatches(requirement, labels, valueSet)) return false;
    }
    return true;
  };
}

const OPERATOR_ORDER: Record<string, number> = { In: 0, NotIn: 1, Exists: 2, DoesNotExist: 3 };

function requirementText(requirement: Requirement): string {
  const values = [...new Set(requirement.values)].sort();
  switch (requirement.operator) {
    case 'In':
      return values.length === 1
        ? `${requirement.key}=${values[0]}`
        : `${requirement.key} in (${values.join(',')})`;
    case 'NotIn':
      return values.length === 1
        ? `${requirement.key}!=${values[0]}`
        : `${requirement.key} notin (${values.join(',')})`;
    case 'Exists':
      return requirement.key;
    case 'DoesNotExist':
      return `!${requirement.key}`;
    default:
      return `${requirement.key} ${String(requirement.operator)} (${values.join(',')})`;
  }
}

/**
 * Stable text of a selector in Kubernetes' selector syntax ("app=web,tier in (a,b),!legacy"): requirements sorted
 * by key then operator, values sorted and deduplicated, `matchLabels {k: v}` and `In [v]` written alike. Equal
 * selectors give equal text; `{}` gives "".
 */
export function canonicalSelector(selector: LabelSelector): string {
  const entries = requirementsOf(selector).map((requirement) => ({
    key: requirement.key,
    order: OPERATOR_ORDER[requirement.operator] ?? 9,
    text: requirementText(requirement),
  }));
  entries.sort((a, b) => compareText(a.key, b.key) || a.order - b.order || compareText(a.text, b.text));
  const texts: string[] = [];
  for (const entry of entries) {
    if (texts[texts.length - 1] !== entry.text) texts.push(entry.text);
  }
  return texts.join(',');
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
