// Node-RED's settings object, built from the firmware's configuration (there is no settings.js on the appliance).
// What an appliance needs differs from a desktop install: the firmware owns the HTTP server, authentication is
// always on and uses the appliance account, nothing is ever installed from npm (no internet, read-mostly
// image), there is no telemetry, and Node-RED logs through the firmware's JSON logger.
import type { LogFields, Logger } from '../../core/logger';
import type { HttpHandler } from '../../http/management-server';
import type { NodeRedAdminAuth, WebSocketClientVerifier } from './appliance-auth';

/** Where the editor and admin API live on the management server. */
export const NODE_RED_ADMIN_ROOT = '/red';
/** Where flows' HTTP endpoints (http-in nodes) live. */
export const NODE_RED_NODE_ROOT = '/api';

export interface NodeRedSettingsInput {
  userDir: string;
  credentialSecret: string;
  adminAuth: NodeRedAdminAuth;
  webSocketNodeVerifyClient: WebSocketClientVerifier;
  /** The palette module's directory (a Node-RED module: package.json with `node-red.nodes`), when built. */
  paletteDir?: string;
  /** `RED.settings.antreaEdge` for the palette nodes. */
  services?: unknown;
  logger: Logger;
}

/** A Node-RED log record as its logging handlers receive it. */
export interface NodeRedLogRecord {
  level: number;
  msg?: unknown;
  type?: string;
  id?: string;
  name?: string;
  z?: string;
  event?: string;
  [field: string]: unknown;
}

/** Node-RED's numeric levels (@node-red/util log.js). */
const NODE_RED_LEVELS = {
  fatal: 10,
  error: 20,
  warn: 30,
  info: 40,
  debug: 50,
  trace: 60,
  audit: 98,
  metric: 99,
};

/** The settings passed to RED.init. Kept loose: Node-RED reads many optional keys and adds its own. */
export type NodeRedSettings = Record<string, unknown> & {
  userDir: string;
  httpAdminRoot: string;
  httpNodeRoot: string;
  adminAuth: NodeRedAdminAuth;
};

export function buildNodeRedSettings(input: NodeRedSettingsInput): NodeRedSettings {
  return {
    userDir: input.userDir,
    flowFile: 'flows.json',
    flowFilePretty: true,
    credentialSecret: input.credentialSecret,
    httpAdminRoot: NODE_RED_ADMIN_ROOT,
    httpNodeRoot: NODE_RED_NODE_ROOT,
    // Auth is checked by the firmware's wrapper of httpNode (basic auth), so the nodes add no middleware;
    // websocket-in nodes are reached through the server's upgrade event instead and check here.
    webSocketNodeVerifyClient: input.webSocketNodeVerifyClient,
    adminAuth: input.adminAuth,
    // Loaded as a module (not loose node files) so that its examples/ appear in Import > Examples.
    ...(input.paletteDir === undefined ? {} : { nodesDir: [input.paletteDir] }),
    externalModules: {
      autoInstall: false,
      palette: { allowInstall: false, allowUpload: false, allowUpdate: false },
      modules: { allowInstall: false },
    },
    functionExternalModules: false,
    telemetry: { enabled: false, updateNotification: false },
    runtimeState: { enabled: false, ui: false },
    exportGlobalContextKeys: false,
    editorTheme: {
      page: { title: 'antrea-edge' },
      header: { title: 'antrea-edge' },
      projects: { enabled: false },
      palette: { catalogues: [] },
      tours: false,
    },
    logging: {
      antreaEdge: {
        level: 'debug',
        audit: true,
        metrics: false,
        handler: () => (record: NodeRedLogRecord) => logNodeRedRecord(input.logger, record),
      },
    },
    antreaEdge: input.services,
  };
}

/** One Node-RED log record as a JSON log line of ours (component node-red). */
export function logNodeRedRecord(logger: Logger, record: NodeRedLogRecord): void {
  if (record.level === NODE_RED_LEVELS.metric) return;
  if (record.level === NODE_RED_LEVELS.audit) {
    // Audit records are the admin API's requests; failures (logins, permissions) matter, the rest is detail.
    const event = typeof record.event === 'string' ? record.event : 'unknown';
    const fields: LogFields = { event };
    for (const key of ['user', 'username', 'path', 'ip', 'error']) {
      const value = record[key];
      if (typeof value === 'string') fields[key] = value;
    }
    if (/fail|unauthori[sz]ed|denied/i.test(event) || fields['error'] !== undefined) {
      logger.warn('node-red audit', fields);
    } else {
      logger.debug('node-red audit', fields);
    }
    return;
  }
  const text = messageText(record.msg);
  if (text === '') return;
  const fields: LogFields = {};
  if (record.type !== undefined) fields['nodeType'] = record.type;
  if (record.id !== undefined) fields['nodeId'] = record.id;
  if (record.name !== undefined && record.name !== '') fields['nodeName'] = record.name;
  if (record.z !== undefined) fields['flowId'] = record.z;
  const args: [string, LogFields?] = Object.keys(fields).length > 0 ? [text, fields] : [text];
  if (record.level <= NODE_RED_LEVELS.error) logger.error(...args);
  else if (record.level <= NODE_RED_LEVELS.warn) logger.warn(...args);
  else if (record.level <= NODE_RED_LEVELS.info) logger.info(...args);
  else logger.debug(...args);
}

/** Node-RED logs strings (some multi-line banners), Errors and objects: one line of text for each. */
function messageText(message: unknown): string {
  let text: string;
  if (typeof message === 'string') text = message;
  else if (message instanceof Error) text = message.message;
  else if (message === undefined || message === null) text = '';
  else {
    try {
      text = JSON.stringify(message);
    } catch {
      text = '(a log message that cannot be shown)';
    }
  }
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^[-=*]+$/.test(line))
    .join(' ');
}

/** The shape of the module `require('node-red')` returns, as far as the host uses it. */
export interface NodeRedRuntime {
  init(server: import('node:http').Server, settings: NodeRedSettings): void;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  readonly httpAdmin: HttpHandler;
  readonly httpNode: HttpHandler;
}
