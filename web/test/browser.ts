import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { skipForMissing } from '@chat/testing';

/** Debian's Chromium (README, "Testing"): never a downloaded browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

const WEB_ROOT = path.resolve(__dirname, '..');
const REPO_ROOT = path.resolve(WEB_ROOT, '..');
export const WEB_DIST = path.join(WEB_ROOT, 'dist');
const SCREENSHOTS = path.join(REPO_ROOT, 'artifacts', 'screenshots');

function chromiumMissing(): string | undefined {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return undefined;
  } catch {
    return `${CHROMIUM_PATH} is not there or not executable (apt-get install -y chromium, or set CHROMIUM_PATH)`;
  }
}

/** `describe` when Chromium is installed; otherwise the shared harness's skip (or, in CI, failure). */
export function describeWithChromium(name: string, fn: () => void): void {
  const missing = chromiumMissing();
  if (missing) skipForMissing(name, `no Chromium for browser tests: ${missing}`, fn);
  else describe(name, fn);
}

/** Builds web/dist from the current source, so the suite never tests a stale build. */
export function buildWebClient(): string {
  execFileSync(
    process.execPath,
    [
      path.join(path.dirname(require.resolve('vite/package.json')), 'bin', 'vite.js'),
      'build',
      '--logLevel',
      'warn',
    ],
    {
      cwd: WEB_ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  return WEB_DIST;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/** Saves a full-page screenshot under artifacts/screenshots/ (git-ignored; CI keeps it as an artifact). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
