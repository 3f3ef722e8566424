// node-red-node-test-helper 0.3.6 ships no types: the part the palette's tests use, typed once.
import type { PaletteServices } from '../../firmware/nodered/palette/services';

export interface HelperLogCall {
  args: { level: number; msg: unknown }[];
}

export interface NodeTestHelper {
  init(runtimePath: string, userSettings?: Record<string, unknown>): void;
  settings(userSettings: { antreaEdge?: PaletteServices | undefined } & Record<string, unknown>): unknown;
  load(nodes: unknown, flow: Record<string, unknown>[]): Promise<void>;
  setFlows(flow: Record<string, unknown>[]): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): unknown;
  log(): { args: { level: number; msg: unknown }[][] };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const helper = require('node-red-node-test-helper') as NodeTestHelper;
helper.init(require.resolve('node-red'));
