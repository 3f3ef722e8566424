// OvsdbClient and OvsBridge against the real ovsdb-server and ovs-vswitchd (OVS 3.1, userspace datapath).
// ovs-vswitchd runs in a network namespace of its own: two userspace datapaths in one namespace collide on
// the `ovs-netdev` tap device, and other test files run their own OVS on this machine at the same time.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger } from '../../firmware/core/logger';
import { JsonLogger } from '../../firmware/log/json-logger';
import { OvsBridge, OvsBridgeError, type PortInfo } from '../../firmware/ovs/ovs-bridge';
import { OvsProcesses } from '../../firmware/ovs/ovs-processes';
import { OvsdbRpcError, OvsdbTransactionError } from '../../firmware/ovs/ovsdb/errors';
import {
  OvsdbClient,
  fromOvsdbMap,
  fromOvsdbSet,
  toOvsdbMap,
  uuidOf,
  type MonitorUpdateInfo,
  type OvsdbCondition,
  type OvsdbOperation,
  type OvsdbRow,
  type TableUpdates,
} from '../../firmware/ovs/ovsdb/ovsdb-client';

const DB = 'Open_vSwitch';
const BRIDGE = 'odbc-br0';

async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function rowsOf(result: unknown): OvsdbRow[] {
  return (result as { rows: OvsdbRow[] }).rows;
}

