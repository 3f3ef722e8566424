// Fakes for the console session's ports: a manual clock, in-memory accounts, a recording backend and power control.
import { ApiError } from '../../firmware/core/antctl/api-error';
import type { ApplyResultView, NetworkPolicyView, PodInterfaceView } from '../../firmware/core/antctl/views';
import { silentLogger } from '../../firmware/core/logger';
import type {
  ConsoleAccounts,
  ConsoleTimers,
  HostFacts,
  PasswordState,
  PowerControl,
} from '../../firmware/core/console/ports';
import {
  ConsoleSession,
  LoginBackoff,
  type ConsoleBackend,
  type ConsoleLimits,
} from '../../firmware/core/console/session';

export class ManualTimers implements ConsoleTimers {
  private time = 0;
  private nextId = 0;
  private readonly pending = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.time;
  }

  after(ms: number, callback: () => void): () => void {
    const id = this.nextId++;
    this.pending.set(id, { at: this.time + ms, callback });
    return () => {
      this.pending.delete(id);
    };
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Moves the clock forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.pending) {
        if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)) next = entry;
      }
      if (next === undefined) break;
      this.pending.delete(next[0]);
      this.time = next[1].at;
      next[1].callback();
    }
    this.time = end;
  }
}

export class MemoryAccounts implements ConsoleAccounts {
  readonly passwords = new Map<string, string>();
  readonly known = new Set(['admin']);

  passwordState(user: string): Promise<PasswordState> {
    if (!this.known.has(user)) return Promise.resolve('unknown-user');
    return Promise.resolve(this.passwords.has(user) ? 'set' : 'unset');
  }

  verify(user: string, password: string): Promise<boolean> {
    return Promise.resolve(this.known.has(user) && this.passwords.get(user) === password);
  }

  setPassword(user: string, password: string): Promise<void> {
    this.passwords.set(user, password);
    return Promise.resolve();
  }
}

export class RecordingPower implements PowerControl {
  readonly calls: string[] = [];
  constructor(readonly simulated: boolean) {}
  reboot(): Promise<void> {
    this.calls.push('reboot');
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    this.calls.push('shutdown');
    return Promise.resolve();
  }
}

export const FAKE_HOST: HostFacts = {
  system: () =>
    Promise.resolve({
      hostname: 'edge1',
      cpuTemperatureC: 48.5,
      memoryTotalBytes: 4 * 1024 ** 3,
      memoryAvailableBytes: 3 * 1024 ** 3,
      loadAverage: [0.5, 0.25, 0.125],
      uptimeSeconds: 3 * 3600 + 120,
    }),
  interfaces: () =>
    Promise.resolve([
      { name: 'eth0', linkState: 'up', mac: '02:00:00:00:00:01', addresses: ['192.168.7.2/24'] },
      { name: 'eth1', linkState: 'down', mac: '02:00:00:00:00:02', addresses: [] },
      { name: 'antrea-gw0', linkState: 'up', mac: '02:00:00:00:00:03', addresses: ['10.10.0.1/24'] },
    ]),
};

export const FAKE_BOARD = {
  name: 'testboard',
  model: 'Test Board 4',
  nics: [
    { name: 'eth1', role: 'cluster' },
    { name: 'eth0', role: 'management', description: 'management port' },
  ],
};

const POD: PodInterfaceView = {
  namespace: 'default',
  name: 'web',
  interfaceName: 'web-1234',
  ip: '10.10.0.5',
  mac: '0a:00:00:00:00:05',
  portUuid: 'uuid-1',
  ofport: 3,
  containerId: 'abcdef0123456789',
};

/** A backend that answers from memory and records what it was asked. */
export class FakeBackend implements ConsoleBackend {
  readonly calls: string[] = [];
  readonly applied: unknown[][] = [];
  podLabels = new Map<string, Record<string, string>>([['default/web', { app: 'web' }]]);
  /** When set, queries wait for this promise (to test Ctrl-C). */
  gate: Promise<void> | undefined;

  private async wait(): Promise<void> {
    if (this.gate !== undefined) await this.gate;
  }

