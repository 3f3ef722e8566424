// Lives in scripts/lib so that scripts can use it; test/support/k8s-netns-bridge.ts re-exports it for the tests.
// Makes an in-process FakeApiServer reachable from inside a test node's network namespace, where the firmware
// runs: 127.0.0.1 there is not the test process's loopback. A unix socket (filesystem paths cross network
// namespaces) forwards to the server's TCP port, and socat inside the namespace listens on the same port number
// on its own loopback, so the server's own kubeconfig works unchanged inside the namespace.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { FakeApiServer } from './fake-apiserver';

export class NetnsApiBridge {
  private unixServer: net.Server | undefined;
  private socat: ChildProcess | undefined;
  private readonly connections = new Set<net.Socket>();

  constructor(private readonly options: { netns: string; server: FakeApiServer; dir: string }) {}

  get socketPath(): string {
    return path.join(this.options.dir, 'k8s-api.sock');
  }

  private get port(): number {
    return Number(new URL(this.options.server.url).port);
  }

  async start(): Promise<void> {
    fs.rmSync(this.socketPath, { force: true });
    const unixServer = net.createServer((client) => {
      // Connected to the server's port at each connection: when the server is stopped, clients see a reset.
      const upstream = net.connect({ host: '127.0.0.1', port: this.port });
      for (const socket of [client, upstream]) {
        this.connections.add(socket);
        socket.on('close', () => this.connections.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      unixServer.once('error', reject);
      unixServer.listen(this.socketPath, () => resolve());
    });
    this.unixServer = unixServer;
    const socat = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.options.netns,
        'socat',
        `TCP-LISTEN:${this.port},bind=127.0.0.1,reuseaddr,fork`,
        `UNIX-CONNECT:${this.socketPath}`,
      ],
      { stdio: 'ignore' },
    );
    this.socat = socat;
    await this.waitListening();
  }

  async stop(): Promise<void> {
    const socat = this.socat;
    this.socat = undefined;
    if (socat && socat.exitCode === null) {
      const exited = new Promise<void>((resolve) => socat.once('exit', () => resolve()));
      socat.kill('SIGTERM');
      await exited;
    }
    for (const socket of this.connections) socket.destroy();
    await new Promise<void>((resolve) =>
      this.unixServer ? this.unixServer.close(() => resolve()) : resolve(),
    );
    this.unixServer = undefined;
  }

  /** socat is listening once `ss` inside the namespace shows the port. */
  private async waitListening(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const listening = await new Promise<boolean>((resolve) => {
        const ss = spawn('ip', ['netns', 'exec', this.options.netns, 'ss', '-ltnH', `sport = :${this.port}`]);
        let out = '';
        ss.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        ss.on('exit', () => resolve(out.includes(`:${this.port}`)));
      });
      if (listening) return;
      if (Date.now() > deadline)
        throw new Error(`socat in ${this.options.netns} never listened on ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
