import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../firmware/core/logger';
import {
  OvsdbConnectionError,
  OvsdbRpcError,
  OvsdbTimeoutError,
  OvsdbTransactionError,
} from '../../firmware/ovs/ovsdb/errors';
import { JsonStreamFramer } from '../../firmware/ovs/ovsdb/json-stream';
import {
  OvsdbClient,
  fromOvsdbMap,
  fromOvsdbOptional,
  fromOvsdbSet,
  namedUuid,
  toOvsdbMap,
  toOvsdbSet,
  uuid,
  uuidOf,
  type MonitorUpdateInfo,
  type OvsdbClientOptions,
  type OvsdbOperation,
  type ReconnectInfo,
  type TableUpdates,
} from '../../firmware/ovs/ovsdb/ovsdb-client';

interface RpcMessage {
  id?: unknown;
  method?: string;
  params?: unknown[];
  result?: unknown;
  error?: unknown;
}

type Handler = (message: RpcMessage, socket: net.Socket) => unknown;
const NO_REPLY = Symbol('no reply');

/** A scripted ovsdb-server on a unix socket: records every message, answers through per-method handlers. */
class FakeOvsdbServer extends EventEmitter {
  readonly received: RpcMessage[] = [];
  readonly sockets = new Set<net.Socket>();
  connections = 0;
  handlers: Record<string, Handler> = {
    list_dbs: () => ['Open_vSwitch', '_Server'],
    echo: (m) => m.params,
    get_schema: () => ({ name: 'Open_vSwitch', version: '8.3.1', tables: {} }),
    transact: (m) => (m.params ?? []).slice(1).map(() => ({})),
    monitor: () => ({}),
    monitor_cancel: () => ({}),
  };
  private server: net.Server | undefined;

  constructor(readonly socketPath: string) {
    super();
  }

  async listen(): Promise<void> {
    fs.rmSync(this.socketPath, { force: true });
    const server = net.createServer((socket) => this.onConnection(socket));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.socketPath, resolve));
  }

  /** Stops listening and drops every connection (ovsdb-server going away). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.dropConnections();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(this.socketPath, { force: true });
  }

  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  send(message: unknown): void {
    for (const socket of this.sockets) socket.write(JSON.stringify(message));
  }

  sendRaw(text: string): void {
    for (const socket of this.sockets) socket.write(text);
  }

  requests(method: string): RpcMessage[] {
    return this.received.filter((m) => m.method === method && m.id !== undefined && m.id !== null);
  }

  /** Resolves with the next request of `method` from the client. */
  async nextRequest(method: string): Promise<RpcMessage> {
    for (;;) {
      const [message] = (await once(this, 'message')) as [RpcMessage];
      if (message.method === method) return message;
    }
  }

  private onConnection(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const framer = new JsonStreamFramer({
      onValue: (value) => this.onMessage(value as RpcMessage, socket),
      onError: (error) => {
        throw error;
      },
    });
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    this.emit('connection', socket);
  }

  private onMessage(message: RpcMessage, socket: net.Socket): void {
    this.received.push(message);
    this.emit('message', message);
    if (message.method === undefined) return; // a response to our own request
    const handler = this.handlers[message.method];
    if (!handler) {
      socket.write(JSON.stringify({ id: message.id, result: null, error: { error: 'unknown method' } }));
      return;
    }
    const result = handler(message, socket);
    if (result === NO_REPLY) return;
    socket.write(JSON.stringify({ id: message.id, result, error: null }));
  }
}

function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

