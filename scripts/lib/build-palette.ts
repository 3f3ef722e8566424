// Assembles the Node-RED module of the "antrea edge" palette in dist/nodered-palette/, after tsc: Node-RED wants
// each node's .js and .html side by side with the module's package.json, and the example flows in examples/.
// The .js files there are one-line shims requiring the compiled nodes in dist/firmware/nodered/palette/, which
// keep their relative imports of the firmware's core.
//   npx tsx scripts/lib/build-palette.ts [repoDir]
import * as fs from 'node:fs';
import * as path from 'node:path';

export const PALETTE_SOURCE_DIR = 'firmware/nodered/palette';
export const PALETTE_COMPILED_DIR = 'dist/firmware/nodered/palette';
export const PALETTE_OUTPUT_DIR = 'dist/nodered-palette';
export const FLOWS_DIR = 'flows';

export class BuildPaletteError extends Error {
  override readonly name = 'BuildPaletteError';
  readonly code = 'BuildPaletteFailed';
}

interface PaletteManifest {
  name: string;
  'node-red': { nodes: Record<string, string> };
}

/** Writes the module; returns the files written (relative to the output directory). */
export function buildPalette(repoDir: string): string[] {
  const source = path.join(repoDir, PALETTE_SOURCE_DIR);
  const compiled = path.join(repoDir, PALETTE_COMPILED_DIR);
  const output = path.join(repoDir, PALETTE_OUTPUT_DIR);
  const manifest = JSON.parse(fs.readFileSync(path.join(source, 'package.json'), 'utf8')) as PaletteManifest;
  fs.rmSync(output, { recursive: true, force: true });
  fs.mkdirSync(path.join(output, 'examples'), { recursive: true });
  const written: string[] = [];
  const write = (relative: string, content: string): void => {
    fs.writeFileSync(path.join(output, relative), content);
    written.push(relative);
  };
  write('package.json', `${JSON.stringify(manifest, null, 2)}\n`);
  for (const file of Object.values(manifest['node-red'].nodes)) {
    const base = path.basename(file, '.js');
    const compiledFile = path.join(compiled, `${base}.js`);
    if (!fs.existsSync(compiledFile)) {
      throw new BuildPaletteError(`${compiledFile} is missing: run tsc -p tsconfig.build.json first`);
    }
    const html = path.join(source, `${base}.html`);
    if (!fs.existsSync(html))
      throw new BuildPaletteError(`${html} is missing: every node needs its editor template`);
    const target = path.relative(output, compiledFile).split(path.sep).join('/');
    write(file, `module.exports = require(${JSON.stringify(`./${target}`)});\n`);
    write(`${base}.html`, fs.readFileSync(html, 'utf8'));
  }
  const flowsDir = path.join(repoDir, FLOWS_DIR);
  for (const flow of fs
    .readdirSync(flowsDir)
    .filter((name) => name.endsWith('.json'))
    .sort()) {
    const text = fs.readFileSync(path.join(flowsDir, flow), 'utf8');
    JSON.parse(text); // a broken example must fail the build, not the editor
    write(path.join('examples', flow), text);
  }
  return written;
}

if (require.main === module) {
  const repoDir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..'));
  try {
    const written = buildPalette(repoDir);
    process.stdout.write(
      `nodered palette: ${written.length} files in ${path.join(repoDir, PALETTE_OUTPUT_DIR)}\n`,
    );
  } catch (error) {
    process.stderr.write(`build-palette: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
