#!/usr/bin/env node
// Composition root: parse options, build every object, start them in order, stop them in reverse.
// Nothing else in the firmware constructs an adapter.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  buildConfig,
  ConfigError,
  OPTION_HELP,
  parseOptions,
  validateBoardProfile,
  type FirmwareConfig,
} from './core/config';
import { formatIpv4, gatewayIpOf, parseCidr } from './core/ipam/ipv4';
import type { Logger, LogLevel } from './core/logger';
import { JsonLogger } from './log/json-logger';
import { openStore, type StoreDatabase } from './store/database';
import { IpAllocationRepository, PodRepository } from './store/pod-repository';
import { NamespaceRepository, PolicyObjectRepository } from './store/policy-repository';
import { OvsdbClient } from './ovs/ovsdb/ovsdb-client';
import { OvsBridge } from './ovs/ovs-bridge';
import { FlowWriter } from './ovs/flow-writer';
import { PodNetwork, hostInterfaceName } from './cni/pod-network';
import { CniServer } from './cni/cni-server';
import { GatewayLink } from './cni/gateway-link';
import { LocalApiServer } from './http/local-api';
import { FlowReconciler } from './agent/flow-reconciler';
import { PodLifecycle } from './agent/pod-lifecycle';
import { Agent, TUNNEL_OFPORT } from './agent/agent';
import type { NodeNetwork } from './core/pipeline/pipeline-flows';
import { AgentQueryService, RevalidatorWait } from './agent/agent-queries';
import { BridgeAdapter } from './agent/bridge-adapter';
import { PolicyService } from './agent/policy-service';
import { enforcementResyncHook, PolicyEnforcer, type ConjunctionIdStore } from './agent/policy-enforcer';
import { RejectResponder } from './agent/reject-responder';
import { AuditLogger, RotatingLogFile, npLogPath } from './agent/audit-log';
import { AuditLogRepository } from './store/audit-repository';
import { OpenFlowChannel } from './ovs/openflow-channel';
import { OvsMeters } from './ovs/meters';
import { packetInMeter } from './core/pipeline/controller-userdata';
import type { LocalPodPorts } from './core/pipeline/rule-flows';
import {
  ConsoleSession,
  DEFAULT_CONSOLE_USER,
  LoginBackoff,
  type ConsoleBackend,
} from './core/console/session';
import { SerialConsole } from './console/serial-console';
import { PasswordAccounts } from './console/password-accounts';
import { LocalHostFacts } from './console/host-facts';
import { SimulatedPowerControl, SystemPowerControl } from './console/power-control';
import { nodeConsoleTimers } from './console/console-timers';
import { UserRepository } from './store/user-repository';

/** This agent's OpenFlow connection id: Reject flows send packet-ins to it alone. */
export const AGENT_CONTROLLER_ID = 0xae01;

export const FIRMWARE_VERSION = '0.1.0';

interface Stoppable {
  stop(): Promise<void> | void;
}

export class Firmware {
  private readonly stoppers: Stoppable[] = [];

