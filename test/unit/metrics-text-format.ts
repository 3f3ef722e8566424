// A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: every line must be a
// HELP, TYPE, sample or blank line; every sample must belong to a family whose TYPE came first; label values are
// unescaped; duplicate series are errors. What a scraper would reject, this throws on, with the line number.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string | undefined;
  type: MetricType;
  samples: Sample[];
}

export class MetricsParseError extends Error {
  readonly code = 'METRICS_PARSE';
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const seenSeries = new Set<string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, index) => {
    const fail = (why: string): never => {
      throw new MetricsParseError(`line ${index + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = new RegExp(`^# (HELP|TYPE) (${NAME}) ?(.*)$`).exec(line);
      if (meta === null) {
        if (/^# (HELP|TYPE)\b/.test(line)) fail('malformed HELP/TYPE line');
        return; // other comments are allowed
      }
      const [, kind, name = '', rest = ''] = meta;
      const family = families.get(name) ?? { name, help: undefined, type: 'untyped', samples: [] };
      if (kind === 'HELP') {
        if (family.help !== undefined) fail('second HELP for one metric');
        family.help = unescapeHelp(rest);
      } else {
        if (!TYPES.includes(rest as MetricType)) fail(`unknown type "${rest}"`);
        if (family.samples.length > 0) fail('TYPE after samples');
        family.type = rest as MetricType;
      }
      families.set(name, family);
      return;
    }
    const sample = parseSample(line, fail);
    const family = familyOf(families, sample.name);
    if (family === undefined) fail(`sample of a metric without TYPE`);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seenSeries.has(key)) fail('duplicate series');
    seenSeries.add(key);
    family?.samples.push(sample);
  });
  return families;
}

/** The family a sample belongs to: its own name, or for histograms/summaries the name without the suffix. */
function familyOf(families: Map<string, MetricFamily>, sampleName: string): MetricFamily | undefined {
  const own = families.get(sampleName);
  if (own !== undefined && own.type !== 'untyped') return own;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const family = families.get(sampleName.slice(0, -suffix.length));
    if (family?.type === 'histogram' || (family?.type === 'summary' && suffix !== '_bucket')) return family;
  }
  return own;
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  const head = new RegExp(`^(${NAME})`).exec(line);
  if (head === null) fail('no metric name');
  const name = head?.[1] ?? '';
  let position = name.length;
  const labels: Record<string, string> = {};
  if (line[position] === '{') {
    position++;
    const labelPattern = new RegExp(`\\s*(${LABEL_NAME})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"\\s*(,|\\})`, 'y');
    if (line[position] === '}') position++;
    else {
      for (;;) {
        labelPattern.lastIndex = position;
        const match = labelPattern.exec(line);
        if (match === null) fail('malformed labels');
        const [whole = '', labelName = '', raw = '', end] = match ?? [];
        if (labelName in labels) fail(`label ${labelName} given twice`);
        labels[labelName] = raw.replace(/\\(\\|"|n)/g, (_all, c: string) => (c === 'n' ? '\n' : c));
        position += whole.length;
        if (end === '}') break;
      }
    }
  }
  const rest = line.slice(position);
  const valueMatch = /^ ([^ ]+)(?: (-?\d+))?$/.exec(rest);
  if (valueMatch === null) fail('expected " value [timestamp]"');
  const value = parseValue(valueMatch?.[1] ?? '');
  if (value === undefined) fail('bad value');
  return { name, labels, value: value ?? NaN };
}

/** As Prometheus reads values (Go's ParseFloat): the special values in any case; prom-client prints `Nan`. */
function parseValue(text: string): number | undefined {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(\\|n)/g, (_all, c: string) => (c === 'n' ? '\n' : c));
}

/** The value of the one sample `name` with exactly these labels (a subset is enough when `partial`). */
export function sampleValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue;
      if (Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) return sample.value;
    }
  }
  return undefined;
}

/** Every sample named `name`. */
export function samplesOf(families: Map<string, MetricFamily>, name: string): Sample[] {
  return [...families.values()].flatMap((family) => family.samples.filter((s) => s.name === name));
}
