// Idempotent bridge and port set-up over OVSDB (database Open_vSwitch, /usr/share/openvswitch/vswitch.ovsschema),
// and detection of ovs-vswitchd restarts (flows do not survive one, so the agent must replay them).
//
// Every change that ovs-vswitchd must apply bumps Open_vSwitch.next_cfg in the same transaction and then
// waits for cur_cfg to catch up, like ovs-vsctl does: ovs-vswitchd writes cur_cfg in the same transaction
// as the ofport/error of the interfaces it configured, so the Interface row read afterwards is final.
import type { Logger } from '../core/logger';
import { OvsdbTransactionError } from './ovsdb/errors';
import {
  fromOvsdbMap,
  fromOvsdbOptional,
  fromOvsdbSet,
  namedUuid,
  toOvsdbMap,
  toOvsdbSet,
  uuid,
  uuidOf,
  type MonitorHandle,
  type MonitorUpdateInfo,
  type OvsdbClient,
  type OvsdbCountResult,
  type OvsdbNamedUuid,
  type OvsdbUuid,
  type OvsdbOperation,
  type OvsdbRow,
  type OvsdbSelectResult,
  type TableUpdates,
} from './ovsdb/ovsdb-client';

const DB = 'Open_vSwitch';

export const DEFAULT_PROTOCOLS = ['OpenFlow10', 'OpenFlow13', 'OpenFlow15'];

/**
 * Interface types that ovs-vswitchd implements as userspace vport netdevs. Each gets a random MAC
 * (Interface.mac_in_use) whenever the netdev is constructed, i.e. once per ovs-vswitchd process.
 */
const VPORT_TYPES = new Set([
  'geneve',
  'vxlan',
  'gre',
  'ip6gre',
  'erspan',
  'ip6erspan',
  'stt',
  'lisp',
  'gtpu',
  'bareudp',
]);

export interface PortInfo {
  name: string;
  portUuid: string;
  interfaceUuid: string;
  /** OpenFlow port number; -1 when ovs-vswitchd has not assigned one (or failed to). */
  ofport: number;
  type: string;
  /** Port.external_ids (where Antrea keeps pod and container ids). */
  externalIds: Record<string, string>;
  /** Interface.mac_in_use. */
  mac?: string;
}

export interface EnsureBridgeOptions {
  datapathType: 'netdev' | 'system';
  failMode: 'secure';
  /** Default ['OpenFlow10', 'OpenFlow13', 'OpenFlow15']. */
  protocols?: string[];
}

export interface EnsurePortOptions {
  /** Interface type; '' is a system (existing kernel) device. Left unchanged on an existing port when omitted. */
  type?: 'internal' | 'geneve' | 'vxlan' | '';
  options?: Record<string, string>;
  ofportRequest?: number;
  /** Port.external_ids. */
  externalIds?: Record<string, string>;
  mtuRequest?: number;
}

export type OvsBridgeErrorCode =
  /** The bridge does not exist (call ensureBridge first). */
  | 'OVS_BRIDGE_NOT_FOUND'
  /** ovs-vswitchd could not create the bridge (no ofport on its internal interface, or Interface.error). */
  | 'OVS_BRIDGE_FAILED'
  /** ovs-vswitchd could not add the port: Interface.error is set or ofport is -1. */
  | 'OVS_PORT_FAILED'
  /** A port or interface of that name exists but belongs to another bridge or port. */
  | 'OVS_PORT_CONFLICT'
  /** The Open_vSwitch table has no row (`ovs-vsctl init` has never run). */
  | 'OVS_NOT_INITIALIZED'
  /** ovs-vswitchd did not apply a change in time (not running?). */
  | 'OVS_VSWITCHD_TIMEOUT'
  /** Open_vSwitch.ovs_version is empty (ovs-ctl sets it at start; ovs-vswitchd itself does not). */
  | 'OVS_VERSION_UNKNOWN'
  /** Other clients kept changing the same rows between our read and our write; gave up after retries. */
  | 'OVS_CONCURRENT_MODIFICATION';

export class OvsBridgeError extends Error {
  override readonly name = 'OvsBridgeError';

  constructor(
    readonly code: OvsBridgeErrorCode,
    message: string,
    /** Interface.error as written by ovs-vswitchd, when that is what failed. */
    readonly interfaceError?: string,
  ) {
    super(message);
  }
}

export interface OvsBridgeOptions {
  /** How long to wait for ovs-vswitchd to apply a change (cur_cfg catching up). Default 10 s. */
  applyTimeoutMs?: number;
  /** Quiet period after the last restart signal before callbacks fire. Default 500 ms. */
  restartSettleMs?: number;
  /** Longest wait, after a restart signal, for every port of the bridge to have an ofport. Default 10 s. */
  restartPortsTimeoutMs?: number;
}

