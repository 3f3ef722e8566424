import assert from 'node:assert/strict';
import { LoginBackoff } from '../../firmware/core/console/session';
import { harness, loggedIn } from './console-fakes';

const MANIFEST = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: a
spec:
  podSelector: {}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: b
spec:
  podSelector: {}
`;

function crLines(text: string): string {
  return text.split('\n').join('\r');
}

describe('console session: login', () => {
  it('shows the banner (hostname, version, management IP, node status) and forces a first-boot password', async () => {
    const h = harness();
    h.session.start();
    await h.session.settled();
    const banner = h.take();
    assert.match(banner, /antrea-edge 9\.9\.9 on edge1 - Test Board 4/);
    assert.match(banner, /Management IP: 192\.168\.7\.2\/24 \(eth0\)/);
    assert.match(banner, /Node status: +Healthy, 1 local pod, 1 network policy/);
    assert.ok(banner.endsWith('edge1 login: '));
    await h.type('admin\r');
    assert.match(h.take(), /First boot: no password is set for admin.*\r\nNew password: $/s);
    await h.type('short\r');
    assert.match(h.take(), /too short: at least 8 characters\.\r\nNew password: $/);
    await h.type('long enough\rdifferent!\r');
    assert.match(h.take(), /do not match/);
    await h.type('long enough\rlong enough\r');
    const out = h.take();
    assert.match(out, /Password set\.\r\nLogged in as admin\./);
    assert.ok(out.endsWith('admin@edge1> '));
    assert.equal(h.accounts.passwords.get('admin'), 'long enough');
    assert.ok(!h.output().includes('long enough'), 'passwords are never echoed');
    assert.equal(h.session.user, 'admin');
  });

  it('refuses a wrong password and backs off: input during the wait is discarded, then the prompt returns', async () => {
    const backoff = new LoginBackoff(1000, 8000);
    const h = harness({ backoff });
    h.accounts.passwords.set('admin', 'correct horse');
    h.session.start();
    await h.session.settled();
    await h.type('admin\rwrong\r');
    assert.match(h.take(), /Login incorrect\r\n$/);
    assert.equal(h.session.stateKind, 'locked');
    await h.type('admin\rcorrect horse\r');
    assert.equal(h.session.stateKind, 'locked', 'typing during the back-off is not a login attempt');
    h.timers.advance(999);
    assert.equal(h.session.stateKind, 'locked');
    h.timers.advance(1);
    assert.equal(h.session.stateKind, 'login');
    await h.type('nobody\rcorrect horse\r');
    assert.equal(backoff.failedAttempts, 2, 'unknown users fail like wrong passwords');
    h.timers.advance(1999);
    assert.equal(h.session.stateKind, 'locked', 'the second failure waits twice as long');
    h.timers.advance(1);
    await h.type('admin\rcorrect horse\r');
    assert.equal(h.session.user, 'admin');
    assert.equal(backoff.failedAttempts, 0);
  });

  it('logs out on Ctrl-D and on "exit", back to the banner and login prompt', async () => {
    const h = await loggedIn();
    await h.type('\x04');
    assert.match(h.take(), /logout\r\nLogged out\.\r\n\r\nantrea-edge 9\.9\.9.*edge1 login: $/s);
    assert.equal(h.session.user, undefined);
    await h.type('admin\rcorrect horse\rexit\r');
    assert.match(h.take(), /Logged out\./);
    assert.equal(h.session.stateKind, 'login');
  });

  it('logs out after the idle timeout, and not while a command is running', async () => {
    const h = await loggedIn({ limits: { idleTimeoutMs: 60_000 } });
    await h.type('get pi\r');
    h.timers.advance(59_000);
    assert.equal(h.session.user, 'admin');
    let release: () => void = () => undefined;
    h.backend.gate = new Promise((resolve) => (release = resolve));
    h.session.input(new TextEncoder().encode('get podinterface\r'));
    h.timers.advance(120_000);
    assert.equal(h.session.stateKind, 'busy');
    release();
    await h.session.settled();
    h.timers.advance(60_000);
    assert.equal(h.session.user, undefined);
    assert.match(h.output(), /Idle for 1 minute: logged out\./);
  });
});

describe('console session: commands', () => {
  it('runs antctl commands with antctl columns and formats, and prints "help"', async () => {
    const h = await loggedIn();
    await h.type('get podinterface\r');
    const table = h.take();
    assert.match(table, /NAMESPACE +NAME +INTERFACE-NAME +IP +MAC +PORT-UUID +OF-PORT +CONTAINER-ID\r\n/);
    assert.match(table, /default +web +web-1234 +10\.10\.0\.5/);
    await h.type('antctl get pi web -o json\r');
    assert.match(h.take(), /"interfaceName": "web-1234"/);
    await h.type('help\r');
    const help = h.take();
    for (const word of [
      'get podinterface',
      'query networkpolicyevaluation',
      'apply -f -',
      'show system',
      'passwd',
    ]) {
      assert.ok(help.includes(word), word);
    }
    await h.type('get podinterface --help\r');
    const commandHelp = h.take();
    assert.match(commandHelp, /Usage:\r\n {2}get podinterface \[NAME\] \[flags\]/);
    assert.ok(!commandHelp.includes('--socket'), 'the CLI-only flag is not offered');
  });

  it('suggests the closest command for a typo', async () => {
    const h = await loggedIn();
    await h.type('shwo system\r');
    assert.match(h.take(), /Error: unknown command "shwo"; did you mean "show system"\?/);
    await h.type('gte podinterface\r');
    assert.match(h.take(), /did you mean "get"\?/);
    await h.type('get podinterfac\r');
    assert.match(h.take(), /did you mean "podinterface"\?/);
    await h.type('xyzzy\r');
    assert.match(h.take(), /unknown command "xyzzy"; type "help"/);
  });

  it('applies a pasted multi-document manifest ended by "."', async () => {
    const h = await loggedIn();
    await h.type('apply -f -\r');
    assert.match(h.take(), /Paste the manifest/);
    await h.type(`${crLines(MANIFEST)}.\r`);
    const out = h.take();
    assert.match(
      out,
      /networkpolicy\.networking\.k8s\.io\/a created\r\nnetworkpolicy\.networking\.k8s\.io\/b created/,
    );
    assert.equal(h.backend.applied.length, 1, 'one request: all or nothing');
    assert.equal(h.backend.applied[0]?.length, 2);
  });

  it('ends a paste on a trailing "---" only when nothing follows it in time', async () => {
    const h = await loggedIn({ limits: { pasteSeparatorWaitMs: 1000 } });
    await h.type('apply -f -\r');
    const [first, second] = MANIFEST.split('---\n');
    await h.type(crLines(`${first}---\n`));
    h.timers.advance(500);
    await h.type(crLines(`${second}---\n`));
    assert.equal(h.backend.applied.length, 0, 'the first --- separated two documents');
    h.timers.advance(1000);
    await h.session.settled();
    assert.equal(h.backend.applied[0]?.length, 2);
    assert.equal(h.session.stateKind, 'shell');
  });

  it('applies on Ctrl-D, cancels on Ctrl-C, and reports malformed YAML with line and column', async () => {
    const h = await loggedIn();
    await h.type(`apply -f -\r${crLines(MANIFEST)}\x04`);
    assert.equal(h.backend.applied.length, 1);
    await h.type('apply -f -\rkind: NetworkPolicy\r\x03');
    assert.match(h.take(), /Cancelled: nothing was applied/);
    await h.type('apply -f -\rkind: NetworkPolicy\rmetadata: {name: [\r.\r');
    assert.match(
      h.take(),
      /Error: <stdin> is not a valid manifest; nothing was applied\r\n {2}<stdin>:\d+:\d+: /,
    );
    assert.equal(h.backend.applied.length, 1);
    await h.type('apply -f policy.yaml\r');
    assert.match(h.take(), /cannot read files: use "apply -f -"/);
  });

  it('cancels a running command on Ctrl-C and ignores its late answer', async () => {
    const h = await loggedIn();
    let release: () => void = () => undefined;
    h.backend.gate = new Promise((resolve) => (release = resolve));
    h.session.input(new TextEncoder().encode('get ovsflows\r'));
    assert.equal(h.session.stateKind, 'busy');
    h.session.input(Uint8Array.of(0x03));
    assert.match(h.take(), /\^C\r\nCancelled\.\r\nadmin@edge1> $/);
    release();
    await h.session.settled();
    assert.ok(!h.take().includes('FLOW'), 'the cancelled command prints nothing');
    await h.type('help\r');
    assert.match(h.take(), /Appliance commands/);
  });

  it('labels a pod with kubectl semantics (merge, --overwrite, KEY-)', async () => {
    const h = await loggedIn();
    await h.type('label pod default/web tier=front\r');
    assert.match(h.take(), /pod\/web labeled/);
    assert.deepEqual(h.backend.podLabels.get('default/web'), { app: 'web', tier: 'front' });
    await h.type('label pod default/web app=db\r');
    assert.match(h.take(), /'app' already has a value \(web\), and --overwrite is false/);
    await h.type('label pod web app=db --overwrite tier-\r');
    assert.deepEqual(h.backend.podLabels.get('default/web'), { app: 'db' });
    await h.type('label pod default/ghost a=b\r');
    assert.match(h.take(), /Error: pod default\/ghost not found/);
    await h.type('label pod default/web Bad_Key!=x\r');
    assert.match(h.take(), /label key "Bad_Key!"/);
  });

  it('shows system facts and interfaces with their board roles', async () => {
    const h = await loggedIn();
    await h.type('show system\r');
    const system = h.take();
    assert.match(system, /Board: +Test Board 4 \(testboard\)/);
    assert.match(system, /CPU temperature: +48\.5 °C/);
    assert.match(system, /Memory: +1\.0 GiB used of 4\.0 GiB \(25%\)/);
    assert.match(system, /Load average: +0\.50 0\.25 0\.13/);
    assert.match(system, /Uptime: +3h 2m/);
    await h.type('show interfaces\r');
    const lines = h.take().split('\r\n').slice(1);
    assert.match(lines[0] ?? '', /^NAME +ROLE +LINK +MAC +ADDRESSES$/);
    assert.match(lines[1] ?? '', /^eth1 +cluster +down/);
    assert.match(lines[2] ?? '', /^eth0 +management +up +02:00:00:00:00:01 +192\.168\.7\.2\/24$/);
    assert.match(lines[3] ?? '', /^antrea-gw0 +<NONE> +up/);
    await h.type('show interfaces -o json\r');
    assert.match(h.take(), /"role": "management"/);
  });

  it('asks before reboot and shutdown; the simulator only says so', async () => {
    const real = await loggedIn();
    await real.type('reboot\r');
    assert.match(real.take(), /Reboot edge1 now\? \[y\/N\] $/);
    await real.type('n\r');
    assert.deepEqual(real.power.calls, []);
    await real.type('shutdown\ryes\r');
    assert.deepEqual(real.power.calls, ['shutdown']);
    const sim = await loggedIn({ simulated: true });
    await sim.type('reboot\ry\r');
    assert.match(sim.take(), /the reboot is simulated and nothing was done/);
    assert.deepEqual(sim.power.calls, []);
  });

  it('changes the password with passwd after checking the current one', async () => {
    const h = await loggedIn();
    await h.type('passwd\rnot it\r');
    assert.match(h.take(), /wrong password; the password is unchanged/);
    await h.type('passwd\rcorrect horse\rbattery staple\rbattery staple\r');
    assert.match(h.take(), /Password set\./);
    assert.equal(h.accounts.passwords.get('admin'), 'battery staple');
    assert.equal(h.session.stateKind, 'shell');
  });

  it('completes commands, flags and object names on Tab', async () => {
    const h = await loggedIn();
    await h.type('get podin\t');
    await h.type('-o j\t\r');
    assert.match(h.take(), /get podinterface -o json \r\n\[/);
    await h.type('label pod d\t');
    assert.ok(h.take().endsWith('default/web '));
    await h.type('\x15sh\t');
    assert.match(h.take(), /\r\nshow +shutdown\r\n/, 'ambiguous: the choices are listed');
    await h.type('o\t');
    assert.ok(h.output().endsWith('admin@edge1> show '));
  });

  it('never sends control characters from answers to the terminal', async () => {
    const h = await loggedIn();
    h.backend.podLabels.set('default/web', {});
    await h.type('label pod default/we\x1b[31mb x=y\r');
    assert.ok(!h.output().includes('\x1b[31m'));
  });
});
