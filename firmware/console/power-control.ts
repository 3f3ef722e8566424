// Reboot and power-off for the console. The simulator board does nothing (it is this development machine); real
// boards ask the init system, which stops the firmware cleanly first (SIGTERM), like any other service.
import { execFile } from 'node:child_process';
import type { Logger } from '../core/logger';
import type { PowerControl } from '../core/console/ports';

export class SimulatedPowerControl implements PowerControl {
  readonly simulated = true;

  constructor(private readonly logger: Logger) {}

  reboot(): Promise<void> {
    this.logger.info('simulated reboot: nothing done');
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.logger.info('simulated shutdown: nothing done');
    return Promise.resolve();
  }
}

export class SystemPowerControl implements PowerControl {
  readonly simulated = false;

  constructor(private readonly logger: Logger) {}

  reboot(): Promise<void> {
    return this.run(['reboot']);
  }

  shutdown(): Promise<void> {
    return this.run(['poweroff']);
  }

  private run(args: string[]): Promise<void> {
    this.logger.warn('asking systemd to change the power state', { command: `systemctl ${args.join(' ')}` });
    return new Promise((resolve, reject) => {
      execFile('systemctl', args, { timeout: 30_000 }, (error, _stdout, stderr) => {
        if (error) reject(new Error(`systemctl ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
        else resolve();
      });
    });
  }
}
