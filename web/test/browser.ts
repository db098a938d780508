import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { ServiceApp } from '@chat/shared';
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

/** What a browser suite started, for its hooks to check and to close. */
interface Started {
  people: ReadonlyArray<{ errors: string[] } | undefined>;
  browser?: Browser;
  system?: ServiceApp;
  dataDir?: string;
}

/** Each test must leave no uncaught error in any page; after the suite, the browser, system and data go. */
export function afterBrowserTests(started: () => Started): void {
  afterEach(() => {
    const errors = started().people.flatMap((person) => person?.errors.splice(0) ?? []);
    expect(errors).toEqual([]);
  });
  afterAll(async () => {
    const { browser, system, dataDir } = started();
    await browser?.close();
    await system?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });
}

export const STEP_TIMEOUT_MS = 60_000;
/** The password every suite's people sign up with. */
export const PASSWORD = 'a-long-enough-secret';
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** Calls the gateway's REST API as a test's setup does; throws on an answer that is not 2xx. */
export async function apiCall<T>(
  baseUrl: string,
  method: string,
  route: string,
  body?: unknown,
  token?: string,
): Promise<T> {
  const response = await fetch(`${baseUrl}${route}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

/** One person at one browser window; `errors` are the page's uncaught errors, each a defect. */
export interface Person {
  username: string;
  context: BrowserContext;
  page: Page;
  errors: string[];
}

/** A fresh browser window, logged in through the login page. */
export async function logIn(
  browser: Browser,
  baseUrl: string,
  login: { username: string; password: string },
  viewport = DESKTOP,
  initScript?: string,
): Promise<Person> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport, hasTouch: viewport === PHONE });
  context.setDefaultTimeout(15_000);
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  const person: Person = { username: login.username, context, page, errors: [] };
  page.on('pageerror', (error) => person.errors.push(`${login.username}: ${error.message}`));
  await page.goto('/#/login');
  await page.getByLabel('Username or email').fill(login.username);
  await page.getByLabel('Password').fill(login.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText(`Signed in as ${login.username}`).waitFor();
  return person;
}

/** The message in the person's open room whose text is `text` (all of it) or matches it. */
export function messageItem(person: Person, text: string | RegExp) {
  return person.page.locator('.messages li.message').filter({
    has: person.page.locator('.text', {
      hasText:
        typeof text === 'string' ? new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : text,
    }),
  });
}

export async function send(person: Person, text: string): Promise<void> {
  const box = person.page.getByRole('textbox', { name: /^Message / });
  await box.fill(text);
  await box.press('Enter');
}

/** Opens the room named `name` from the conversation list (going back to it first on a phone). */
export async function openRoom(person: Person, name: string): Promise<void> {
  const back = person.page.getByRole('button', { name: '← Rooms' });
  if (await back.isVisible()) await back.click();
  await person.page.getByRole('button', { name: new RegExp(`^${name}\\b`) }).click();
  await person.page.getByRole('heading', { name }).waitFor();
}
