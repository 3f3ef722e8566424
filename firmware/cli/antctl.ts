#!/usr/bin/env node
// antctl: parses the command line with the shared command table and asks the agent over its local API
// socket. Exit codes: 0 ok, 1 the request failed, 2 the command line is wrong.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DEFAULT_SOCKET_PATH,
  describeCommandError,
  isParseError,
  parseArgs,
  renderHelp,
  runCommand,
  SOCKET_ENV_VAR,
} from '../core/antctl/commands';
import { LocalApiClient } from '../http/local-api';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface CliOptions {
  env: Record<string, string | undefined>;
  io: CliIo;
  antctlVersion: string;
  /** Standard input as text, for `apply -f -`; defaults to reading process.stdin to its end. */
  readStdin?: () => Promise<string>;
}

export async function runAntctl(argv: string[], options: CliOptions): Promise<number> {
  const { io } = options;
  const parsed = parseArgs(argv);
  if (isParseError(parsed)) {
    io.stderr(`Error: ${parsed.message}\n`);
    return EXIT_USAGE;
  }
  if (parsed.kind === 'help') {
    io.stdout(renderHelp(parsed.path));
    return EXIT_OK;
  }
  const envSocket = options.env[SOCKET_ENV_VAR];
  const socketPath =
    parsed.globals.socket ?? (envSocket !== undefined && envSocket !== '' ? envSocket : DEFAULT_SOCKET_PATH);
  try {
    const result = await runCommand(parsed, new LocalApiClient({ socketPath }), {
      antctlVersion: options.antctlVersion,
      readManifest: (file) => readManifest(file, options.readStdin ?? readProcessStdin),
      progress: (line) => io.stderr(`${line}\n`),
    });
    if (result.stdout !== '') io.stdout(result.stdout);
    if (result.stderr !== '') io.stderr(result.stderr);
    return EXIT_OK;
  } catch (error) {
    io.stderr(`Error: ${describeCommandError(error)}\n`);
    return EXIT_ERROR;
  }
}

async function readManifest(file: string, readStdin: () => Promise<string>): Promise<string> {
  if (file === '-') return readStdin();
  try {
    return await fs.promises.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
    throw new Error(`cannot read ${file}: ${reason}`);
  }
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The firmware's version from the nearest antrea-edge package.json (source tree and dist/ alike). */
export function readAntctlVersion(startDir: string): string {
  for (let dir = startDir; ; dir = path.dirname(dir)) {
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (manifest.name === 'antrea-edge' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No (readable) package.json here: keep walking up.
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

if (require.main === module) {
  // `antctl get ovsflows | head` closes the pipe early; that is success, not a crash.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT_OK);
    throw error;
  });
  runAntctl(process.argv.slice(2), {
    env: process.env,
    io: { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) },
    antctlVersion: readAntctlVersion(__dirname),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = EXIT_ERROR;
    },
  );
}