/** What the restart detector remembers about an Interface row. */
interface WatchedInterface {
  name: string;
  type: string;
  mac: string | undefined;
  /**
   * Last non-empty mac_in_use / non-zero ifindex. Both columns are ephemeral: an ovsdb-server restart
   * empties them until ovs-vswitchd writes them again, which must not look like a new value.
   */
  lastMacInUse: string | undefined;
  lastIfindex: number | undefined;
  /**
   * Type or requested MAC changed: ovs-vswitchd will rebuild the netdev (new random MAC, maybe a new
   * device), so the next change of mac_in_use/ifindex is expected and is learned, not reported.
   */
  expectRebuild: boolean;
  ofport: number | undefined;
  error: string | undefined;
}

interface PendingRestart {
  reasons: string[];
  settleTimer: NodeJS.Timeout | undefined;
  portsTimer: NodeJS.Timeout | undefined;
  waitingForPorts: boolean;
}

/** Our own guard in a transaction failed: another client changed the rows between our read and write. */
class LostRace extends Error {}

const MAX_ATTEMPTS = 3;

export class OvsBridge {
  private readonly logger: Logger;
  private readonly applyTimeoutMs: number;
  private readonly restartSettleMs: number;
  private readonly restartPortsTimeoutMs: number;
  private readonly restartCallbacks = new Set<() => void>();
  private watch: MonitorHandle | undefined;
  private watchStarting: Promise<void> | undefined;
  private retryWatchOnConnect = false;
  private stopped = false;
  private readonly interfaces = new Map<string, WatchedInterface>();
  private readonly portInterfaces = new Map<string, string[]>();
  private readonly bridges = new Map<string, { name: string; ports: string[] }>();
  private pendingRestart: PendingRestart | undefined;

  constructor(
    private readonly client: OvsdbClient,
    private readonly bridgeName: string,
    logger: Logger,
    options: OvsBridgeOptions = {},
  ) {
    this.logger = logger;
    this.applyTimeoutMs = options.applyTimeoutMs ?? 10_000;
    this.restartSettleMs = options.restartSettleMs ?? 500;
    this.restartPortsTimeoutMs = options.restartPortsTimeoutMs ?? 10_000;
  }

  /** Starts watching for ovs-vswitchd restarts (also started by the first onVswitchdRestart()). */
  async start(): Promise<void> {
    this.stopped = false;
    if (this.watch) return;
    this.watchStarting ??= this.startWatch().finally(() => {
      this.watchStarting = undefined;
    });
    await this.watchStarting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearPendingRestart();
    const watch = this.watch;
    this.watch = undefined;
    await watch?.cancel().catch(() => undefined);
  }

  /**
   * Calls `cb` once per ovs-vswitchd restart, after the new ovs-vswitchd has configured the bridge.
   * Returns a function that unregisters it.
   */
  onVswitchdRestart(cb: () => void): () => void {
    this.restartCallbacks.add(cb);
    this.ensureWatch();
    return () => this.restartCallbacks.delete(cb);
  }

  async getOvsVersion(): Promise<string> {
    const [ovs] = await this.client.transact(DB, [
      { op: 'select', table: 'Open_vSwitch', where: [], columns: ['ovs_version'] },
    ]);
    const version = fromOvsdbOptional(rowsOf(ovs)[0]?.ovs_version);
    if (typeof version !== 'string' || version === '') {
      throw new OvsBridgeError('OVS_VERSION_UNKNOWN', 'Open_vSwitch.ovs_version is not set');
    }
    return version;
  }

  /**
   * Creates the bridge with its internal port and links it into Open_vSwitch.bridges, or fixes
   * datapath_type/fail_mode/protocols of an existing one, in one transaction; then waits until
   * ovs-vswitchd has created it.
   */
  async ensureBridge(opts: EnsureBridgeOptions): Promise<void> {
    await this.withRetry(() => this.ensureBridgeOnce(opts));
  }

  /**
   * Creates the port (with one interface of the same name) on the bridge, or updates type, options,
   * ofport_request, mtu_request and external_ids of an existing one where they differ; then waits until
   * ovs-vswitchd has assigned an ofport. Throws OvsBridgeError('OVS_PORT_FAILED') with Interface.error when
   * ovs-vswitchd could not add it (the rows stay, like with ovs-vsctl; deletePort removes them).
   */
  async ensurePort(name: string, opts: EnsurePortOptions = {}): Promise<PortInfo> {
    return this.withRetry(() => this.ensurePortOnce(name, opts));
  }

