// Runs `ovs-appctl ofproto/trace` against this node's ovs-vswitchd, for the per-table path of a Traceflow.
// ovs-appctl -t needs an absolute control socket path (PLATFORM.md).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface OfprotoTracerOptions {
  ovsRunDir: string;
  bridge: string;
  env: NodeJS.ProcessEnv;
  /** Default 5 s. */
  timeoutMs?: number;
}

export class OfprotoTracer {
  constructor(private readonly options: OfprotoTracerOptions) {}

  /** The trace's text output for `flowText` (ofproto/trace's flow syntax). */
  async trace(flowText: string): Promise<string> {
    const target = await this.controlSocket();
    return new Promise((resolve, reject) => {
      execFile(
        'ovs-appctl',
        ['-t', target, 'ofproto/trace', this.options.bridge, flowText],
        { env: this.options.env, timeout: this.options.timeoutMs ?? 5_000 },
        (error, stdout, stderr) => {
          if (error === null) resolve(stdout);
          else reject(new Error(`ovs-appctl ofproto/trace failed: ${stderr.trim() || error.message}`));
        },
      );
    });
  }

  private async controlSocket(): Promise<string> {
    const runDir = path.resolve(this.options.ovsRunDir);
    const fixed = path.join(runDir, 'ovs-vswitchd.ctl');
    if (fs.existsSync(fixed)) return fixed;
    const pid = (await fs.promises.readFile(path.join(runDir, 'ovs-vswitchd.pid'), 'utf8')).trim();
    return path.join(runDir, `ovs-vswitchd.${pid}.ctl`);
  }
}
