// Runs a command for a test and returns its exit code and output (never throws); `must` throws on failure.
import { execFile } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** 0: no time limit. */
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed; without it stdin is left open and empty. */
  input?: string;
  /** Called with all of stderr so far on every chunk, and a way to SIGTERM the command. */
  onStderr?: (stderrSoFar: string, kill: () => void) => void;
}

export function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        env: options.env,
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 256 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    const onStderr = options.onStderr;
    if (onStderr) {
      let stderrSoFar = '';
      child.stderr?.on('data', (chunk: string | Buffer) => {
        stderrSoFar += chunk.toString();
        onStderr(stderrSoFar, () => child.kill('SIGTERM'));
      });
    }
    if (options.input !== undefined) {
      // A command that exits without reading stdin closes the pipe under us: that is not a failure.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(options.input);
    }
  });
}

export async function must(cmd: string, args: string[], options: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, options);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}
