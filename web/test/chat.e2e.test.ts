import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ServiceApp } from '@chat/shared';
import { createSystem } from '@chat/standalone';
import type { Browser, BrowserContext, Page, WebSocketRoute } from 'playwright-core';
import { buildWebClient, describeWithChromium, launchChromium, screenshot } from './browser';

/** Short, so the suite outlives a token and has to refresh it to keep chatting. */
const TOKEN_TTL_SECONDS = 30;
const STEP_TIMEOUT_MS = 60_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 740 };

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One socket of a page, relayed by the test; `dead` once its path went silent. */
interface Link {
  page: WebSocketRoute;
  server: WebSocketRoute;
  dead: boolean;
}

/** One person at one browser window; their socket runs through a route the test can cut. */
interface Person {
  username: string;
  password: string;
  context: BrowserContext;
  page: Page;
  /** Dialogs the page opened (an injected `alert` would land here). */
  dialogs: string[];
  /** Uncaught errors in the page: each one is a defect a user may notice. */
  errors: string[];
  /** While true, every socket the page opens is closed at once: the network is "down". */
  offline: boolean;
  /** While true, the path is dead: frames on every link vanish both ways and nothing is closed. */
  silent: boolean;
  /** While true, what the server sends this page is lost on the way; what the page sends still arrives. */
  deaf: boolean;
  /** While true, the test answers each message this page sends with a refusal, as a server would. */
  refuseSends: boolean;
  links: Link[];
  refreshes: number;
  loggedInAt: number;
}

