// The AntreaAgentInfo heartbeat against the in-process API server, driven by the real @kubernetes/client-node:
// create when absent, replace with the resourceVersion, 409 → re-read, deleted → recreated, the API server down
// and back (one warning per outage), a hanging request, and stop() cancelling the timer.
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { antreaAgentInfo } from '../../firmware/core/antctl/agentinfo';
import type { AgentInfoView } from '../../firmware/core/antctl/views';
import type { LogFields, Logger } from '../../firmware/core/logger';
import {
  AgentInfoApiError,
  KubeAgentInfoApi,
  type AgentInfoApi,
  type StoredAgentInfo,
} from '../../firmware/k8s/agentinfo/agent-info-api';
import {
  AgentInfoHeartbeat,
  type AgentInfoHeartbeatOptions,
} from '../../firmware/k8s/agentinfo/agent-info-heartbeat';
import { FakeApiServer, type KubeObject } from '../support/fake-apiserver';

const NODE = 'edge-node-1';
const KIND = 'AntreaAgentInfo';

function view(overrides: Partial<AgentInfoView> = {}): AgentInfoView {
  return {
    podName: `antrea-agent-${NODE}`,
    nodeName: NODE,
    status: 'Healthy',
    nodeSubnets: ['10.10.1.0/24'],
    networkPolicies: 2,
    addressGroups: 3,
    appliedToGroups: 1,
    localPods: 2,
    ovsVersion: '3.1.0',
    bridgeName: 'br-int',
    flowsPerTable: { Classification: 3, SpoofGuard: 4 },
    openflowConnectionUp: true,
    ovsdbConnectionUp: true,
    version: '0.1.0',
    heartbeatTime: '2026-11-26T16:00:00Z',
    ...overrides,
  };
}

interface LogLine {
  level: string;
  msg: string;
  fields: LogFields | undefined;
}

function recordingLogger(lines: LogLine[]): Logger {
  const logger: Logger = {
    debug: (msg, fields) => lines.push({ level: 'debug', msg, fields }),
    info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
    child: () => logger,
  };
  return logger;
}

