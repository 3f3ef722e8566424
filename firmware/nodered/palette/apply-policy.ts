// *apply policy*: msg.payload (YAML/JSON text, an object or a list, K8s or Antrea kinds) → validate → apply.
import { handleInput, configText, type NodeRedApi, type NodeRedNode } from './node-support';
import { objectsFromPayload } from './payload';

export = function register(RED: NodeRedApi): void {
  RED.nodes.registerType(
    'antrea-apply-policy',
    function (this: NodeRedNode, config: Record<string, unknown>) {
      RED.nodes.createNode(this, config);
      const namespace = configText(config.namespace);
      handleInput(RED, this, async (services, msg) => {
        const objects = objectsFromPayload(msg.payload, configText(msg.namespace) || namespace);
        const results = await services.apply(objects);
        const changed = results.filter((result) => result.result !== 'unchanged').length;
        this.status({ fill: 'green', shape: 'dot', text: `applied ${results.length} (${changed} changed)` });
        return { ...msg, payload: results };
      });
    },
  );
};