describeWithChromium('the browser client, on the whole system in one process', () => {
  let system: ServiceApp;
  let dataDir: string;
  let browser: Browser;
  let baseUrl: string;
  let ann: Person;
  let bob: Person;

  async function open(username: string, viewport: { width: number; height: number }): Promise<Person> {
    const context = await browser.newContext({ baseURL: baseUrl, viewport });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const person: Person = {
      username,
      password: `${username}-secret-pass`,
      context,
      page,
      dialogs: [],
      errors: [],
      offline: false,
      silent: false,
      deaf: false,
      refuseSends: false,
      links: [],
      refreshes: 0,
      loggedInAt: 0,
    };
    page.on('dialog', (dialog) => {
      person.dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => person.errors.push(`${username}: ${error.message}`));
    page.on('response', (response) => {
      if (response.url().endsWith('/api/auth/refresh') && response.status() === 200) person.refreshes += 1;
    });
    await page.routeWebSocket(/\/ws\?/, (socket) => {
      if (person.offline) {
        void socket.close({ code: 1011, reason: 'network down (test)' });
        return;
      }
      const link: Link = { page: socket, server: socket.connectToServer(), dead: person.silent };
      socket.onMessage((frame) => {
        if (link.dead) return;
        const sent = JSON.parse(String(frame)) as { type: string; ref?: string };
        if (person.refuseSends && sent.type === 'send') {
          const refusal = {
            type: 'error',
            ref: sent.ref,
            code: 'FORBIDDEN',
            message: 'Refused by the test.',
          };
          return link.page.send(JSON.stringify(refusal));
        }
        link.server.send(frame);
      });
      link.server.onMessage((frame) => {
        if (!link.dead && !person.deaf) link.page.send(frame);
      });
      person.links.push(link);
    });
    await page.goto('/');
    return person;
  }

  /** Cuts the person's live socket at both ends, as a network drop would, and keeps new ones from opening. */
  async function dropConnection(person: Person): Promise<void> {
    person.offline = true;
    for (const link of person.links.splice(0)) {
      await link.server.close();
      await link.page.close({ code: 1011, reason: 'network down (test)' });
    }
  }

  /** The person's network path dies without a word: nothing arrives either way, and nothing is closed. */
  function goSilent(person: Person): void {
    person.silent = true;
    for (const link of person.links) link.dead = true;
  }

  /** The path is back: the dead links are reset (as the peer's stack would on its return), new ones work. */
  async function restorePath(person: Person): Promise<void> {
    person.silent = false;
    for (const link of person.links.filter((item) => item.dead)) {
      person.links.splice(person.links.indexOf(link), 1);
      await link.server.close();
      await link.page.close({ code: 1011, reason: 'network back (test)' });
    }
  }

  async function signUp(person: Person, fields: { username: string; email?: string; name?: string }) {
    const { page } = person;
    await page.goto('/#/signup');
    await page.getByLabel('Username').fill(fields.username);
    await page.getByLabel('Password').fill(person.password);
    await page.getByLabel('Name (optional)').fill(fields.name ?? '');
    await page.getByLabel('Email (optional)').fill(fields.email ?? '');
    await page.getByRole('button', { name: 'Create account' }).click();
  }

  async function logIn(person: Person) {
    const { page } = person;
    await page.getByLabel('Username or email').fill(person.username);
    await page.getByLabel('Password').fill(person.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText(`Signed in as ${person.username}`).waitFor();
    person.loggedInAt = Date.now();
  }

  /** The message (or unsent draft) whose text is exactly `text`. */
  function message(person: Person, text: string) {
    return person.page
      .locator('.messages li.message')
      .filter({ has: person.page.locator('.text', { hasText: new RegExp(`^${escapeRegExp(text)}$`) }) });
  }

  async function send(person: Person, text: string) {
    const composer = person.page.getByRole('textbox', { name: /^Message / });
    await composer.fill(text);
    await composer.press('Enter');
  }

  async function openRoom(person: Person, name: string) {
    await person.page.getByRole('button', { name: new RegExp(`^${name}\\b`) }).click();
    await person.page.getByRole('heading', { name }).waitFor();
  }

  beforeAll(async () => {
    const webDir = buildWebClient();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'chat-web-e2e-'));
    system = createSystem({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      WEB_DIR: webDir,
      LOG_LEVEL: process.env.LOG_LEVEL,
      ACCESS_TOKEN_TTL_SECONDS: String(TOKEN_TTL_SECONDS),
    });
    baseUrl = (await system.start()).url;
    browser = await launchChromium();
    ann = await open('ann', DESKTOP);
    bob = await open('bob', PHONE);
  }, 120_000);

  afterEach(() => {
    const errors = [ann, bob].flatMap((person) => person?.errors.splice(0) ?? []);
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it(
    'shows the API validation messages next to the fields they are about',
    async () => {
      await signUp(ann, { username: 'a', email: 'not-an-email' });
      await ann.page.getByLabel('Password').fill('short');
      await ann.page.getByRole('button', { name: 'Create account' }).click();
      await ann.page.locator('#username-error').waitFor();
      expect(await ann.page.locator('#password-error').textContent()).toBeTruthy();
      expect(await ann.page.locator('#email-error').textContent()).toBeTruthy();
      expect(await ann.page.locator('#name-error').count()).toBe(0);
      expect(await ann.page.getByLabel('Username').getAttribute('aria-invalid')).toBe('true');
      await screenshot(ann.page, 'signup-errors-desktop');
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'signs two people up; a taken username or email shows on its field',
    async () => {
      await signUp(ann, { username: 'ann', name: 'Ann', email: 'ann@example.test' });
      await ann.page.getByText('Your account is ready').waitFor();
      expect(await ann.page.getByLabel('Username or email').inputValue()).toBe('ann');
      await screenshot(ann.page, 'login-desktop');

      await signUp(bob, { username: 'ANN' });
      await bob.page.locator('#username-error').waitFor();
      await signUp(bob, { username: 'bob', email: 'ANN@example.test' });
      await bob.page.locator('#email-error').waitFor();
      expect(await bob.page.locator('#username-error').count()).toBe(0);
      await screenshot(bob.page, 'signup-taken-phone');
      await signUp(bob, { username: 'bob', name: 'Bob' });
      await bob.page.getByText('Your account is ready').waitFor();
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'logs both in, straight into the chat',
    async () => {
      await logIn(ann);
      await logIn(bob);
      await ann.page.waitForURL(/#\/chat$/);
      await bob.page.waitForURL(/#\/chat$/);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'creates a private room, invites, and carries messages both ways',
    async () => {
      await ann.page.getByLabel('Room name').fill('project-x');
      await ann.page.getByLabel('Invited people (private)').check();
      await ann.page.getByRole('button', { name: 'Create room' }).click();
      await ann.page.getByRole('heading', { name: 'project-x' }).waitFor();

      await ann.page.getByRole('button', { name: 'Invite people' }).click();
      await ann.page.getByLabel('Invite someone to project-x').fill('bo');
      await ann.page.getByRole('button', { name: 'Invite bob' }).click();
      await ann.page.getByText('bob was added to project-x.').waitFor();
      await ann.page.getByText('private · 2 members').waitFor();

      // bob learns of the room from the room.invited event: no reload.
      await openRoom(bob, 'project-x');
      await send(ann, 'hello bob');
      await message(bob, 'hello bob').waitFor();
      expect(await message(bob, 'hello bob').locator('.sender').textContent()).toBe('ann');
      expect(await message(bob, 'hello bob').locator('time').getAttribute('datetime')).toMatch(/^\d{4}-/);

      await send(bob, 'hi ann');
      await message(ann, 'hi ann').waitFor();
      expect(await bob.page.getByRole('textbox', { name: /^Message / }).inputValue()).toBe('');
      await screenshot(ann.page, 'chat-desktop');
      await screenshot(bob.page, 'chat-room-phone');
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'shows who is typing, and stops when they send',
    async () => {
      await bob.page
        .getByRole('textbox', { name: /^Message / })
        .pressSequentially('still typ', { delay: 20 });
      await ann.page.getByText('bob is typing…').waitFor();
      await bob.page.getByRole('textbox', { name: /^Message / }).press('Enter');
      await message(ann, 'still typ').waitFor();
      await ann.page.getByText('bob is typing…').waitFor({ state: 'hidden' });
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'shows presence: a dot goes grey when someone leaves and green when they are back',
    async () => {
      const bobInPeople = ann.page.locator('.people li', { hasText: 'bob' });
      // A reload: the session survives in sessionStorage, and hello names who is online in shared rooms.
      await ann.page.reload();
      await bobInPeople.locator('.dot.online').waitFor();
      await bob.page.goto('about:blank');
      await bobInPeople.locator('.dot:not(.online)').waitFor();
      await bob.page.goto('/');
      await bob.page.getByText('Signed in as bob').waitFor();
      await bobInPeople.locator('.dot.online').waitFor();
      await screenshot(bob.page, 'chat-rooms-phone');
      await openRoom(bob, 'project-x');
      await openRoom(ann, 'project-x');
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'survives a dropped socket: a banner while reconnecting, then what was sent meanwhile, both ways',
    async () => {
      await dropConnection(ann);
      const banner = ann.page.getByText('Connection lost. Reconnecting…');
      await banner.waitFor();
      await screenshot(ann.page, 'reconnecting-desktop');

      await send(bob, 'sent while ann was away');
      await message(bob, 'sent while ann was away').waitFor();
      await send(ann, 'written while offline');
      await message(ann, 'written while offline').getByText('sending…').waitFor();

      ann.offline = false;
      await banner.waitFor({ state: 'hidden', timeout: 30_000 });
      await message(ann, 'sent while ann was away').waitFor();
      await message(bob, 'written while offline').waitFor();
      await ann.page.getByText('sending…').waitFor({ state: 'hidden' });
      expect(await message(ann, 'written while offline').count()).toBe(1);
      expect(await message(bob, 'written while offline').count()).toBe(1);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'notices a connection gone silent within 10 s, says it is reconnecting, and catches up after',
    async () => {
      goSilent(ann);
      const cutAt = Date.now();
      await send(bob, 'sent into the silence');
      await message(bob, 'sent into the silence').locator('time').waitFor();
      const banner = ann.page.getByText('Reconnecting…');
      await banner.waitFor({ timeout: 11_000 });
      expect(Date.now() - cutAt).toBeLessThanOrEqual(10_000);
      await restorePath(ann);
      await banner.waitFor({ state: 'hidden', timeout: 15_000 });
      await message(ann, 'sent into the silence').waitFor();
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'follows the browser offline: reconnecting at once, and what was typed meanwhile goes when it is back',
    async () => {
      await ann.context.setOffline(true);
      const offAt = Date.now();
      const banner = ann.page.getByText('Reconnecting…');
      await banner.waitFor();
      expect(Date.now() - offAt).toBeLessThan(2_000);
      await screenshot(ann.page, 'offline-desktop');
      await send(ann, 'typed while offline');
      await message(ann, 'typed while offline').getByText('sending…').waitFor();
      await ann.context.setOffline(false);
      await banner.waitFor({ state: 'hidden' });
      await message(bob, 'typed while offline').waitFor();
      await ann.page.getByText('sending…').waitFor({ state: 'hidden' });
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'keeps an unsent message across a reload and sends it again under the same id: stored once',
    async () => {
      // Never reached the server: only the copy kept in the tab can bring it there.
      goSilent(ann);
      await send(ann, 'typed into a dead connection');
      await ann.page.reload();
      await openRoom(ann, 'project-x');
      await message(ann, 'typed into a dead connection').getByText('sending…').waitFor();
      await restorePath(ann);
      await message(bob, 'typed into a dead connection').waitFor();
      await message(ann, 'typed into a dead connection').locator('time').waitFor();

      // Reached the server, but its ack never came back: the copy goes again under the same clientMsgId.
      ann.deaf = true;
      await send(ann, 'written just before a reload');
      await message(bob, 'written just before a reload').waitFor();
      await message(ann, 'written just before a reload').getByText('sending…').waitFor();
      ann.deaf = false;
      await ann.page.reload();
      await openRoom(ann, 'project-x');
      await message(ann, 'written just before a reload').locator('time').waitFor();
      await ann.page.getByText('sending…').waitFor({ state: 'hidden' });
      await send(ann, 'after the reload');
      await message(bob, 'after the reload').waitFor();
      expect(await message(bob, 'written just before a reload').count()).toBe(1);
      expect(await message(ann, 'written just before a reload').count()).toBe(1);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'shows a refused message as not sent, with Retry, also after a reload',
    async () => {
      ann.refuseSends = true;
      await send(ann, 'refused at first');
      const unsent = message(ann, 'refused at first');
      await unsent.getByText('Not sent: Refused by the test.').waitFor();
      await ann.page.reload();
      await openRoom(ann, 'project-x');
      await unsent.getByText('Not sent: Refused by the test.').waitFor();
      await screenshot(ann.page, 'not-sent-desktop');
      ann.refuseSends = false;
      await unsent.getByRole('button', { name: 'Retry' }).click();
      await message(bob, 'refused at first').waitFor();
      await unsent.locator('time').waitFor();
      expect(await ann.page.getByText(/^Not sent/).count()).toBe(0);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'shows markup in a message as text, never as markup',
    async () => {
      const markup = '<img src=x onerror=alert(1)>';
      await send(bob, markup);
      await message(ann, markup).waitFor();
      expect(await message(ann, markup).locator('.text').textContent()).toBe(markup);
      // Give a would-be image time to fail to load and fire its handler.
      await ann.page.waitForTimeout(500);
      expect(await ann.page.locator('.messages img').count()).toBe(0);
      expect(await bob.page.locator('.messages img').count()).toBe(0);
      expect(ann.dialogs).toEqual([]);
      expect(bob.dialogs).toEqual([]);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'starts a direct message from the user list',
    async () => {
      await ann.page.getByLabel('Find someone to message').fill('bo');
      await ann.page.getByRole('button', { name: 'Message bob' }).click();
      await ann.page.getByRole('heading', { name: 'bob' }).waitFor();
      await send(ann, 'just between us');
      await message(ann, 'just between us').waitFor();

      await bob.page.getByRole('button', { name: '← Rooms' }).click();
      const direct = bob.page.getByRole('button', { name: /^ann\b.*direct message/ });
      await direct.locator('.unread').waitFor();
      await screenshot(bob.page, 'rooms-with-direct-phone');
      await direct.click();
      await message(bob, 'just between us').waitFor();
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'loads older history when scrolled to the top',
    async () => {
      await bob.page.getByRole('button', { name: '← Rooms' }).click();
      await bob.page.getByLabel('Room name').fill('archive');
      await bob.page.getByRole('button', { name: 'Create room' }).click();
      await bob.page.getByRole('heading', { name: 'archive' }).waitFor();
      for (let index = 1; index <= 60; index += 1) {
        await send(bob, `archived #${index}`);
        await message(bob, `archived #${index}`).locator('time').waitFor();
      }

      // A public room created by someone else comes to the list on asking: nothing announces it.
      await ann.page.getByRole('button', { name: 'Refresh rooms' }).click();
      await ann.page.getByRole('button', { name: /^archive\b/ }).click();
      await ann.page.getByRole('button', { name: 'Join archive' }).click();
      await message(ann, 'archived #60').waitFor();
      expect(await message(ann, 'archived #1').count()).toBe(0);
      await ann.page.locator('.messages').evaluate((element) => element.scrollTo(0, 0));
      await message(ann, 'archived #1').waitFor();
      expect(await ann.page.locator('.messages li.message').count()).toBe(60);
      // What was on screen stays there: the reader is not thrown to the top of the older page.
      const inView = (text: string) =>
        message(ann, text).evaluate((item) => {
          const list = item.closest('.messages')!.getBoundingClientRect();
          const box = item.getBoundingClientRect();
          return box.bottom > list.top && box.top < list.bottom;
        });
      expect(await inView('archived #11')).toBe(true);
      expect(await inView('archived #1')).toBe(false);
    },
    STEP_TIMEOUT_MS * 2,
  );

  it(
    'refreshes the access token before it expires and keeps chatting past its lifetime',
    async () => {
      const expired = ann.loggedInAt + TOKEN_TTL_SECONDS * 1000 + 2_000;
      await ann.page.waitForTimeout(Math.max(0, expired - Date.now()));
      expect(ann.refreshes).toBeGreaterThan(0);
      await send(bob, 'still here?');
      await message(ann, 'still here?').waitFor();
      await send(ann, 'still here.');
      await message(bob, 'still here.').waitFor();
      expect(await ann.page.getByText('Signed in as ann').count()).toBe(1);
    },
    STEP_TIMEOUT_MS * 2,
  );

  it(
    'logs out back to the login page',
    async () => {
      await ann.page.getByRole('button', { name: 'Log out' }).click();
      await ann.page.getByText('You have logged out.').waitFor();
      await ann.page.waitForURL(/#\/login$/);
      expect(await ann.page.evaluate(() => sessionStorage.length)).toBe(0);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'returns to login with a message when the server ends the session (close 4001)',
    async () => {
      await bob.page.getByText('Signed in as bob').waitFor();
      const token = await bob.page.evaluate(
        () =>
          (JSON.parse(sessionStorage.getItem('chat.session') ?? '{}') as { accessToken: string }).accessToken,
      );
      const response = await fetch(`${baseUrl}/api/auth/logout`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(204);
      await bob.page.getByText('Your session ended. Please log in again.').waitFor();
      await bob.page.waitForURL(/#\/login$/);
    },
    STEP_TIMEOUT_MS,
  );
});
