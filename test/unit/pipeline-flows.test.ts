import assert from 'node:assert/strict';
import {
  CookieCategory,
  canonicalMatch,
  cookieCategory,
  flowKey,
  makeCookie,
  type Flow,
} from '../../firmware/core/pipeline/flow';
import { conjunctionFlows } from '../../firmware/core/pipeline/rule-flows';
import {
  GLOBAL_VIRTUAL_MAC,
  pipelineFlows,
  podCookie,
  podFlows,
  remoteNodeCookie,
  remoteNodeFlows,
  type NodeNetwork,
} from '../../firmware/core/pipeline/pipeline-flows';
import {
  PIPELINE_TABLES,
  Tables,
  TableLookupError,
  nextTable,
  resolveTable,
  tableById,
} from '../../firmware/core/pipeline/tables';
import { planFlows } from '../../firmware/core/plan/flow-plan';

const node: NodeNetwork = {
  gatewayOfport: 2,
  gatewayMac: 'E2:E5:A4:9B:1C:B1',
  gatewayIp: '10.10.0.1',
  podCidr: '10.10.0.0/24',
  tunnelOfport: 1,
  serviceCidr: '10.96.0.0/12',
};
const pod = { ofport: 3, ip: '10.10.0.2', mac: '12:9e:a6:47:d0:70' };
const remote = { podCidr: '10.10.1.0/24', nodeIp: '192.168.77.101', gatewayIp: '10.10.1.1' };

/** `table=N, priority=P,<match> actions=A`: the seed's (and Antrea's documentation's) dump shape. */
function line(f: Flow): string {
  return `table=${f.table}, priority=${f.priority}${f.match ? `,${f.match}` : ''} actions=${f.actions}`;
}

function lines(flows: Flow[], table?: number): string[] {
  return flows.filter((f) => table === undefined || f.table === table).map(line);
}

describe('table registry', () => {
  it('keeps the seed numbers and Antrea v0.9 names, in pipeline order', () => {
    assert.deepEqual(
      PIPELINE_TABLES.map((t) => `${t.id}:${t.name}`),
      [
        '0:Classification',
        '10:SpoofGuard',
        '20:ARPResponder',
        '30:ConntrackZone',
        '31:ConntrackState',
        '40:DNAT',
        '45:CNPEmergencyEgressRule',
        '46:CNPSecurityOpsEgressRule',
        '47:CNPNetworkOpsEgressRule',
        '48:CNPPlatformEgressRule',
        '49:CNPApplicationEgressRule',
        '50:EgressRule',
        '60:EgressDefaultRule',
        '70:l3Forwarding',
        '80:L2Forwarding',
        '85:CNPEmergencyIngressRule',
        '86:CNPSecurityOpsIngressRule',
        '87:CNPNetworkOpsIngressRule',
        '88:CNPPlatformIngressRule',
        '89:CNPApplicationIngressRule',
        '90:IngressRule',
        '100:IngressDefaultRule',
        '105:ConntrackCommit',
        '110:Output',
      ],
    );
  });

  it('resolves names case-insensitively, numbers and aliases', () => {
    assert.equal(resolveTable('l3forwarding')?.id, 70);
    assert.equal(resolveTable('L3Forwarding')?.id, 70);
    assert.equal(resolveTable(' 110 ')?.name, 'Output');
    assert.equal(resolveTable('cnpapplicationingressrule')?.id, 89);
    assert.equal(resolveTable('DNAT(SessionAffinity)')?.id, 40);
    assert.equal(resolveTable('0')?.name, 'Classification');
    assert.equal(resolveTable('Nope'), undefined);
    assert.equal(resolveTable('7'), undefined);
    assert.equal(resolveTable(''), undefined);
    assert.equal(tableById(105)?.name, 'ConntrackCommit');
    assert.equal(tableById(5), undefined);
  });

  it('chains every table forward to a registered table', () => {
    for (const t of PIPELINE_TABLES) {
      if (t.next === undefined) continue;
      assert.ok(t.next > t.id, `${t.name} goes forward`);
      assert.ok(tableById(t.next), `${t.name}'s successor ${t.next} exists`);
    }
    assert.equal(nextTable(Tables.L2Forwarding), Tables.CNPEmergencyIngressRule);
    assert.equal(nextTable(Tables.DNAT), Tables.CNPEmergencyEgressRule);
    assert.throws(
      () => nextTable(Tables.Output),
      (err: unknown) => err instanceof TableLookupError && err.code === 'NO_NEXT_TABLE',
    );
  });
});

