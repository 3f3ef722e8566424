// Host facts for `show system`, `show interfaces` and the banner: only cheap calls (systeminformation's
// cpuTemperature and mem read /sys and /proc; load and uptime come from node:os; interfaces from node:os and
// /sys/class/net), never systeminformation's versions() or getStaticData(), which spawn dozens of processes.
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as si from 'systeminformation';
import type { HostFacts, HostInterface, SystemFacts } from '../core/console/ports';

export class LocalHostFacts implements HostFacts {
  constructor(private readonly options: { sysClassNet?: string } = {}) {}

  async system(): Promise<SystemFacts> {
    const [temperature, memory] = await Promise.all([
      si.cpuTemperature().catch(() => undefined),
      si.mem().catch(() => undefined),
    ]);
    const [one = 0, five = 0, fifteen = 0] = os.loadavg();
    const main = temperature?.main;
    return {
      hostname: os.hostname(),
      ...(typeof main === 'number' && Number.isFinite(main) ? { cpuTemperatureC: main } : {}),
      memoryTotalBytes: memory?.total ?? os.totalmem(),
      memoryAvailableBytes: memory?.available ?? os.freemem(),
      loadAverage: [one, five, fifteen],
      uptimeSeconds: os.uptime(),
    };
  }

  async interfaces(): Promise<HostInterface[]> {
    const sysClassNet = this.options.sysClassNet ?? '/sys/class/net';
    const addresses = os.networkInterfaces();
    let names: string[];
    try {
      names = await fs.readdir(sysClassNet);
    } catch {
      names = Object.keys(addresses);
    }
    const result: HostInterface[] = [];
    for (const name of names.sort()) {
      const entries = addresses[name] ?? [];
      const sorted = [...entries].sort((a, b) => (a.family === b.family ? 0 : a.family === 'IPv4' ? -1 : 1));
      const mac = await readTrimmed(`${sysClassNet}/${name}/address`);
      result.push({
        name,
        linkState: (await readTrimmed(`${sysClassNet}/${name}/operstate`)) ?? 'unknown',
        ...(mac === undefined ? {} : { mac }),
        addresses: sorted.map((entry) => entry.cidr ?? entry.address),
      });
    }
    return result;
  }
}

async function readTrimmed(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}
