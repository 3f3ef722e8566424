// *what-if*: would source reach destination on protocol/port, and which rule decides (the firmware's evaluator).
import type { Protocol } from '../../core/api/types';
import { handleInput, isRecord, pick, type NodeRedApi, type NodeRedNode } from './node-support';

export = function register(RED: NodeRedApi): void {
  RED.nodes.registerType('antrea-what-if', function (this: NodeRedNode, config: Record<string, unknown>) {
    RED.nodes.createNode(this, config);
    handleInput(RED, this, async (services, msg) => {
      const payload = isRecord(msg.payload) ? msg.payload : {};
      const portText = pick(payload, 'port', config.port);
      const result = await services.whatIf({
        source: pick(payload, 'source', config.source),
        destination: pick(payload, 'destination', config.destination),
        protocol: (pick(payload, 'protocol', config.protocol) || 'TCP').toUpperCase() as Protocol,
        port: portText === '' ? Number.NaN : Number(portText),
      });
      this.status({
        fill: result.verdict === 'Allow' ? 'green' : 'red',
        shape: 'dot',
        text: result.verdict,
      });
      return { ...msg, payload: result };
    });
  });
};
