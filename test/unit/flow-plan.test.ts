import assert from 'node:assert/strict';
import { CookieCategory, makeCookie, type Flow } from '../../firmware/core/pipeline/flow';
import {
  FlowPlanError,
  isEmptyPlan,
  planFlows,
  planSize,
  type FlowPlan,
} from '../../firmware/core/plan/flow-plan';

const pod = makeCookie(CookieCategory.Pod, 5);

function f(table: number, priority: number, match: string, actions: string, cookie = pod): Flow {
  return { table, priority, match, actions, cookie };
}

const classification = f(0, 190, 'in_port=5', 'load:0x2->NXM_NX_REG0[0..15],goto_table:10');
const spoofIp = f(10, 200, 'ip,in_port=5,dl_src=12:9e:a6:47:d0:70,nw_src=10.10.0.2', 'goto_table:30');
const spoofArp = f(10, 200, 'arp,in_port=5,arp_spa=10.10.0.2,arp_sha=12:9e:a6:47:d0:70', 'goto_table:20');
const l2 = f(
  80,
  200,
  'dl_dst=12:9e:a6:47:d0:70',
  'load:0x5->NXM_NX_REG1[],load:0x1->NXM_NX_REG0[16],goto_table:85',
);

function matches(plan: FlowPlan): Record<keyof FlowPlan, string[]> {
  return {
    add: plan.add.map((x) => `${x.table}/${x.priority}/${x.match}`),
    modify: plan.modify.map((x) => `${x.table}/${x.priority}/${x.match}`),
    delete: plan.delete.map((x) => `${x.table}/${x.priority}/${x.match}`),
  };
}

describe('planFlows', () => {
  it('is empty when desired equals installed, and for nothing at all', () => {
    const plan = planFlows([classification, spoofIp, l2], [l2, classification, spoofIp]);
    assert.ok(isEmptyPlan(plan));
    assert.equal(planSize(plan), 0);
    assert.ok(isEmptyPlan(planFlows([], [])));
  });

  it('adds what is missing, deletes what is not desired, modifies changed actions', () => {
    const changedL2 = { ...l2, actions: 'load:0x6->NXM_NX_REG1[],load:0x1->NXM_NX_REG0[16],goto_table:85' };
    const plan = planFlows([classification, spoofArp, changedL2], [classification, spoofIp, l2]);
    assert.deepEqual(plan.add, [spoofArp]);
    assert.deepEqual(plan.modify, [changedL2]);
    assert.deepEqual(plan.delete, [spoofIp]);
    assert.ok(!isEmptyPlan(plan));
    assert.equal(planSize(plan), 3);
  });

  it('modifies a flow whose only difference is its cookie', () => {
    const moved = { ...classification, cookie: makeCookie(CookieCategory.Pod, 6) };
    const plan = planFlows([moved], [classification]);
    assert.deepEqual(plan, { add: [], modify: [moved], delete: [] });
  });

  it('treats a harmless difference in match token order as the same flow', () => {
    const reordered = { ...spoofIp, match: 'nw_src=10.10.0.2,ip,dl_src=12:9e:a6:47:d0:70,in_port=5' };
    assert.ok(isEmptyPlan(planFlows([reordered], [spoofIp])));
    const ct = f(31, 190, 'ct_state=+inv+trk,ip', 'drop');
    assert.ok(isEmptyPlan(planFlows([ct], [{ ...ct, match: 'ip,ct_state=+trk+inv' }])));
  });

  it('keys by table and priority too', () => {
    const otherPriority = { ...classification, priority: 200 };
    const otherTable = { ...classification, table: 1 };
    const plan = planFlows([otherPriority, otherTable], [classification]);
    assert.deepEqual(matches(plan), {
      add: ['0/200/in_port=5', '1/190/in_port=5'],
      modify: [],
      delete: ['0/190/in_port=5'],
    });
  });

  it('orders every list by table, then priority from high to low, then match, whatever the input order', () => {
    const flows = [
      f(80, 200, 'dl_dst=00:00:00:00:00:02', 'drop'),
      f(0, 190, 'in_port=7', 'drop'),
      f(10, 0, '', 'drop'),
      f(0, 200, 'in_port=1', 'drop'),
      f(10, 200, 'ip,in_port=7', 'drop'),
      f(80, 200, 'dl_dst=00:00:00:00:00:01', 'drop'),
      f(0, 190, 'in_port=6', 'drop'),
    ];
    const expected = [
      '0/200/in_port=1',
      '0/190/in_port=6',
      '0/190/in_port=7',
      '10/200/ip,in_port=7',
      '10/0/',
      '80/200/dl_dst=00:00:00:00:00:01',
      '80/200/dl_dst=00:00:00:00:00:02',
    ];
    assert.deepEqual(matches(planFlows(flows, [])).add, expected);
    assert.deepEqual(matches(planFlows([...flows].reverse(), [])).add, expected);
    assert.deepEqual(matches(planFlows([], [...flows].reverse())).delete, expected);
  });

  it('collapses exact duplicates among desired flows', () => {
    const plan = planFlows([spoofIp, { ...spoofIp }, spoofIp], []);
    assert.deepEqual(plan.add, [spoofIp]);
  });

  it('throws a typed error for desired flows that share a key but differ', () => {
    const conflicting = { ...spoofIp, actions: 'drop' };
    assert.throws(
      () => planFlows([spoofIp, conflicting], []),
      (err: unknown) =>
        err instanceof FlowPlanError && err.code === 'DUPLICATE_FLOW_KEY' && err.key.startsWith('10/200/'),
    );
    const otherCookie = { ...spoofIp, cookie: makeCookie(CookieCategory.Pod, 9) };
    assert.throws(
      () => planFlows([spoofIp, otherCookie], []),
      (err: unknown) => err instanceof FlowPlanError && err.code === 'DUPLICATE_FLOW_KEY',
    );
  });

  it('accepts any iterable and does not mutate its inputs', () => {
    const desired = new Set([classification, spoofIp]);
    function* installed(): Generator<Flow> {
      yield l2;
    }
    const before = JSON.stringify([...desired], (_k, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v,
    );
    const plan = planFlows(desired, installed());
    assert.deepEqual(matches(plan), {
      add: ['0/190/in_port=5', '10/200/ip,in_port=5,dl_src=12:9e:a6:47:d0:70,nw_src=10.10.0.2'],
      modify: [],
      delete: ['80/200/dl_dst=12:9e:a6:47:d0:70'],
    });
    assert.equal(
      JSON.stringify([...desired], (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
      before,
    );
  });
});
