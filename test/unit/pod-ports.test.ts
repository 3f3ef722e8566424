// K8S_POD_PORTS: the simulator's CNI_ARGS extension that gives standalone pods their container ports.
import assert from 'node:assert/strict';
import { parseContainerPorts } from '../../firmware/agent/pod-lifecycle';
import { CniError, CniErrorCode } from '../../firmware/cni/cni-types';
import { formatContainerPort, parseContainerPort } from '../../scripts/lib/sim-pods';

describe('K8S_POD_PORTS', () => {
  it('parses [NAME:]PORT[/PROTOCOL] entries, TCP by default', () => {
    assert.deepEqual(parseContainerPorts(undefined), []);
    assert.deepEqual(parseContainerPorts(''), []);
    assert.deepEqual(parseContainerPorts('http:80/TCP,dns:53/udp,9090,metrics:9100'), [
      { name: 'http', containerPort: 80, protocol: 'TCP' },
      { name: 'dns', containerPort: 53, protocol: 'UDP' },
      { containerPort: 9090, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9100, protocol: 'TCP' },
    ]);
  });

  it('fails the ADD with InvalidEnvironment on a malformed entry, naming it', () => {
    for (const [text, reason] of [
      ['http:0', /between 1 and 65535/],
      ['http:65536/TCP', /between 1 and 65535/],
      ['http:80/ICMP', /TCP, UDP or SCTP/],
      ['http:eighty', /not \[NAME:\]PORT/],
      ['HTTP:80', /port name must contain only/],
      ['a-very-long-port-name:80', /no more than 15 characters/],
      ['1234:80', /at least one letter/],
    ] as const) {
      assert.throws(
        () => parseContainerPorts(`ok:1,${text}`),
        (error: unknown) =>
          error instanceof CniError &&
          error.code === CniErrorCode.InvalidEnvironment &&
          error.message.includes(`"${text}"`) &&
          reason.test(error.message),
        text,
      );
    }
  });

  it('is what scripts/sim writes for --port, round trip', () => {
    for (const text of ['http:80/TCP', '53/UDP', 'sctp-port:7777/SCTP']) {
      const port = parseContainerPort(text);
      assert.equal(formatContainerPort(port), text);
      assert.deepEqual(parseContainerPorts(formatContainerPort(port)), [port]);
    }
    assert.deepEqual(parseContainerPort('web:8080'), { name: 'web', containerPort: 8080, protocol: 'TCP' });
    assert.throws(() => parseContainerPort('web:0'), /PORT 1-65535/);
  });
});
