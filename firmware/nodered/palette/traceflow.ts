// *traceflow*: traces a packet from a pod to a pod or an IP through this node's pipeline (Antrea's Traceflow).
import type { TraceflowRequest } from '../../core/antctl/views';
import { handleInput, isRecord, pick, type NodeRedApi, type NodeRedNode } from './node-support';

export = function register(RED: NodeRedApi): void {
  RED.nodes.registerType('antrea-traceflow', function (this: NodeRedNode, config: Record<string, unknown>) {
    RED.nodes.createNode(this, config);
    handleInput(RED, this, async (services, msg) => {
      const payload = isRecord(msg.payload) ? msg.payload : {};
      const request: TraceflowRequest = { source: pick(payload, 'source', config.source) };
      const destination = pick(payload, 'destination', config.destination);
      const destinationIp = pick(payload, 'destinationIp', config.destinationIp);
      const protocol = pick(payload, 'protocol', config.protocol).toUpperCase();
      const port = pick(payload, 'port', config.port);
      const timeout = pick(payload, 'timeoutSeconds', config.timeoutSeconds);
      if (destination !== '') request.destination = destination;
      if (destinationIp !== '') request.destinationIp = destinationIp;
      if (protocol !== '') request.protocol = protocol as TraceflowRequest['protocol'];
      if (port !== '') request.port = Number(port);
      if (timeout !== '') request.timeoutSeconds = Number(timeout);
      if (payload.live === true || config.live === true) request.live = true;
      this.status({ fill: 'blue', shape: 'ring', text: 'tracing…' });
      const result = await services.traceflow(request);
      this.status({
        fill: result.phase === 'Succeeded' ? 'green' : 'red',
        shape: 'dot',
        text: `${result.phase}${result.verdict ? `: ${result.verdict}` : ''}`,
      });
      return { ...msg, payload: result };
    });
  });
};