  async podInterfaces(filter: { name?: string; namespace?: string }): Promise<PodInterfaceView[]> {
    this.calls.push(`podInterfaces ${JSON.stringify(filter)}`);
    await this.wait();
    return [POD].filter((pod) => filter.name === undefined || pod.name === filter.name);
  }
  async ovsFlows(): Promise<string[]> {
    this.calls.push('ovsFlows');
    await this.wait();
    return ['table=0, priority=0 actions=drop'];
  }
  async agentInfo() {
    await this.wait();
    return {
      podName: 'antrea-agent',
      nodeName: 'edge1',
      status: 'Healthy' as const,
      nodeSubnets: ['10.10.0.0/24'],
      networkPolicies: 1,
      addressGroups: 0,
      appliedToGroups: 1,
      localPods: 1,
      ovsVersion: '3.1.0',
      bridgeName: 'br-int',
      flowsPerTable: {},
    };
  }
  networkPolicies(): Promise<NetworkPolicyView[]> {
    this.calls.push('networkPolicies');
    return Promise.resolve([]);
  }
  addressGroups() {
    return Promise.resolve([]);
  }
  appliedToGroups() {
    return Promise.resolve([]);
  }
  networkPolicyEvaluation(): never {
    throw new ApiError('Unavailable', 'not in this fake');
  }
  namespaceLabels(name: string) {
    return Promise.resolve({ name, labels: {} });
  }
  setNamespaceLabels(name: string, labels: Record<string, string>) {
    return Promise.resolve({ name, labels });
  }
  async applyObjects(objects: unknown[]): Promise<ApplyResultView[]> {
    await this.wait();
    this.applied.push(objects);
    return objects.map((object) => {
      const { kind, metadata } = object as { kind: string; metadata: { name: string; namespace?: string } };
      return {
        kind: 'K8sNetworkPolicy',
        name: metadata.name,
        namespace: metadata.namespace,
        result: 'created',
        sourceKind: kind,
      } as unknown as ApplyResultView;
    });
  }
  deleteObject(key: string) {
    this.calls.push(`delete ${key}`);
    return Promise.reject(new ApiError('NotFound', `${key} not found`));
  }
  setPodLabels(namespace: string, name: string, labels: Record<string, string>) {
    this.calls.push(`setPodLabels ${namespace}/${name} ${JSON.stringify(labels)}`);
    this.podLabels.set(`${namespace}/${name}`, labels);
    return Promise.resolve({ namespace, name, labels });
  }
}

export interface Harness {
  session: ConsoleSession;
  timers: ManualTimers;
  accounts: MemoryAccounts;
  backend: FakeBackend;
  power: RecordingPower;
  /** Everything written so far. */
  output(): string;
  /** Output written since the last call of take(). */
  take(): string;
  /** Types text (as bytes) and waits for the session to settle. */
  type(text: string | Uint8Array): Promise<void>;
}

export function harness(
  options: { simulated?: boolean; limits?: Partial<ConsoleLimits>; backoff?: LoginBackoff } = {},
): Harness {
  const timers = new ManualTimers();
  const accounts = new MemoryAccounts();
  const backend = new FakeBackend();
  const power = new RecordingPower(options.simulated ?? false);
  let written = '';
  let taken = 0;
  const session = new ConsoleSession({
    write: (text) => {
      written += text;
    },
    backend,
    labels: {
      podLabels: (namespace, name) => Promise.resolve(backend.podLabels.get(`${namespace}/${name}`)),
    },
    accounts,
    power,
    host: FAKE_HOST,
    board: FAKE_BOARD,
    firmwareVersion: '9.9.9',
    timers,
    logger: silentLogger,
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  return {
    session,
    timers,
    accounts,
    backend,
    power,
    output: () => written,
    take: () => {
      const text = written.slice(taken);
      taken = written.length;
      return text;
    },
    async type(text) {
      session.input(typeof text === 'string' ? new TextEncoder().encode(text) : text);
      await session.settled();
    },
  };
}

/** A harness already logged in as admin (password "correct horse"). */
export async function loggedIn(options: Parameters<typeof harness>[0] = {}): Promise<Harness> {
  const h = harness(options);
  h.accounts.passwords.set('admin', 'correct horse');
  h.session.start();
  await h.session.settled();
  await h.type('admin\r');
  await h.type('correct horse\r');
  h.take();
  return h;
}
