// *pods*: lists pods, by namespace, name and label selector (configured, or from msg.payload).
import { handleInput, isRecord, pick, type NodeRedApi, type NodeRedNode } from './node-support';
import type { PodQuery } from './services';

export = function register(RED: NodeRedApi): void {
  RED.nodes.registerType('antrea-pods', function (this: NodeRedNode, config: Record<string, unknown>) {
    RED.nodes.createNode(this, config);
    handleInput(RED, this, async (services, msg) => {
      const payload = isRecord(msg.payload) ? msg.payload : {};
      const query: PodQuery = {};
      const namespace = pick(payload, 'namespace', config.namespace);
      const name = pick(payload, 'name', config.podName);
      if (namespace !== '') query.namespace = namespace;
      if (name !== '') query.name = name;
      if (isRecord(payload.selector)) query.selector = payload.selector;
      else {
        const selector = pick(payload, 'selector', config.selector);
        if (selector !== '') query.selector = selector;
      }
      const pods = await services.listPods(query);
      this.status({ fill: 'green', shape: 'dot', text: `${pods.length} pod${pods.length === 1 ? '' : 's'}` });
      return { ...msg, payload: pods };
    });
  });
};
