// *policy*: the policy built in the edit dialog, applied on deploy (and again on any input). Status: pending,
// Realized with each rule's hit count from the OVS flow statistics (refreshed every few seconds), or Failed with
// the reason. Removing the node from the flows deletes its policy; stopping Node-RED does not.
import {
  asPaletteError,
  servicesOf,
  shortText,
  type NodeRedApi,
  type NodeRedNode,
  type NodeMessage,
} from './node-support';
import { policyFromForm } from './policy-form';
import { PaletteError, type PalettePolicyRef, type PaletteServices } from './services';
import type { RuleStatsView } from '../../core/antctl/views';

/** How often the status is refreshed (realization, hit counts); `statusIntervalMs` in the node config overrides. */
const STATUS_INTERVAL_MS = 5000;

export = function register(RED: NodeRedApi): void {
  RED.nodes.registerType('antrea-policy', function (this: NodeRedNode, config: Record<string, unknown>) {
    RED.nodes.createNode(this, config);
    // The status timer's callbacks outlive this call: they reach the node through a name, not `this`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const built = policyFromForm(config);
    const intervalMs =
      typeof config.statusIntervalMs === 'number' && config.statusIntervalMs > 0
        ? config.statusIntervalMs
        : STATUS_INTERVAL_MS;
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    let applied: PalettePolicyRef | undefined;

    const fail = (error: unknown, msg?: NodeMessage): PaletteError => {
      const failure = asPaletteError(error);
      node.status({ fill: 'red', shape: 'ring', text: shortText(`Failed: ${failure.message}`) });
      if (msg) {
        msg.errorCode = failure.code;
        msg.fieldErrors = failure.fieldErrors.map((fieldError) => ({ ...fieldError }));
      }
      return failure;
    };

    const refresh = async (services: PaletteServices, ref: PalettePolicyRef): Promise<void> => {
      const realization = await services.realization(ref);
      if (closed) return;
      if (realization.state === 'NotFound') {
        node.status({ fill: 'red', shape: 'ring', text: 'Failed: the policy is gone (deleted elsewhere?)' });
        return;
      }
      if (realization.state === 'Pending') {
        node.status({ fill: 'yellow', shape: 'ring', text: 'pending' });
        return;
      }
      let stats: RuleStatsView[] = [];
      try {
        stats = await services.ruleStats(ref);
      } catch {
        // Counts are extra: a policy without flows on this node (no local pod) still is realized.
      }
      if (closed) return;
      node.status({ fill: 'green', shape: 'dot', text: shortText(`Realized${hitsText(stats)}`, 80) });
    };

    const schedule = (services: PaletteServices, ref: PalettePolicyRef): void => {
      if (closed) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        refresh(services, ref).then(
          () => schedule(services, ref),
          (error: unknown) => {
            fail(error);
            schedule(services, ref);
          },
        );
      }, intervalMs);
    };

    const apply = async (msg?: NodeMessage): Promise<NodeMessage | undefined> => {
      if (!built.ok) {
        throw new PaletteError(
          'Invalid',
          `the policy form is invalid: ${built.errors.map((e) => `${e.path}: ${e.reason}`).join('; ')}`,
          built.errors,
        );
      }
      const services = servicesOf(RED);
      node.status({ fill: 'yellow', shape: 'ring', text: 'pending' });
      const results = await services.apply([built.object]);
      applied = built.ref;
      await refresh(services, built.ref);
      schedule(services, built.ref);
      return msg ? { ...msg, payload: results, policy: built.object } : undefined;
    };

    // After the flow has started: Catch nodes constructed after this one must see a deploy-time failure too.
    let initial: NodeJS.Timeout | undefined = setTimeout(() => {
      initial = undefined;
      apply().catch((error: unknown) => {
        // No input message on deploy: Catch nodes get one of their own, carrying the policy object.
        const msg: NodeMessage = { policy: built.ok ? built.object : undefined };
        node.error(fail(error, msg), msg);
      });
    }, 0);

    node.on('input', (msg, send, done) => {
      apply(msg).then(
        (out) => {
          if (out) send(out);
          done();
        },
        (error: unknown) => done(fail(error, msg)),
      );
    });

    node.on('close', (removed, done) => {
      closed = true;
      clearTimeout(initial);
      clearTimeout(timer);
      timer = undefined;
      if (!removed || applied === undefined) {
        done();
        return;
      }
      const ref = applied;
      let services: PaletteServices;
      try {
        services = servicesOf(RED);
      } catch {
        done();
        return;
      }
      services.deletePolicy(ref).then(
        () => done(),
        (error: unknown) => {
          node.warn(`could not delete ${ref.kind} ${ref.name}: ${asPaletteError(error).message}`);
          done();
        },
      );
    });
  });
};

function hitsText(stats: readonly RuleStatsView[]): string {
  if (stats.length === 0) return '';
  return ` · hits ${stats.map((rule) => `${rule.ruleName} ${rule.packets}`).join(', ')}`;
}
