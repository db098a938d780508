import { execFileSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ServiceApp } from '@chat/shared';
import { createSystem } from '@chat/standalone';
import type { Browser } from 'playwright-core';
import {
  afterBrowserTests,
  apiCall,
  buildWebClient,
  describeWithChromium,
  DESKTOP,
  launchChromium,
  logIn as logInAs,
  messageItem as message,
  openRoom,
  PASSWORD,
  PHONE,
  screenshot,
  send,
  STEP_TIMEOUT_MS,
  type Person,
} from './browser';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * The page's `Notification` and visibility, stood in for: headless Chromium neither shows notifications nor
 * hides a page, so the test records what the page asks of `Notification` and says when the tab is hidden.
 */
const NOTIFICATION_STUB = `
  window.__notifications = [];
  window.__hidden = false;
  Object.defineProperty(Document.prototype, 'visibilityState', {
    configurable: true,
    get() { return window.__hidden ? 'hidden' : 'visible'; },
  });
  class RecordedNotification {
    static permission = 'default';
    static async requestPermission() { RecordedNotification.permission = 'granted'; return 'granted'; }
    constructor(title, options) { window.__notifications.push({ title, body: options && options.body }); }
    close() {}
  }
  window.Notification = RecordedNotification;
`;

/**
 * Issues 11 and 13 in the browser: editing, deleting, reactions and replies; unread counts, mentions and
 * notifications; room settings, removal and blocking; announcements from an admin.
 */
