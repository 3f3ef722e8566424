// Manifest text as `kubectl apply -f` reads it: a stream of YAML documents separated by `---` (or JSON), where a
// `kind: List` (or `<Kind>List`, as `kubectl get -o yaml` writes) contributes its `items`. Parsing never throws:
// every problem comes back with its 1-based line and column, and the documents that parsed are still returned
// so that a caller can say which object was bad.
import { LineCounter, isMap, isSeq, parseAllDocuments } from 'yaml';
import type { Node as YamlNode } from 'yaml';

export interface ManifestError {
  line: number;
  column: number;
  message: string;
}

export interface ParsedManifests {
  /** Objects in document order, Lists flattened; not validated (see validateObject). */
  objects: unknown[];
  errors: ManifestError[];
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isList(value: JsonObject): boolean {
  return typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items);
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'string'
    ? `the string ${JSON.stringify(value)}`
    : `${typeof value} ${String(value)}`;
}

/** Collects objects from one parsed document; `positionOf(path)` gives the line/column of a nested value. */
function collect(
  value: unknown,
  path: (string | number)[],
  positionOf: (path: (string | number)[]) => { line: number; column: number },
  result: ParsedManifests,
): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    value.forEach((item, index) => collect(item, [...path, index], positionOf, result));
    return;
  }
  if (!isObject(value)) {
    result.errors.push({
      ...positionOf(path),
      message: `expected an object with apiVersion and kind, got ${describeValue(value)}`,
    });
    return;
  }
  if (isList(value)) {
    (value.items as unknown[]).forEach((item, index) =>
      collect(item, [...path, 'items', index], positionOf, result),
    );
    return;
  }
  result.objects.push(value);
}

function parseJson(text: string): ParsedManifests | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not plain JSON: the YAML parser reads it instead and reports any error with its line and column.
    return undefined;
  }
  const result: ParsedManifests = { objects: [], errors: [] };
  collect(value, [], () => ({ line: 1, column: 1 }), result);
  return result;
}

/** Parses manifest text (multi-document YAML, or JSON). Empty documents are ignored. */
export function parseManifests(text: string): ParsedManifests {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    // JSON is valid YAML too, but JSON.parse is faster and does not trip over tab indentation.
    const json = parseJson(text);
    if (json !== undefined) return json;
  }
  const lineCounter = new LineCounter();
  const result: ParsedManifests = { objects: [], errors: [] };
  const position = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  // YAML 1.2 core schema (yes/no/on/off stay strings); duplicate keys are errors, as in kubectl's strict mode.
  const documents = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (!Array.isArray(documents)) return result; // an empty stream
  for (const document of documents) {
    if (document.errors.length > 0) {
      for (const error of document.errors) {
        const where = error.linePos?.[0];
        const { line, column } = where ? { line: where.line, column: where.col } : position(error.pos[0]);
        result.errors.push({ line, column, message: error.message.split(' at line ')[0] ?? error.message });
      }
      continue;
    }
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: 100 });
    } catch (error) {
      const start = document.contents?.range[0] ?? 0;
      result.errors.push({
        ...position(start),
        message: error instanceof Error ? error.message : String(error),
      });
      continue;
    }
    const positionOf = (path: (string | number)[]): { line: number; column: number } => {
      let node: unknown = document.contents;
      for (const step of path) {
        const next: unknown = isMap(node) || isSeq(node) ? node.get(step, true) : undefined;
        if (next === undefined) break;
        node = next;
      }
      const range = (node as YamlNode | null)?.range;
      return position(range ? range[0] : 0);
    };
    collect(value, [], positionOf, result);
  }
  return result;
}

const CLUSTER_SCOPED = new Set(['ClusterNetworkPolicy', 'Tier', 'ClusterGroup']);

/**
 * Gives every namespaced object without a namespace the one `kubectl apply -n NAMESPACE` would (manifests in the
 * Kubernetes docs often leave it out). Returns copies of the objects it changed; never mutates its input.
 */
export function withDefaultNamespace(objects: readonly unknown[], namespace: string): unknown[] {
  return objects.map((obj) => {
    if (!isObject(obj) || typeof obj.kind !== 'string' || CLUSTER_SCOPED.has(obj.kind)) return obj;
    const metadata = isObject(obj.metadata) ? obj.metadata : undefined;
    if (metadata === undefined || (typeof metadata.namespace === 'string' && metadata.namespace !== '')) {
      return obj;
    }
    return { ...obj, metadata: { ...metadata, namespace } };
  });
}
