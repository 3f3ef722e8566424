// The little the palette's nodes share: the part of Node-RED's API they use (typed here: Node-RED ships no types),
// finding the services in `RED.settings.antreaEdge`, and the one translation of a PaletteError to a node status and
// a message a Catch node can read (`msg.error.code`, `msg.fieldErrors`).
import { PaletteError, type PaletteServices } from './services';

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export type NodeMessage = Record<string, unknown> & { payload?: unknown };

export interface NodeRedNode {
  readonly id: string;
  name?: string;
  on(
    event: 'input',
    listener: (msg: NodeMessage, send: (msg: NodeMessage) => void, done: (error?: Error) => void) => void,
  ): void;
  on(event: 'close', listener: (removed: boolean, done: () => void) => void): void;
  send(msg: NodeMessage | (NodeMessage | null)[]): void;
  status(status: NodeStatus): void;
  error(error: unknown, msg?: NodeMessage): void;
  warn(message: unknown): void;
  log(message: unknown): void;
}

export interface NodeRedApi {
  nodes: {
    createNode(node: object, config: object): void;
    registerType(
      type: string,
      constructor: (this: NodeRedNode, config: Record<string, unknown>) => void,
    ): void;
  };
  settings: { antreaEdge?: PaletteServices };
}

export const PALETTE_SETTINGS_KEY = 'antreaEdge';

/** The services the host gave Node-RED; a PaletteError Unavailable when it gave none (e.g. a plain Node-RED). */
export function servicesOf(RED: NodeRedApi): PaletteServices {
  const services = RED.settings.antreaEdge;
  if (services === undefined || services === null) {
    throw new PaletteError(
      'Unavailable',
      'antrea-edge services are not available: this Node-RED does not run inside the antrea-edge firmware (settings.antreaEdge)',
    );
  }
  return services;
}

export function asPaletteError(error: unknown): PaletteError {
  if (error instanceof PaletteError) return error;
  return new PaletteError('Internal', error instanceof Error ? error.message : String(error));
}

/** Status text is short in the editor: the first line, cut. */
export function shortText(text: string, max = 60): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Red ring with the reason, and the error to Catch nodes with its code and field errors on the message. */
export function failInput(
  node: NodeRedNode,
  msg: NodeMessage,
  error: unknown,
  done: (error?: Error) => void,
): void {
  const failure = asPaletteError(error);
  node.status({ fill: 'red', shape: 'ring', text: shortText(`${failure.code}: ${failure.message}`) });
  msg.errorCode = failure.code;
  msg.fieldErrors = failure.fieldErrors.map((fieldError) => ({ ...fieldError }));
  done(failure);
}

/** Runs one input with the services: output on success, failInput on any failure. */
export function handleInput(
  RED: NodeRedApi,
  node: NodeRedNode,
  work: (services: PaletteServices, msg: NodeMessage) => Promise<NodeMessage | null>,
): void {
  node.on('input', (msg, send, done) => {
    let services: PaletteServices;
    try {
      services = servicesOf(RED);
    } catch (error) {
      failInput(node, msg, error, done);
      return;
    }
    work(services, msg).then(
      (out) => {
        if (out !== null) send(out);
        done();
      },
      (error: unknown) => failInput(node, msg, error, done),
    );
  });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Config text, trimmed; "" when absent. */
export function configText(value: unknown): string {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' ? value.trim() : '';
}

/** The message's override when it has one (a non-empty string or a number), else the configured value. */
export function pick(payload: Record<string, unknown>, key: string, configured: unknown): string {
  const override = configText(payload[key]);
  return override !== '' ? override : configText(configured);
}
