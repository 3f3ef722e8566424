// Child process of test/integration/store-sigkill.test.ts: writes to the store in a tight loop until killed. Each
// write is one transaction of three rows (settings keys `sigkill.<id>.a|b|c`, 4 KiB each, so commits span pages);
// the id is printed on stdout only after the commit returned. Usage: store-sigkill-writer.ts DB_FILE FIRST_ID
import { openStore } from '../../firmware/store/database';
import { SettingsRepository } from '../../firmware/store/settings-repository';

const [file, firstText] = process.argv.slice(2);
if (file === undefined || firstText === undefined) {
  process.stderr.write('usage: store-sigkill-writer.ts DB_FILE FIRST_ID\n');
  process.exit(2);
}
const db = openStore(file);
const settings = new SettingsRepository(db);
const padding = 'x'.repeat(4096);
const write = db.transaction((id: number) => {
  for (const part of ['a', 'b', 'c']) settings.set(`sigkill.${id}.${part}`, `${id}:${part}:${padding}`);
});
process.stdout.write('ready\n');
for (let id = Number(firstText); ; id++) {
  write(id);
  // Pipes are written synchronously on Linux: the parent has the line before the next write starts.
  process.stdout.write(`${id}\n`);
}
