// The reachability case format (/work/shared/conformance/FORMAT.md): model files and case files, parsed into
// checked structures. A file that is not the right shape at all is a FormatError (the runner exits 2); a case
// that is wrong in itself (unknown model, malformed table) becomes a failing case with the reason.
import type { Protocol } from '../../../firmware/core/api/types';

export type Connectivity = 'Connected' | 'Dropped' | 'Rejected';
export const CONNECTIVITIES: readonly Connectivity[] = ['Connected', 'Dropped', 'Rejected'];
export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

export interface ModelContainerPort {
  container?: string;
  name?: string;
  containerPort: number;
  protocol: Protocol;
  /** Protocols served on this port; the declared protocol is the one named ports resolve to. */
  serves: Protocol[];
}

export interface ModelPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** A wish: used when possible, otherwise an address is allocated. */
  ip?: string;
}

export interface Model {
  name: string;
  namespaces: Map<string, Record<string, string>>;
  pods: Map<string, ModelPod>;
  containerPorts: ModelContainerPort[];
  loopback: string;
}

export interface ProbeSpec {
  protocol: Protocol;
  port: number;
}

/** from → to → expectation, as listed under one probe key. */
export type Table<T> = Map<string, Map<string, T>>;

export interface ExpectationTable<T> {
  /** The key as written, e.g. "TCP/80". */
  key: string;
  probes: ProbeSpec[];
  table: Table<T>;
}

export interface CaseStep {
  step: number;
  name: string;
  actions: string[];
  policies: unknown[];
  podLabels: Map<string, Record<string, string>>;
  namespaceLabels: Map<string, Record<string, string>>;
  probes: ProbeSpec[];
  expected: ExpectationTable<boolean>[];
  expectedVerdicts: ExpectationTable<Connectivity>[];
}

export interface ConformanceCase {
  id: string;
  kind: string;
  model: string;
  steps: CaseStep[];
  /** Set when the case could not be read; the case fails with these reasons. */
  problems: string[];
}

export class FormatError extends Error {
  readonly code = 'ConformanceFormatInvalid';
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown, where: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value)) throw new FormatError(`${where}: expected an object of strings`);
  const out: Record<string, string> = {};
  for (const [key, text] of Object.entries(value)) {
    if (typeof text !== 'string') throw new FormatError(`${where}.${key}: expected a string`);
    out[key] = text;
  }
  return out;
}

function protocolOf(value: unknown, where: string): Protocol {
  const found = PROTOCOLS.find((protocol) => protocol === value);
  if (found === undefined) throw new FormatError(`${where}: expected one of ${PROTOCOLS.join(', ')}`);
  return found;
}

function portOf(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new FormatError(`${where}: expected a port number 1-65535`);
  }
  return value;
}

