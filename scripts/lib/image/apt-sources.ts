// Which Debian mirror the image is built from: the one this machine's apt already uses (sources.list or deb822
// .sources), or the one given with --mirror. The image's own sources list the same mirror, so the appliance
// updates from where it was built.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface DebianMirrors {
  main: string;
  security: string;
}

export class MirrorError extends Error {
  readonly code = 'NoDebianMirror';
}

interface SourceEntry {
  uri: string;
  suites: string[];
}

/** Entries of one-line (`deb URI SUITE COMPONENTS`) and deb822 (`URIs:`/`Suites:`) source files. */
export function parseAptSources(text: string, deb822: boolean): SourceEntry[] {
  const entries: SourceEntry[] = [];
  if (!deb822) {
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (match?.[1] !== undefined && match[2] !== undefined)
        entries.push({ uri: match[1], suites: [match[2]] });
    }
    return entries;
  }
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(raw);
      if (match?.[1] !== undefined) fields.set(match[1].toLowerCase(), match[2] ?? '');
    }
    if (!(fields.get('types') ?? 'deb').split(/\s+/).includes('deb')) continue;
    if (fields.get('enabled') === 'no') continue;
    const suites = (fields.get('suites') ?? '').split(/\s+/).filter(Boolean);
    for (const uri of (fields.get('uris') ?? '').split(/\s+/).filter(Boolean)) entries.push({ uri, suites });
  }
  return entries;
}

/** The mirrors for bookworm and bookworm-security; `override` (--mirror) wins for the main archive. */
export function debianMirrors(override?: string, aptDir = '/etc/apt'): DebianMirrors {
  const entries: SourceEntry[] = [];
  const list = path.join(aptDir, 'sources.list');
  if (fs.existsSync(list)) entries.push(...parseAptSources(fs.readFileSync(list, 'utf8'), false));
  const dir = path.join(aptDir, 'sources.list.d');
  if (fs.existsSync(dir)) {
    for (const name of fs.readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      if (name.endsWith('.list')) entries.push(...parseAptSources(fs.readFileSync(file, 'utf8'), false));
      else if (name.endsWith('.sources'))
        entries.push(...parseAptSources(fs.readFileSync(file, 'utf8'), true));
    }
  }
  const main = override ?? entries.find((e) => e.suites.includes('bookworm'))?.uri;
  if (main === undefined || main === '') {
    throw new MirrorError(
      'no Debian bookworm mirror in /etc/apt/sources.list(.d); give one with --mirror URL',
    );
  }
  const security =
    entries.find((e) => e.suites.includes('bookworm-security'))?.uri ??
    main.replace(/\/debian\/?$/, '/debian-security');
  return { main: main.replace(/\/$/, ''), security: security.replace(/\/$/, '') };
}
