// Label selectors as people type them in a form or kubectl's `-l`: `app=web,tier in (a,b),!legacy`. Pure.
// The result is a metav1.LabelSelector; whether keys and values are valid label text is the firmware's validation's
// job (it reports it with the field path of the object it ends up in).
import type { LabelSelector, LabelSelectorRequirement } from '../../core/api/types';

export class SelectorTextError extends Error {
  override readonly name = 'SelectorTextError';
  readonly code = 'SelectorInvalid';
}

/** `""` is the selector that selects everything (`{}`). Throws SelectorTextError. */
export function parseSelectorText(text: string): LabelSelector {
  const selector: LabelSelector = {};
  const matchLabels: Record<string, string> = {};
  const expressions: LabelSelectorRequirement[] = [];
  for (const part of splitRequirements(text)) {
    const requirement = parseRequirement(part);
    if (requirement.operator === 'In' && requirement.single && !(requirement.key in matchLabels)) {
      matchLabels[requirement.key] = requirement.values[0] ?? '';
      continue;
    }
    const expression: LabelSelectorRequirement = { key: requirement.key, operator: requirement.operator };
    if (requirement.operator === 'In' || requirement.operator === 'NotIn')
      expression.values = requirement.values;
    expressions.push(expression);
  }
  if (Object.keys(matchLabels).length > 0) selector.matchLabels = matchLabels;
  if (expressions.length > 0) selector.matchExpressions = expressions;
  return selector;
}

interface ParsedRequirement {
  key: string;
  operator: LabelSelectorRequirement['operator'];
  values: string[];
  /** Written as `key=value`: goes to matchLabels. */
  single: boolean;
}

/** Commas inside `( )` belong to a value list, not between requirements. */
function splitRequirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (depth < 0) throw new SelectorTextError(`unbalanced ")" in selector "${text}"`);
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  if (depth !== 0) throw new SelectorTextError(`unbalanced "(" in selector "${text}"`);
  parts.push(current);
  const trimmed = parts.map((part) => part.trim());
  if (trimmed.length === 1 && trimmed[0] === '') return [];
  if (trimmed.some((part) => part === ''))
    throw new SelectorTextError(`empty requirement in selector "${text}"`);
  return trimmed;
}

const KEY = String.raw`[A-Za-z0-9][-A-Za-z0-9_./]*`;
const SET_PATTERN = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s*\(([^()]*)\)$`);
const EQUALITY_PATTERN = new RegExp(String.raw`^(${KEY})\s*(==|!=|=)\s*([^=!\s]*)$`);
const EXISTS_PATTERN = new RegExp(String.raw`^(!?)\s*(${KEY})$`);

function parseRequirement(text: string): ParsedRequirement {
  const set = SET_PATTERN.exec(text);
  if (set) {
    const [, key = '', operator, list = ''] = set;
    const values = list.split(',').map((value) => value.trim());
    if (values.some((value) => value === '')) {
      throw new SelectorTextError(`"${text}": the value list must not have empty entries`);
    }
    return { key, operator: operator === 'in' ? 'In' : 'NotIn', values, single: false };
  }
  const equality = EQUALITY_PATTERN.exec(text);
  if (equality) {
    const [, key = '', operator, value = ''] = equality;
    return operator === '!='
      ? { key, operator: 'NotIn', values: [value], single: false }
      : { key, operator: 'In', values: [value], single: true };
  }
  const exists = EXISTS_PATTERN.exec(text);
  if (exists) {
    const [, negated, key = ''] = exists;
    return { key, operator: negated === '!' ? 'DoesNotExist' : 'Exists', values: [], single: false };
  }
  throw new SelectorTextError(
    `"${text}" is not a selector requirement (key=value, key!=value, key in (a,b), key notin (a,b), key, !key)`,
  );
}