export function parseModelFile(text: string, file: string): Map<string, Model> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${file}: not JSON: ${(err as Error).message}`);
  }
  if (!isObject(data) || !isObject(data.models)) {
    throw new FormatError(`${file}: expected {"models": {...}}`);
  }
  const models = new Map<string, Model>();
  for (const [name, raw] of Object.entries(data.models)) {
    models.set(name, parseModel(name, raw, `${file}: models.${name}`));
  }
  return models;
}

function parseModel(name: string, raw: unknown, where: string): Model {
  if (!isObject(raw)) throw new FormatError(`${where}: expected an object`);
  if (!isObject(raw.namespaces)) throw new FormatError(`${where}.namespaces: expected an object`);
  if (!isObject(raw.pods)) throw new FormatError(`${where}.pods: expected an object`);
  const namespaces = new Map<string, Record<string, string>>();
  for (const [ns, value] of Object.entries(raw.namespaces)) {
    const labels = isObject(value) ? value.labels : undefined;
    namespaces.set(ns, stringMap(labels, `${where}.namespaces.${ns}.labels`));
  }
  const pods = new Map<string, ModelPod>();
  for (const [key, value] of Object.entries(raw.pods)) {
    const at = `${where}.pods["${key}"]`;
    if (!isObject(value)) throw new FormatError(`${at}: expected an object`);
    const [keyNs, keyName] = key.split('/');
    const namespace = typeof value.namespace === 'string' ? value.namespace : keyNs;
    const podName = typeof value.name === 'string' ? value.name : keyName;
    if (!namespace || !podName || `${namespace}/${podName}` !== key) {
      throw new FormatError(`${at}: the key must be "<namespace>/<name>" of the pod`);
    }
    if (!namespaces.has(namespace)) {
      throw new FormatError(`${at}: namespace "${namespace}" is not in the model's namespaces`);
    }
    const pod: ModelPod = { namespace, name: podName, labels: stringMap(value.labels, `${at}.labels`) };
    if (value.ip !== undefined) {
      if (typeof value.ip !== 'string') throw new FormatError(`${at}.ip: expected a string`);
      pod.ip = value.ip;
    }
    pods.set(key, pod);
  }
  const rawPorts = raw.containerPorts ?? [];
  if (!Array.isArray(rawPorts)) throw new FormatError(`${where}.containerPorts: expected an array`);
  const containerPorts = rawPorts.map((entry: unknown, index): ModelContainerPort => {
    const at = `${where}.containerPorts[${index}]`;
    if (!isObject(entry)) throw new FormatError(`${at}: expected an object`);
    const protocol = entry.protocol === undefined ? 'TCP' : protocolOf(entry.protocol, `${at}.protocol`);
    const servesRaw = entry.serves ?? [protocol];
    if (!Array.isArray(servesRaw)) throw new FormatError(`${at}.serves: expected an array`);
    const port: ModelContainerPort = {
      containerPort: portOf(entry.containerPort, `${at}.containerPort`),
      protocol,
      serves: servesRaw.map((p: unknown, i) => protocolOf(p, `${at}.serves[${i}]`)),
    };
    if (typeof entry.container === 'string') port.container = entry.container;
    if (typeof entry.name === 'string') port.name = entry.name;
    return port;
  });
  const loopback = typeof raw.loopback === 'string' ? raw.loopback : 'ignored';
  return { name, namespaces, pods, containerPorts, loopback };
}

/** Parses a cases file; only a file that is not a JSON array of objects is a FormatError. */
export function parseCasesFile(text: string, file: string): ConformanceCase[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${file}: not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(data)) throw new FormatError(`${file}: expected a JSON array of cases`);
  const seen = new Set<string>();
  return data.map((raw: unknown, index) => {
    const parsed = parseCase(raw, index);
    if (seen.has(parsed.id)) parsed.problems.push(`duplicate case id "${parsed.id}"`);
    seen.add(parsed.id);
    return parsed;
  });
}

function parseCase(raw: unknown, index: number): ConformanceCase {
  const fallbackId = `#${index + 1}`;
  if (!isObject(raw)) {
    return { id: fallbackId, kind: '', model: '', steps: [], problems: ['case is not an object'] };
  }
  const id = typeof raw.id === 'string' && raw.id !== '' ? raw.id : fallbackId;
  const result: ConformanceCase = {
    id,
    kind: typeof raw.kind === 'string' ? raw.kind : '',
    model: typeof raw.model === 'string' ? raw.model : '',
    steps: [],
    problems: [],
  };
  if (id === fallbackId) result.problems.push('case has no "id"');
  if (result.model === '') result.problems.push('case has no "model"');
  try {
    if (raw.steps !== undefined) {
      if (!Array.isArray(raw.steps) || raw.steps.length === 0) {
        throw new FormatError('"steps": expected a non-empty array');
      }
      result.steps = raw.steps.map((step: unknown, i) => parseStep(step, i, `steps[${i}]`));
    } else {
      result.steps = [parseStep(raw, 0, '')];
    }
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    result.problems.push(err.message);
  }
  return result;
}

