// *label pod*: replaces a pod's labels (msg.payload {namespace, name, labels} or the configured ones).
import { PaletteError } from './services';
import { configText, handleInput, isRecord, pick, type NodeRedApi, type NodeRedNode } from './node-support';

export = function register(RED: NodeRedApi): void {
  RED.nodes.registerType('antrea-label-pod', function (this: NodeRedNode, config: Record<string, unknown>) {
    RED.nodes.createNode(this, config);
    handleInput(RED, this, async (services, msg) => {
      const payload = isRecord(msg.payload) ? msg.payload : {};
      const namespace = pick(payload, 'namespace', config.namespace) || 'default';
      const name = pick(payload, 'name', config.podName);
      const labels =
        payload.labels !== undefined ? payload.labels : configuredLabels(configText(config.labels));
      const result = await services.labelPod(namespace, name, labels as Record<string, string>);
      this.status({ fill: 'green', shape: 'dot', text: `${namespace}/${name} labelled` });
      return { ...msg, payload: result };
    });
  });
};

function configuredLabels(text: string): unknown {
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new PaletteError('Invalid', 'the configured labels are not JSON', [
      { path: 'labels', reason: 'must be a JSON object like {"app":"web"}', value: text },
    ]);
  }
}
