import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ServiceApp } from '@chat/shared';
import { createSystem } from '@chat/standalone';
import { pngOf } from '@chat/testing';
import type { Browser, Locator } from 'playwright-core';
import {
  afterBrowserTests,
  apiCall,
  buildWebClient,
  describeWithChromium,
  launchChromium,
  logIn,
  messageItem,
  openRoom,
  PASSWORD,
  PHONE,
  screenshot,
  send,
  STEP_TIMEOUT_MS,
  type Person,
} from './browser';

/** Small, so a file just past it stands for one past the real 10 MiB cap. */
const ATTACHMENT_MAX_BYTES = 256 * 1024;

/** A real PNG (a sky, a sun and a hill), drawn pixel by pixel. */
function picture(width: number, height: number): Buffer {
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const sun = (x - width * 0.7) ** 2 + (y - height * 0.35) ** 2 < (height * 0.12) ** 2;
      const hill = y > height * (0.75 - 0.15 * Math.sin((x / width) * Math.PI));
      const [r, g, b] = hill ? [46, 125, 50] : sun ? [255, 202, 40] : [70 + (y * 120) / height, 140, 230];
      row.set([r, g, b], 1 + x * 3);
    }
    rows.push(row);
  }
  return pngOf(width, height, Buffer.concat(rows));
}

const SUNSET = picture(480, 320);

/** Waits for the image to load and decode; resolves with its natural width (a broken one rejects). */
function loaded(image: Locator): Promise<number> {
  return image.evaluate((element) =>
    (element as HTMLImageElement).decode().then(() => (element as HTMLImageElement).naturalWidth),
  );
}

/**
 * Issue 12 in the browser: files attached by the button, a drop or a paste, uploaded with progress and
 * shown to the room (pictures inline with a viewer, anything else as a download card); a failed upload
 * with Retry; the profile page (name, password, picture, deleting the account) and pictures as avatars.
 */