  /** Removes the port from the bridge; false when the bridge has no port of that name. */
  async deletePort(name: string): Promise<boolean> {
    const [bridgeResult, portResult] = await this.client.transact(DB, [
      {
        op: 'select',
        table: 'Bridge',
        where: [['name', '==', this.bridgeName]],
        columns: ['_uuid', 'ports'],
      },
      { op: 'select', table: 'Port', where: [['name', '==', name]], columns: ['_uuid'] },
    ]);
    const bridge = rowsOf(bridgeResult)[0];
    const portUuid = uuidOf(rowsOf(portResult)[0]?._uuid);
    if (!bridge || !portUuid) return false;
    const bridgeUuid = requiredUuid(bridge._uuid);
    if (!uuidsOf(bridge.ports).includes(portUuid)) return false;
    // Port and Interface are not root tables: removing the reference is what deletes them; the explicit
    // delete makes a concurrent re-add of the same name fail loudly instead of resurrecting this row.
    const results = await this.client.transact(DB, [
      {
        op: 'mutate',
        table: 'Bridge',
        where: [['_uuid', '==', uuid(bridgeUuid)]],
        mutations: [['ports', 'delete', toOvsdbSet([uuid(portUuid)])]],
      },
      { op: 'delete', table: 'Port', where: [['_uuid', '==', uuid(portUuid)]] },
    ]);
    const deleted = countOf(results[1]) > 0;
    if (deleted) this.logger.info('deleted OVS port', { bridge: this.bridgeName, port: name });
    return deleted;
  }

