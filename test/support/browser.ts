// Debian's Chromium driven by playwright-core for end-to-end tests of the editor a test node serves. The
// management server listens on the node's loopback inside its network namespace, so the browser runs in that
// namespace too (`ip netns exec`, which execs Chromium in place: Playwright's pipe to it and its kill of the
// process group keep working). Screenshots go to the test artefacts directory.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_DIR } from '../../scripts/lib/dev-node';

/** Where Debian's `chromium` package installs the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Flags for this machine: as root Chromium needs --no-sandbox; with no network beyond the test's namespaces its
 * background connections (updates, sync, QUIC probes) only fail, slowly and many at a time.
 */
export const CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export class BrowserMissingError extends Error {
  override readonly name = 'BrowserMissingError';
  readonly code = 'BrowserMissing';
}

/** Throws BrowserMissingError unless Debian's Chromium is installed at CHROMIUM_PATH. */
export function requireChromium(): void {
  try {
    fs.accessSync(CHROMIUM_PATH, fs.constants.X_OK);
  } catch {
    throw new BrowserMissingError(
      `${CHROMIUM_PATH} not found: this test needs Debian's Chromium package (apt-get install -y chromium). ` +
        'Not `npx playwright install`: that downloads a browser of its own, which this machine cannot.',
    );
  }
}

export interface NetnsBrowserOptions {
  /** The network namespace the browser runs in. */
  netns: string;
  /** A directory of the test's own, for the launcher script. */
  workDir: string;
  /** Per browser action (click, fill, wait for a selector); 60 s unless told: the machine is loaded. */
  actionTimeoutMs?: number;
}

export interface NetnsBrowser {
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium inside `netns` with one page (1600×1000). Playwright gives it a new empty
 * --user-data-dir of its own, removed on close.
 */
export async function launchBrowserInNetns(options: NetnsBrowserOptions): Promise<NetnsBrowser> {
  requireChromium();
  const launcher = path.join(options.workDir, 'chromium-in-netns');
  fs.writeFileSync(
    launcher,
    `#!/bin/sh\nexec ip netns exec ${shellQuote(options.netns)} ${CHROMIUM_PATH} "$@"\n`,
    { mode: 0o755 },
  );
  const browser = await chromium.launch({
    executablePath: launcher,
    headless: true,
    args: [...CHROMIUM_FLAGS],
    timeout: 120_000,
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    context.setDefaultTimeout(options.actionTimeoutMs ?? 60_000);
    context.setDefaultNavigationTimeout(options.actionTimeoutMs ?? 60_000);
    const page = await context.newPage();
    return {
      browser,
      page,
      async close() {
        await browser.close();
      },
    };
  } catch (error) {
    await browser.close().catch(() => undefined);
    throw error;
  }
}

/** The test artefacts directory: $ANTREA_EDGE_ARTIFACTS, or test-artifacts/ in the repository; created. */
export function artifactsDir(): string {
  const dir = process.env['ANTREA_EDGE_ARTIFACTS'] || path.join(REPO_DIR, 'test-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  // Keeps the repository's own artefacts out of git without an entry in the top-level .gitignore.
  const ignore = path.join(dir, '.gitignore');
  if (dir === path.join(REPO_DIR, 'test-artifacts') && !fs.existsSync(ignore))
    fs.writeFileSync(ignore, '*\n');
  return dir;
}

/** Saves a full-page screenshot as <artefacts>/<name>.png; returns its path (also printed for the run log). */
export async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(artifactsDir(), `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  process.stdout.write(`      screenshot: ${file}\n`);
  return file;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