  constructor(
    private readonly config: FirmwareConfig,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const { config, logger } = this;
    fs.mkdirSync(config.runDir, { recursive: true });
    const db: StoreDatabase = openStore(path.join(config.dataDir, 'antrea-edge.db'));
    this.stoppers.push({
      stop: () => {
        db.close();
      },
    });

    const ovsdb = new OvsdbClient({
      socketPath: config.ovsdbSocket,
      logger: logger.child({ component: 'ovsdb' }),
    });
    await ovsdb.start();
    this.stoppers.push(ovsdb);
    const bridge = new OvsBridge(ovsdb, config.bridgeName, logger.child({ component: 'bridge' }));
    await bridge.start();
    this.stoppers.push(bridge);
    const flowWriter = new FlowWriter({
      bridge: config.bridgeName,
      env: { ...process.env, OVS_RUNDIR: config.ovsRunDir },
      logger: logger.child({ component: 'flow-writer' }),
    });
    const flows = new FlowReconciler(flowWriter, logger.child({ component: 'flows' }));
    const podRepo = new PodRepository(db);
    // Standalone mode: policies, namespaces and pods come from the store; CNI events and the local API keep the
    // controller current. Loaded before any pod can be added, so no event is missed.
    const policies = new PolicyService({
      nodeName: config.nodeName,
      pods: podRepo,
      namespaces: new NamespaceRepository(db),
      objects: new PolicyObjectRepository(db),
      logger: logger.child({ component: 'policy' }),
    });
    policies.start();
    this.stoppers.push(policies);
    const podSubnet = parseCidr(config.podCidr);
    const gatewayIpCidr = `${formatIpv4(gatewayIpOf(podSubnet))}/${podSubnet.prefix}`;
    const gateway = new GatewayLink({ name: config.gatewayName, ipCidr: gatewayIpCidr, mtu: config.mtu });
    const bridgeAdapter = new BridgeAdapter(ovsdb, bridge);
    const ovsEnv = { ...process.env, OVS_RUNDIR: config.ovsRunDir };
    // Reject: packet-ins arrive on our own connection to the bridge's management socket, behind a meter.
    const openflow = new OpenFlowChannel({
      socketPath: path.join(config.ovsRunDir, `${config.bridgeName}.mgmt`),
      controllerId: AGENT_CONTROLLER_ID,
      logger: logger.child({ component: 'openflow' }),
    });
    openflow.start();
    this.stoppers.push(openflow);
    const rejects = new RejectResponder({
      channel: openflow,
      logger,
      unroutablePorts: [TUNNEL_OFPORT],
    });
    rejects.start();
    this.stoppers.push(rejects);
    const meter = packetInMeter();
    const meters = new OvsMeters({
      bridge: config.bridgeName,
      env: ovsEnv,
      logger: logger.child({ component: 'meters' }),
    });
    const localPods = (): LocalPodPorts => {
      const ports = new Map<string, { ofport: number; ip: string }>();
      for (const pod of podRepo.list()) {
        const ofport = pods.ofportOf(pod.containerId);
        if (ofport !== undefined) ports.set(`${pod.namespace}/${pod.name}`, { ofport, ip: pod.ip });
      }
      return ports;
    };
    const enforcer = new PolicyEnforcer({
      nodeName: config.nodeName,
      policies,
      localPods,
      flows,
      logger: logger.child({ component: 'enforcer' }),
      packetIn: {
        controllerId: AGENT_CONTROLLER_ID,
        meterId: meter.meterId,
        auditDefaultDrops: config.policy.auditDefaultDrops,
      },
      conjunctionIds: new JsonConjunctionIdFile(path.join(config.dataDir, 'policy-conjunction-ids.json')),
    });
    // Audit logging (enableLogging, and default drops when configured): packet-ins on the same OpenFlow channel
    // become np.log lines and audit_log rows; stopped before the database closes, so pending entries are kept.
    const auditLog = new AuditLogRepository(db);
    const audit = new AuditLogger({
      channel: openflow,
      rules: enforcer,
      localPods,
      file: new RotatingLogFile({ file: npLogPath(config.dataDir) }),
      store: auditLog,
      logger,
    });
    audit.start();
    this.stoppers.push(audit);
    const pods = new PodLifecycle({
      podSubnet,
      mtu: config.mtu,
      // The node's network is known once the agent has set up the bridge; pods are added only after that.
      node: (): NodeNetwork => agent.node(),
      hostInterfaceName,
      ports: bridgeAdapter,
      plumbing: new PodNetwork({ logger: logger.child({ component: 'pod-network' }) }),
      pods: podRepo,
      ips: new IpAllocationRepository(db),
      flows,
      logger: logger.child({ component: 'pods' }),
      // The controller learns the pod first (group membership), then the enforcer recomputes with its port.
      events: {
        podAdded: (pod) => {
          policies.podAdded(pod);
          enforcer.podsChanged();
        },
        podRemoved: (pod) => {
          policies.podRemoved(pod);
          enforcer.podsChanged();
        },
      },
    });
    const agent: Agent = new Agent({
      config,
      logger: logger.child({ component: 'agent' }),
      bridge: bridgeAdapter,
      gateway,
      flows,
      pods,
      resyncHooks: [enforcementResyncHook({ enforcer, meters, meter })],
    });
    await agent.start();
    this.stoppers.push(agent);
    this.stoppers.push(enforcer);

    const cni = new CniServer({
      socketPath: config.cniSocket,
      handler: pods,
      logger: logger.child({ component: 'cni' }),
    });
    await cni.start();
    this.stoppers.push(cni);

    const queries = new AgentQueryService({
      config,
      version: FIRMWARE_VERSION,
      agent,
      pods: podRepo,
      lifecycle: pods,
      policies,
      bridge: bridgeAdapter,
      flowWriter,
      realization: enforcer,
      openflow,
      policyFlows: enforcer,
      flowCounters: new RevalidatorWait({ ovsRunDir: config.ovsRunDir, env: ovsEnv }),
    });
    const api = new LocalApiServer({
      socketPath: config.antctlSocket,
      queries,
      commands: queries,
      policies: queries,
      stats: queries,
      auditLog,
      logger: logger.child({ component: 'local-api' }),
    });
    await api.start();
    this.stoppers.push(api);
    // Last: the console never delays enforcement, and a missing device only means retries.
    if (config.console.device !== undefined) this.startConsole(config.console.device, db, podRepo, queries);
    logger.info('antrea-edge ready', {
      version: FIRMWARE_VERSION,
      mode: config.mode,
      board: config.board.name,
      cniSocket: config.cniSocket,
      antctlSocket: config.antctlSocket,
    });
  }