  /** The bridge's ports, without the bridge's own internal port (like `ovs-vsctl list-ports`). */
  async listPorts(): Promise<PortInfo[]> {
    const [bridgeResult, portResult, interfaceResult] = await this.client.transact(DB, [
      { op: 'select', table: 'Bridge', where: [['name', '==', this.bridgeName]], columns: ['ports'] },
      { op: 'select', table: 'Port', where: [], columns: ['_uuid', 'name', 'interfaces', 'external_ids'] },
      {
        op: 'select',
        table: 'Interface',
        where: [],
        columns: ['_uuid', 'name', 'type', 'ofport', 'mac_in_use'],
      },
    ]);
    const bridge = rowsOf(bridgeResult)[0];
    if (!bridge) throw new OvsBridgeError('OVS_BRIDGE_NOT_FOUND', `bridge ${this.bridgeName} does not exist`);
    const interfaces = new Map(rowsOf(interfaceResult).map((row) => [requiredUuid(row._uuid), row]));
    const onBridge = new Set(uuidsOf(bridge.ports));
    const ports: PortInfo[] = [];
    for (const port of rowsOf(portResult)) {
      if (!onBridge.has(requiredUuid(port._uuid)) || port.name === this.bridgeName) continue;
      const interfaceUuid = uuidsOf(port.interfaces)[0];
      const iface = interfaceUuid ? interfaces.get(interfaceUuid) : undefined;
      if (!iface) continue;
      ports.push(toPortInfo(port, iface));
    }
    return ports.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  // -------------------------------------------------------------------------------------------------------

  private async ensureBridgeOnce(opts: EnsureBridgeOptions): Promise<void> {
    const name = this.bridgeName;
    const protocols = [...(opts.protocols ?? DEFAULT_PROTOCOLS)].sort();
    const [bridgeResult, ovsResult, portResult, interfaceResult] = await this.client.transact(DB, [
      {
        op: 'select',
        table: 'Bridge',
        where: [['name', '==', name]],
        columns: ['_uuid', 'datapath_type', 'fail_mode', 'protocols', 'ports'],
      },
      { op: 'select', table: 'Open_vSwitch', where: [], columns: ['_uuid', 'bridges'] },
      { op: 'select', table: 'Port', where: [['name', '==', name]], columns: ['_uuid'] },
      {
        op: 'select',
        table: 'Interface',
        where: [['name', '==', name]],
        columns: ['_uuid', 'ofport', 'error'],
      },
    ]);
    const ovs = rowsOf(ovsResult)[0];
    if (!ovs) {
      throw new OvsBridgeError('OVS_NOT_INITIALIZED', 'the Open_vSwitch table is empty (run ovs-vsctl init)');
    }
    const ovsUuid = requiredUuid(ovs._uuid);
    const bridge = rowsOf(bridgeResult)[0];
    const ops: OvsdbOperation[] = [];
    let bridgeRef: OvsdbUuid | OvsdbNamedUuid;
    if (!bridge) {
      bridgeRef = namedUuid('bridge');
      ops.push(
        // Fails (timeout 0) if someone created the bridge since our read: then we retry as an update.
        {
          op: 'wait',
          table: 'Bridge',
          where: [['name', '==', name]],
          columns: ['name'],
          until: '==',
          rows: [],
          timeout: 0,
        },
        ...this.insertPortOps(name, { type: 'internal' }, 'local'),
        {
          op: 'insert',
          table: 'Bridge',
          'uuid-name': 'bridge',
          row: {
            name,
            ports: toOvsdbSet([namedUuid('local')]),
            datapath_type: opts.datapathType,
            fail_mode: opts.failMode,
            protocols: toOvsdbSet(protocols),
          },
        },
      );
    } else {
      const bridgeUuid = requiredUuid(bridge._uuid);
      bridgeRef = uuid(bridgeUuid);
      const row: OvsdbRow = {};
      if (bridge.datapath_type !== opts.datapathType) row.datapath_type = opts.datapathType;
      if (fromOvsdbOptional(bridge.fail_mode) !== opts.failMode) row.fail_mode = opts.failMode;
      if (!sameStrings(fromOvsdbSet(bridge.protocols).map(String), protocols))
        row.protocols = toOvsdbSet(protocols);
      if (Object.keys(row).length > 0) {
        ops.push({ op: 'update', table: 'Bridge', where: [['_uuid', '==', bridgeRef]], row });
        this.logger.info('fixing OVS bridge settings', { bridge: name, columns: Object.keys(row) });
      }
      const localPortUuid = uuidOf(rowsOf(portResult)[0]?._uuid);
      if (!localPortUuid || !uuidsOf(bridge.ports).includes(localPortUuid)) {
        if (localPortUuid || rowsOf(interfaceResult)[0]) {
          throw new OvsBridgeError(
            'OVS_PORT_CONFLICT',
            `a port or interface named ${name} belongs to another bridge`,
          );
        }
        ops.push(...this.insertPortOps(name, { type: 'internal' }, 'local'), {
          op: 'mutate',
          table: 'Bridge',
          where: [['_uuid', '==', bridgeRef]],
          mutations: [['ports', 'insert', toOvsdbSet([namedUuid('local')])]],
        });
      }
    }
    if (!bridge || !uuidsOf(ovs.bridges).includes(uuidOf(bridge._uuid) ?? '')) {
      ops.push({
        op: 'mutate',
        table: 'Open_vSwitch',
        where: [['_uuid', '==', uuid(ovsUuid)]],
        mutations: [['bridges', 'insert', toOvsdbSet([bridgeRef])]],
      });
    }
    const local = rowsOf(interfaceResult)[0];
    if (ops.length === 0 && local && validOfport(local.ofport) && !errorOf(local)) return;

    const results = await this.applyAndWait(ops);
    this.expectCounts(ops, results);
    if (!bridge) this.logger.info('created OVS bridge', { bridge: name, datapathType: opts.datapathType });

    const [after] = await this.client.transact(DB, [
      { op: 'select', table: 'Interface', where: [['name', '==', name]], columns: ['ofport', 'error'] },
    ]);
    const row = rowsOf(after)[0];
    const error = row ? errorOf(row) : undefined;
    if (!row || error || !validOfport(row.ofport)) {
      throw new OvsBridgeError(
        'OVS_BRIDGE_FAILED',
        `ovs-vswitchd did not create bridge ${name}: ${error ?? 'its internal interface has no ofport (see ovs-vswitchd.log)'}`,
        error,
      );
    }
  }

  private async ensurePortOnce(name: string, opts: EnsurePortOptions): Promise<PortInfo> {
    const [bridgeResult, portResult, interfaceResult] = await this.client.transact(DB, [
      {
        op: 'select',
        table: 'Bridge',
        where: [['name', '==', this.bridgeName]],
        columns: ['_uuid', 'ports'],
      },
      {
        op: 'select',
        table: 'Port',
        where: [['name', '==', name]],
        columns: ['_uuid', 'interfaces', 'external_ids'],
      },
      {
        op: 'select',
        table: 'Interface',
        where: [['name', '==', name]],
        columns: ['_uuid', 'type', 'options', 'ofport_request', 'mtu_request', 'ofport', 'error'],
      },
    ]);
    const bridge = rowsOf(bridgeResult)[0];
    if (!bridge) throw new OvsBridgeError('OVS_BRIDGE_NOT_FOUND', `bridge ${this.bridgeName} does not exist`);
    const bridgeUuid = requiredUuid(bridge._uuid);
    const port = rowsOf(portResult)[0];
    const iface = rowsOf(interfaceResult)[0];
    const ops: OvsdbOperation[] = [];
    if (port) {
      const portUuid = requiredUuid(port._uuid);
      const interfaceUuid = iface ? requiredUuid(iface._uuid) : undefined;
      if (!uuidsOf(bridge.ports).includes(portUuid)) {
        throw new OvsBridgeError(
          'OVS_PORT_CONFLICT',
          `port ${name} belongs to another bridge than ${this.bridgeName}`,
        );
      }
      if (!interfaceUuid || !uuidsOf(port.interfaces).includes(interfaceUuid)) {
        throw new OvsBridgeError('OVS_PORT_CONFLICT', `port ${name} has no interface named ${name}`);
      }
      const ifaceChanges = interfaceChanges(iface as OvsdbRow, opts);
      if (Object.keys(ifaceChanges).length > 0) {
        ops.push({
          op: 'update',
          table: 'Interface',
          where: [['_uuid', '==', uuid(interfaceUuid)]],
          row: ifaceChanges,
        });
      }
      if (opts.externalIds && !sameRecord(fromOvsdbMap(port.external_ids), opts.externalIds)) {
        ops.push({
          op: 'update',
          table: 'Port',
          where: [['_uuid', '==', uuid(portUuid)]],
          row: { external_ids: toOvsdbMap(opts.externalIds) },
        });
      }
      if (ops.length > 0) {
        this.logger.info('updating OVS port', {
          bridge: this.bridgeName,
          port: name,
          columns: ops.flatMap((op) => ('row' in op ? Object.keys(op.row) : [])),
        });
      }
      if (ops.length === 0 && validOfport(iface?.ofport) && !errorOf(iface as OvsdbRow)) {
        return this.readPort(name);
      }
    } else {
      if (iface) throw new OvsBridgeError('OVS_PORT_CONFLICT', `interface ${name} belongs to another port`);
      ops.push(
        {
          op: 'wait',
          table: 'Port',
          where: [['name', '==', name]],
          columns: ['name'],
          until: '==',
          rows: [],
          timeout: 0,
        },
        ...this.insertPortOps(name, opts, 'port'),
        {
          op: 'mutate',
          table: 'Bridge',
          where: [['_uuid', '==', uuid(bridgeUuid)]],
          mutations: [['ports', 'insert', toOvsdbSet([namedUuid('port')])]],
        },
      );
    }
    const results = await this.applyAndWait(ops);
    this.expectCounts(ops, results);
    if (!port)
      this.logger.info('created OVS port', { bridge: this.bridgeName, port: name, type: opts.type ?? '' });
    const info = await this.readPort(name);
    return info;
  }

  /** Interface + Port inserts; the Port is named `${uuidName}` and the Interface `${uuidName}_iface`. */
  private insertPortOps(name: string, opts: EnsurePortOptions, uuidName: string): OvsdbOperation[] {
    const ifaceRow: OvsdbRow = { name, type: opts.type ?? '' };
    if (opts.options) ifaceRow.options = toOvsdbMap(opts.options);
    if (opts.ofportRequest !== undefined) ifaceRow.ofport_request = opts.ofportRequest;
    if (opts.mtuRequest !== undefined) ifaceRow.mtu_request = opts.mtuRequest;
    const portRow: OvsdbRow = { name, interfaces: toOvsdbSet([namedUuid(`${uuidName}_iface`)]) };
    if (opts.externalIds) portRow.external_ids = toOvsdbMap(opts.externalIds);
    return [
      { op: 'insert', table: 'Interface', 'uuid-name': `${uuidName}_iface`, row: ifaceRow },
      { op: 'insert', table: 'Port', 'uuid-name': uuidName, row: portRow },
    ];
  }

  /** Reads a port and checks that ovs-vswitchd accepted it. */
  private async readPort(name: string): Promise<PortInfo> {
    const [portResult, interfaceResult] = await this.client.transact(DB, [
      {
        op: 'select',
        table: 'Port',
        where: [['name', '==', name]],
        columns: ['_uuid', 'name', 'interfaces', 'external_ids'],
      },
      {
        op: 'select',
        table: 'Interface',
        where: [['name', '==', name]],
        columns: ['_uuid', 'name', 'type', 'ofport', 'mac_in_use', 'error'],
      },
    ]);
    const port = rowsOf(portResult)[0];
    const iface = rowsOf(interfaceResult)[0];
    if (!port || !iface) throw new LostRace(`port ${name} vanished while it was being set up`);
    const error = errorOf(iface);
    if (error || !validOfport(iface.ofport)) {
      throw new OvsBridgeError(
        'OVS_PORT_FAILED',
        `ovs-vswitchd could not add port ${name}: ${error ?? 'no ofport assigned'}`,
        error,
      );
    }
    return toPortInfo(port, iface);
  }

  /**
   * Commits `ops` together with a next_cfg bump and waits until ovs-vswitchd reports cur_cfg >= that value.
   * Returns the results of `ops` (without the bump).
   */
  private async applyAndWait(ops: OvsdbOperation[]): Promise<unknown[]> {
    let curCfg = -1;
    let target = Number.POSITIVE_INFINITY;
    let wake: (() => void) | undefined;
    const onCfg = (update: TableUpdates, info: MonitorUpdateInfo): void => {
      for (const row of Object.values(update.Open_vSwitch ?? {})) {
        const value = row.new?.cur_cfg;
        if (typeof value === 'number') curCfg = info.resync ? value : Math.max(curCfg, value);
      }
      if (curCfg >= target) wake?.();
    };
    const monitor = await this.client.monitor(DB, { Open_vSwitch: { columns: ['cur_cfg'] } }, onCfg);
    try {
      onCfg(monitor.initial, { resync: true });
      const results = await this.client.transact(DB, [
        ...ops,
        { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['next_cfg', '+=', 1]] },
        { op: 'select', table: 'Open_vSwitch', where: [], columns: ['next_cfg'] },
      ]);
      const nextCfg = rowsOf(results[results.length - 1])[0]?.next_cfg;
      if (typeof nextCfg !== 'number') throw new Error('Open_vSwitch.next_cfg missing from select result');
      target = nextCfg;
      if (curCfg < target) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            wake = undefined;
            reject(
              new OvsBridgeError(
                'OVS_VSWITCHD_TIMEOUT',
                `ovs-vswitchd did not apply the change within ${this.applyTimeoutMs} ms (cur_cfg ${curCfg} < ${target}); is it running?`,
              ),
            );
          }, this.applyTimeoutMs);
          wake = () => {
            clearTimeout(timer);
            wake = undefined;
            resolve();
          };
        });
      }
      return results.slice(0, ops.length);
    } finally {
      await monitor.cancel().catch(() => undefined);
    }
  }

  /** Updates and mutates by _uuid that touched no row mean the row vanished after we read it. */
  private expectCounts(ops: OvsdbOperation[], results: unknown[]): void {
    ops.forEach((op, i) => {
      if ((op.op === 'update' || op.op === 'mutate') && countOf(results[i]) === 0) {
        throw new LostRace(`${op.op} of ${op.table} matched no row`);
      }
    });
  }

  private async withRetry<T>(attempt: () => Promise<T>): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await attempt();
      } catch (err) {
        if (i >= MAX_ATTEMPTS || !isLostRace(err)) {
          if (isLostRace(err)) {
            throw new OvsBridgeError(
              'OVS_CONCURRENT_MODIFICATION',
              `gave up after ${i} attempts: ${(err as Error).message}`,
            );
          }
          throw err;
        }
        this.logger.debug('OVSDB rows changed under us; retrying', { error: err });
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // ovs-vswitchd restart detection
  //
  // Measured with OVS 3.1 on the userspace datapath (SIGTERM and SIGKILL alike): ovs-vswitchd writes
  // nothing when it exits, and when it starts again the tap devices of internal ports are still there
  // (persistent taps), so their ifindex, ofport and MAC stay the same; cur_cfg only moves if someone bumped
  // next_cfg meanwhile, and statistics come from the kernel and keep counting. What does change is
  // Interface.mac_in_use of every tunnel (vport) interface: ovs-vswitchd gives a vport netdev a random MAC
  // when it constructs it, i.e. once per process (and when the interface type changes). So a changed
  // non-empty mac_in_use on a tunnel row whose type and mac did not change is a restart; so is a changed
  // non-zero ifindex of an internal interface (its device was recreated, e.g. after `--cleanup`). Port
  // add/delete never produce either: a new row goes from empty to a value, a deleted row just disappears.
  // mac_in_use and ifindex are ephemeral columns: an ovsdb-server restart empties them until ovs-vswitchd
  // rewrites the same values, hence the comparison with the last non-empty value.
  // Limitation: a bridge with no tunnel port whose taps survive shows no trace of a restart in OVSDB.

  private ensureWatch(): void {
    if (this.watch || this.watchStarting || this.stopped) return;
    this.watchStarting = this.startWatch()
      .catch((err: unknown) => {
        this.logger.warn('cannot watch OVSDB for ovs-vswitchd restarts yet; retrying on reconnect', {
          error: err,
        });
        if (!this.retryWatchOnConnect) {
          this.retryWatchOnConnect = true;
          this.client.once('connected', () => {
            this.retryWatchOnConnect = false;
            this.ensureWatch();
          });
        }
      })
      .finally(() => {
        this.watchStarting = undefined;
      });
  }

  private async startWatch(): Promise<void> {
    const handle = await this.client.monitor(
      DB,
      {
        Bridge: { columns: ['name', 'ports'] },
        Port: { columns: ['name', 'interfaces'] },
        Interface: { columns: ['name', 'type', 'mac', 'mac_in_use', 'ifindex', 'ofport', 'error'] },
      },
      (update, info) => this.onWatchUpdate(update, info),
    );
    if (this.stopped) {
      await handle.cancel();
      return;
    }
    this.watch = handle;
    this.onWatchUpdate(handle.initial, { resync: true }, false);
  }

  private onWatchUpdate(update: TableUpdates, info: MonitorUpdateInfo, detect = true): void {
    if (info.resync) {
      this.bridges.clear();
      this.portInterfaces.clear();
    }
    for (const [id, change] of Object.entries(update.Bridge ?? {})) {
      if (change.new)
        this.bridges.set(id, { name: String(change.new.name), ports: uuidsOf(change.new.ports) });
      else this.bridges.delete(id);
    }
    for (const [id, change] of Object.entries(update.Port ?? {})) {
      if (change.new) this.portInterfaces.set(id, uuidsOf(change.new.interfaces));
      else this.portInterfaces.delete(id);
    }
    const reasons: string[] = [];
    const seen = new Set<string>();
    for (const [id, change] of Object.entries(update.Interface ?? {})) {
      seen.add(id);
      const previous = this.interfaces.get(id);
      if (!change.new) {
        this.interfaces.delete(id);
        continue;
      }
      const next = readWatchedInterface(change.new, previous);
      if (previous) {
        const reconfigured =
          previous.type !== next.type || previous.mac !== next.mac || previous.name !== next.name;
        const changed = netdevChanged(previous, change.new);
        if (reconfigured) {
          // The rebuild may already be visible (a resync after an outage) or still to come.
          next.expectRebuild = !changed;
        } else if (previous.expectRebuild) {
          next.expectRebuild = !changed;
        } else if (detect) {
          const signal = restartSignal(previous, change.new);
          if (signal) reasons.push(`${next.name}: ${signal}`);
        }
      }
      this.interfaces.set(id, next);
    }
    if (info.resync) {
      for (const id of [...this.interfaces.keys()]) if (!seen.has(id)) this.interfaces.delete(id);
    }
    if (reasons.length > 0) this.noteRestartSignal(reasons);
    else if (this.pendingRestart?.waitingForPorts && this.bridgePortsReady()) this.fireRestart();
  }

  private noteRestartSignal(reasons: string[]): void {
    const pending = (this.pendingRestart ??= {
      reasons: [],
      settleTimer: undefined,
      portsTimer: undefined,
      waitingForPorts: false,
    });
    pending.reasons.push(...reasons);
    clearTimeout(pending.settleTimer);
    pending.settleTimer = setTimeout(() => this.onRestartSettled(), this.restartSettleMs);
  }

  private onRestartSettled(): void {
    const pending = this.pendingRestart;
    if (!pending) return;
    pending.settleTimer = undefined;
    if (this.bridgePortsReady()) {
      this.fireRestart();
      return;
    }
    pending.waitingForPorts = true;
    pending.portsTimer ??= setTimeout(() => {
      this.logger.warn('ports still lack an ofport after an ovs-vswitchd restart; notifying anyway', {
        bridge: this.bridgeName,
      });
      this.fireRestart();
    }, this.restartPortsTimeoutMs);
  }

  /** Every interface of our bridge has an ofport, or an error that no waiting will fix. */
  private bridgePortsReady(): boolean {
    const bridge = [...this.bridges.values()].find((b) => b.name === this.bridgeName);
    if (!bridge) return true;
    for (const portId of bridge.ports) {
      for (const interfaceId of this.portInterfaces.get(portId) ?? []) {
        const iface = this.interfaces.get(interfaceId);
        if (iface && iface.error === undefined && iface.ofport === undefined) return false;
      }
    }
    return true;
  }

  private fireRestart(): void {
    const pending = this.pendingRestart;
    if (!pending) return;
    this.clearPendingRestart();
    this.logger.warn('ovs-vswitchd restart detected', { bridge: this.bridgeName, signals: pending.reasons });
    for (const cb of [...this.restartCallbacks]) {
      try {
        cb();
      } catch (err) {
        this.logger.error('ovs-vswitchd restart callback failed', { error: err });
      }
    }
  }

  private clearPendingRestart(): void {
    if (!this.pendingRestart) return;
    clearTimeout(this.pendingRestart.settleTimer);
    clearTimeout(this.pendingRestart.portsTimer);
    this.pendingRestart = undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------

function readWatchedInterface(row: OvsdbRow, previous: WatchedInterface | undefined): WatchedInterface {
  const ofport = fromOvsdbOptional(row.ofport);
  const error = fromOvsdbOptional(row.error);
  const mac = fromOvsdbOptional(row.mac);
  return {
    name: String(row.name),
    type: String(row.type ?? ''),
    mac: typeof mac === 'string' ? mac : undefined,
    lastMacInUse: macInUseOf(row) ?? previous?.lastMacInUse,
    lastIfindex: ifindexOf(row) ?? previous?.lastIfindex,
    expectRebuild: false,
    ofport: typeof ofport === 'number' ? ofport : undefined,
    error: typeof error === 'string' ? error : undefined,
  };
}

/** The row shows a netdev other than the one last seen (any type). */
function netdevChanged(previous: WatchedInterface, row: OvsdbRow): boolean {
  const macInUse = macInUseOf(row);
  const ifindex = ifindexOf(row);
  return (
    (macInUse !== undefined && macInUse !== previous.lastMacInUse) ||
    (ifindex !== undefined && ifindex !== previous.lastIfindex)
  );
}

/** The row shows that a new ovs-vswitchd process constructed its netdev, if it does. */
function restartSignal(previous: WatchedInterface, row: OvsdbRow): string | undefined {
  const type = String(row.type ?? '');
  const macInUse = macInUseOf(row);
  if (VPORT_TYPES.has(type) && macInUse && previous.lastMacInUse && macInUse !== previous.lastMacInUse) {
    return `${type} mac_in_use ${previous.lastMacInUse} -> ${macInUse}`;
  }
  const ifindex = ifindexOf(row);
  if (type === 'internal' && ifindex && previous.lastIfindex && ifindex !== previous.lastIfindex) {
    return `internal ifindex ${previous.lastIfindex} -> ${ifindex}`;
  }
  return undefined;
}

function macInUseOf(row: OvsdbRow): string | undefined {
  const value = fromOvsdbOptional(row.mac_in_use);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function ifindexOf(row: OvsdbRow): number | undefined {
  const value = fromOvsdbOptional(row.ifindex);
  return typeof value === 'number' && value > 0 ? value : undefined;
}

function interfaceChanges(iface: OvsdbRow, opts: EnsurePortOptions): OvsdbRow {
  const row: OvsdbRow = {};
  if (opts.type !== undefined && iface.type !== opts.type) row.type = opts.type;
  if (opts.options && !sameRecord(fromOvsdbMap(iface.options), opts.options))
    row.options = toOvsdbMap(opts.options);
  if (opts.ofportRequest !== undefined && fromOvsdbOptional(iface.ofport_request) !== opts.ofportRequest) {
    row.ofport_request = opts.ofportRequest;
  }
  if (opts.mtuRequest !== undefined && fromOvsdbOptional(iface.mtu_request) !== opts.mtuRequest) {
    row.mtu_request = opts.mtuRequest;
  }
  return row;
}

function toPortInfo(port: OvsdbRow, iface: OvsdbRow): PortInfo {
  const ofport = fromOvsdbOptional(iface.ofport);
  const mac = macInUseOf(iface);
  const info: PortInfo = {
    name: String(port.name ?? iface.name),
    portUuid: requiredUuid(port._uuid),
    interfaceUuid: requiredUuid(iface._uuid),
    ofport: typeof ofport === 'number' ? ofport : -1,
    type: String(iface.type ?? ''),
    externalIds: fromOvsdbMap(port.external_ids),
  };
  if (mac) info.mac = mac;
  return info;
}

function rowsOf(result: unknown): OvsdbRow[] {
  return (result as OvsdbSelectResult | undefined)?.rows ?? [];
}

function countOf(result: unknown): number {
  return (result as OvsdbCountResult | undefined)?.count ?? 0;
}

function uuidsOf(value: unknown): string[] {
  return fromOvsdbSet(value)
    .map(uuidOf)
    .filter((id): id is string => id !== undefined);
}

function requiredUuid(value: unknown): string {
  const id = uuidOf(value);
  if (id === undefined) throw new Error(`expected an OVSDB uuid, got ${JSON.stringify(value)}`);
  return id;
}

function validOfport(value: unknown): boolean {
  const ofport = fromOvsdbOptional(value);
  return typeof ofport === 'number' && ofport > 0;
}

function errorOf(row: OvsdbRow): string | undefined {
  const error = fromOvsdbOptional(row.error);
  return typeof error === 'string' && error !== '' ? error : undefined;
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

function sameStrings(a: string[], b: string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function isLostRace(err: unknown): boolean {
  if (err instanceof LostRace) return true;
  // Our `wait` guards use timeout 0: "timed out" means the row they guard against appeared.
  return (
    err instanceof OvsdbTransactionError &&
    err.error === 'timed out' &&
    (err.operation as { op?: unknown } | undefined)?.op === 'wait'
  );
}