describe('podFlows', () => {
  const flows = podFlows(node, pod);

  it('produces the seed shapes for one Pod', () => {
    assert.deepEqual(lines(flows), [
      'table=0, priority=190,in_port=3 actions=load:0x2->NXM_NX_REG0[0..15],goto_table:10',
      'table=10, priority=200,ip,in_port=3,dl_src=12:9e:a6:47:d0:70,nw_src=10.10.0.2 actions=goto_table:30',
      'table=10, priority=200,arp,in_port=3,arp_spa=10.10.0.2,arp_sha=12:9e:a6:47:d0:70 actions=goto_table:20',
      'table=70, priority=200,ip,reg0=0x80000/0x80000,nw_dst=10.10.0.2 actions=set_field:e2:e5:a4:9b:1c:b1->eth_src,set_field:12:9e:a6:47:d0:70->eth_dst,dec_ttl,goto_table:80',
      'table=80, priority=200,dl_dst=12:9e:a6:47:d0:70 actions=load:0x3->NXM_NX_REG1[],load:0x1->NXM_NX_REG0[16],goto_table:85',
    ]);
  });

  it('carries the Pod category with the ofport as object id', () => {
    assert.equal(podCookie(3), makeCookie(CookieCategory.Pod, 3));
    for (const f of flows) assert.equal(f.cookie, 0x0400_0000_0000_0003n);
  });

  it('writes the ofport in hex in L2Forwarding', () => {
    const l2 = podFlows(node, { ...pod, ofport: 26 }).find((f) => f.table === Tables.L2Forwarding);
    assert.equal(l2?.actions, 'load:0x1a->NXM_NX_REG1[],load:0x1->NXM_NX_REG0[16],goto_table:85');
  });
});