describe('OVSDB client and OvsBridge against real OVS', function () {
  this.timeout(120_000);
  const netns = `odbc-${process.pid}`;
  const logLines: string[] = [];
  const logger: Logger = new JsonLogger({ write: (line) => logLines.push(line) }, { current: 'debug' });
  let dir: string;
  let ovs: OvsProcesses;
  let client: OvsdbClient;
  let bridge: OvsBridge;
  let ovsVersion: string;

  async function select(table: string, where: OvsdbCondition[], columns?: string[]): Promise<OvsdbRow[]> {
    const [result] = await client.transact(DB, [
      { op: 'select', table, where, ...(columns ? { columns } : {}) },
    ]);
    return rowsOf(result);
  }

  before(async () => {
    execFileSync('ip', ['netns', 'add', netns]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'odbc-'));
    ovs = new OvsProcesses({ dir, netns });
    await ovs.start();
    // ovs-ctl records the version at start; ovs-vswitchd itself never writes Open_vSwitch.ovs_version.
    ovsVersion =
      /\(Open vSwitch\) (\S+)/.exec(execFileSync('ovs-vswitchd', ['--version']).toString())?.[1] ?? '';
    await ovs.vsctl(['set', 'Open_vSwitch', '.', `ovs_version="${ovsVersion}"`]);
    client = new OvsdbClient({
      socketPath: ovs.dbSocket,
      logger: logger.child({ component: 'ovsdb' }),
      echoIntervalMs: 1000,
      reconnect: { initialDelayMs: 50, maxDelayMs: 1000 },
    });
    await client.start();
    bridge = new OvsBridge(client, BRIDGE, logger.child({ component: 'bridge' }), { restartSettleMs: 300 });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(logLines.slice(-60).join(''));
    logLines.length = 0;
  });

  after(async () => {
    await bridge?.stop();
    await client?.stop();
    await ovs?.stop();
    try {
      execFileSync('ip', ['netns', 'del', netns]);
    } catch {
      // not created
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists databases, reads the schema and echoes', async () => {
    const dbs = await client.listDbs();
    assert.ok(dbs.includes('Open_vSwitch'), JSON.stringify(dbs));
    const schema = await client.getSchema(DB);
    assert.equal(schema.name, DB);
    assert.ok(schema.tables.Interface?.columns.mac_in_use, 'Interface.mac_in_use in schema');
    assert.deepEqual(await client.echo(['x', 1]), ['x', 1]);
  });

  it('transact: mutates a map and reads it back in one transaction', async () => {
    const results = await client.transact(DB, [
      {
        op: 'mutate',
        table: 'Open_vSwitch',
        where: [],
        mutations: [['external_ids', 'insert', toOvsdbMap({ 'odbc-test': 'hello world' })]],
      },
      { op: 'select', table: 'Open_vSwitch', where: [], columns: ['external_ids'] },
    ]);
    assert.deepEqual(results[0], { count: 1 });
    assert.equal(fromOvsdbMap(rowsOf(results[1])[0]?.external_ids)['odbc-test'], 'hello world');
    assert.equal(
      (await ovs.vsctl(['get', 'Open_vSwitch', '.', 'external_ids:odbc-test'])).trim(),
      '"hello world"',
    );
  });

  it('transaction errors: a constraint violation names the failed operation', async () => {
    const ops: OvsdbOperation[] = [
      { op: 'comment', comment: 'odbc test' },
      { op: 'insert', table: 'Bridge', row: { name: 'odbc-bad', fail_mode: 'bogus' } },
      { op: 'select', table: 'Bridge', where: [] },
    ];
    await assert.rejects(client.transact(DB, ops), (err: unknown) => {
      assert.ok(err instanceof OvsdbTransactionError, String(err));
      assert.equal(err.failedIndex, 1);
      assert.equal(err.error, 'constraint violation');
      assert.match(err.details ?? '', /bogus is not one of the allowed values/);
      assert.deepEqual(err.operation, ops[1]);
      assert.equal(err.results.length, 3);
      assert.equal(err.results[2], null, 'operations after the failure are not attempted');
      return true;
    });
  });

  it('transaction errors: an unknown database is a JSON-RPC error', async () => {
    await assert.rejects(client.transact('Nope', [{ op: 'comment', comment: 'x' }]), (err: unknown) => {
      assert.ok(err instanceof OvsdbRpcError, String(err));
      assert.equal(err.error, 'unknown database');
      return true;
    });
  });

  it('ensureBridge creates the bridge once, however often it is called', async () => {
    await bridge.ensureBridge({ datapathType: 'netdev', failMode: 'secure' });
    await bridge.ensureBridge({ datapathType: 'netdev', failMode: 'secure' });
    const bridges = await select('Bridge', [['name', '==', BRIDGE]]);
    assert.equal(bridges.length, 1);
    const row = bridges[0] as OvsdbRow;
    assert.equal(row.datapath_type, 'netdev');
    assert.equal(row.fail_mode, 'secure');
    assert.deepEqual(fromOvsdbSet(row.protocols).sort(), ['OpenFlow10', 'OpenFlow13', 'OpenFlow15']);
    assert.equal((await select('Port', [['name', '==', BRIDGE]])).length, 1);
    const ovsRow = (await select('Open_vSwitch', []))[0] as OvsdbRow;
    const refs = fromOvsdbSet(ovsRow.bridges).map(uuidOf);
    assert.equal(refs.filter((id) => id === uuidOf(row._uuid)).length, 1);
    assert.equal((await ovs.vsctl(['get', 'Interface', BRIDGE, 'ofport'])).trim(), '65534');
    assert.match(await ovs.ofctl(['show', BRIDGE]), /LOCAL\(odbc-br0\)/);
  });

  it('ensureBridge fixes fail_mode and protocols in place', async () => {
    const before = (await select('Bridge', [['name', '==', BRIDGE]], ['_uuid']))[0]?._uuid;
    await ovs.vsctl(['set', 'Bridge', BRIDGE, 'fail_mode=standalone', 'protocols=OpenFlow10']);
    await bridge.ensureBridge({ datapathType: 'netdev', failMode: 'secure' });
    const [row] = await select('Bridge', [['name', '==', BRIDGE]]);
    assert.deepEqual(row?._uuid, before, 'same row, fixed in place');
    assert.equal(row?.fail_mode, 'secure');
    assert.deepEqual(fromOvsdbSet(row?.protocols).sort(), ['OpenFlow10', 'OpenFlow13', 'OpenFlow15']);
  });

  it('transaction errors: a second bridge with the same name fails at commit', async () => {
    const ops: OvsdbOperation[] = [
      { op: 'insert', table: 'Bridge', 'uuid-name': 'dup', row: { name: BRIDGE } },
      {
        op: 'mutate',
        table: 'Open_vSwitch',
        where: [],
        mutations: [['bridges', 'insert', ['set', [['named-uuid', 'dup']]]]],
      },
    ];
    await assert.rejects(client.transact(DB, ops), (err: unknown) => {
      assert.ok(err instanceof OvsdbTransactionError, String(err));
      assert.equal(err.isCommitError, true);
      assert.equal(err.failedIndex, ops.length);
      assert.equal(err.results.length, ops.length + 1);
      assert.equal(err.error, 'constraint violation');
      assert.match(err.details ?? '', /identical values \(odbc-br0\) for index on column "name"/);
      return true;
    });
    assert.equal((await select('Bridge', [['name', '==', BRIDGE]])).length, 1);
  });

  it('ensureBridge reports a bridge that ovs-vswitchd cannot create (no kernel datapath here)', async () => {
    const broken = new OvsBridge(client, 'odbc-sys0', logger);
    try {
      await assert.rejects(
        broken.ensureBridge({ datapathType: 'system', failMode: 'secure' }),
        (err: unknown) => {
          assert.ok(err instanceof OvsBridgeError, String(err));
          assert.equal(err.code, 'OVS_BRIDGE_FAILED');
          return true;
        },
      );
    } finally {
      await ovs.vsctl(['--if-exists', 'del-br', 'odbc-sys0']);
    }
  });

  it('monitor: initial state, then updates when ovs-vsctl adds a port', async () => {
    const seen: Array<{ update: TableUpdates; info: MonitorUpdateInfo }> = [];
    const handle = await client.monitor(
      DB,
      { Interface: { columns: ['name', 'ofport'] }, Port: { columns: ['name'] } },
      (update, info) => seen.push({ update, info }),
    );
    try {
      const initialNames = Object.values(handle.initial.Interface ?? {}).map((r) => r.new?.name);
      assert.ok(initialNames.includes(BRIDGE), JSON.stringify(initialNames));
      await ovs.vsctl(['add-port', BRIDGE, 'odbc-p1', '--', 'set', 'Interface', 'odbc-p1', 'type=internal']);
      const interfaceRows = () => seen.flatMap((s) => Object.values(s.update.Interface ?? {}));
      await waitUntil(
        () => interfaceRows().some((r) => r.new?.name === 'odbc-p1' && typeof r.new.ofport === 'number'),
        'the new interface and its ofport in monitor updates',
      );
      assert.ok(
        interfaceRows().some((r) => r.new?.name === 'odbc-p1' && r.old === undefined),
        'an insert',
      );
      assert.ok(
        seen.some((s) => Object.values(s.update.Port ?? {}).some((r) => r.new?.name === 'odbc-p1')),
        'the port insert',
      );
      assert.ok(seen.every((s) => !s.info.resync));
    } finally {
      await handle.cancel();
      await ovs.vsctl(['--if-exists', 'del-port', BRIDGE, 'odbc-p1']);
    }
  });

  let gw: PortInfo;
  let tun: PortInfo;

  it('ensurePort: antrea-gw0 (internal) and antrea-tun0 (geneve, key=flow, remote_ip=flow), idempotent', async () => {
    const tunnelOpts = {
      type: 'geneve' as const,
      options: { key: 'flow', remote_ip: 'flow' },
      ofportRequest: 1,
    };
    gw = await bridge.ensurePort('antrea-gw0', { type: 'internal', ofportRequest: 2 });
    tun = await bridge.ensurePort('antrea-tun0', tunnelOpts);
    const gwAgain = await bridge.ensurePort('antrea-gw0', { type: 'internal', ofportRequest: 2 });
    const tunAgain = await bridge.ensurePort('antrea-tun0', tunnelOpts);
    assert.deepEqual(gwAgain, gw);
    assert.deepEqual(tunAgain, tun);
    assert.equal(gw.ofport, 2);
    assert.equal(tun.ofport, 1);
    assert.equal(gw.type, 'internal');
    assert.equal(tun.type, 'geneve');
    assert.match(gw.mac ?? '', /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    for (const name of ['antrea-gw0', 'antrea-tun0']) {
      assert.equal((await select('Port', [['name', '==', name]])).length, 1, `one Port ${name}`);
      assert.equal((await select('Interface', [['name', '==', name]])).length, 1, `one Interface ${name}`);
    }
    assert.equal(
      (await ovs.vsctl(['get', 'Interface', 'antrea-tun0', 'options'])).trim(),
      '{key=flow, remote_ip=flow}',
    );
    const show = await ovs.ofctl(['show', BRIDGE]);
    assert.match(show, /1\(antrea-tun0\)/);
    assert.match(show, /2\(antrea-gw0\)/);
    const ports = await bridge.listPorts();
    assert.deepEqual(
      ports.map((p) => [p.name, p.ofport]),
      [
        ['antrea-gw0', 2],
        ['antrea-tun0', 1],
      ],
    );
  });

  it('ensurePort updates options and external_ids of an existing port in place', async () => {
    const updated = await bridge.ensurePort('antrea-tun0', {
      type: 'geneve',
      options: { key: 'flow', remote_ip: 'flow', csum: 'true' },
      externalIds: { 'antrea-type': 'tunnel' },
    });
    assert.equal(updated.portUuid, tun.portUuid);
    assert.equal(updated.interfaceUuid, tun.interfaceUuid);
    assert.deepEqual(updated.externalIds, { 'antrea-type': 'tunnel' });
    assert.equal(
      (await ovs.vsctl(['get', 'Interface', 'antrea-tun0', 'options'])).trim(),
      '{csum="true", key=flow, remote_ip=flow}',
    );
    assert.equal(
      (await ovs.vsctl(['get', 'Port', 'antrea-tun0', 'external_ids:antrea-type'])).trim(),
      'tunnel',
    );
    tun = await bridge.ensurePort('antrea-tun0', {
      type: 'geneve',
      options: { key: 'flow', remote_ip: 'flow' },
      externalIds: {},
    });
    assert.deepEqual(tun.externalIds, {});
    assert.equal(tun.ofport, 1);
  });

  it('ensurePort reports Interface.error as OVS_PORT_FAILED', async () => {
    await assert.rejects(bridge.ensurePort('odbc-nodev0', {}), (err: unknown) => {
      assert.ok(err instanceof OvsBridgeError, String(err));
      assert.equal(err.code, 'OVS_PORT_FAILED');
      assert.match(err.interfaceError ?? '', /could not open network device odbc-nodev0/);
      return true;
    });
    assert.equal(await bridge.deletePort('odbc-nodev0'), true);
  });

  it('deletePort is idempotent', async () => {
    await bridge.ensurePort('odbc-p2', { type: 'internal' });
    assert.ok((await ovs.vsctl(['list-ports', BRIDGE])).split('\n').includes('odbc-p2'));
    assert.equal(await bridge.deletePort('odbc-p2'), true);
    assert.equal(await bridge.deletePort('odbc-p2'), false);
    assert.ok(!(await ovs.vsctl(['list-ports', BRIDGE])).split('\n').includes('odbc-p2'));
    assert.equal(
      (await select('Interface', [['name', '==', 'odbc-p2']])).length,
      0,
      'interface garbage-collected',
    );
  });

  it('getOvsVersion reads Open_vSwitch.ovs_version', async () => {
    assert.equal(await bridge.getOvsVersion(), ovsVersion);
    assert.match(ovsVersion, /^\d+\.\d+/);
  });

  describe('ovs-vswitchd restart detection', () => {
    let restarts = 0;
    const portsAtRestart: PortInfo[][] = [];

    before(async () => {
      bridge.onVswitchdRestart(() => {
        restarts++;
        void bridge.listPorts().then((ports) => portsAtRestart.push(ports));
      });
      await bridge.start();
    });

    it('does not fire on port add/delete, option changes or type changes', async () => {
      await bridge.ensurePort('odbc-p3', { type: 'internal' });
      await ovs.vsctl(['add-port', BRIDGE, 'odbc-p4', '--', 'set', 'Interface', 'odbc-p4', 'type=internal']);
      await bridge.ensurePort('odbc-t1', { type: 'vxlan', options: { key: 'flow', remote_ip: 'flow' } });
      // A type change rebuilds the netdev, which gets a new random MAC: not a restart.
      await ovs.vsctl(['set', 'Interface', 'odbc-t1', 'type=gre']);
      await bridge.ensurePort('antrea-tun0', { options: { key: 'flow', remote_ip: 'flow', csum: 'true' } });
      await bridge.ensurePort('antrea-tun0', { options: { key: 'flow', remote_ip: 'flow' } });
      await bridge.deletePort('odbc-p3');
      await bridge.deletePort('odbc-t1');
      await ovs.vsctl(['del-port', BRIDGE, 'odbc-p4']);
      await sleep(1500); // five settle periods
      assert.equal(restarts, 0);
    });

    it('fires exactly once per ovs-vswitchd restart, once the ports have their ofports again', async () => {
      await ovs.restartVswitchd();
      await waitUntil(() => restarts >= 1, 'the restart callback');
      await sleep(1500);
      assert.equal(restarts, 1);
      await waitUntil(() => portsAtRestart.length === 1, 'ports read in the callback');
      assert.deepEqual(
        portsAtRestart[0]?.map((p) => [p.name, p.ofport]),
        [
          ['antrea-gw0', 2],
          ['antrea-tun0', 1],
        ],
      );
      // The new ovs-vswitchd is programmable (flows of the old one are gone, which is why we replay).
      assert.doesNotMatch(await ovs.ofctl(['dump-flows', BRIDGE]), /actions=drop/);
      await ovs.ofctl(['add-flow', BRIDGE, 'table=0,priority=1,actions=drop']);
      assert.match(await ovs.ofctl(['dump-flows', BRIDGE]), /priority=1 actions=drop/);

      await ovs.restartVswitchd();
      await waitUntil(() => restarts >= 2, 'the second restart callback');
      await sleep(1500);
      assert.equal(restarts, 2);
      assert.doesNotMatch(await ovs.ofctl(['dump-flows', BRIDGE]), /actions=drop/, 'flows did not survive');
    });

    it('ovsdb-server restart: the client reconnects, monitors resume, transact works, no false restart', async () => {
      const seen: Array<{ update: TableUpdates; info: MonitorUpdateInfo }> = [];
      const handle = await client.monitor(
        DB,
        { Interface: { columns: ['name', 'ofport'] } },
        (update, info) => seen.push({ update, info }),
      );
      try {
        const disconnected = once(client, 'disconnected');
        await ovs.stopOvsdb();
        await disconnected;
        assert.equal(client.isConnected(), false);
        const connected = once(client, 'connected');
        await ovs.startOvsdb();
        await connected;
        const resync = seen.find((s) => s.info.resync);
        assert.ok(resync, 'the monitor handed over the fresh state');
        const names = Object.values(resync.update.Interface ?? {}).map((r) => r.new?.name);
        assert.ok(names.includes('antrea-gw0') && names.includes('antrea-tun0'), JSON.stringify(names));

        assert.ok((await select('Bridge', [['name', '==', BRIDGE]])).length === 1, 'transact works again');
        // ovs-vsctl (without --no-wait) returns once ovs-vswitchd, reconnected too, has applied it.
        await ovs.vsctl([
          'add-port',
          BRIDGE,
          'odbc-p5',
          '--',
          'set',
          'Interface',
          'odbc-p5',
          'type=internal',
        ]);
        await waitUntil(
          () =>
            seen.some(
              (s) =>
                !s.info.resync &&
                Object.values(s.update.Interface ?? {}).some((r) => r.new?.name === 'odbc-p5'),
            ),
          'a monitor update after the reconnect',
        );
        const p5 = await bridge.ensurePort('odbc-p5', { type: 'internal' });
        assert.ok(p5.ofport > 0);
        assert.equal(await bridge.deletePort('odbc-p5'), true);
        await sleep(1500);
        assert.equal(restarts, 2, 'an ovsdb-server restart is not an ovs-vswitchd restart');
      } finally {
        await handle.cancel();
      }
    });

    it('a restart of both daemons is detected once', async () => {
      await ovs.stopVswitchd();
      await ovs.stopOvsdb();
      await ovs.startOvsdb();
      await ovs.startVswitchd();
      await waitUntil(() => restarts >= 3, 'the restart callback');
      await sleep(1500);
      assert.equal(restarts, 3);
      const ports = await bridge.listPorts();
      assert.deepEqual(
        ports.map((p) => [p.name, p.ofport]),
        [
          ['antrea-gw0', 2],
          ['antrea-tun0', 1],
        ],
      );
    });
  });

  it('ensurePort without a running ovs-vswitchd times out with OVS_VSWITCHD_TIMEOUT, then completes', async () => {
    const impatient = new OvsBridge(client, BRIDGE, logger, { applyTimeoutMs: 300 });
    await ovs.stopVswitchd();
    try {
      await assert.rejects(impatient.ensurePort('odbc-p6', { type: 'internal' }), (err: unknown) => {
        assert.ok(err instanceof OvsBridgeError, String(err));
        assert.equal(err.code, 'OVS_VSWITCHD_TIMEOUT');
        return true;
      });
    } finally {
      await ovs.startVswitchd();
    }
    const p6 = await impatient.ensurePort('odbc-p6', { type: 'internal' });
    assert.ok(p6.ofport > 0);
    assert.equal(await impatient.deletePort('odbc-p6'), true);
  });
});