describeWithChromium('the browser client: messages, read state, rooms and people', () => {
  let system: ServiceApp;
  let dataDir: string;
  let webDir: string;
  let browser: Browser;
  let baseUrl: string;
  const people: Person[] = [];
  let ann: Person;
  let bob: Person;

  function start(): Promise<{ url: string }> {
    system = createSystem({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      WEB_DIR: webDir,
      LOG_LEVEL: process.env.LOG_LEVEL,
    });
    return system.start();
  }

  const call = <T>(method: string, route: string, body?: unknown, token?: string) =>
    apiCall<T>(baseUrl, method, route, body, token);

  const tokenOf = async (username: string) =>
    (await call<{ accessToken: string }>('POST', '/api/auth/login', { username, password: PASSWORD }))
      .accessToken;

  async function logIn(username: string, viewport = DESKTOP, initScript?: string): Promise<Person> {
    const person = await logInAs(browser, baseUrl, { username, password: PASSWORD }, viewport, initScript);
    people.push(person);
    return person;
  }

  /** An action from a message's toolbar (shown on hover). */
  async function act(person: Person, text: string, action: string) {
    const item = message(person, text);
    await item.hover();
    await item.getByRole('button', { name: action, exact: true }).click();
  }

  const title = (person: Person) => person.page.title();

  beforeAll(async () => {
    webDir = buildWebClient();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'chat-web-people-'));
    baseUrl = (await start()).url;
    for (const username of ['root', 'ann', 'bob', 'carl'])
      await call('POST', '/api/users', { username, password: PASSWORD });
    // The first admin is made as the README says: `npm run admin -- promote <name>` with the system stopped.
    await system.stop();
    execFileSync('npm', ['run', '--silent', 'admin', '--', 'promote', 'root'], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATA_DIR: dataDir, MONGO_URL: '', NATS_URL: '', LOG_LEVEL: 'error' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    baseUrl = (await start()).url;

    const annToken = await tokenOf('ann');
    const team = await call<{ id: string }>(
      'POST',
      '/api/rooms',
      { name: 'team', kind: 'private' },
      annToken,
    );
    const ids = new Map<string, string>();
    for (const username of ['bob', 'carl']) {
      const { items } = await call<{ items: Array<{ id: string; username: string }> }>(
        'GET',
        `/api/users?q=${username}`,
        undefined,
        annToken,
      );
      ids.set(username, items.find((user) => user.username === username)!.id);
      await call('POST', `/api/rooms/${team.id}/invitations`, { userId: ids.get(username) }, annToken);
    }
    await call('POST', '/api/rooms', { name: 'side', kind: 'private' }, await tokenOf('bob'));

    browser = await launchChromium();
    ann = await logIn('ann');
    bob = await logIn('bob', DESKTOP, NOTIFICATION_STUB);
  }, 180_000);

  afterBrowserTests(() => ({ people, browser, system, dataDir }));

  it(
    'edits and deletes a message for everyone; a reaction shows its count and who; a reply leads to the original',
    async () => {
      await openRoom(ann, 'team');
      await openRoom(bob, 'team');
      await send(ann, 'the launch is on Fridya');
      await message(bob, 'the launch is on Fridya').waitFor();

      await act(ann, 'the launch is on Fridya', 'Edit');
      const edit = ann.page.getByRole('textbox', { name: 'Edit message' });
      await edit.fill('the launch is on Friday');
      await edit.press('Enter');
      await message(bob, 'the launch is on Friday').getByText('(edited)').waitFor();
      expect(await message(bob, /launch is on/).count()).toBe(1);

      await send(ann, 'wrong room, sorry');
      await message(bob, 'wrong room, sorry').waitFor();
      await act(ann, 'wrong room, sorry', 'Delete');
      const confirm = ann.page.getByRole('dialog', { name: 'Delete this message?' });
      await confirm.getByRole('button', { name: 'Delete' }).click();
      await message(bob, 'This message was deleted.').waitFor();
      expect(await message(bob, 'wrong room, sorry').count()).toBe(0);
      expect(await message(ann, 'This message was deleted.').count()).toBe(1);

      await act(bob, 'the launch is on Friday', 'React');
      await bob.page.getByRole('button', { name: 'React with 👍' }).click();
      const thumbs = message(ann, 'the launch is on Friday').locator('.reaction');
      await thumbs.filter({ hasText: '1' }).waitFor();
      expect(await thumbs.getAttribute('title')).toBe('bob reacted with 👍');
      expect(await thumbs.getAttribute('aria-pressed')).toBe('false');
      await thumbs.click();
      await message(bob, 'the launch is on Friday').locator('.reaction', { hasText: '2' }).waitFor();
      expect(await thumbs.getAttribute('aria-pressed')).toBe('true');
      expect(await thumbs.getAttribute('title')).toBe('bob, you reacted with 👍');
      // The picker offers more than the quick set.
      await act(ann, 'the launch is on Friday', 'React');
      await ann.page.getByRole('button', { name: 'More reactions' }).click();
      await ann.page.getByRole('button', { name: 'React with 🚀' }).click();
      await message(bob, 'the launch is on Friday').getByRole('button', { name: /^🚀 1/ }).waitFor();

      await act(bob, 'the launch is on Friday', 'Reply');
      await bob.page.getByText('Replying to ann').waitFor();
      await send(bob, 'great, I will tell the others');
      const reply = message(ann, 'great, I will tell the others');
      await reply.locator('.reply-preview', { hasText: 'the launch is on Friday' }).click();
      const focusedText = await ann.page.waitForFunction(() =>
        document.activeElement?.id.startsWith('message-') ? document.activeElement.textContent : undefined,
      );
      expect(await focusedText.jsonValue()).toContain('the launch is on Friday');
      expect(await bob.page.getByText('Replying to ann').count()).toBe(0);
      await screenshot(ann.page, 'message-actions-desktop-light');
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'counts unread messages and mentions per room and in the title, notifies a hidden tab, and clears on reading',
    async () => {
      await openRoom(bob, 'side');
      const team = bob.page.getByRole('button', { name: /^team\b/ });
      await send(ann, 'first unread');
      await send(ann, 'second unread');
      await team.locator('.unread', { hasText: /^2 unread$/ }).waitFor();
      expect(await title(bob)).toBe('(2) Chat');

      // Permission is asked on the user's click; then the tab goes out of sight.
      await bob.page.getByRole('button', { name: 'Turn on notifications' }).click();
      await bob.page.getByRole('button', { name: 'Turn on notifications' }).waitFor({ state: 'detached' });
      await bob.page.evaluate(() => {
        (window as unknown as { __hidden: boolean }).__hidden = true;
        document.dispatchEvent(new Event('visibilitychange'));
      });

      // ann mentions bob through the composer's @ list.
      const box = ann.page.getByRole('textbox', { name: /^Message / });
      await box.fill('');
      await box.pressSequentially('@bo');
      const option = ann.page.getByRole('option', { name: /bob/ });
      await option.waitFor();
      await screenshot(ann.page, 'mention-autocomplete-desktop-light');
      await box.press('Enter');
      expect(await box.inputValue()).toBe('@bob ');
      await box.pressSequentially('can you check the numbers?');
      await box.press('Enter');

      await team.locator('.mention-badge').waitFor();
      await team.locator('.unread', { hasText: /^3 unread$/ }).waitFor();
      expect(await title(bob)).toBe('(3) Chat');
      const notified = await bob.page.waitForFunction(
        () => (window as unknown as { __notifications: unknown[] }).__notifications[0],
      );
      expect(await notified.jsonValue()).toEqual({
        title: 'ann in team',
        body: '@bob can you check the numbers?',
      });
      await screenshot(bob.page, 'unread-desktop-light');

      await bob.page.evaluate(() => {
        (window as unknown as { __hidden: boolean }).__hidden = false;
        document.dispatchEvent(new Event('visibilitychange'));
      });
      await openRoom(bob, 'team');
      const line = bob.page.locator('.messages li.new-line');
      await line.waitFor();
      expect(
        await line.evaluate((element) => element.nextElementSibling?.querySelector('.text')?.textContent),
      ).toBe('first unread');
      const mentioning = message(bob, '@bob can you check the numbers?');
      expect(await mentioning.getAttribute('class')).toContain('mentions-me');
      expect(await mentioning.locator('.mention.me').textContent()).toBe('@bob');
      await bob.page.waitForFunction(() => document.title === 'Chat');
      expect(await team.locator('.unread, .mention-badge').count()).toBe(0);

      // The read position is the server's: a reload (another device alike) shows nothing unread.
      await bob.page.waitForTimeout(1_000);
      await bob.page.reload();
      await bob.page.getByRole('heading', { name: 'team' }).waitFor();
      await openRoom(bob, 'side');
      await send(ann, 'one more');
      await team.locator('.unread', { hasText: /^1 unread$/ }).waitFor();
      expect(await title(bob)).toBe('(1) Chat');
      await openRoom(bob, 'team');
      await bob.page.waitForFunction(() => document.title === 'Chat');
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'lets the owner set the topic and roles and remove a member, whose page then shows the room gone',
    async () => {
      await ann.page.getByRole('button', { name: /^Members/ }).click();
      const members = ann.page.getByRole('complementary', { name: 'Members' });
      await members.getByRole('button', { name: 'Room settings' }).click();
      const settings = ann.page.getByRole('dialog', { name: 'Room settings' });
      await settings.getByLabel('Topic').fill('Launch on Friday, notes in the doc');
      await screenshot(ann.page, 'room-settings-desktop-light');
      await settings.getByRole('button', { name: 'Save' }).click();
      await bob.page
        .locator('.room-header .topic', { hasText: 'Launch on Friday, notes in the doc' })
        .waitFor();
      await bob.page.getByRole('button', { name: /^Members/ }).click();
      const bobsPanel = bob.page.getByRole('complementary', { name: 'Members' });
      await bobsPanel.getByRole('button', { name: 'Leave room' }).waitFor();
      expect(await bobsPanel.getByRole('button', { name: 'Room settings' }).count()).toBe(0);
      expect(await bobsPanel.getByRole('button', { name: /^(Remove|Ban) / }).count()).toBe(0);

      await members.getByRole('button', { name: 'Make bob a moderator' }).click();
      await members.locator('li', { hasText: 'bob' }).getByText('moderator').waitFor();
      await screenshot(ann.page, 'members-roles-desktop-light');

      await members.getByRole('button', { name: 'Remove bob' }).click();
      await bob.page.getByRole('alert').getByText('team is no longer one of your rooms.').waitFor();
      await bob.page.getByText('Pick a conversation, or start one with +.').waitFor();
      expect(await bob.page.getByRole('button', { name: /^team\b/ }).count()).toBe(0);
      await members.locator('li', { hasText: 'bob' }).waitFor({ state: 'detached' });
      await ann.page.getByRole('button', { name: 'Close members' }).click();
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'blocks and unblocks someone from their profile card, and remembers it across a reload',
    async () => {
      await message(ann, 'great, I will tell the others')
        .getByRole('button', { name: 'bob', exact: true })
        .click();
      const card = ann.page.getByRole('dialog', { name: 'bob' });
      await card.getByRole('button', { name: 'Block bob' }).click();
      await card.getByRole('button', { name: 'Unblock bob' }).waitFor();
      await screenshot(ann.page, 'profile-card-desktop-light');
      await ann.page.keyboard.press('Escape');

      await ann.page.reload();
      await ann.page.getByRole('heading', { name: 'team' }).waitFor();
      await message(ann, 'great, I will tell the others')
        .getByRole('button', { name: 'bob', exact: true })
        .click();
      await card.getByRole('button', { name: 'Unblock bob' }).click();
      await card.getByRole('button', { name: 'Block bob' }).waitFor();
      await ann.page.keyboard.press('Escape');
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'shows an admin’s announcement on a connected page at once and to someone offline at their next login',
    async () => {
      expect(await ann.page.getByRole('button', { name: 'Post an announcement' }).count()).toBe(0);
      const root = await logIn('root');
      await root.page.getByRole('button', { name: 'Post an announcement' }).click();
      const dialog = root.page.getByRole('dialog', { name: 'Announcement to everyone' });
      await dialog.getByLabel('Announcement').fill('Maintenance tonight at 22:00 UTC');
      await dialog.getByRole('button', { name: 'Post to everyone' }).click();

      const banner = ann.page.getByRole('region', { name: 'Announcement' });
      await banner.getByText('Maintenance tonight at 22:00 UTC').waitFor();
      expect(await banner.textContent()).toContain('Announcement from root:');
      await screenshot(ann.page, 'announcement-desktop-light');
      await banner.getByRole('button', { name: 'Dismiss' }).click();
      await banner.waitFor({ state: 'detached' });

      const carl = await logIn('carl', PHONE);
      await carl.page
        .getByRole('region', { name: 'Announcement' })
        .getByText('Maintenance tonight at 22:00 UTC')
        .waitFor();
      await screenshot(carl.page, 'announcement-phone-light');
      // Dismissed stays dismissed.
      await ann.page.reload();
      await ann.page.getByRole('heading', { name: 'team' }).waitFor();
      expect(await ann.page.getByRole('region', { name: 'Announcement' }).count()).toBe(0);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'takes screenshots of the new screens, desktop and phone, light and dark',
    async () => {
      const carl = people.find((person) => person.username === 'carl')!;
      for (const scheme of ['light', 'dark'] as const) {
        await ann.page.emulateMedia({ colorScheme: scheme });
        await message(ann, 'the launch is on Friday').hover();
        await screenshot(ann.page, `conversation-desktop-${scheme}`);
        await carl.page.emulateMedia({ colorScheme: scheme });
        await openRoom(carl, 'team');
        await screenshot(carl.page, `conversation-phone-${scheme}`);
        await message(carl, 'the launch is on Friday').dispatchEvent('contextmenu');
        await carl.page.getByRole('button', { name: 'React' }).first().waitFor();
        await screenshot(carl.page, `message-actions-phone-${scheme}`);
      }
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'deletes a room only after a second confirmation, and it goes from its members’ pages',
    async () => {
      const carl = people.find((person) => person.username === 'carl')!;
      await ann.page.getByRole('button', { name: /^Members/ }).click();
      await ann.page.getByRole('button', { name: 'Room settings' }).click();
      await ann.page.getByRole('button', { name: 'Delete room…' }).click();
      const confirm = ann.page.getByRole('dialog', { name: 'Delete team?' });
      await confirm.getByRole('button', { name: 'Cancel' }).click();
      await ann.page
        .getByRole('dialog', { name: 'Room settings' })
        .getByRole('button', { name: 'Delete room…' })
        .click();
      await screenshot(ann.page, 'delete-room-desktop-light');
      await confirm.getByRole('button', { name: 'Delete room' }).click();
      await carl.page.getByRole('alert').getByText('team was deleted.').waitFor();
      expect(await carl.page.getByRole('button', { name: /^team\b/ }).count()).toBe(0);
      expect(await ann.page.getByRole('button', { name: /^team\b/ }).count()).toBe(0);
      await ann.page.getByText('Pick a conversation, or start one with +.').waitFor();
    },
    STEP_TIMEOUT_MS,
  );
});
