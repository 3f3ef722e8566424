// What the console session needs from the outside world, as narrow interfaces defined where they are used.
// Adapters live in firmware/console/ (scrypt accounts, systeminformation, power control, the serial port).

/** Cancels a pending timer; calling it twice is harmless. */
export type CancelTimer = () => void;

/** Time for idle logout, login back-off and the paste separator wait; fake in tests. */
export interface ConsoleTimers {
  now(): number;
  after(ms: number, callback: () => void): CancelTimer;
}

export type PasswordState = 'set' | 'unset' | 'unknown-user';

/** Console accounts. Implementations hash with a slow KDF and never log passwords. */
export interface ConsoleAccounts {
  /** `unset`: the account exists but has no password yet (first boot). */
  passwordState(user: string): Promise<PasswordState>;
  /** False for unknown users and accounts without a password, in about the same time as a wrong password. */
  verify(user: string, password: string): Promise<boolean>;
  setPassword(user: string, password: string): Promise<void>;
}

/** Reboot and power-off of the appliance. */
export interface PowerControl {
  /** True on the simulator: nothing is rebooted or powered off. */
  readonly simulated: boolean;
  reboot(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface SystemFacts {
  hostname: string;
  /** Degrees Celsius; undefined when the board has no sensor the OS exposes. */
  cpuTemperatureC?: number;
  memoryTotalBytes: number;
  memoryAvailableBytes: number;
  /** 1, 5 and 15 minute load averages. */
  loadAverage: readonly [number, number, number];
  uptimeSeconds: number;
}

export interface HostInterface {
  name: string;
  /** `up`, `down`, `unknown` (as /sys/class/net/NAME/operstate says). */
  linkState: string;
  mac?: string;
  /** CIDRs, IPv4 first. */
  addresses: readonly string[];
}

/** Cheap host facts only: these are read on every `show` and on every banner. */
export interface HostFacts {
  system(): Promise<SystemFacts>;
  interfaces(): Promise<HostInterface[]>;
}

export interface BoardNic {
  name: string;
  role: string;
  description?: string;
}

export interface BoardInfo {
  name: string;
  model: string;
  nics: readonly BoardNic[];
}

/** Pod labels as the store has them, for `label`'s merge (kubectl semantics). */
export interface PodLabelSource {
  podLabels(namespace: string, name: string): Promise<Record<string, string> | undefined>;
}