describe('pipelineFlows', () => {
  const flows = pipelineFlows(node);

  it('gives every table exactly one priority-0 flow: drop for entry/spoof/ARP/conntrack/output, else next', () => {
    const misses = flows.filter((f) => f.priority === 0);
    assert.deepEqual(
      misses.map((f) => f.table),
      PIPELINE_TABLES.map((t) => t.id),
    );
    for (const f of misses) {
      assert.equal(f.match, '');
      const t = tableById(f.table);
      assert.equal(
        f.actions,
        t?.missAction === 'drop' ? 'drop' : `goto_table:${t?.next}`,
        `table ${f.table}`,
      );
    }
    const drops = misses.filter((f) => f.actions === 'drop').map((f) => f.table);
    assert.deepEqual(drops, [0, 10, 20, 30, 110]);
    for (const table of [45, 46, 47, 48, 49, 50, 60, 85, 86, 87, 88, 89, 90, 100]) {
      assert.equal(misses.find((f) => f.table === table)?.actions, `goto_table:${nextTable(table)}`);
    }
  });

  it('classifies the gateway and the tunnel', () => {
    assert.deepEqual(lines(flows, Tables.Classification), [
      'table=0, priority=0 actions=drop',
      'table=0, priority=200,in_port=2 actions=load:0x1->NXM_NX_REG0[0..15],goto_table:10',
      'table=0, priority=200,in_port=1 actions=load:0->NXM_NX_REG0[0..15],load:0x1->NXM_NX_REG0[19],goto_table:30',
    ]);
  });

  it('spoof-checks the gateway ARP but not its IP', () => {
    assert.deepEqual(lines(flows, Tables.SpoofGuard), [
      'table=10, priority=0 actions=drop',
      'table=10, priority=200,ip,in_port=2 actions=goto_table:30',
      'table=10, priority=200,arp,in_port=2,arp_spa=10.10.0.1,arp_sha=e2:e5:a4:9b:1c:b1 actions=goto_table:20',
    ]);
  });

  it('switches ARP normally and tracks IP in zone 65520', () => {
    assert.deepEqual(lines(flows, Tables.ARPResponder), [
      'table=20, priority=0 actions=drop',
      'table=20, priority=190,arp actions=NORMAL',
    ]);
    assert.deepEqual(lines(flows, Tables.ConntrackZone), [
      'table=30, priority=0 actions=drop',
      'table=30, priority=200,ip actions=ct(table=31,zone=65520)',
    ]);
  });

  it('drops invalid connections and steers replies of gateway connections back to the gateway', () => {
    assert.deepEqual(lines(flows, Tables.ConntrackState), [
      'table=31, priority=0 actions=goto_table:40',
      'table=31, priority=210,ct_state=-new+trk,ct_mark=0x20,ip,reg0=0x1/0xffff actions=goto_table:40',
      'table=31, priority=190,ct_state=+inv+trk,ip actions=drop',
      'table=31, priority=200,ct_state=-new+trk,ct_mark=0x20,ip actions=load:0xe2e5a49b1cb1->NXM_OF_ETH_DST[],goto_table:40',
    ]);
  });

  it('sends the service CIDR to the gateway, only when there is one', () => {
    assert.deepEqual(lines(flows, Tables.DNAT), [
      'table=40, priority=0 actions=goto_table:45',
      'table=40, priority=200,ip,nw_dst=10.96.0.0/12 actions=set_field:e2:e5:a4:9b:1c:b1->eth_dst,load:0x2->NXM_NX_REG1[],load:0x1->NXM_NX_REG0[16],goto_table:105',
    ]);
    const withoutServices = pipelineFlows({ ...node, serviceCidr: undefined });
    assert.deepEqual(lines(withoutServices, Tables.DNAT), ['table=40, priority=0 actions=goto_table:45']);
  });

  it('lets established connections skip every rule table', () => {
    assert.deepEqual(
      lines(flows).filter((l) => l.includes('ct_state=-new+est')),
      [
        'table=50, priority=210,ct_state=-new+est,ip actions=goto_table:70',
        'table=90, priority=210,ct_state=-new+est,ip actions=goto_table:105',
        ...[45, 46, 47, 48, 49].map(
          (t) => `table=${t}, priority=64990,ct_state=-new+est,ip actions=goto_table:70`,
        ),
        ...[85, 86, 87, 88, 89].map(
          (t) => `table=${t}, priority=64990,ct_state=-new+est,ip actions=goto_table:105`,
        ),
      ],
    );
    assert.ok(
      lines(flows, Tables.IngressRule).includes(
        'table=90, priority=210,ip,nw_src=10.10.0.1 actions=goto_table:105',
      ),
    );
  });

  it('routes tunnelled traffic for the gateway and switches to the gateway MAC', () => {
    assert.deepEqual(lines(flows, Tables.l3Forwarding), [
      'table=70, priority=0 actions=goto_table:80',
      'table=70, priority=200,ip,reg0=0x80000/0x80000,nw_dst=10.10.0.1 actions=set_field:e2:e5:a4:9b:1c:b1->eth_dst,goto_table:80',
    ]);
    assert.deepEqual(lines(flows, Tables.L2Forwarding), [
      'table=80, priority=0 actions=goto_table:85',
      'table=80, priority=200,dl_dst=e2:e5:a4:9b:1c:b1 actions=load:0x2->NXM_NX_REG1[],load:0x1->NXM_NX_REG0[16],goto_table:85',
    ]);
  });

  it('commits new connections, marking those from the gateway, and outputs by reg1', () => {
    assert.deepEqual(lines(flows, Tables.ConntrackCommit), [
      'table=105, priority=0 actions=goto_table:110',
      'table=105, priority=200,ct_state=+new+trk,ip,reg0=0x1/0xffff actions=ct(commit,table=110,zone=65520,exec(load:0x20->NXM_NX_CT_MARK[]))',
      'table=105, priority=190,ct_state=+new+trk,ip actions=ct(commit,table=110,zone=65520)',
    ]);
    assert.deepEqual(lines(flows, Tables.Output), [
      'table=110, priority=0 actions=drop',
      'table=110, priority=200,ip,reg0=0x10000/0x10000 actions=output:NXM_NX_REG1[]',
    ]);
  });

  it('uses only the Pipeline, Gateway and Tunnel cookie categories, with object id 0', () => {
    const byCategory = new Map<number, number>();
    for (const f of flows)
      byCategory.set(cookieCategory(f.cookie), (byCategory.get(cookieCategory(f.cookie)) ?? 0) + 1);
    assert.deepEqual([...byCategory.keys()].sort(), [
      CookieCategory.Pipeline,
      CookieCategory.Gateway,
      CookieCategory.Tunnel,
    ]);
    for (const f of flows) assert.equal(f.cookie & 0xffff_ffffn, 0n);
    assert.ok(
      flows
        .filter((f) => f.match.includes('in_port=1'))
        .every((f) => cookieCategory(f.cookie) === CookieCategory.Tunnel),
    );
    assert.ok(
      flows
        .filter((f) => f.match.includes('in_port=2'))
        .every((f) => cookieCategory(f.cookie) === CookieCategory.Gateway),
    );
  });

  it('rejects a node without a valid Pod subnet', () => {
    assert.throws(() => pipelineFlows({ ...node, podCidr: '10.10.0.0/40' }), /prefix/);
  });
});