  private startConsole(
    device: string,
    db: StoreDatabase,
    pods: PodRepository,
    backend: ConsoleBackend,
  ): void {
    const { config } = this;
    const logger = this.logger.child({ component: 'console' });
    const accounts = new PasswordAccounts({
      users: new UserRepository(db),
      accountNames: [DEFAULT_CONSOLE_USER],
      logger,
    });
    const power =
      config.board.name === 'sim' ? new SimulatedPowerControl(logger) : new SystemPowerControl(logger);
    const host = new LocalHostFacts();
    const backoff = new LoginBackoff();
    const serial = new SerialConsole({
      device,
      baudRate: config.console.baudRate,
      logger,
      createSession: (write) =>
        new ConsoleSession({
          write,
          backend,
          labels: { podLabels: (namespace, name) => Promise.resolve(pods.byName(namespace, name)?.labels) },
          accounts,
          power,
          host,
          board: config.board,
          firmwareVersion: FIRMWARE_VERSION,
          timers: nodeConsoleTimers,
          logger,
          backoff,
        }),
    });
    serial.start();
    this.stoppers.push(serial);
  }

  async stop(): Promise<void> {
    for (const s of this.stoppers.reverse()) {
      try {
        await s.stop();
      } catch (err) {
        this.logger.warn('stop failed', { error: err });
      }
    }
  }
}

/** The enforcer's conjunction ids in a small JSON file next to the database, replaced atomically. */
class JsonConjunctionIdFile implements ConjunctionIdStore {
  constructor(private readonly file: string) {}

  load(): ReadonlyMap<string, number> {
    if (!fs.existsSync(this.file)) return new Map();
    const parsed = JSON.parse(fs.readFileSync(this.file, 'utf8')) as { version?: number; ids?: unknown };
    if (parsed.version !== 1 || typeof parsed.ids !== 'object' || parsed.ids === null) return new Map();
    return new Map(
      Object.entries(parsed.ids as Record<string, unknown>).filter((entry): entry is [string, number] =>
        Number.isInteger(entry[1]),
      ),
    );
  }

  save(ids: ReadonlyMap<string, number>): void {
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ version: 1, ids: Object.fromEntries(ids) }));
    fs.renameSync(tmp, this.file);
  }
}

function loadBoard(name: string): FirmwareConfig['board'] {
  const candidates = [
    path.resolve(__dirname, '..', 'board', name, 'profile.json'),
    path.resolve(__dirname, '..', '..', 'board', name, 'profile.json'),
    path.join('/etc/antrea-edge/board', name, 'profile.json'),
  ];
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) throw new ConfigError(`unknown board "${name}": no profile.json in ${candidates.join(', ')}`);
  return validateBoardProfile(JSON.parse(fs.readFileSync(file, 'utf8')), file);
}

async function main(argv: string[]): Promise<number> {
  let config: FirmwareConfig;
  try {
    const options = parseOptions(argv);
    if (options === 'help') {
      process.stdout.write(OPTION_HELP);
      return 0;
    }
    config = buildConfig(options, loadBoard(options.get('--board') ?? 'sim'), os.hostname());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`antrea-edge: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const level: { current: LogLevel } = { current: config.logLevel };
  const logger = new JsonLogger(process.stdout, level, { component: 'main' });
  const firmware = new Firmware(config, logger);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    firmware.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    await firmware.start();
  } catch (err) {
    logger.error('start-up failed', { error: err });
    await firmware.stop();
    return 1;
  }
  return -1; // keep running
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (err: unknown) => {
      process.stderr.write(
        `antrea-edge: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
