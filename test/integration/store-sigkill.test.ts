// The store survives SIGKILL in the middle of writes: a child process writes transactions in a tight loop and
// prints each id after its commit; the test kills it with SIGKILL at an arbitrary point (three times, on the same
// file), then checks that the file is intact (PRAGMA integrity_check), still in WAL mode, that every id the child
// reported is there with all of its rows, and that no transaction is there in part.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openStore } from '../../firmware/store/database';
import { SettingsRepository } from '../../firmware/store/settings-repository';

const WRITER = path.resolve(__dirname, '../support/store-sigkill-writer.ts');

/** Runs the writer from `firstId`, SIGKILLs it once it reported `commits` ids; returns the reported ids. */
function writeUntilKilled(file: string, firstId: number, commits: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, file, String(firstId)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const reported: number[] = [];
    let pending = '';
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (/^\d+$/.test(line)) reported.push(Number(line));
      }
      if (!killed && reported.length >= commits) {
        killed = true;
        // Mid-loop: the next transaction is being written right now.
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') {
        reject(new Error(`writer ended with code ${code}, signal ${signal}: ${stderr}`));
        return;
      }
      // Lines that were already in the pipe when the kill landed are commits too.
      if (/^\d+$/.test(pending)) reported.push(Number(pending));
      resolve(reported);
    });
  });
}

describe('store: SIGKILL during writes', function () {
  this.timeout(120_000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-store-sigkill-'));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('never corrupts the file or loses a committed write, and never keeps half a transaction', async () => {
    const file = path.join(dir, 'antrea-edge.db');
    const reported: number[] = [];
    // Different amounts of work before each kill, so the kills land at different points of the loop.
    for (const [round, commits] of [
      [0, 150],
      [1, 377],
      [2, 611],
    ] as const) {
      const ids = await writeUntilKilled(file, round * 100_000, commits);
      assert.ok(ids.length >= commits, `round ${round}: the writer reported ${ids.length} commits`);
      reported.push(...ids);
      assert.ok(fs.existsSync(`${file}-wal`), 'the kill left the write-ahead log behind (WAL mode in use)');
    }

    const db = openStore(file);
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      const settings = new SettingsRepository(db);
      const missing = reported.filter((id) =>
        ['a', 'b', 'c'].some(
          (part) => settings.get(`sigkill.${id}.${part}`) !== `${id}:${part}:${'x'.repeat(4096)}`,
        ),
      );
      assert.deepEqual(missing, [], 'every reported commit is present with all its rows');
      // Transactions the kill interrupted: all three rows or none.
      const keys = settings.keys('sigkill.');
      const partsById = new Map<string, number>();
      for (const key of keys) {
        const id = key.split('.')[1] ?? '';
        partsById.set(id, (partsById.get(id) ?? 0) + 1);
      }
      const partial = [...partsById].filter(([, parts]) => parts !== 3);
      assert.deepEqual(partial, [], 'no transaction is there in part');
      assert.ok(partsById.size >= reported.length);
      // At most the one transaction per round that committed before its id was printed is unreported.
      assert.ok(
        partsById.size <= reported.length + 3,
        `${partsById.size} transactions for ${reported.length} ids`,
      );
    } finally {
      db.close();
    }
  });
});
