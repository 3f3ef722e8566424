// *delete policy*: deletes the configured object, or the one msg.payload names ({kind, name, namespace}, or a
// policy object as applied).
import type { ObjectKind } from '../../core/api/object-key';
import { handleInput, isRecord, pick, type NodeRedApi, type NodeRedNode } from './node-support';
import type { PaletteObjectRef } from './services';

export = function register(RED: NodeRedApi): void {
  RED.nodes.registerType(
    'antrea-delete-policy',
    function (this: NodeRedNode, config: Record<string, unknown>) {
      RED.nodes.createNode(this, config);
      handleInput(RED, this, async (services, msg) => {
        const ref = refOf(isRecord(msg.payload) ? msg.payload : {}, config);
        const result = await services.deletePolicy(ref);
        this.status({ fill: 'green', shape: 'dot', text: `deleted ${result.kind} ${result.name}` });
        return { ...msg, payload: result };
      });
    },
  );
};

function refOf(payload: Record<string, unknown>, config: Record<string, unknown>): PaletteObjectRef {
  // A policy object (what the apply node took) names itself.
  if (isRecord(payload.metadata) && typeof payload.kind === 'string') {
    const metadata = payload.metadata;
    let kind = payload.kind;
    if (kind === 'NetworkPolicy') {
      kind = payload.apiVersion === 'networking.k8s.io/v1' ? 'K8sNetworkPolicy' : 'AntreaNetworkPolicy';
    }
    const ref: PaletteObjectRef = {
      kind: kind as ObjectKind,
      name: typeof metadata.name === 'string' ? metadata.name : '',
    };
    if (typeof metadata.namespace === 'string' && metadata.namespace !== '')
      ref.namespace = metadata.namespace;
    else if (kind !== 'ClusterNetworkPolicy' && kind !== 'Tier' && kind !== 'ClusterGroup')
      ref.namespace = 'default';
    return ref;
  }
  const ref: PaletteObjectRef = {
    kind: pick(payload, 'kind', config.kind) as ObjectKind,
    name: pick(payload, 'name', config.policyName),
  };
  const namespace = pick(payload, 'namespace', config.namespace);
  if (namespace !== '') ref.namespace = namespace;
  return ref;
}
