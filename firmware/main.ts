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
  type HttpListen,
} from './core/config';
import { formatIpv4, gatewayIpOf, parseCidr } from './core/ipam/ipv4';
import type { Logger, LogLevel } from './core/logger';
import { JsonLogger, RecentLogSink, RuntimeLogLevel } from './log/json-logger';
import { openStore, schemaVersion, type StoreDatabase } from './store/database';
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
import { NodeRoutes } from './agent/node-routes';
import { peersFromNodes } from './core/pipeline/node-route-flows';
import { IpRouteTable, OvsUnderlayWarmUp } from './agent/node-routes-host';
import type { NodeNetwork } from './core/pipeline/pipeline-flows';
import { TraceflowService, type TraceflowPod } from './agent/traceflow';
import { OfprotoTracer } from './agent/traceflow-ofproto';
import { AgentQueryService, RevalidatorWait } from './agent/agent-queries';
import { BridgeAdapter } from './agent/bridge-adapter';
import { PolicyService } from './agent/policy-service';
import { clusterModeStores, createClusterMode, type ClusterMode } from './k8s/cluster-mode';
import { AgentInfoHeartbeat } from './k8s/agentinfo/agent-info-heartbeat';
import { resolveOwnPodCidr } from './k8s/own-node';
import { KubeRestClient } from './k8s/kube-rest';
import { loadKubeConfig } from './k8s/kubeconfig';
import { K8sObjectRepository } from './store/k8s-object-repository';
import { KubeAgentInfoApi } from './k8s/agentinfo/agent-info-api';
import { enforcementResyncHook, PolicyEnforcer, type ConjunctionIdStore } from './agent/policy-enforcer';
import { RejectResponder } from './agent/reject-responder';
import { AuditLogger, RotatingLogFile, npLogPath } from './agent/audit-log';
import { AuditLogRepository } from './store/audit-repository';
import { OpenFlowChannel } from './ovs/openflow-channel';
import { OpenFlowFlowWriter } from './ovs/openflow-flow-writer';
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
import { Registry } from 'prom-client';
import {
  healthzHandler,
  HttpRouter,
  ManagementServer,
  metricsHandler,
  readyzHandler,
} from './http/management-server';
import { Readiness } from './observability/readiness';
import { FirmwareMetrics } from './observability/firmware-metrics';
import { firmwareLogSource, SupportBundle } from './observability/support-bundle';
import { NodeRedHost } from './nodered/host/node-red-host';
import { createPaletteServices } from './nodered/palette/firmware-services';
import { SettingsRepository } from './store/settings-repository';
import { SdNotify, SystemdNotifyCommand } from './system/sd-notify';

/** This agent's OpenFlow connection id: Reject flows send packet-ins to it alone. */
export const AGENT_CONTROLLER_ID = 0xae01;

export const FIRMWARE_VERSION = '0.1.0';

/** How long start-up waits for this Node's object (its Pod subnet) before using the stored copy. */
const OWN_NODE_TIMEOUT_MS = 5000;

interface Stoppable {
  stop(): Promise<void> | void;
}

/** What main() shares with the Firmware for observability; absent parts are simply not offered. */
export interface FirmwareObservability {
  /** The level every logger follows; `antctl log-level` changes it. */
  logLevel?: RuntimeLogLevel;
  /** The newest log lines, for support bundles when stdout is no file. */
  recentLog?: { text(): string };
}

/** Paths the management server serves; Node-RED mounts its own prefixes on the same router. */
export const MANAGEMENT_PATHS = { metrics: '/metrics', healthz: '/healthz', readyz: '/readyz' } as const;

export class Firmware {
  private readonly stoppers: Stoppable[] = [];
  private startupDone = false;
  /** Prometheus metrics of this firmware only (never prom-client's global registry). */
  readonly metricsRegistry = new Registry();
  readonly readiness = new Readiness();
  /** The management server's routes; mount more handlers before start() returns. */
  readonly httpRouter = new HttpRouter();
  private managementServer: ManagementServer | undefined;
  private nodeRed: NodeRedHost | undefined;

  constructor(
    private readonly config: FirmwareConfig,
    private readonly logger: Logger,
    private readonly observability: FirmwareObservability = {},
  ) {}

  /** Where the management server listens, once started; undefined when it is off. */
  managementAddress(): { host: string; port: number } | undefined {
    return this.managementServer?.address();
  }

