// OpenFlowFlowWriter's protocol decisions against a fake channel: one bundle per plan (open, deletes, adds,
// barrier, then commit), discard and a typed error when the switch rejects a flow mod, and the ovs-ofctl fallback
// when the channel is down, a flow cannot be encoded, or the connection is lost.
import assert from 'node:assert/strict';
import { silentLogger } from '../../firmware/core/logger';
import {
  BundleControlType,
  ONF_EXPERIMENTER_ID,
  OnfType,
  decodeBundleControl,
} from '../../firmware/core/openflow/flow-mod';
import type { OpenFlowMessage } from '../../firmware/core/openflow/messages';
import type { Flow } from '../../firmware/core/pipeline/flow';
import type { FlowPlan } from '../../firmware/core/plan/flow-plan';
import {
  OpenFlowChannelError,
  type OpenFlowSwitchError,
  type TransactOptions,
  type TransactResult,
} from '../../firmware/ovs/openflow-channel';
import {
  OpenFlowFlowWriteError,
  OpenFlowFlowWriter,
  type FallbackFlowWriter,
  type FlowModChannel,
} from '../../firmware/ovs/openflow-flow-writer';

const flowA: Flow = {
  table: 45,
  priority: 100,
  match: 'ip,nw_src=10.0.0.1',
  actions: 'conjunction(1,1/2)',
  cookie: 1n,
};
const flowB: Flow = {
  table: 45,
  priority: 100,
  match: 'ip,reg1=0x3',
  actions: 'conjunction(1,2/2)',
  cookie: 1n,
};
const flowC: Flow = { table: 45, priority: 101, match: 'conj_id=1,ip', actions: 'drop', cookie: 1n };
const ctFlow: Flow = {
  table: 31,
  priority: 190,
  match: 'ip',
  actions: 'ct(table=40,zone=65520)',
  cookie: 2n,
};

interface Sent {
  bytes: Uint8Array;
  options: TransactOptions;
}

type Responder = (sent: Sent, index: number) => TransactResult | Promise<TransactResult>;

class FakeChannel implements FlowModChannel {
  isConnected = true;
  protocolVersion = 0x04;
  sent: Sent[] = [];
  private next = 100;
  constructor(private readonly respond: Responder = okResponder) {}

  allocateXids(count: number): number {
    const first = this.next;
    this.next += count;
    return first;
  }

  async transact(bytes: Uint8Array, options: TransactOptions): Promise<TransactResult> {
    const sent = { bytes, options };
    this.sent.push(sent);
    return this.respond(sent, this.sent.length - 1);
  }
}

class FakeFallback implements FallbackFlowWriter {
  plans: FlowPlan[] = [];
  apply(plan: FlowPlan): Promise<void> {
    this.plans.push(plan);
    return Promise.resolve();
  }
  dumpFlows(): Promise<never[]> {
    return Promise.resolve([]);
  }
  dumpFlowsText(): Promise<string[]> {
    return Promise.resolve(['dumped']);
  }
}

function bundleReply(xid: number, bundleId: number, type: number): OpenFlowMessage {
  const body = new Uint8Array(8);
  const v = new DataView(body.buffer);
  v.setUint32(0, bundleId);
  v.setUint16(4, type);
  return {
    type: 'unknown',
    xid,
    version: 0x06,
    ofpType: 4,
    experimenter: ONF_EXPERIMENTER_ID,
    experimenterType: OnfType.BundleControl,
    body,
  };
}

/** Barrier answered, commit answered with the matching bundle reply. */
function okResponder(sent: Sent): TransactResult {
  const control = decodeBundleControl(sent.bytes);
  if (control) return { reply: bundleReply(control.xid, control.bundleId, control.type + 1), errors: [] };
  return { reply: { type: 'barrier-reply', xid: sent.options.replyXid }, errors: [] };
}

function switchError(
  xid: number,
  errorType: number,
  errorCode: number,
  names: [string, string],
): OpenFlowSwitchError {
  return {
    request: undefined,
    xid,
    errorType: names[0],
    errorCode: names[1],
    message: { type: 'error', xid, version: 4, errorType, errorCode, data: new Uint8Array(0) },
  };
}

function plan(add: Flow[], del: Flow[] = [], modify: Flow[] = []): FlowPlan {
  return { add, delete: del, modify };
}

