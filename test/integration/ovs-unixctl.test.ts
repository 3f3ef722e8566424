// The control-socket client against a real ovs-vswitchd: what RevalidatorWait (policy realization, rule
// statistics) relies on instead of an ovs-appctl process per call.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OvsProcesses } from '../../firmware/ovs/ovs-processes';
import { UnixctlError, unixctlCall, vswitchdControlSocket } from '../../firmware/ovs/unixctl';

describe('ovs-vswitchd control socket (unixctl)', function () {
  this.timeout(60_000);
  let dir: string;
  let ovs: OvsProcesses;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-unixctl-'));
    ovs = new OvsProcesses({ dir });
    await ovs.start();
    // revalidator/wait needs exactly one datapath backer (udpif): one netdev bridge.
    await ovs.vsctl([
      'add-br',
      `aeuc${process.pid % 10000}`,
      '--',
      'set',
      'bridge',
      `aeuc${process.pid % 10000}`,
      'datapath_type=netdev',
    ]);
  });

  after(async () => {
    await ovs.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers commands with their text, waits for a revalidator round, and reports errors', async () => {
    const socket = await vswitchdControlSocket(dir);
    assert.match(await unixctlCall(socket, 'version'), /ovs-vswitchd \(Open vSwitch\) \d+\.\d+/);
    assert.equal(await unixctlCall(socket, 'revalidator/wait'), '');
    await assert.rejects(
      unixctlCall(socket, 'no-such/command'),
      (error: unknown) =>
        error instanceof UnixctlError &&
        error.code === 'UNIXCTL_FAILED' &&
        /not a valid command/.test(error.message),
    );
    await assert.rejects(
      unixctlCall(path.join(dir, 'missing.ctl'), 'version'),
      (error: unknown) => error instanceof UnixctlError && error.code === 'UNIXCTL_UNREACHABLE',
    );
  });
});