function parseStep(raw: unknown, index: number, where: string): CaseStep {
  const at = (field: string) => (where === '' ? field : `${where}.${field}`);
  if (!isObject(raw)) throw new FormatError(`${where}: expected an object`);
  const policies = raw.policies ?? [];
  if (!Array.isArray(policies)) throw new FormatError(`${at('policies')}: expected an array`);
  const actions = Array.isArray(raw.actions) ? raw.actions.map(String) : [];
  const probesRaw = raw.probes ?? [];
  if (!Array.isArray(probesRaw)) throw new FormatError(`${at('probes')}: expected an array`);
  const probes = probesRaw.map((probe: unknown, i): ProbeSpec => {
    const p = `${at('probes')}[${i}]`;
    if (!isObject(probe)) throw new FormatError(`${p}: expected an object`);
    return { protocol: protocolOf(probe.proto, `${p}.proto`), port: portOf(probe.port, `${p}.port`) };
  });
  return {
    step: typeof raw.step === 'number' ? raw.step : index + 1,
    name: typeof raw.name === 'string' ? raw.name : '',
    actions,
    policies,
    podLabels: labelSets(raw.podLabels, at('podLabels')),
    namespaceLabels: labelSets(raw.namespaceLabels, at('namespaceLabels')),
    probes,
    expected: tables(raw.expected, at('expected'), (value, p) => {
      if (typeof value !== 'boolean') throw new FormatError(`${p}: expected true or false`);
      return value;
    }),
    expectedVerdicts: tables(raw.expectedVerdicts, at('expectedVerdicts'), (value, p) => {
      const found = CONNECTIVITIES.find((c) => c === value);
      if (found === undefined) throw new FormatError(`${p}: expected one of ${CONNECTIVITIES.join(', ')}`);
      return found;
    }),
  };
}

function labelSets(value: unknown, where: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  if (value === undefined) return out;
  if (!isObject(value)) throw new FormatError(`${where}: expected an object`);
  for (const [key, labels] of Object.entries(value)) out.set(key, stringMap(labels, `${where}["${key}"]`));
  return out;
}

function tables<T>(
  value: unknown,
  where: string,
  check: (value: unknown, where: string) => T,
): ExpectationTable<T>[] {
  if (value === undefined) return [];
  if (!isObject(value)) throw new FormatError(`${where}: expected an object keyed by probe`);
  return Object.entries(value).map(([key, rawTable]) => {
    const p = `${where}["${key}"]`;
    if (!isObject(rawTable)) throw new FormatError(`${p}: expected {from: {to: value}}`);
    const table: Table<T> = new Map();
    for (const [from, row] of Object.entries(rawTable)) {
      if (!isObject(row)) throw new FormatError(`${p}["${from}"]: expected {to: value}`);
      const cells = new Map<string, T>();
      for (const [to, cell] of Object.entries(row)) cells.set(to, check(cell, `${p}["${from}"]["${to}"]`));
      table.set(from, cells);
    }
    return { key, probes: parseProbeKey(key, p), table };
  });
}

/**
 * "TCP/80" names one probe. A table shared by several probes may also be listed once under a key naming
 * them all, separated by commas or spaces ("TCP/80,UDP/80").
 */
export function parseProbeKey(key: string, where = key): ProbeSpec[] {
  const parts = key.split(/[\s,;|+]+/).filter((part) => part !== '');
  if (parts.length === 0) throw new FormatError(`${where}: empty probe key`);
  return parts.map((part) => {
    const match = /^([A-Za-z]+)\/(\d+)$/.exec(part);
    if (!match) throw new FormatError(`${where}: probe key "${part}" is not PROTOCOL/PORT`);
    return {
      protocol: protocolOf((match[1] ?? '').toUpperCase(), `${where}: protocol`),
      port: portOf(Number(match[2]), `${where}: port`),
    };
  });
}

export function probeKey(probe: ProbeSpec): string {
  return `${probe.protocol}/${probe.port}`;
}
