import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ServiceApp } from '@chat/shared';
import { createSystem } from '@chat/standalone';
import type { Browser, BrowserContext, Page, WebSocketRoute } from 'playwright-core';
import {
  afterBrowserTests,
  buildWebClient,
  describeWithChromium,
  DESKTOP,
  launchChromium,
  PHONE,
  screenshot,
  STEP_TIMEOUT_MS,
} from './browser';

/** Short, so the suite outlives a token and has to refresh it to keep chatting. */
const TOKEN_TTL_SECONDS = 30;

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
    context.on('response', (response) => {
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

  /** Waits until the open room shows exactly `texts`, in that order; then says what it shows. */
  async function shows(person: Person, texts: string[]) {
    const shown = () => person.page.locator('.messages li.message .text').allTextContents();
    await person.page
      .waitForFunction(
        (expected) =>
          JSON.stringify(
            Array.from(document.querySelectorAll('.messages li.message .text'), (e) => e.textContent),
          ) === JSON.stringify(expected),
        texts,
        { timeout: 10_000 },
      )
      .catch(() => undefined);
    expect(await shown()).toEqual(texts);
  }

  function composer(person: Person) {
    return person.page.getByRole('textbox', { name: /^Message / });
  }

  async function send(person: Person, text: string) {
    await composer(person).fill(text);
    await composer(person).press('Enter');
  }

  /** On a phone the list and the room take turns: back to the list first when a room is open. */
  async function showList(person: Person) {
    const back = person.page.getByRole('button', { name: '← Rooms' });
    if (await back.isVisible()) await back.click();
  }

  async function openRoom(person: Person, name: string) {
    await showList(person);
    await person.page.getByRole('button', { name: new RegExp(`^${name}\\b`) }).click();
    await person.page.getByRole('heading', { name }).waitFor();
  }

  async function createRoom(person: Person, name: string, kind: 'public' | 'private') {
    await showList(person);
    await person.page.getByRole('button', { name: 'New room' }).click();
    const dialog = person.page.getByRole('dialog', { name: 'New room' });
    await dialog.getByLabel('Room name').fill(name);
    if (kind === 'private') await dialog.getByLabel('Invited people (private)').check();
    await dialog.getByRole('button', { name: 'Create room' }).click();
    await person.page.getByRole('heading', { name }).waitFor();
  }

  /** The room's details (members, Invite people, Leave room), opened if they are not. */
  async function showMembers(person: Person) {
    const toggle = person.page.getByRole('button', { name: /^Members/ });
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
    return person.page.getByRole('complementary', { name: 'Members' });
  }

  /** The id of the focused element, waited for: focus moves after a render. */
  async function focused(person: Person, id: string) {
    await person.page.waitForFunction((expected) => document.activeElement?.id === expected, id);
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

  afterBrowserTests(() => ({ people: [ann, bob], browser, system, dataDir }));

  it(
    'checks the signup fields in plain words before asking the server',
    async () => {
      await signUp(ann, { username: 'a', email: 'not-an-email' });
      await ann.page.getByLabel('Password').fill('short');
      await ann.page.getByRole('button', { name: 'Create account' }).click();
      const error = (field: string) => ann.page.locator(`#${field}-error`);
      await error('username').waitFor();
      expect(await error('username').textContent()).toBe('3 to 32 characters: letters, digits, . _ -');
      expect(await error('password').textContent()).toBe('At least 8 characters.');
      expect(await error('email').textContent()).toBe('An email address, like name@example.com.');
      expect(await error('name').count()).toBe(0);
      expect(await ann.page.getByLabel('Username').getAttribute('aria-invalid')).toBe('true');
      await focused(ann, 'username');
      await screenshot(ann.page, 'signup-errors-desktop');
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'signs up straight into the chat; a taken username or email shows on its field',
    async () => {
      await signUp(ann, { username: 'ann', name: 'Ann', email: 'ann@example.test' });
      await ann.page.getByText('Signed in as ann').waitFor();
      ann.loggedInAt = Date.now();
      await ann.page.waitForURL(/#\/chat$/);

      await signUp(bob, { username: 'ANN' });
      await bob.page.locator('#username-error', { hasText: 'That username is taken.' }).waitFor();
      await signUp(bob, { username: 'bob', email: 'ANN@example.test' });
      await bob.page.locator('#email-error', { hasText: 'An account with that email exists.' }).waitFor();
      expect(await bob.page.locator('#username-error').count()).toBe(0);
      await screenshot(bob.page, 'signup-taken-phone');
      await signUp(bob, { username: 'bob', name: 'Bob' });
      await bob.page.getByText('Signed in as bob').waitFor();
      bob.loggedInAt = Date.now();
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'creates a private room in a dialog, puts focus in the composer, invites, and carries messages both ways',
    async () => {
      await createRoom(ann, 'project-x', 'private');
      await focused(ann, 'composer');

      const members = await showMembers(ann);
      await members.locator('li', { hasText: 'ann (you)' }).getByText('owner').waitFor();
      await members.getByRole('button', { name: 'Invite people' }).click();
      const invite = ann.page.getByRole('dialog', { name: 'Invite people to project-x' });
      await invite.getByLabel('Invite someone to project-x').fill('bo');
      await invite.getByRole('button', { name: 'Invite bob' }).click();
      await invite.getByText('bob was added to project-x.').waitFor();
      await invite.getByRole('button', { name: 'Done' }).click();
      await ann.page.getByText('private · 2 members').waitFor();
      await members.locator('li', { hasText: 'bob' }).waitFor();
      expect(await members.locator('li').count()).toBe(2);
      // Who is in already is not offered again.
      await members.getByRole('button', { name: 'Invite people' }).click();
      await invite.getByLabel('Invite someone to project-x').fill('bo');
      await invite.getByText('Nobody found.').waitFor();
      expect(await invite.getByRole('button', { name: 'Invite bob' }).count()).toBe(0);
      await invite.getByRole('button', { name: 'Done' }).click();
      await ann.page.getByRole('button', { name: 'Close members' }).click();
      // The timeline says who came in, from member.joined.
      await ann.page.locator('.member-notice', { hasText: /^bob joined$/ }).waitFor();

      // bob learns of the room from the room.invited event: no reload.
      await openRoom(bob, 'project-x');
      await send(ann, 'hello bob');
      await message(bob, 'hello bob').waitFor();
      expect(await message(bob, 'hello bob').locator('.sender').textContent()).toBe('ann');
      expect(await message(bob, 'hello bob').locator('time').getAttribute('datetime')).toMatch(/^\d{4}-/);

      await send(bob, 'hi ann');
      await message(ann, 'hi ann').waitFor();
      expect(await composer(bob).inputValue()).toBe('');
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'groups one sender’s messages under one header, below a day separator',
    async () => {
      for (const text of ['first of three', 'second of three', 'third of three']) await send(ann, text);
      await message(bob, 'third of three').waitFor();
      await send(bob, 'and one from bob');
      await message(ann, 'and one from bob').waitFor();
      const classes = async (text: string) => (await message(ann, text).getAttribute('class')) ?? '';
      expect(await classes('first of three')).not.toContain('continued');
      expect(await classes('second of three')).toContain('continued');
      expect(await classes('third of three')).toContain('continued');
      expect(await classes('and one from bob')).not.toContain('continued');
      expect(await message(ann, 'second of three').locator('.avatar').count()).toBe(0);
      expect(await message(ann, 'first of three').locator('.avatar').textContent()).toBe('AN');
      await ann.page.locator('.messages .day', { hasText: 'Today' }).waitFor();
      expect(await ann.page.locator('.messages .day').count()).toBe(1);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'grows the composer with its text; Shift+Enter is a new line, Enter sends',
    async () => {
      const box = composer(ann);
      const height = async () => (await box.boundingBox())!.height;
      const oneLine = await height();
      await box.pressSequentially('line one');
      await box.press('Shift+Enter');
      await box.pressSequentially('line two');
      await box.press('Shift+Enter');
      await box.pressSequentially('line three');
      expect(await box.inputValue()).toBe('line one\nline two\nline three');
      expect(await height()).toBeGreaterThan(oneLine * 1.8);
      await box.press('Enter');
      await message(bob, 'line one\nline two\nline three').waitFor();
      expect(await box.inputValue()).toBe('');
      await ann.page.waitForFunction((start) => {
        const element = document.getElementById('composer');
        return element !== null && element.getBoundingClientRect().height < start * 1.3;
      }, oneLine);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'shows who is typing, and stops when they send',
    async () => {
      await composer(bob).pressSequentially('still typ', { delay: 20 });
      await ann.page.getByText('bob is typing…').waitFor();
      await composer(bob).press('Enter');
      await message(ann, 'still typ').waitFor();
      await ann.page.getByText('bob is typing…').waitFor({ state: 'hidden' });
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'starts a direct message from the New message dialog',
    async () => {
      await ann.page.getByRole('button', { name: 'New message' }).click();
      const dialog = ann.page.getByRole('dialog', { name: 'New message' });
      await dialog.getByLabel('Find someone to message').fill('bo');
      await dialog.getByRole('button', { name: 'Message bob' }).click();
      await ann.page.getByRole('heading', { name: 'bob' }).waitFor();
      await focused(ann, 'composer');
      await send(ann, 'just between us');
      await message(ann, 'just between us').waitFor();

      await showList(bob);
      const direct = bob.page.getByRole('button', { name: /^ann\b.*direct message/ });
      await direct.locator('.unread').waitFor();
      await screenshot(bob.page, 'rooms-with-direct-phone');
      await direct.click();
      await message(bob, 'just between us').waitFor();
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'shows presence where it is known: a dot that follows someone in and out, none for a stranger',
    async () => {
      // cid shares no room with ann: whether cid is online is not ann's to know.
      const cid = await fetch(`${baseUrl}/api/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'cid', password: 'cid-secret-pass' }),
      });
      expect(cid.status).toBe(201);
      const bobItem = ann.page.getByRole('button', { name: /^bob\b.*direct message/ });
      await bobItem.locator('.dot.online').waitFor();
      await bob.page.goto('about:blank');
      await bobItem.locator('.dot.offline').waitFor();
      expect(await bobItem.textContent()).toContain('offline');
      await bob.page.goto('/');
      await bob.page.getByText('Signed in as bob').waitFor();
      await bobItem.locator('.dot.online').waitFor();

      await ann.page.getByRole('button', { name: 'New message' }).click();
      const dialog = ann.page.getByRole('dialog', { name: 'New message' });
      await dialog.getByLabel('Find someone to message').fill('');
      const row = (name: string) => dialog.locator('.users li', { hasText: name });
      await row('cid').waitFor();
      await row('bob').locator('.dot.online').waitFor();
      expect(await row('cid').locator('.dot').count()).toBe(0);
      await ann.page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      await openRoom(ann, 'project-x');
      await openRoom(bob, 'project-x');
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'keeps the open room in the URL: a reload comes back to it',
    async () => {
      await ann.page.waitForURL(/#\/chat\/[^/]+$/);
      await ann.page.reload();
      await ann.page.getByRole('heading', { name: 'project-x' }).waitFor();
      await message(ann, 'hello bob').waitFor();
      await ann.page.goBack();
      await ann.page.getByRole('heading', { name: 'bob' }).waitFor();
      await ann.page.goForward();
      await ann.page.getByRole('heading', { name: 'project-x' }).waitFor();
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
      await ann.page.getByRole('heading', { name: 'project-x' }).waitFor();
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
      await ann.page.getByRole('heading', { name: 'project-x' }).waitFor();
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
      await ann.page.getByRole('heading', { name: 'project-x' }).waitFor();
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
    'shows markup in a message as text, and web addresses as safe links',
    async () => {
      const markup = '<img src=x onerror=alert(1)>';
      await send(bob, markup);
      await message(ann, markup).waitFor();
      expect(await message(ann, markup).locator('.text').textContent()).toBe(markup);
      const linked = 'docs at https://example.com/guide?x=1, not javascript:alert(2)';
      await send(bob, linked);
      const link = message(ann, linked).getByRole('link');
      await link.waitFor();
      expect(await link.count()).toBe(1);
      expect(await link.getAttribute('href')).toBe('https://example.com/guide?x=1');
      expect(await link.getAttribute('rel')).toBe('noopener noreferrer');
      expect(await link.getAttribute('target')).toBe('_blank');
      expect(await ann.page.locator('a[href^="javascript:" i]').count()).toBe(0);
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
    'stores 40 messages typed as fast as the composer takes them in typed order; a new public room shows up by itself',
    async () => {
      await createRoom(bob, 'archive', 'public');
      // Nothing announces a public room: ann's list asks again every 15 s while the page is in view.
      const archive = ann.page.getByRole('button', { name: /^archive\b/ });
      const texts = Array.from({ length: 60 }, (_, index) => `archived #${index + 1}`);
      for (const text of texts.slice(0, 40)) {
        await composer(bob).fill(text);
        await composer(bob).press('Enter');
      }
      await message(bob, 'archived #40').locator('time').waitFor({ timeout: 30_000 });
      for (const text of texts.slice(40)) await send(bob, text);
      await message(bob, 'archived #60').locator('time').waitFor({ timeout: 30_000 });
      await shows(bob, texts);

      await archive.waitFor({ timeout: 20_000 });
      expect(await ann.page.getByRole('button', { name: 'Refresh rooms' }).count()).toBe(0);
      await archive.click();
      await ann.page.getByRole('button', { name: 'Join archive' }).click();
      await message(ann, 'archived #60').waitFor();
      await focused(ann, 'composer');
      await bob.page.locator('.member-notice', { hasText: /^ann joined$/ }).waitFor();
      expect(await message(ann, 'archived #1').count()).toBe(0);
      await ann.page.locator('.messages').evaluate((element) => element.scrollTo(0, 0));
      await message(ann, 'archived #1').waitFor();
      // Stored in typed order: what history returns, seq by seq, is what was typed.
      await shows(ann, texts);
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
    'leaves a room: it goes back to the rooms to join, and the others read "ann left"',
    async () => {
      await (await showMembers(ann)).getByRole('button', { name: 'Leave room' }).click();
      await ann.page.getByText('Pick a conversation, or start one with +.').waitFor();
      await ann.page.waitForURL(/#\/chat$/);
      await ann.page
        .getByRole('navigation')
        .locator('section', { hasText: 'Public rooms to join' })
        .getByRole('button', { name: /^archive\b/ })
        .waitFor();
      await bob.page.locator('.member-notice', { hasText: /^ann left$/ }).waitFor();
      await openRoom(ann, 'project-x');
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'can be used from the keyboard: a skip link first, dialogs that open with Enter and close with Escape',
    async () => {
      await ann.page.reload();
      await ann.page.getByRole('heading', { name: 'project-x' }).waitFor();
      const skip = ann.page.getByRole('link', { name: 'Skip to the conversation' });
      // The first stop of the Tab key, shown when it has focus.
      expect(
        await skip.evaluate(
          (link) => link === document.querySelector('a[href], button, input, textarea, select'),
        ),
      ).toBe(true);
      await skip.focus();
      expect((await skip.boundingBox())!.y).toBeGreaterThanOrEqual(0);
      await ann.page.keyboard.press('Enter');
      await focused(ann, 'composer');

      const newRoom = ann.page.getByRole('button', { name: 'New room' });
      await newRoom.focus();
      await ann.page.keyboard.press('Enter');
      const dialog = ann.page.getByRole('dialog', { name: 'New room' });
      await focused(ann, 'room-name');
      await ann.page.keyboard.type('by-keyboard');
      await ann.page.keyboard.press('Enter');
      await ann.page.getByRole('heading', { name: 'by-keyboard' }).waitFor();
      await dialog.waitFor({ state: 'hidden' });
      await focused(ann, 'composer');

      await newRoom.focus();
      await ann.page.keyboard.press('Enter');
      await dialog.waitFor();
      await ann.page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      expect(await newRoom.evaluate((element) => element === document.activeElement)).toBe(true);
      await openRoom(ann, 'project-x');
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'shares the session with a second tab, and neither tab’s refresh ends it for the other',
    async () => {
      await openRoom(bob, 'project-x');
      const second = await ann.context.newPage();
      second.on('pageerror', (error) => ann.errors.push(`ann (second tab): ${error.message}`));
      await second.goto('/');
      await second.getByText('Signed in as ann').waitFor();
      await second.getByRole('button', { name: /^project-x\b/ }).click();

      // Both tabs live past the access token's lifetime: the refresh token rotates at least once meanwhile.
      const expired = Date.now() + TOKEN_TTL_SECONDS * 1000 + 2_000;
      await ann.page.waitForTimeout(Math.max(0, expired - Date.now()));
      expect(ann.refreshes).toBeGreaterThan(0);
      await send(bob, 'still here?');
      await message(ann, 'still here?').waitFor();
      await second.locator('.messages li.message .text', { hasText: /^still here\?$/ }).waitFor();
      await send(ann, 'still here.');
      await message(bob, 'still here.').waitFor();
      await second.getByRole('textbox', { name: /^Message / }).fill('from the second tab');
      await second.getByRole('textbox', { name: /^Message / }).press('Enter');
      await message(bob, 'from the second tab').waitFor();
      expect(await ann.page.getByText('Signed in as ann').count()).toBe(1);
      expect(await second.getByText('Signed in as ann').count()).toBe(1);

      // Logging out in one tab logs out both.
      await ann.page.getByRole('button', { name: 'Log out' }).click();
      await ann.page.getByText('You have logged out.').waitFor();
      await ann.page.waitForURL(/#\/login$/);
      await second.getByText('You have logged out.').waitFor();
      expect(await ann.page.evaluate(() => localStorage.getItem('chat.session'))).toBeNull();
      expect(await ann.page.evaluate(() => Object.keys(sessionStorage))).toEqual([]);
      await second.close();
    },
    STEP_TIMEOUT_MS * 2,
  );

  it(
    'logs in again from the login page',
    async () => {
      await logIn(ann);
      await ann.page.waitForURL(/#\/chat$/);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'takes screenshots of the main screens, desktop and phone, light and dark',
    async () => {
      // A conversation as people have it, for the pictures.
      await createRoom(ann, 'launch-plan', 'private');
      await (await showMembers(ann)).getByRole('button', { name: 'Invite people' }).click();
      const invite = ann.page.getByRole('dialog', { name: 'Invite people to launch-plan' });
      await invite.getByLabel('Invite someone to launch-plan').fill('bo');
      await invite.getByRole('button', { name: 'Invite bob' }).click();
      await invite.getByText('bob was added to launch-plan.').waitFor();
      await invite.getByRole('button', { name: 'Done' }).click();
      await openRoom(bob, 'launch-plan');
      const conversation: Array<[Person, string]> = [
        [ann, 'Morning! The draft launch notes are up: https://example.com/launch-notes'],
        [ann, 'Could you read the pricing section before lunch?'],
        [bob, 'On it. The table reads well on my phone too.'],
        [bob, 'One typo in the second paragraph ("recieve"), otherwise good to go.'],
        [ann, 'Fixed, thanks. Shipping it at 3.'],
      ];
      for (const [person, text] of conversation) {
        await send(person, text);
        await message(ann, text).locator('time').waitFor();
      }
      await message(bob, conversation.at(-1)![1]).waitFor();

      const login = await browser.newContext({ baseURL: baseUrl, viewport: DESKTOP });
      const loginPage = await login.newPage();
      for (const scheme of ['light', 'dark'] as const) {
        await loginPage.emulateMedia({ colorScheme: scheme });
        await loginPage.setViewportSize(DESKTOP);
        await loginPage.goto('/#/login');
        await loginPage.getByRole('button', { name: 'Log in' }).waitFor();
        await screenshot(loginPage, `login-desktop-${scheme}`);
        await loginPage.setViewportSize(PHONE);
        await screenshot(loginPage, `login-phone-${scheme}`);

        await ann.page.emulateMedia({ colorScheme: scheme });
        await openRoom(ann, 'launch-plan');
        await screenshot(ann.page, `room-desktop-${scheme}`);
        await showMembers(ann);
        await screenshot(ann.page, `members-desktop-${scheme}`);
        await ann.page.getByRole('button', { name: 'Close members' }).click();
        await ann.page.getByRole('button', { name: 'New room' }).click();
        await screenshot(ann.page, `new-room-desktop-${scheme}`);
        await ann.page.keyboard.press('Escape');

        await bob.page.emulateMedia({ colorScheme: scheme });
        await openRoom(bob, 'launch-plan');
        await screenshot(bob.page, `room-phone-${scheme}`);
        await showMembers(bob);
        await screenshot(bob.page, `members-phone-${scheme}`);
        await bob.page.getByRole('button', { name: 'Close members' }).click();
        await showList(bob);
        await screenshot(bob.page, `rooms-phone-${scheme}`);
      }
      await login.close();
    },
    STEP_TIMEOUT_MS * 2,
  );

  it(
    'returns to login with a message when the server ends the session (close 4001)',
    async () => {
      await bob.page.getByText('Signed in as bob').waitFor();
      const token = await bob.page.evaluate(
        () =>
          (JSON.parse(localStorage.getItem('chat.session') ?? '{}') as { accessToken: string }).accessToken,
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