describeWithChromium('the browser client: attachments, the profile page and avatars', () => {
  let system: ServiceApp;
  let dataDir: string;
  let browser: Browser;
  let baseUrl: string;
  const people: Person[] = [];
  let ann: Person;
  let bob: Person;

  const call = <T>(method: string, route: string, body?: unknown, token?: string) =>
    apiCall<T>(baseUrl, method, route, body, token);
  const tokenOf = async (username: string) =>
    (await call<{ accessToken: string }>('POST', '/api/auth/login', { username, password: PASSWORD }))
      .accessToken;

  async function enter(username: string, viewport?: { width: number; height: number }): Promise<Person> {
    const person = await logIn(browser, baseUrl, { username, password: PASSWORD }, viewport);
    people.push(person);
    return person;
  }

  /** The person's attach control: the file input, named by its label. */
  const attach = (person: Person) => person.page.getByLabel('Attach files');
  const chips = (person: Person) => person.page.getByRole('list', { name: 'Files to send' });

  async function attachFile(person: Person, name: string, mimeType: string, buffer: Buffer) {
    await attach(person).setInputFiles({ name, mimeType, buffer });
    await person.page
      .getByRole('status')
      .filter({ hasText: `${name} uploaded.` })
      .waitFor();
  }

  /** The newest message of `sender` in the person's open room. */
  const lastFrom = (person: Person, sender: string) =>
    person.page
      .locator('.messages li.message')
      .filter({ has: person.page.locator('.sender', { hasText: new RegExp(`^${sender}$`) }) })
      .last();

  beforeAll(async () => {
    const webDir = buildWebClient();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'chat-web-media-'));
    system = createSystem({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      WEB_DIR: webDir,
      ATTACHMENT_MAX_BYTES: String(ATTACHMENT_MAX_BYTES),
      LOG_LEVEL: process.env.LOG_LEVEL,
    });
    baseUrl = (await system.start()).url;
    for (const username of ['ann', 'bob', 'dora'])
      await call('POST', '/api/users', { username, password: PASSWORD });
    const annToken = await tokenOf('ann');
    const room = await call<{ id: string }>(
      'POST',
      '/api/rooms',
      { name: 'photos', kind: 'private' },
      annToken,
    );
    const { items } = await call<{ items: Array<{ id: string; username: string }> }>(
      'GET',
      '/api/users?q=bob',
      undefined,
      annToken,
    );
    const bobId = items.find((user) => user.username === 'bob')!.id;
    await call('POST', `/api/rooms/${room.id}/invitations`, { userId: bobId }, annToken);

    browser = await launchChromium();
    ann = await enter('ann');
    bob = await enter('bob');
    await openRoom(ann, 'photos');
    await openRoom(bob, 'photos');
  }, 180_000);

  afterBrowserTests(() => ({ people, browser, system, dataDir }));

  it(
    'a picture attached from the keyboard shows inline to the other person, opens full size and closes with Escape',
    async () => {
      // The file input is in the tab order, just before the message box, and named.
      await ann.page.getByRole('textbox', { name: /^Message / }).focus();
      await ann.page.keyboard.press('Shift+Tab');
      expect(await ann.page.evaluate(() => document.activeElement?.id)).toBe('attach');

      await attachFile(ann, 'sunset.png', 'image/png', SUNSET);
      const chip = chips(ann).getByRole('listitem').filter({ hasText: 'sunset.png' });
      await chip.getByRole('button', { name: 'Remove sunset.png' }).waitFor();
      // The chip shows the server's thumbnail of it: what was decoded, not the file as it came.
      expect(await loaded(chip.locator('img'))).toBe(320);
      await send(ann, 'the view from the hill');
      expect(await chips(ann).count()).toBe(0);

      const item = messageItem(bob, 'the view from the hill');
      const open = item.getByRole('button', { name: 'Open sunset.png' });
      const thumbnail = open.locator('img');
      await thumbnail.waitFor();
      // Its space is kept before it loads: the box fits 320 wide, the picture's shape kept.
      expect(await thumbnail.getAttribute('width')).toBe('320');
      expect(await thumbnail.getAttribute('height')).toBe('213');
      expect(await loaded(thumbnail)).toBeGreaterThan(0);

      await open.click();
      const viewer = bob.page.getByRole('dialog', { name: 'sunset.png' });
      const full = viewer.getByRole('img', { name: 'sunset.png' });
      expect(await loaded(full)).toBeGreaterThan(0);
      expect(await full.evaluate((element) => (element as HTMLImageElement).naturalWidth)).toBe(480);
      expect(await viewer.getByRole('link', { name: 'Download' }).getAttribute('href')).toMatch(
        /^\/api\/attachments\/[^/]+\/content\?/,
      );
      await screenshot(bob.page, 'image-viewer-desktop-light');
      await bob.page.keyboard.press('Escape');
      await viewer.waitFor({ state: 'hidden' });
      expect(await bob.page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe(
        'Open sunset.png',
      );

      await open.click();
      await viewer.getByRole('button', { name: 'Close' }).click();
      await viewer.waitFor({ state: 'hidden' });
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'any other file, an SVG included, is a download card with its name and size; no text is needed',
    async () => {
      await attachFile(ann, 'notes.txt', 'text/plain', Buffer.alloc(1234, 'a'));
      const svg =
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>';
      await attachFile(ann, 'drawing.svg', 'image/svg+xml', Buffer.from(svg));
      await ann.page.getByRole('textbox', { name: /^Message / }).press('Enter');

      const item = lastFrom(bob, 'ann');
      const card = item.getByRole('link', { name: /notes\.txt/ });
      await card.waitFor();
      expect(await card.innerText()).toContain('1.2 KB');
      expect(await card.getAttribute('href')).toMatch(/^\/api\/attachments\/[^/]+\/content\?/);
      const drawing = item.getByRole('link', { name: /drawing\.svg/ });
      expect(await drawing.innerText()).toContain(`${svg.length} bytes`);
      expect(await item.locator('img').count()).toBe(0);
      expect(await item.locator('.text').count()).toBe(0);

      for (const scheme of ['light', 'dark'] as const) {
        await bob.page.emulateMedia({ colorScheme: scheme });
        await screenshot(bob.page, `attachments-desktop-${scheme}`);
      }
      await bob.page.emulateMedia({ colorScheme: 'light' });
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'a file dropped on the room or a picture pasted into the box is attached too',
    async () => {
      const dropped = await ann.page.evaluateHandle(() => {
        const transfer = new DataTransfer();
        transfer.items.add(new File(['a dropped file'], 'dropped.txt', { type: 'text/plain' }));
        return transfer;
      });
      const room = ann.page.locator('.room-main');
      await room.dispatchEvent('dragover', { dataTransfer: dropped });
      await ann.page.getByText('Drop files to send them to #photos').waitFor();
      await room.dispatchEvent('drop', { dataTransfer: dropped });
      await chips(ann).getByText('dropped.txt').waitFor();
      expect(await ann.page.getByText('Drop files to send them to #photos').count()).toBe(0);

      await ann.page.getByRole('textbox', { name: /^Message / }).evaluate(
        (box, bytes) => {
          const transfer = new DataTransfer();
          transfer.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));
          box.dispatchEvent(
            new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }),
          );
        },
        [...SUNSET],
      );
      await ann.page.getByRole('status').filter({ hasText: 'image.png uploaded.' }).waitFor();
      await ann.page.getByRole('button', { name: 'Send' }).and(ann.page.locator(':enabled')).waitFor();
      await send(ann, 'dropped and pasted');

      const item = messageItem(bob, 'dropped and pasted');
      await item.getByRole('link', { name: /dropped\.txt/ }).waitFor();
      expect(
        await loaded(item.getByRole('button', { name: 'Open image.png' }).locator('img')),
      ).toBeGreaterThan(0);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'a file over the size limit fails with Retry, holds the message back, and can be removed',
    async () => {
      await attach(ann).setInputFiles({
        name: 'too-big.bin',
        mimeType: 'application/octet-stream',
        buffer: randomBytes(ATTACHMENT_MAX_BYTES + 1),
      });
      const chip = chips(ann).getByRole('listitem').filter({ hasText: 'too-big.bin' });
      const retry = chip.getByRole('button', { name: 'Retry too-big.bin' });
      await retry.waitFor();
      await ann.page.getByRole('status').filter({ hasText: 'too-big.bin could not be uploaded.' }).waitFor();
      expect(await ann.page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
      await screenshot(ann.page, 'upload-failed-desktop-light');

      await retry.click();
      await retry.waitFor();
      await chip.getByRole('button', { name: 'Remove too-big.bin' }).click();
      expect(await chips(ann).count()).toBe(0);
      expect(await ann.page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(false);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'the room with pictures and files on a phone, light and dark',
    async () => {
      const phone = await enter('bob', PHONE);
      await openRoom(phone, 'photos');
      expect(await loaded(lastFrom(phone, 'ann').locator('.image-attachment img'))).toBeGreaterThan(0);
      for (const scheme of ['light', 'dark'] as const) {
        await phone.page.emulateMedia({ colorScheme: scheme });
        await screenshot(phone.page, `attachments-phone-${scheme}`);
      }
      await phone.page.emulateMedia({ colorScheme: 'light' });
      await lastFrom(phone, 'ann').getByRole('button', { name: 'Open image.png' }).click();
      await phone.page.getByRole('dialog', { name: 'image.png' }).waitFor();
      await screenshot(phone.page, 'image-viewer-phone-light');
      await phone.context.close();
      people.splice(people.indexOf(phone), 1);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'a name set on the profile page stays after a reload; a wrong current password is said so',
    async () => {
      await ann.page.getByRole('button', { name: /your profile$/ }).click();
      await ann.page.getByRole('heading', { name: 'Your profile' }).waitFor();
      await ann.page.getByLabel('Full name').fill('Ann Lee');
      await ann.page.getByLabel('Phone').fill('+1 555 0100');
      await ann.page.getByRole('button', { name: 'Save changes' }).click();
      await ann.page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
      await ann.page.reload();
      await ann.page.getByRole('heading', { name: 'Your profile' }).waitFor();
      expect(await ann.page.getByLabel('Full name').inputValue()).toBe('Ann Lee');
      expect(await ann.page.getByLabel('Phone').inputValue()).toBe('+1 555 0100');

      await ann.page.getByLabel('Current password').fill('not-my-password');
      await ann.page.getByLabel('New password').fill('another-long-secret');
      await ann.page.getByRole('button', { name: 'Change password' }).click();
      await ann.page.getByText('That is not your current password.').waitFor();
      await screenshot(ann.page, 'profile-desktop-light');
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'a picture set on the profile page is the avatar the other person sees beside the messages',
    async () => {
      await ann.page.getByLabel('Upload a picture').setInputFiles({
        name: 'me.png',
        mimeType: 'image/png',
        buffer: picture(200, 200),
      });
      await ann.page.getByRole('status').filter({ hasText: 'Your picture was updated.' }).waitFor();
      const own = ann.page.locator('.profile-section img.avatar');
      expect(await loaded(own)).toBeGreaterThan(0);
      const avatarUrl = await own.getAttribute('src');
      expect(avatarUrl).toMatch(/^\/api\/users\/[^/]+\/avatar/);
      expect(await loaded(ann.page.locator('.workspace img.avatar'))).toBeGreaterThan(0);
      for (const scheme of ['light', 'dark'] as const) {
        await ann.page.emulateMedia({ colorScheme: scheme });
        await screenshot(ann.page, `profile-desktop-${scheme}`);
      }
      await ann.page.emulateMedia({ colorScheme: 'light' });

      await openRoom(ann, 'photos');
      await send(ann, 'with a face now');
      await messageItem(bob, 'with a face now').waitFor();
      // The message names its sender without a picture: bob's page learns it with the member list.
      await bob.page.reload();
      await openRoom(bob, 'photos');
      const avatar = bob.page.getByRole('button', { name: 'ann’s profile' }).last().locator('img.avatar');
      await bob.page.locator(`.messages img.avatar[src="${avatarUrl}"]`).first().waitFor();
      expect(await loaded(avatar)).toBeGreaterThan(0);
      await bob.page.getByRole('button', { name: /^Members/ }).click();
      const member = bob.page.locator('.member-list li').filter({ hasText: 'ann' }).locator('img.avatar');
      expect(await member.getAttribute('src')).toBe(avatarUrl);
      expect(await loaded(member)).toBeGreaterThan(0);
      await screenshot(bob.page, 'avatars-desktop-light');
      await bob.page.getByRole('button', { name: 'Close members' }).click();

      const phone = await enter('ann', PHONE);
      await phone.page.getByRole('button', { name: /your profile$/ }).click();
      await phone.page.getByRole('heading', { name: 'Your profile' }).waitFor();
      expect(await loaded(phone.page.locator('.profile-section img.avatar'))).toBeGreaterThan(0);
      await screenshot(phone.page, 'profile-phone-light');
      await phone.context.close();
      people.splice(people.indexOf(phone), 1);

      await ann.page.getByRole('button', { name: /your profile$/ }).click();
      await ann.page.getByRole('button', { name: 'Remove picture' }).click();
      await ann.page.getByRole('status').filter({ hasText: 'Your picture was removed.' }).waitFor();
      expect(await ann.page.locator('.workspace img.avatar').count()).toBe(0);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'deleting the account asks for the username, then returns to login and the account is gone',
    async () => {
      const dora = await enter('dora');
      await dora.page.getByRole('button', { name: /your profile$/ }).click();
      await dora.page.getByRole('button', { name: 'Delete account…' }).click();
      const dialog = dora.page.getByRole('dialog', { name: 'Delete your account?' });
      const confirm = dialog.getByRole('button', { name: 'Delete my account' });
      expect(await confirm.isDisabled()).toBe(true);
      await dialog.getByLabel('Type your username, dora, to confirm').fill('dor');
      expect(await confirm.isDisabled()).toBe(true);
      await dialog.getByLabel('Type your username, dora, to confirm').fill('dora');
      await screenshot(dora.page, 'delete-account-desktop-light');
      await confirm.click();
      await dora.page.getByText('Your account was deleted.').waitFor();
      await dora.page.getByRole('button', { name: 'Log in' }).waitFor();
      await expect(tokenOf('dora')).rejects.toThrow(/401/);
    },
    STEP_TIMEOUT_MS,
  );
});
