// Writes test/fixtures/conformance/{model,k8s-cases,antrea-cases}.json from the case sources in cases/.
// Run: node --import tsx scripts/lib/conformance/build-fixtures.ts [--check]
// With --check nothing is written; the exit code says whether the files are up to date.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as prettier from 'prettier';
import { caseJson, type CaseSource, type ModelSource } from './case-builder';
import { antreaCases } from './cases/antrea-cases';
import { k8sCases } from './cases/k8s-cases';
import { ANTREA_XYZ, K8S_XYZ, modelFileJson, TENANTS } from './cases/models';

export const FIXTURE_DIR = path.resolve(__dirname, '../../../test/fixtures/conformance');

const MODELS: ReadonlyMap<string, ModelSource> = new Map(
  [K8S_XYZ, ANTREA_XYZ, TENANTS].map((m) => [m.name, m]),
);

function casesFile(sources: CaseSource[]): unknown[] {
  return sources.map((source) => {
    const model = MODELS.get(source.model);
    if (!model) throw new Error(`case "${source.id}" uses unknown model ${source.model}`);
    return caseJson(source, model);
  });
}

/** File name → content, as they should be on disk (formatted as the repository's prettier would). */
export async function fixtureFiles(): Promise<Map<string, string>> {
  const contents: [string, unknown][] = [
    ['model.json', modelFileJson()],
    ['k8s-cases.json', casesFile(k8sCases())],
    ['antrea-cases.json', casesFile(antreaCases())],
  ];
  const files = new Map<string, string>();
  for (const [name, value] of contents) {
    const filepath = path.join(FIXTURE_DIR, name);
    const options = (await prettier.resolveConfig(filepath)) ?? {};
    files.set(name, await prettier.format(`${formatJson(value, '')}\n`, { ...options, filepath }));
  }
  return files;
}

/** JSON with one line per container, except that containers of plain values (a table row) stay on one line. */
export function formatJson(value: unknown, indent: string): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const entries: [string | undefined, unknown][] = Array.isArray(value)
    ? value.map((item: unknown) => [undefined, item])
    : Object.entries(value);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) return `${open}${close}`;
  const label = (key: string | undefined) => (key === undefined ? '' : `${JSON.stringify(key)}: `);
  if (entries.every(([, item]) => typeof item !== 'object' || item === null)) {
    return `${open}${entries.map(([key, item]) => label(key) + JSON.stringify(item)).join(', ')}${close}`;
  }
  const inner = `${indent} `;
  const lines = entries.map(([key, item]) => inner + label(key) + formatJson(item, inner));
  return `${open}\n${lines.join(',\n')}\n${indent}${close}`;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [name, content] of await fixtureFiles()) {
    const file = path.join(FIXTURE_DIR, name);
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    if (current === content) continue;
    stale++;
    if (check) {
      process.stderr.write(`${file} is out of date\n`);
    } else {
      fs.mkdirSync(FIXTURE_DIR, { recursive: true });
      fs.writeFileSync(file, content);
      process.stdout.write(`wrote ${file}\n`);
    }
  }
  if (check && stale > 0) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