describe('remoteNodeFlows', () => {
  const flows = remoteNodeFlows(node, remote);

  it('answers ARP for the peer gateway with the virtual MAC and routes its subnet into the tunnel', () => {
    assert.deepEqual(lines(flows), [
      'table=20, priority=200,arp,arp_tpa=10.10.1.1,arp_op=1 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:aa:bb:cc:dd:ee:ff->eth_src,load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],load:0xaabbccddeeff->NXM_NX_ARP_SHA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],load:0xa0a0101->NXM_OF_ARP_SPA[],IN_PORT',
      'table=70, priority=200,ip,nw_dst=10.10.1.0/24 actions=dec_ttl,set_field:e2:e5:a4:9b:1c:b1->eth_src,set_field:aa:bb:cc:dd:ee:ff->eth_dst,load:0x1->NXM_NX_REG1[],load:0x1->NXM_NX_REG0[16],load:0xc0a84d65->NXM_NX_TUN_IPV4_DST[],goto_table:105',
    ]);
    assert.equal(GLOBAL_VIRTUAL_MAC, 'aa:bb:cc:dd:ee:ff');
  });

  it('carries the Node category with the peer IP as object id', () => {
    assert.equal(remoteNodeCookie(remote), 0x0500_0000_c0a8_4d65n);
    for (const f of flows) assert.equal(f.cookie, remoteNodeCookie(remote));
  });
});

describe('a whole node', () => {
  it('has no two flows with the same key, so the planner accepts it', () => {
    const all = [
      ...pipelineFlows(node),
      ...podFlows(node, pod),
      ...podFlows(node, { ofport: 4, ip: '10.10.0.3', mac: 'ba:a8:13:ca:ed:cf' }),
      ...remoteNodeFlows(node, remote),
      ...remoteNodeFlows(node, { podCidr: '10.10.2.0/24', nodeIp: '192.168.77.102', gatewayIp: '10.10.2.1' }),
    ];
    const plan = planFlows(all, []);
    assert.equal(plan.add.length, all.length);
  });

  it('keys every built flow exactly as canonicalMatch does (the builder keys its own flows without parsing)', () => {
    const built: Flow[] = [
      ...pipelineFlows(node),
      ...podFlows(node, pod),
      ...remoteNodeFlows(node, remote),
      ...conjunctionFlows({
        conjId: 9,
        table: Tables.IngressRule,
        priority: 200,
        direction: 'In',
        action: 'Allow',
        appliedTo: [{ ofport: 3, ip: '10.10.0.2' }],
        peers: ['10.10.0.7', '172.16.0.0/16', '192.168.1.1/32'],
        services: [
          { protocol: 'TCP', port: 80 },
          { protocol: 'UDP', port: 1000, endPort: 1010 },
        ],
      }),
    ];
    assert.ok(built.length > 40);
    for (const f of built) {
      assert.equal(flowKey(f), `${f.table}/${f.priority}/${canonicalMatch(f.match)}`, f.match);
    }
  });
});