async function waitFor(what: string, predicate: () => boolean): Promise<void> {
  // A guard, not a performance threshold: it only ends the polling before mocha's timeout would.
  const deadline = Date.now() + 15_000;
  while (!predicate() && Date.now() < deadline) await sleep(5);
  assert.ok(predicate(), `never happened: ${what}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Our fields of the stored object: what antreaAgentInfo() built, without the server's metadata. */
function content(obj: KubeObject | StoredAgentInfo | undefined): Record<string, unknown> {
  assert.ok(obj, 'no AntreaAgentInfo stored');
  const { metadata: _metadata, ...rest } = obj;
  return rest;
}

function expected(v: AgentInfoView): Record<string, unknown> {
  return content(antreaAgentInfo(v) as unknown as KubeObject);
}

describe('AntreaAgentInfo heartbeat (FakeApiServer, real client)', function () {
  let server: FakeApiServer;
  let api: KubeAgentInfoApi;
  let current: AgentInfoView;
  let logs: LogLine[];
  const heartbeats: AgentInfoHeartbeat[] = [];

  beforeEach(async () => {
    server = new FakeApiServer();
    await server.start();
    const kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfig());
    api = new KubeAgentInfoApi(kc);
    current = view();
    logs = [];
  });

  afterEach(async () => {
    for (const heartbeat of heartbeats.splice(0)) await heartbeat.stop();
    await server.stop();
  });

  function heartbeat(options: Partial<AgentInfoHeartbeatOptions> = {}): AgentInfoHeartbeat {
    const hb = new AgentInfoHeartbeat({
      api,
      source: { agentInfo: () => Promise.resolve(current) },
      logger: recordingLogger(logs),
      // Long enough that only the beats a test asks for happen, unless it sets its own.
      intervalMs: 3_600_000,
      ...options,
    });
    heartbeats.push(hb);
    return hb;
  }

  function stored(): KubeObject | undefined {
    return server.get(KIND, undefined, NODE);
  }

  /** "METHOD status" of the requests the server saw since `from`. */
  function requests(from = 0): string[] {
    return server.requestLog.slice(from).map((r) => `${r.method} ${r.status}`);
  }

  function warnings(): LogLine[] {
    return logs.filter((line) => line.level === 'warn');
  }

  it('creates the object at start, exactly as antctl get agentinfo builds it', async () => {
    const hb = heartbeat();
    await hb.start();
    const obj = stored();
    assert.equal(obj?.apiVersion, 'crd.antrea.io/v1beta1');
    assert.equal(obj?.kind, 'AntreaAgentInfo');
    assert.equal(obj?.metadata?.name, NODE);
    assert.deepEqual(content(obj), expected(current));
    assert.deepEqual(requests(), ['GET 404', 'POST 201']);
    const status = hb.status();
    assert.equal(status.consecutiveFailures, 0);
    assert.equal(status.resourceVersion, obj?.metadata?.resourceVersion);
    assert.deepEqual(warnings(), []);
  });

  it('replaces it with the last resourceVersion on the next beats, without reading it first', async () => {
    const hb = heartbeat();
    await hb.start();
    const firstRv = Number(stored()?.metadata?.resourceVersion);
    current = view({ localPods: 7, heartbeatTime: '2026-11-26T16:01:00Z' });
    const mark = server.requestLog.length;
    assert.equal(await hb.beat(), true);
    current = view({ localPods: 8, heartbeatTime: '2026-11-26T16:02:00Z' });
    assert.equal(await hb.beat(), true);
    assert.deepEqual(requests(mark), ['PUT 200', 'PUT 200']);
    const obj = stored();
    assert.deepEqual(content(obj), expected(current));
    assert.equal(obj?.localPodNum, 8);
    assert.ok(Number(obj?.metadata?.resourceVersion) > firstRv);
    assert.equal(hb.status().resourceVersion, obj?.metadata?.resourceVersion);
  });

  it('re-reads and retries when someone else wrote in between (409), keeping their labels', async () => {
    const hb = heartbeat();
    await hb.start();
    // Another writer (kubectl label) bumps the resourceVersion: the heartbeat's precondition is now stale.
    const other = stored();
    assert.ok(other?.metadata);
    other.metadata.labels = { site: 'factory-3' };
    server.seed(other);
    current = view({ localPods: 4 });
    const mark = server.requestLog.length;
    assert.equal(await hb.beat(), true);
    assert.deepEqual(requests(mark), ['PUT 409', 'GET 200', 'PUT 200']);
    const obj = stored();
    assert.equal(obj?.localPodNum, 4);
    assert.deepEqual(obj?.metadata?.labels, { site: 'factory-3' });
    assert.equal(hb.status().consecutiveFailures, 0);
  });

  it('creates it again when it was deleted', async () => {
    const hb = heartbeat();
    await hb.start();
    server.remove(KIND, undefined, NODE);
    const mark = server.requestLog.length;
    assert.equal(await hb.beat(), true);
    assert.deepEqual(requests(mark), ['PUT 404', 'GET 404', 'POST 201']);
    assert.deepEqual(content(stored()), expected(current));
  });

  it('adopts an object that already exists (written by an earlier boot)', async () => {
    server.seed({
      apiVersion: 'crd.antrea.io/v1beta1',
      kind: KIND,
      metadata: { name: NODE },
      localPodNum: 99,
    });
    const hb = heartbeat();
    await hb.start();
    assert.deepEqual(requests(), ['GET 200', 'PUT 200']);
    assert.deepEqual(content(stored()), expected(current));
  });

  it('keeps beating while the API server is down, warns once per outage, and writes again when it is back', async () => {
    const hb = heartbeat({ intervalMs: 10 });
    await hb.start();
    await server.stop();
    await waitFor('three failed beats', () => hb.status().consecutiveFailures >= 3);
    assert.equal(warnings().length, 1, JSON.stringify(warnings()));
    assert.equal(warnings()[0]?.fields?.reason, 'Unavailable');
    assert.match(hb.status().lastError ?? '', /AntreaAgentInfo/);
    current = view({ localPods: 5 });
    await server.start();
    await waitFor('written after the outage', () => stored()?.localPodNum === 5);
    await waitFor('status recovered', () => hb.status().consecutiveFailures === 0);
    assert.ok(logs.some((line) => line.level === 'info' && line.msg === 'AntreaAgentInfo written again'));
    // A second outage is a new one: warned again.
    await server.stop();
    await waitFor('failing again', () => hb.status().consecutiveFailures >= 2);
    assert.equal(warnings().length, 2);
    await server.start();
  });

  it('gives up a beat whose request hangs, instead of blocking the heartbeat', async () => {
    const hb = heartbeat({ requestTimeoutMs: 50 });
    await hb.start();
    let outcome: boolean | undefined;
    // While "restarting", the server parks requests: the PUT gets no answer until the restart ends.
    await server.restart({
      whileDown: async () => {
        outcome = await hb.beat();
      },
    });
    assert.equal(outcome, false);
    assert.equal(hb.status().consecutiveFailures, 1);
    assert.match(hb.status().lastError ?? '', /did not answer within 50 ms/);
    // The parked PUT landed after the restart with the old resourceVersion; the next beat still succeeds.
    current = view({ localPods: 6 });
    await waitFor('the parked request answered', () => server.requestLog.at(-1)?.status !== 0);
    assert.equal(await hb.beat(), true);
    assert.equal(stored()?.localPodNum, 6);
  });

  it('logs and skips a beat when the agent cannot report its info, without touching the API', async () => {
    let healthy = false;
    const hb = heartbeat({
      source: {
        agentInfo: () =>
          healthy ? Promise.resolve(current) : Promise.reject(new Error('ovs-vswitchd is gone')),
      },
    });
    await hb.start();
    assert.equal(await hb.beat(), false);
    assert.deepEqual(requests(), []);
    assert.equal(warnings().length, 1);
    assert.equal(warnings()[0]?.fields?.reason, 'Source');
    assert.equal(hb.status().consecutiveFailures, 2);
    healthy = true;
    assert.equal(await hb.beat(), true);
    assert.deepEqual(content(stored()), expected(current));
  });

  it('gives up a beat when the agent does not answer, and beats again afterwards', async () => {
    let answer = false;
    const hb = heartbeat({
      requestTimeoutMs: 50,
      source: {
        agentInfo: () => (answer ? Promise.resolve(current) : new Promise<AgentInfoView>(() => undefined)),
      },
    });
    await hb.start();
    assert.equal(hb.status().consecutiveFailures, 1);
    assert.match(hb.status().lastError ?? '', /did not report its info within 50 ms/);
    assert.deepEqual(requests(), []);
    answer = true;
    assert.equal(await hb.beat(), true);
    assert.deepEqual(content(stored()), expected(current));
  });

  it('beats every interval after start, and stop() cancels the next beat', async () => {
    const hb = heartbeat({ intervalMs: 5 });
    await hb.start();
    await waitFor('several beats', () => requests().filter((r) => r === 'PUT 200').length >= 3);
    await hb.stop();
    const after = server.requestLog.length;
    // Many intervals: a timer that survived stop() would have written again.
    await sleep(100);
    assert.equal(server.requestLog.length, after);
    assert.equal(await hb.beat(), true, 'an explicit beat still works after stop()');
  });

  it('stops retrying a conflict after the configured attempts and reports it', async () => {
    const conflicts: string[] = [];
    const conflicting: AgentInfoApi = {
      get: (name) => Promise.resolve({ metadata: { name, resourceVersion: '1' } }),
      create: () => Promise.reject(new AgentInfoApiError('AlreadyExists', 'exists', 409)),
      replace: (body) => {
        conflicts.push(body.metadata.resourceVersion ?? '');
        return Promise.reject(new AgentInfoApiError('Conflict', 'modified', 409));
      },
    };
    const hb = heartbeat({ api: conflicting, conflictRetries: 2 });
    await hb.start();
    assert.deepEqual(conflicts, ['1', '1', '1']);
    assert.equal(hb.status().consecutiveFailures, 1);
    assert.equal(warnings()[0]?.fields?.reason, 'Conflict');
  });

  it('reports a refusal (403) as Rejected', async () => {
    const forbidden: AgentInfoApi = {
      get: () => Promise.reject(new AgentInfoApiError('Rejected', 'forbidden', 403)),
      create: () => Promise.reject(new Error('not called')),
      replace: () => Promise.reject(new Error('not called')),
    };
    const hb = heartbeat({ api: forbidden });
    await hb.start();
    assert.equal(warnings()[0]?.fields?.reason, 'Rejected');
  });
});
