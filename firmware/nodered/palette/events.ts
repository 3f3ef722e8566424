// *events*: policy realized/failed, audit log entries (all, or drops and rejects only) and pods added/removed,
// one message each: topic = the event type, payload = the event.
import { servicesOf, asPaletteError, shortText, type NodeRedApi, type NodeRedNode } from './node-support';
import type { PaletteEvent } from './services';

export = function register(RED: NodeRedApi): void {
  RED.nodes.registerType('antrea-events', function (this: NodeRedNode, config: Record<string, unknown>) {
    RED.nodes.createNode(this, config);
    const wanted = {
      policy: config.policy !== false,
      audit: config.audit !== false,
      pods: config.pods !== false,
      dropsOnly: config.dropsOnly === true,
    };
    let unsubscribe: (() => void) | undefined;
    let count = 0;
    try {
      unsubscribe = servicesOf(RED).subscribe((event) => {
        if (!accepts(event, wanted)) return;
        count++;
        this.status({
          fill: 'green',
          shape: 'dot',
          text: `${count} event${count === 1 ? '' : 's'}, last ${event.type}`,
        });
        this.send({ topic: event.type, payload: event });
      });
      this.status({ fill: 'grey', shape: 'ring', text: 'listening' });
    } catch (error) {
      const failure = asPaletteError(error);
      this.status({ fill: 'red', shape: 'ring', text: shortText(failure.message) });
      this.error(failure);
    }
    this.on('close', (_removed, done) => {
      unsubscribe?.();
      done();
    });
  });
};

function accepts(
  event: PaletteEvent,
  wanted: { policy: boolean; audit: boolean; pods: boolean; dropsOnly: boolean },
): boolean {
  switch (event.type) {
    case 'PolicyRealized':
    case 'PolicyFailed':
      return wanted.policy;
    case 'AuditLog':
      return (
        wanted.audit &&
        (!wanted.dropsOnly || event.entry.disposition === 'Drop' || event.entry.disposition === 'Reject')
      );
    case 'PodAdded':
    case 'PodRemoved':
      return wanted.pods;
  }
}
