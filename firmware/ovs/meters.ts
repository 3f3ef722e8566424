// OpenFlow meters of a bridge through `ovs-ofctl -O OpenFlow15` (add-meter, mod-meter, dump-meters, del-meter).
// ensure() is idempotent: it reads the meter back and writes only when it is missing or different, so it can run
// on every (re)connect. Meters, like flows, do not survive an ovs-vswitchd restart, and a flow whose first action
// is `meter:N` is rejected while meter N does not exist: ensure the meter before (re)installing such flows.
import { execFile } from 'node:child_process';
import type { Logger } from '../core/logger';
import { packetInMeterDefinition, type PacketInMeter } from '../core/pipeline/controller-userdata';

export type MeterErrorCode = 'OFCTL_FAILED' | 'OFCTL_TIMEOUT' | 'UNPARSED_METER';

export class MeterError extends Error {
  override readonly name = 'MeterError';
  constructor(
    readonly code: MeterErrorCode,
    message: string,
    /** ovs-ofctl's stderr, when it ran. */
    readonly ofctlMessage = '',
  ) {
    super(message);
  }
}

export interface MeterBand {
  type: string;
  rate: number;
  burstSize: number | undefined;
}

export interface MeterConfig {
  meterId: number;
  /** dump-meters flags, e.g. ['pktps', 'burst', 'stats']. */
  flags: string[];
  bands: MeterBand[];
}

export interface OvsMetersOptions {
  bridge: string;
  /** Environment for ovs-ofctl; OVS_RUNDIR must point at the directory holding `<bridge>.mgmt`. */
  env: NodeJS.ProcessEnv;
  logger: Logger;
  ofctlPath?: string;
  /** Kill an ovs-ofctl call that takes longer than this. Default 30 s. */
  timeoutMs?: number;
}

export type MeterChange = 'added' | 'modified' | 'unchanged';

export class OvsMeters {
  private readonly logger: Logger;

  constructor(private readonly options: OvsMetersOptions) {
    this.logger = options.logger.child({ component: 'meters' });
  }

  async list(): Promise<MeterConfig[]> {
    return parseDumpMeters(await this.ofctl(['dump-meters', this.options.bridge]));
  }

  /** Makes the packet-in meter exist with exactly this rate and burst. */
  async ensure(meter: PacketInMeter): Promise<MeterChange> {
    const definition = packetInMeterDefinition(meter);
    const current = (await this.list()).find((m) => m.meterId === meter.meterId);
    if (current && sameMeter(current, meter)) return 'unchanged';
    await this.ofctl([current ? 'mod-meter' : 'add-meter', this.options.bridge, definition]);
    const change: MeterChange = current ? 'modified' : 'added';
    this.logger.info('meter written', { meterId: meter.meterId, change, definition });
    return change;
  }

  async delete(meterId: number): Promise<void> {
    await this.ofctl(['del-meter', this.options.bridge, `meter=${meterId}`]);
  }

  private ofctl(args: string[]): Promise<string> {
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      execFile(
        this.options.ofctlPath ?? 'ovs-ofctl',
        ['-O', 'OpenFlow15', ...args],
        { env: this.options.env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (!error) return resolve(stdout);
          if (error.killed) {
            return reject(
              new MeterError('OFCTL_TIMEOUT', `ovs-ofctl ${args[0]} timed out after ${timeoutMs} ms`),
            );
          }
          reject(
            new MeterError(
              'OFCTL_FAILED',
              `ovs-ofctl ${args.join(' ')} failed: ${stderr.trim()}`,
              stderr.trim(),
            ),
          );
        },
      );
    });
  }
}

function sameMeter(current: MeterConfig, wanted: PacketInMeter): boolean {
  const band = current.bands[0];
  return (
    current.flags.includes('pktps') &&
    current.flags.includes('burst') &&
    current.bands.length === 1 &&
    band !== undefined &&
    band.type === 'drop' &&
    band.rate === wanted.rate &&
    band.burstSize === wanted.burst
  );
}

/**
 * Parses `ovs-ofctl dump-meters` (OVS 3.1):
 *   OFPST_METER_CONFIG reply (OF1.5) (xid=0x2):
 *   meter=256 pktps burst bands=
 *   type=drop rate=500 burst_size=1000
 */
export function parseDumpMeters(text: string): MeterConfig[] {
  const meters: MeterConfig[] = [];
  let current: MeterConfig | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('OFPST_')) continue;
    const meterMatch = /^meter=(\d+)\s*(.*?)\s*bands=\s*(.*)$/.exec(line);
    if (meterMatch) {
      current = {
        meterId: Number(meterMatch[1]),
        flags: (meterMatch[2] ?? '').split(/\s+/).filter(Boolean),
        bands: [],
      };
      meters.push(current);
      if (meterMatch[3]) current.bands.push(parseBand(meterMatch[3], line));
      continue;
    }
    if (line.startsWith('type=') && current) {
      current.bands.push(parseBand(line, line));
      continue;
    }
    throw new MeterError('UNPARSED_METER', `unexpected dump-meters line: ${line}`);
  }
  return meters;
}

function parseBand(text: string, line: string): MeterBand {
  const fields = new Map<string, string>();
  for (const part of text.split(/\s+/)) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const type = fields.get('type');
  const rate = Number(fields.get('rate'));
  if (!type || !Number.isFinite(rate)) throw new MeterError('UNPARSED_METER', `unparsed meter band: ${line}`);
  const burst = fields.get('burst_size');
  return { type, rate, burstSize: burst === undefined ? undefined : Number(burst) };
}