  async start(): Promise<void> {
    const { logger } = this;
    let config = this.config;
    fs.mkdirSync(config.runDir, { recursive: true });
    // First, so /healthz answers and /readyz explains what is missing during a long start-up.
    await this.startManagementServer();
    const db: StoreDatabase = openStore(path.join(config.dataDir, 'antrea-edge.db'));
    this.stoppers.push({
      stop: () => {
        db.close();
      },
    });
    if (config.mode === 'cluster') {
      // The Pod subnet Kubernetes assigned to this Node, before the gateway and IPAM use one.
      const { podCidr } = await resolveOwnPodCidr({
        nodeName: config.nodeName,
        configured: config.podCidr,
        api: new KubeRestClient(
          loadKubeConfig(config.kubeconfig === undefined ? {} : { explicitPath: config.kubeconfig })
            .kubeConfig,
          OWN_NODE_TIMEOUT_MS,
        ),
        store: new K8sObjectRepository(db),
        logger: logger.child({ component: 'k8s' }),
      });
      config = { ...config, podCidr };
    }

    const ovsdb = new OvsdbClient({
      socketPath: config.ovsdbSocket,
      logger: logger.child({ component: 'ovsdb' }),
    });
    this.readiness.add('ovsdb', () => (ovsdb.isConnected() ? undefined : 'OVSDB connection is down'));
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
    // Flow changes go as ONF bundles over an OpenFlow 1.3 connection of our own (issue #4: no ovs-ofctl process
    // per change); ovs-ofctl remains the fallback (not connected, a flow the encoder does not know) and does dumps.
    const flowChannel = new OpenFlowChannel({
      socketPath: path.join(config.ovsRunDir, `${config.bridgeName}.mgmt`),
      version: 'OpenFlow13',
      logger: logger.child({ component: 'openflow-flows' }),
    });
    flowChannel.start();
    this.stoppers.push(flowChannel);
    const bundleWriter = new OpenFlowFlowWriter({ channel: flowChannel, fallback: flowWriter, logger });
    const flows = new FlowReconciler(bundleWriter, logger.child({ component: 'flows' }));
    const podRepo = new PodRepository(db);
    // Standalone mode: policies, namespaces and pods come from the store; CNI events and the local API keep the
    // controller current. Loaded before any pod can be added, so no event is missed.
    // Cluster mode: the Kubernetes API is the source (firmware/k8s); the service's own stores stay empty and the
    // last known API objects are loaded from their SQLite copy before the agent enforces anything (fail closed).
    const policies = new PolicyService({
      nodeName: config.nodeName,
      ...(config.mode === 'cluster'
        ? clusterModeStores()
        : {
            pods: podRepo,
            namespaces: new NamespaceRepository(db),
            objects: new PolicyObjectRepository(db),
          }),
      logger: logger.child({ component: 'policy' }),
    });
    policies.start();
    this.stoppers.push(policies);
    const cluster: ClusterMode | undefined =
      config.mode === 'cluster'
        ? createClusterMode({
            nodeName: config.nodeName,
            ...(config.kubeconfig === undefined ? {} : { kubeconfigPath: config.kubeconfig }),
            db,
            policies,
            localPods: podRepo,
            logger,
          })
        : undefined;
    if (cluster) {
      cluster.source.loadFromStore();
      this.stoppers.push(cluster.source);
      this.readiness.add('kubernetes', () => cluster.readinessProblem());
    }
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
    this.readiness.add('openflow', () =>
      openflow.isConnected ? undefined : `OpenFlow connection is ${openflow.state}`,
    );
    openflow.start();
    this.stoppers.push(openflow);
    const rejects = new RejectResponder({
      channel: openflow,
      logger,
      tunnelPort: TUNNEL_OFPORT,
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
    const revalidator = new RevalidatorWait({ ovsRunDir: config.ovsRunDir, env: ovsEnv });
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
      // "Realized" = enforced on the next packet: wait for a revalidator round after each policy bundle.
      datapathSync: () => revalidator.settle(),
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
          if (cluster) cluster.source.localPodAdded(pod);
          else policies.podAdded(pod);
          enforcer.podsChanged();
        },
        podRemoved: (pod) => {
          if (cluster) cluster.source.localPodRemoved(pod);
          else policies.podRemoved(pod);
          enforcer.podsChanged();
        },
      },
    });
    // Peer nodes' subnets through the tunnel; `--peer-node` here, the Node watch in cluster mode (setPeers()).
    const nodeRoutes = new NodeRoutes({
      self: { name: config.nodeName, podCidr: config.podCidr, gatewayName: config.gatewayName },
      node: (): NodeNetwork => agent.node(),
      flows,
      routes: new IpRouteTable(),
      underlay: new OvsUnderlayWarmUp({ ovsRunDir: config.ovsRunDir, env: ovsEnv }),
      logger: logger.child({ component: 'node-routes' }),
      initialPeers: config.peerNodes,
    });
    nodeRoutes.start();
    if (cluster) {
      // Cluster mode: every Node of the API (its podCIDR and InternalIP) but this one is a peer.
      const followNodes = (): void => {
        const { peers, skipped } = peersFromNodes(cluster.source.nodes());
        if (skipped.length > 0) logger.warn('nodes without a usable podCIDR or InternalIP', { skipped });
        nodeRoutes.setPeers(peers).catch((error: unknown) => {
          logger.error('peer node routes not updated', { error });
        });
      };
      cluster.source.onNodesChanged(followNodes);
      followNodes();
    }
    const agent: Agent = new Agent({
      config,
      logger: logger.child({ component: 'agent' }),
      bridge: bridgeAdapter,
      gateway,
      flows,
      pods,
      resyncHooks: [enforcementResyncHook({ enforcer, meters, meter }), nodeRoutes],
    });
    this.readiness.add('agent', () => {
      const health = agent.health();
      if (health === 'Healthy') return undefined;
      return health === 'Starting'
        ? 'start-up resync not finished'
        : 'replay after an ovs-vswitchd restart failed';
    });
    await agent.start();
    this.stoppers.push(agent);
    this.stoppers.push(nodeRoutes);
    this.stoppers.push(enforcer);

    const cni = new CniServer({
      socketPath: config.cniSocket,
      handler: pods,
      logger: logger.child({ component: 'cni' }),
    });
    await cni.start();
    this.stoppers.push(cni);

    const traceflow = this.startTraceflow({
      openflow,
      flows,
      flowWriter,
      enforcer,
      podRepo,
      pods,
      agent,
      policies,
      ovsEnv,
    });

    const queries: AgentQueryService = new AgentQueryService({
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
      flowCounters: revalidator,
      ...(this.observability.logLevel ? { logLevel: this.logLevelControl(this.observability.logLevel) } : {}),
      supportBundle: { supportBundle: (request, progress) => supportBundle.collect(request, progress) },
      traceflow,
    });
    const users = new UserRepository(db);
    const supportBundle: SupportBundle = new SupportBundle({
      nodeName: config.nodeName,
      version: FIRMWARE_VERSION,
      defaultDir: path.join(config.dataDir, 'support-bundles'),
      queries,
      firmwareLog: firmwareLogSource(this.observability.recentLog),
      npLogFile: npLogPath(config.dataDir),
      bridgeName: config.bridgeName,
      ovsdbSocket: config.ovsdbSocket,
      ovsEnv,
      storeSchemaVersion: () => schemaVersion(db),
      boardProfile: config.board,
      config,
      secrets: () => [
        ...users.names().flatMap((name) => {
          const user = users.byName(name);
          return user === undefined ? [] : [user.passwordHash, user.salt];
        }),
        ...(this.nodeRed?.secrets() ?? []),
      ],
      metrics: () => this.metricsRegistry.metrics(),
      logger: logger.child({ component: 'support-bundle' }),
    });
    const metrics = new FirmwareMetrics({
      registry: this.metricsRegistry,
      logger: logger.child({ component: 'metrics' }),
      sources: {
        version: FIRMWARE_VERSION,
        localPods: () => podRepo.list().length,
        policyCounts: () => policies.counts(),
        flowsPerTable: () => flows.desiredFlowsPerTable(),
        ruleStats: queries,
        enforcer,
        ovsdb,
        openflow,
        audit,
      },
    });
    metrics.start();
    this.stoppers.push(metrics);
    // Cluster mode: applies, deletes and label changes (antctl, console, Node-RED) go to the API server.
    const agentApi = cluster ? cluster.withWrites(queries) : queries;
    const api = new LocalApiServer({
      socketPath: config.antctlSocket,
      queries,
      commands: agentApi,
      policies: agentApi,
      stats: queries,
      auditLog,
      logLevel: queries,
      supportBundle: queries,
      traceflow: queries,
      logger: logger.child({ component: 'local-api' }),
    });
    await api.start();
    this.stoppers.push(api);
    cluster?.source.start();
    if (cluster) {
      // AntreaAgentInfo every 60 s: the same object `antctl get agentinfo -o yaml` shows.
      const heartbeat = new AgentInfoHeartbeat({
        api: new KubeAgentInfoApi(cluster.kubeConfig),
        source: queries,
        logger: logger.child({ component: 'agentinfo' }),
      });
      void heartbeat.start();
      this.stoppers.push(heartbeat);
    }
    // Node-RED starts in the background: the editor never delays enforcement, and its failures stay its own.
    if (config.nodeRed.enabled && config.httpListen.kind !== 'none') {
      await this.startNodeRed(db, {
        api: agentApi,
        pods: podRepo,
        realizations: enforcer,
        audit,
        logger: logger.child({ component: 'palette' }),
      });
    }
    // Last: the console never delays enforcement, and a missing device only means retries.
    if (config.console.device !== undefined) this.startConsole(config.console.device, db, podRepo, agentApi);
    this.startupDone = true;
    logger.info('antrea-edge ready', {
      version: FIRMWARE_VERSION,
      mode: config.mode,
      board: config.board.name,
      cniSocket: config.cniSocket,
      antctlSocket: config.antctlSocket,
      managementAddress: this.managementAddress(),
    });
  }

  private async startManagementServer(): Promise<void> {
    const { config, logger } = this;
    this.readiness.add('startup', () => (this.startupDone ? undefined : 'firmware start-up not finished'));
    const router = this.httpRouter;
    const httpLogger = logger.child({ component: 'http' });
    router.mount(MANAGEMENT_PATHS.healthz, healthzHandler());
    router.mount(MANAGEMENT_PATHS.readyz, readyzHandler(this.readiness));
    router.mount(
      MANAGEMENT_PATHS.metrics,
      metricsHandler(
        { contentType: this.metricsRegistry.contentType, metrics: () => this.metricsRegistry.metrics() },
        httpLogger,
      ),
    );
    const address = resolveHttpListen(config.httpListen, httpLogger);
    if (address === undefined) return;
    const server = new ManagementServer({ ...address, router, logger: httpLogger });
    try {
      await server.start();
    } catch (error) {
      // Enforcement matters more than observability: a taken port must not keep the agent from starting.
      httpLogger.error('management server not started; no /metrics, /healthz or /readyz', { error });
      return;
    }
    this.managementServer = server;
    this.stoppers.push(server);
  }

  /** The run-time level, logging each change at the more verbose of the two levels so it is always seen. */
  private logLevelControl(level: RuntimeLogLevel): {
    readonly current: LogLevel;
    set(next: LogLevel): LogLevel;
  } {
    const logger = this.logger.child({ component: 'log-level' });
    const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
    return {
      get current() {
        return level.current;
      },
      set(next: LogLevel): LogLevel {
        const previous = level.current;
        if (order[next] <= order[previous]) {
          level.set(next);
          logger.warn('log level changed', { level: next, previous });
        } else {
          logger.warn('log level changed', { level: next, previous });
          level.set(next);
        }
        return previous;
      },
    };
  }

  /** Traceflow shares the agent's OpenFlow channel (packet-ins by userdata purpose) and its FlowReconciler. */
  private startTraceflow(deps: {
    openflow: OpenFlowChannel;
    flows: FlowReconciler;
    flowWriter: FlowWriter;
    enforcer: PolicyEnforcer;
    podRepo: PodRepository;
    pods: PodLifecycle;
    agent: Agent;
    policies: PolicyService;
    ovsEnv: NodeJS.ProcessEnv;
  }): TraceflowService {
    const { config } = this;
    const { podRepo, pods, policies } = deps;
    const attached = (): TraceflowPod[] =>
      podRepo.list().flatMap((pod) => {
        const ofport = pods.ofportOf(pod.containerId);
        return ofport === undefined
          ? []
          : [{ namespace: pod.namespace, name: pod.name, ip: pod.ip, mac: pod.mac, ofport }];
      });
    const tracer = new OfprotoTracer({
      ovsRunDir: config.ovsRunDir,
      bridge: config.bridgeName,
      env: deps.ovsEnv,
    });
    const traceflow = new TraceflowService({
      channel: deps.openflow,
      flows: deps.flows,
      installedFlows: deps.flowWriter,
      rules: deps.enforcer,
      pods: {
        pod: (namespace, name) => attached().find((p) => p.namespace === namespace && p.name === name),
        byOfport: (ofport) => attached().find((p) => p.ofport === ofport),
        byIp: (ip) => attached().find((p) => p.ip === ip),
      },
      node: () => deps.agent.node(),
      controllerId: AGENT_CONTROLLER_ID,
      logger: this.logger,
      ofprotoTrace: (flowText) => tracer.trace(flowText),
      isolatingPolicy: (query) => {
        try {
          const view = policies.evaluate(query);
          const rule = (query.direction === 'Out' ? view.egress : view.ingress).rule;
          if (rule?.action !== 'DefaultDeny') return undefined;
          const { type, namespace, name } = rule.policy;
          return namespace === undefined ? { type, name } : { type, namespace, name };
        } catch {
          return undefined;
        }
      },
    });
    traceflow.start();
    this.stoppers.push(traceflow);
    return traceflow;
  }

  /**
   * Node-RED on the management server with the palette's services; its admin account is the console's. Resolves
   * once the routes are mounted; Node-RED itself starts in the background and reports through /readyz.
   */
  private async startNodeRed(
    db: StoreDatabase,
    palette: Parameters<typeof createPaletteServices>[0],
  ): Promise<void> {
    const logger = this.logger.child({ component: 'node-red-host' });
    const host = new NodeRedHost({
      dataDir: this.config.dataDir,
      router: this.httpRouter,
      server: this.managementServer?.httpServer(),
      address: () => this.managementAddress(),
      accounts: new PasswordAccounts({
        users: new UserRepository(db),
        accountNames: [DEFAULT_CONSOLE_USER],
        logger,
      }),
      adminUser: DEFAULT_CONSOLE_USER,
      settings: new SettingsRepository(db),
      logger,
      paletteDir: firstExisting(['dist/nodered-palette', 'nodered-palette']),
      defaultFlowFile: firstExisting(['flows/policy-editor.json']),
      paletteServices: createPaletteServices(palette),
    });
    this.nodeRed = host;
    this.readiness.add('node-red', () => host.readinessProblem());
    await host.start();
    this.stoppers.push(host);
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
          bannerNotes: () => this.nodeRed?.bannerLines() ?? Promise.resolve([]),
        }),
    });
    serial.start();
    this.stoppers.push(serial);
  }

  async stop(): Promise<void> {
    this.startupDone = false;
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

/**
 * The address to listen on: as configured, or the IPv4 address of the management NIC now. A NIC without one
 * (not up yet) falls back to loopback with a warning rather than listening on every interface.
 */
function resolveHttpListen(listen: HttpListen, logger: Logger): { host: string; port: number } | undefined {
  switch (listen.kind) {
    case 'none':
      return undefined;
    case 'address':
      return { host: listen.host, port: listen.port };
    case 'interface': {
      const address = os.networkInterfaces()[listen.interface]?.find((a) => a.family === 'IPv4')?.address;
      if (address !== undefined) return { host: address, port: listen.port };
      logger.warn('management NIC has no IPv4 address; management server listens on loopback only', {
        interface: listen.interface,
      });
      return { host: '127.0.0.1', port: listen.port };
    }
  }
}

/**
 * The first of these repository-relative paths that exists, from the sources (firmware/) or the build
 * (dist/firmware/); undefined when none does.
 */
function firstExisting(relativePaths: readonly string[]): string | undefined {
  const roots = [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')];
  for (const relative of relativePaths) {
    for (const root of roots) {
      const candidate = path.join(root, relative);
      if (fs.existsSync(candidate)) return candidate;
    }
  }
  return undefined;
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

/** Log lines kept in memory for support bundles (when stdout is a pipe or journal, not a file). */
const RECENT_LOG_BYTES = 2 * 1024 * 1024;

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
  const level = new RuntimeLogLevel(config.logLevel);
  const recentLog = new RecentLogSink(process.stdout, RECENT_LOG_BYTES);
  const logger = new JsonLogger(recentLog, level, { component: 'main' });
  const firmware = new Firmware(config, logger, { logLevel: level, recentLog });
  // systemd (Type=notify, WatchdogSec=) on the appliance; does nothing elsewhere.
  const systemd = new SdNotify({
    env: process.env,
    pid: process.pid,
    transport: new SystemdNotifyCommand(),
    logger: logger.child({ component: 'sd-notify' }),
  });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    void systemd.stopping(`stopping (${signal})`);
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
  systemd.start();
  await systemd.ready(`enforcing (${config.mode}, board ${config.board.name})`);
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
