// Configures the node side of the gateway port (antrea-gw0): its address and MTU. On the userspace datapath
// the gateway is a tap device that ovs-vswitchd recreates when it restarts, losing the address, so the agent
// calls `configure()` again after every restart.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export class GatewayLinkError extends Error {
  readonly code = 'GatewayLinkFailed';
}

export class GatewayLink {
  constructor(private readonly options: { name: string; ipCidr: string; mtu: number }) {}

  async configure(): Promise<void> {
    const { name, ipCidr, mtu } = this.options;
    const batch = [`link set dev ${name} mtu ${mtu} up`, `addr replace ${ipCidr} dev ${name}`].join('\n');
    await new Promise<void>((resolve, reject) => {
      const child = execFile('ip', ['-batch', '-'], (error, _stdout, stderr) => {
        if (error)
          reject(new GatewayLinkError(`configuring ${name} failed: ${stderr.trim() || error.message}`));
        else resolve();
      });
      child.stdin?.end(`${batch}\n`);
    });
  }

  async addresses(): Promise<string[]> {
    const { stdout } = await execFileAsync('ip', ['-j', 'addr', 'show', 'dev', this.options.name]);
    const links = JSON.parse(stdout) as {
      addr_info?: { family: string; local: string; prefixlen: number }[];
    }[];
    return links.flatMap((l) =>
      (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
    );
  }
}