describe('OvsdbClient', () => {
  let dir: string;
  let server: FakeOvsdbServer;
  let client: OvsdbClient | undefined;

  function newClient(options: Partial<OvsdbClientOptions> = {}): OvsdbClient {
    client = new OvsdbClient({
      socketPath: server.socketPath,
      logger: silentLogger,
      echoIntervalMs: 0,
      reconnect: { initialDelayMs: 5, maxDelayMs: 40 },
      ...options,
    });
    return client;
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ovsdb-client-unit-'));
    server = new FakeOvsdbServer(path.join(dir, 'db.sock'));
    await server.listen();
  });

  afterEach(async () => {
    await client?.stop();
    client = undefined;
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('requests', () => {
    it('uses a distinct id per request and matches responses that arrive out of order', async () => {
      const c = newClient();
      await c.start();
      const held: Array<{ message: RpcMessage; socket: net.Socket }> = [];
      server.handlers.get_schema = (message, socket) => {
        held.push({ message, socket });
        if (held.length === 2) {
          // Answer the second request first.
          for (const { message: m, socket: s } of [...held].reverse()) {
            const db = String(m.params?.[0]);
            s.write(
              JSON.stringify({ id: m.id, result: { name: db, version: '1', tables: {} }, error: null }),
            );
          }
        }
        return NO_REPLY;
      };
      const [a, b] = await Promise.all([c.getSchema('A'), c.getSchema('B')]);
      assert.equal(a.name, 'A');
      assert.equal(b.name, 'B');
      const ids = server.received.filter((m) => m.method !== undefined).map((m) => m.id);
      assert.equal(new Set(ids).size, ids.length, `ids repeat: ${JSON.stringify(ids)}`);
    });

    it('lists databases and echoes', async () => {
      const c = newClient();
      await c.start();
      assert.deepEqual(await c.listDbs(), ['Open_vSwitch', '_Server']);
      assert.deepEqual(await c.echo(['ping', 1]), ['ping', 1]);
    });

    it('answers the server’s echo requests with the same id and params', async () => {
      const c = newClient();
      await c.start();
      const reply = once(server, 'message');
      server.send({ id: 'echo', method: 'echo', params: ['hello', 42] });
      const [message] = (await reply) as [RpcMessage];
      assert.deepEqual(message, { id: 'echo', result: ['hello', 42], error: null });
    });

    it('rejects a request with no response in time with OvsdbTimeoutError, and ignores the late reply', async () => {
      const c = newClient({ requestTimeoutMs: 50 });
      await c.start();
      let late: RpcMessage | undefined;
      server.handlers.get_schema = (message) => {
        late = message;
        return NO_REPLY;
      };
      await assert.rejects(c.getSchema('Open_vSwitch'), (err: unknown) => {
        assert.ok(err instanceof OvsdbTimeoutError);
        assert.equal(err.code, 'OVSDB_TIMEOUT');
        assert.equal(err.method, 'get_schema');
        return true;
      });
      server.send({ id: late?.id, result: { name: 'late' }, error: null });
      assert.deepEqual(await c.listDbs(), ['Open_vSwitch', '_Server']);
      assert.ok(c.isConnected());
    });

    it('rejects requests made while disconnected with OvsdbConnectionError', async () => {
      const c = newClient();
      await assert.rejects(c.listDbs(), OvsdbConnectionError);
    });

    it('rejects pending requests with OvsdbConnectionError when the connection drops', async () => {
      const c = newClient();
      await c.start();
      server.handlers.transact = () => NO_REPLY;
      const disconnected = once(c, 'disconnected');
      const pending = c.transact('Open_vSwitch', [{ op: 'comment', comment: 'never answered' }]);
      await server.nextRequest('transact');
      server.dropConnections();
      await assert.rejects(pending, (err: unknown) => {
        assert.ok(err instanceof OvsdbConnectionError);
        assert.equal(err.code, 'OVSDB_CONNECTION');
        return true;
      });
      const [reason] = (await disconnected) as [Error];
      assert.ok(reason instanceof OvsdbConnectionError);
      assert.equal(c.isConnected(), false);
    });

    it('recovers from garbage in the stream and still matches the next response', async () => {
      const c = newClient();
      await c.start();
      server.handlers.list_dbs = (message, socket) => {
        const reply = JSON.stringify({ id: message.id, result: ['X'], error: null });
        socket.write(`\u0000\u0007junk}}{"broken": tru}{"cut": "string\n${reply}`);
        return NO_REPLY;
      };
      assert.deepEqual(await c.listDbs(), ['X']);
    });
  });

  describe('transactions', () => {
    const ops: OvsdbOperation[] = [
      { op: 'insert', table: 'Bridge', row: { name: 'br0' }, 'uuid-name': 'b' },
      { op: 'update', table: 'Bridge', where: [['name', '==', 'br0']], row: { fail_mode: 'bogus' } },
      { op: 'comment', comment: 'after the failure' },
    ];

    it('returns the per-operation results when everything committed', async () => {
      const c = newClient();
      await c.start();
      server.handlers.transact = () => [{ uuid: ['uuid', 'u-1'] }, { count: 1 }, {}];
      const results = await c.transact('Open_vSwitch', ops);
      assert.deepEqual(results, [{ uuid: ['uuid', 'u-1'] }, { count: 1 }, {}]);
      const sent = server.requests('transact')[0];
      assert.deepEqual(sent?.params, ['Open_vSwitch', ...ops]);
    });

    it('rejects with OvsdbTransactionError naming the failed operation and its details', async () => {
      const c = newClient();
      await c.start();
      const reply = [
        { uuid: ['uuid', 'u-1'] },
        {
          error: 'constraint violation',
          details: 'bogus is not one of the allowed values ([secure, standalone])',
        },
        null,
      ];
      server.handlers.transact = () => reply;
      await assert.rejects(c.transact('Open_vSwitch', ops), (err: unknown) => {
        assert.ok(err instanceof OvsdbTransactionError);
        assert.equal(err.code, 'OVSDB_TRANSACTION');
        assert.equal(err.failedIndex, 1);
        assert.equal(err.error, 'constraint violation');
        assert.match(err.details ?? '', /not one of the allowed values/);
        assert.deepEqual(err.operation, ops[1]);
        assert.equal(err.isCommitError, false);
        assert.deepEqual(err.results, reply);
        return true;
      });
    });

    it('reports a commit-time error (extra trailing element) at index operations.length', async () => {
      const c = newClient();
      await c.start();
      server.handlers.transact = () => [
        { uuid: ['uuid', 'u-1'] },
        { count: 1 },
        {},
        { error: 'referential integrity violation', details: 'cannot delete Port row' },
      ];
      await assert.rejects(c.transact('Open_vSwitch', ops), (err: unknown) => {
        assert.ok(err instanceof OvsdbTransactionError);
        assert.equal(err.failedIndex, ops.length);
        assert.equal(err.isCommitError, true);
        assert.equal(err.operation, undefined);
        assert.equal(err.error, 'referential integrity violation');
        return true;
      });
    });

    it('rejects with OvsdbRpcError when the JSON-RPC error member is set', async () => {
      const c = newClient();
      await c.start();
      server.handlers.transact = (message, socket) => {
        socket.write(
          JSON.stringify({
            id: message.id,
            result: null,
            error: { error: 'unknown database', details: 'transact request specifies unknown database Nope' },
          }),
        );
        return NO_REPLY;
      };
      await assert.rejects(c.transact('Nope', [{ op: 'comment', comment: 'x' }]), (err: unknown) => {
        assert.ok(err instanceof OvsdbRpcError);
        assert.equal(err.code, 'OVSDB_RPC');
        assert.equal(err.error, 'unknown database');
        assert.match(err.details ?? '', /Nope/);
        return true;
      });
    });

    it('fromResults accepts a complete success and flags a short result array', () => {
      assert.equal(OvsdbTransactionError.fromResults([{}, {}], [{}, { rows: [] }]), undefined);
      const short = OvsdbTransactionError.fromResults([{ op: 'a' }, { op: 'b' }], [{}]);
      assert.equal(short?.failedIndex, 1);
      assert.equal(short?.error, 'malformed response');
    });
  });

  describe('keep-alive', () => {
    it('sends echo probes and stays connected while they are answered', async () => {
      const c = newClient({ echoIntervalMs: 20 });
      await c.start();
      while (server.requests('echo').length < 4) await once(server, 'message');
      assert.equal(server.connections, 1);
      assert.ok(c.isConnected());
    });

    it('treats an unanswered probe as a dead connection and reconnects', async () => {
      const c = newClient({ echoIntervalMs: 20 });
      await c.start();
      server.handlers.echo = () => NO_REPLY;
      const [reason] = (await once(c, 'disconnected')) as [OvsdbConnectionError];
      assert.ok(reason.cause instanceof OvsdbTimeoutError);
      server.handlers.echo = (m) => m.params;
      await once(c, 'connected');
      assert.equal(server.connections, 2);
    });
  });

  describe('reconnect', () => {
    it('start() keeps trying until the server appears', async () => {
      await server.close();
      const c = newClient();
      const scheduled: ReconnectInfo[] = [];
      c.on('reconnect-scheduled', (info) => scheduled.push(info));
      const started = c.start();
      while (scheduled.length < 3) await once(c, 'reconnect-scheduled');
      await server.listen();
      await started;
      assert.ok(c.isConnected());
    });

    it('backs off exponentially up to the cap, and starts over after a successful connect', async () => {
      const c = newClient({ reconnect: { initialDelayMs: 5, maxDelayMs: 40 } });
      await c.start();
      const scheduled: ReconnectInfo[] = [];
      c.on('reconnect-scheduled', (info) => scheduled.push(info));
      await server.close();
      while (scheduled.length < 6) await once(c, 'reconnect-scheduled');
      assert.deepEqual(
        scheduled.slice(0, 6).map((s) => s.delayMs),
        [5, 10, 20, 40, 40, 40],
      );
      assert.deepEqual(
        scheduled.slice(0, 6).map((s) => s.attempt),
        [1, 2, 3, 4, 5, 6],
      );
      const reconnected = once(c, 'connected');
      await server.listen();
      await reconnected;
      scheduled.length = 0;
      server.dropConnections();
      await once(c, 'reconnect-scheduled');
      assert.deepEqual(scheduled[0], { attempt: 1, delayMs: 5 });
      await once(c, 'connected');
    });

    it('stop() ends reconnecting and rejects what is pending', async () => {
      const c = newClient();
      await c.start();
      server.handlers.transact = () => NO_REPLY;
      const pending = c.transact('Open_vSwitch', [{ op: 'comment', comment: 'x' }]);
      await server.nextRequest('transact');
      let scheduled = 0;
      c.on('reconnect-scheduled', () => scheduled++);
      await c.stop();
      await assert.rejects(pending, OvsdbConnectionError);
      assert.equal(c.isConnected(), false);
      assert.equal(scheduled, 0);
      const connections = server.connections;
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(server.connections, connections);
    });
  });

  describe('monitors', () => {
    const tables = { Interface: { columns: ['name', 'ofport'] } };
    const initialState: TableUpdates = { Interface: { 'u-1': { new: { name: 'gw0', ofport: 2 } } } };

    it('returns the initial state, then delivers updates for its monitor id', async () => {
      const c = newClient();
      await c.start();
      server.handlers.monitor = () => initialState;
      const updates: Array<[TableUpdates, MonitorUpdateInfo]> = [];
      const got = deferred();
      const handle = await c.monitor('Open_vSwitch', tables, (update, info) => {
        updates.push([update, info]);
        got.resolve();
      });
      assert.deepEqual(handle.initial, initialState);
      const request = server.requests('monitor')[0];
      assert.equal(request?.params?.[0], 'Open_vSwitch');
      assert.deepEqual(request?.params?.[2], tables);
      const monitorId = request?.params?.[1];
      const change: TableUpdates = {
        Interface: { 'u-1': { old: { ofport: 2 }, new: { name: 'gw0', ofport: 3 } } },
      };
      server.send({ id: null, method: 'update', params: ['some-other-monitor', { Interface: {} }] });
      server.send({ id: null, method: 'update', params: [monitorId, change] });
      await got.promise;
      assert.deepEqual(updates, [[change, { resync: false }]]);
    });

    it('delivers an update that arrives right behind the monitor reply only after the caller has the initial state', async () => {
      const c = newClient();
      await c.start();
      const change: TableUpdates = {
        Interface: { 'u-1': { old: { ofport: 2 }, new: { name: 'gw0', ofport: 3 } } },
      };
      server.handlers.monitor = (message, socket) => {
        // Reply and update in one write, as ovsdb-server does when a change races the monitor request.
        socket.write(
          JSON.stringify({ id: message.id, result: initialState, error: null }) +
            JSON.stringify({ id: null, method: 'update', params: [message.params?.[1], change] }),
        );
        return NO_REPLY;
      };
      let state: 'none' | 'initial' | 'updated' = 'none';
      const got = deferred();
      const handle = await c.monitor('Open_vSwitch', tables, () => {
        assert.equal(state, 'initial', 'update delivered before the initial state was applied');
        state = 'updated';
        got.resolve();
      });
      assert.deepEqual(handle.initial, initialState);
      state = 'initial';
      await got.promise;
      assert.equal(state, 'updated');
    });

    it('re-establishes monitors after a reconnect and hands over the fresh state as a resync', async () => {
      const c = newClient();
      await c.start();
      server.handlers.monitor = () => initialState;
      const updates: Array<[TableUpdates, MonitorUpdateInfo]> = [];
      await c.monitor('Open_vSwitch', tables, (update, info) => updates.push([update, info]));
      const firstRequest = server.requests('monitor')[0];

      const freshState: TableUpdates = { Interface: { 'u-2': { new: { name: 'tun0', ofport: 1 } } } };
      server.handlers.monitor = () => freshState;
      const reconnected = once(c, 'connected');
      server.dropConnections();
      await reconnected;
      const resent = server.requests('monitor')[1];
      assert.deepEqual(resent?.params, firstRequest?.params, 'same db, monitor id and tables');
      assert.deepEqual(updates, [[freshState, { resync: true }]]);

      const change: TableUpdates = {
        Interface: { 'u-2': { old: { ofport: 1 }, new: { name: 'tun0', ofport: 5 } } },
      };
      server.send({ id: null, method: 'update', params: [resent?.params?.[1], change] });
      await c.echo(); // the update was written before the echo reply, so it has been delivered by now
      assert.deepEqual(updates, [
        [freshState, { resync: true }],
        [change, { resync: false }],
      ]);
    });

    it('cancel() sends monitor_cancel and stops delivery; cancelled monitors are not re-established', async () => {
      const c = newClient();
      await c.start();
      let calls = 0;
      const handle = await c.monitor('Open_vSwitch', tables, () => calls++);
      const monitorId = server.requests('monitor')[0]?.params?.[1];
      await handle.cancel();
      assert.deepEqual(server.requests('monitor_cancel')[0]?.params, [monitorId]);
      server.send({ id: null, method: 'update', params: [monitorId, initialState] });
      await c.echo();
      const reconnected = once(c, 'connected');
      server.dropConnections();
      await reconnected;
      assert.equal(server.requests('monitor').length, 1);
      assert.equal(calls, 0);
    });

    it('a failed monitor request rejects and leaves nothing registered', async () => {
      const c = newClient();
      await c.start();
      server.handlers.monitor = (message, socket) => {
        socket.write(JSON.stringify({ id: message.id, result: null, error: { error: 'unknown table' } }));
        return NO_REPLY;
      };
      await assert.rejects(
        c.monitor('Open_vSwitch', { Nope: {} }, () => undefined),
        OvsdbRpcError,
      );
      const reconnected = once(c, 'connected');
      server.dropConnections();
      await reconnected;
      assert.equal(server.requests('monitor').length, 1);
    });
  });
});

describe('OVSDB value helpers', () => {
  it('encodes uuids, named uuids, sets and sorted maps', () => {
    assert.deepEqual(uuid('abc'), ['uuid', 'abc']);
    assert.deepEqual(namedUuid('row1'), ['named-uuid', 'row1']);
    assert.deepEqual(toOvsdbSet(['OpenFlow13', 'OpenFlow15']), ['set', ['OpenFlow13', 'OpenFlow15']]);
    assert.deepEqual(toOvsdbMap({ remote_ip: 'flow', key: 'flow' }), [
      'map',
      [
        ['key', 'flow'],
        ['remote_ip', 'flow'],
      ],
    ]);
  });

  it('decodes sets, including a single element sent as a bare atom', () => {
    assert.deepEqual(fromOvsdbSet(['set', [1, 2]]), [1, 2]);
    assert.deepEqual(fromOvsdbSet(['set', []]), []);
    assert.deepEqual(fromOvsdbSet('secure'), ['secure']);
    assert.deepEqual(fromOvsdbSet(['uuid', 'u-1']), [['uuid', 'u-1']]);
    assert.equal(fromOvsdbOptional(['set', []]), undefined);
    assert.equal(fromOvsdbOptional(7), 7);
  });

  it('decodes maps to records and uuids to ids', () => {
    assert.deepEqual(
      fromOvsdbMap([
        'map',
        [
          ['a', '1'],
          ['ref', ['uuid', 'u-9']],
          ['n', 5],
        ],
      ]),
      { a: '1', ref: 'u-9', n: '5' },
    );
    assert.deepEqual(fromOvsdbMap(['set', []]), {});
    assert.equal(uuidOf(['uuid', 'u-1']), 'u-1');
    assert.equal(uuidOf(['named-uuid', 'x']), undefined);
    assert.equal(uuidOf('u-1'), undefined);
  });
});