/** [xid, OpenFlow type, ONF subtype] of each message in a batch. */
function messagesOf(bytes: Uint8Array): [number, number, number | undefined][] {
  const out: [number, number, number | undefined][] = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at < bytes.length; at += v.getUint16(at + 2)) {
    const type = v.getUint8(at + 1);
    out.push([v.getUint32(at + 4), type, type === 4 ? v.getUint32(at + 12) : undefined]);
  }
  return out;
}

describe('OpenFlowFlowWriter', () => {
  it('sends one bundle: open, deletes, modifications and adds, barrier; then commit', async () => {
    const channel = new FakeChannel();
    const fallback = new FakeFallback();
    const writer = new OpenFlowFlowWriter({ channel, fallback, logger: silentLogger });
    await writer.apply(plan([flowA], [flowC], [flowB]));
    assert.equal(channel.sent.length, 2);
    const [staged, commit] = channel.sent as [Sent, Sent];
    assert.deepEqual(messagesOf(staged.bytes), [
      [100, 4, OnfType.BundleControl],
      [101, 4, OnfType.BundleAddMessage],
      [102, 4, OnfType.BundleAddMessage],
      [103, 4, OnfType.BundleAddMessage],
      [104, 20, undefined],
    ]);
    // The first add message carries the delete_strict (command 4), then the modification and the add (command 0).
    const v = new DataView(staged.bytes.buffer, staged.bytes.byteOffset);
    const commands: number[] = [];
    for (let at = 24; at < staged.bytes.length - 8; at += v.getUint16(at + 2))
      commands.push(v.getUint8(at + 24 + 25));
    assert.deepEqual(commands, [4, 0, 0]);
    assert.equal(staged.options.replyXid, 104);
    assert.deepEqual(staged.options.errorXids, { first: 100, count: 6 });
    const control = decodeBundleControl(commit.bytes);
    assert.equal(control?.type, BundleControlType.CommitRequest);
    assert.equal(control?.xid, 105);
    assert.equal(commit.options.replyXid, 105);
    assert.deepEqual(fallback.plans, []);
    assert.equal(writer.stats.bundles, 1);
    assert.equal(writer.lastBundle?.mods, 3);
  });

  it('sends nothing for an empty plan and delegates dumps to ovs-ofctl', async () => {
    const channel = new FakeChannel();
    const fallback = new FakeFallback();
    const writer = new OpenFlowFlowWriter({ channel, fallback, logger: silentLogger });
    await writer.apply(plan([]));
    assert.equal(channel.sent.length, 0);
    assert.deepEqual(await writer.dumpFlowsText(), ['dumped']);
  });

  it('discards the bundle and throws a typed error naming the flow the switch rejected', async () => {
    const channel = new FakeChannel((sent, index) => {
      if (index === 0) {
        // The second add (xid 102) fails when added; the barrier is still answered.
        return {
          reply: { type: 'barrier-reply', xid: sent.options.replyXid },
          errors: [switchError(102, 3, 2, ['OFPET_BAD_INSTRUCTION', 'OFPBIC_BAD_TABLE_ID'])],
        };
      }
      return okResponder(sent);
    });
    const fallback = new FakeFallback();
    const writer = new OpenFlowFlowWriter({ channel, fallback, logger: silentLogger });
    await assert.rejects(writer.apply(plan([flowA, flowB])), (err: unknown) => {
      assert.ok(err instanceof OpenFlowFlowWriteError);
      assert.equal(err.code, 'BUNDLE_REJECTED');
      assert.deepEqual(err.switchError, { type: 'OFPET_BAD_INSTRUCTION', code: 'OFPBIC_BAD_TABLE_ID' });
      assert.equal(
        err.flowText,
        'add cookie=0x1,table=45,priority=100,ip,reg1=0x3 actions=conjunction(1,2/2)',
      );
      return true;
    });
    assert.equal(channel.sent.length, 2);
    assert.equal(
      decodeBundleControl((channel.sent[1] as Sent).bytes)?.type,
      BundleControlType.DiscardRequest,
    );
    assert.deepEqual(fallback.plans, []);
    assert.equal(writer.stats.rejected, 1);
  });

  it('reports a failure at commit (the switch rolled the bundle back) with the failing flow', async () => {
    const channel = new FakeChannel((sent, index) => {
      if (index === 0) return okResponder(sent);
      return {
        reply: undefined,
        errors: [
          switchError(101, 5, 1, ['OFPET_FLOW_MOD_FAILED', 'OFPFMFC_TABLE_FULL']),
          switchError(sent.options.replyXid, 0xffff, 2313, ['OFPET_EXPERIMENTER', 'EXPERIMENTER_2313']),
        ],
      };
    });
    const writer = new OpenFlowFlowWriter({ channel, fallback: new FakeFallback(), logger: silentLogger });
    await assert.rejects(writer.apply(plan([flowA])), (err: unknown) => {
      assert.ok(err instanceof OpenFlowFlowWriteError);
      assert.equal(err.switchError?.code, 'OFPFMFC_TABLE_FULL');
      assert.match(err.flowText ?? '', /^add .*nw_src=10\.0\.0\.1/);
      return true;
    });
  });

  it('names ONF bundle errors when no flow is to blame', async () => {
    const channel = new FakeChannel((sent, index) =>
      index === 0
        ? {
            reply: { type: 'barrier-reply', xid: sent.options.replyXid },
            errors: [
              {
                ...switchError(sent.options.errorXids.first, 0xffff, 2303, [
                  'OFPET_EXPERIMENTER',
                  'EXPERIMENTER_2303',
                ]),
                message: {
                  type: 'error',
                  xid: sent.options.errorXids.first,
                  version: 4,
                  errorType: 0xffff,
                  errorCode: 2303,
                  experimenter: ONF_EXPERIMENTER_ID,
                  data: new Uint8Array(0),
                },
              },
            ],
          }
        : okResponder(sent),
    );
    const writer = new OpenFlowFlowWriter({ channel, fallback: new FakeFallback(), logger: silentLogger });
    await assert.rejects(
      writer.apply(plan([flowA])),
      (err: unknown) =>
        err instanceof OpenFlowFlowWriteError &&
        err.switchError?.code === 'OFPBFC_BUNDLE_EXIST' &&
        err.flowText === undefined,
    );
  });

  it('falls back to ovs-ofctl when not connected, for a flow it cannot encode, and when the connection is lost', async () => {
    const fallback = new FakeFallback();
    const down = new FakeChannel();
    down.isConnected = false;
    const w1 = new OpenFlowFlowWriter({ channel: down, fallback, logger: silentLogger });
    await w1.apply(plan([flowA]));
    assert.equal(down.sent.length, 0);
    assert.equal(w1.stats.fallbackNotConnected, 1);

    const up = new FakeChannel();
    const w2 = new OpenFlowFlowWriter({ channel: up, fallback, logger: silentLogger });
    await w2.apply(plan([flowA, ctFlow]));
    assert.equal(up.sent.length, 0);
    assert.equal(w2.stats.fallbackUnsupported, 1);

    const lost = new FakeChannel(() => {
      throw new OpenFlowChannelError('OPENFLOW_CONNECTION_LOST', 'closed');
    });
    const w3 = new OpenFlowFlowWriter({ channel: lost, fallback, logger: silentLogger });
    await w3.apply(plan([flowB]));
    assert.equal(w3.stats.fallbackConnectionLost, 1);
    assert.deepEqual(
      fallback.plans.map((p) => p.add.length),
      [1, 2, 1],
    );
  });

  it('throws OPENFLOW_TIMEOUT when the switch does not answer', async () => {
    const channel = new FakeChannel(() => {
      throw new OpenFlowChannelError('OPENFLOW_TIMEOUT', 'bundle barrier unanswered');
    });
    const fallback = new FakeFallback();
    const writer = new OpenFlowFlowWriter({ channel, fallback, logger: silentLogger, timeoutMs: 10 });
    await assert.rejects(
      writer.apply(plan([flowA])),
      (err: unknown) => err instanceof OpenFlowFlowWriteError && err.code === 'OPENFLOW_TIMEOUT',
    );
    assert.deepEqual(fallback.plans, []);
  });

  it('applies plans one at a time, in order, even when one fails', async () => {
    const order: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const channel = new FakeChannel(async (sent) => {
      const n = calls++;
      order.push(`start ${n}`);
      if (n === 0) await gate;
      order.push(`end ${n}`);
      if (n === 2) throw new OpenFlowChannelError('OPENFLOW_TIMEOUT', 'x');
      return okResponder(sent);
    });
    const writer = new OpenFlowFlowWriter({ channel, fallback: new FakeFallback(), logger: silentLogger });
    const first = writer.apply(plan([flowA]));
    const second = writer.apply(plan([flowB]));
    const third = writer.apply(plan([flowC]));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, ['start 0']);
    release();
    await first;
    await assert.rejects(second);
    await third;
    assert.deepEqual(order, [
      'start 0',
      'end 0',
      'start 1',
      'end 1',
      'start 2',
      'end 2',
      'start 3',
      'end 3',
      'start 4',
      'end 4',
    ]);
  });
});
