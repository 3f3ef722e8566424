// Output shapes shared by antctl and the serial console: kubectl/antctl-style tables, JSON and YAML.
import { stringify as stringifyYaml } from 'yaml';

export type OutputKind = 'table' | 'json' | 'yaml';

export const OUTPUT_KINDS: readonly OutputKind[] = ['table', 'json', 'yaml'];

export interface TableData {
  columns: string[];
  rows: string[][];
}

const COLUMN_GAP = '   ';
// antctl prints <NONE> for an empty cell so that columns stay countable with awk/cut.
const EMPTY_CELL = '<NONE>';

export function isOutputKind(value: string): value is OutputKind {
  return (OUTPUT_KINDS as readonly string[]).includes(value);
}

/**
 * Header row plus one line per row, columns left-aligned and separated by at least three spaces, no
 * borders. The last column is not padded, so a one-column table prints its cells verbatim (flow lines).
 */
export function formatTable(columns: string[], rows: string[][]): string {
  const cellsOf = (row: string[]): string[] =>
    columns.map((_column, index) => {
      const cell = (row[index] ?? '').replace(/[\r\n\t]+/g, ' ');
      return cell === '' ? EMPTY_CELL : cell;
    });
  const lines = [columns, ...rows.map(cellsOf)];
  // A loop, not Math.max(...cells): spreading 100k flow lines as arguments overflows the stack.
  const widths = columns.map((_column, index) =>
    lines.reduce((width, line) => Math.max(width, (line[index] ?? '').length), 0),
  );
  const lastColumn = columns.length - 1;
  return lines
    .map((line) =>
      line
        .map((cell, index) => (index === lastColumn ? cell : cell.padEnd(widths[index] ?? 0) + COLUMN_GAP))
        .join(''),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/**
 * `data` is what json/yaml print (the API's view, unchanged); `table` builds the human view lazily so
 * that machine formats never pay for it.
 */
export function formatOutput(kind: OutputKind, data: unknown, table: () => TableData): string {
  switch (kind) {
    case 'json':
      return `${JSON.stringify(data, null, 2)}\n`;
    case 'yaml':
      // lineWidth 0: flow lines are long and must stay one line each to be greppable.
      return stringifyYaml(data, { lineWidth: 0 });
    case 'table': {
      const { columns, rows } = table();
      return formatTable(columns, rows);
    }
  }
}

/** Antrea's antctl limit for a list cell (printers.GenerateTableElementWithSummary). */
export const MAX_LIST_CELL_LENGTH = 50;

/**
 * A list as one table cell the way antctl prints it: sorted, comma-separated, and when it is longer than
 * `maxLength`, as many items as fit followed by " + N more...".
 */
export function summarizeList(items: readonly string[], maxLength = MAX_LIST_CELL_LENGTH): string {
  const sorted = [...items].sort();
  const full = sorted.join(',');
  if (full.length <= maxLength) return full;
  for (let shown = sorted.length - 1; shown > 1; shown--) {
    const text = `${sorted.slice(0, shown).join(',')} + ${sorted.length - shown} more...`;
    if (text.length <= maxLength) return text;
  }
  return `${sorted[0] ?? ''} + ${sorted.length - 1} more...`;
}
