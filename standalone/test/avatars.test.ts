import sharp from 'sharp';
import { describeWithInfra, testNatsUrl, uniqueMongoUrl } from '@chat/testing';
import { expectError, startSystem, within, type Json, type Session, type TestSystem } from './support/system';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A PNG of noise, which does not compress: some hundreds of KiB, far past the gateway's 64 KiB JSON limit. */
function noisyPng(): Promise<Buffer> {
  return sharp({
    create: {
      width: 400,
      height: 400,
      channels: 3,
      background: '#888',
      noise: { type: 'gaussian', mean: 128, sigma: 60 },
    },
  })
    .png()
    .toBuffer();
}

function avatarSuite(name: string, env: () => Record<string, string>): void {
  describe(name, () => {
    let system: TestSystem;
    let ann: Session;
    let bob: Session;

    beforeAll(async () => {
      system = await startSystem(env());
      [ann, bob] = [await system.account('ann'), await system.account('bob')];
    });

    afterAll(async () => {
      await system?.stop();
    });

    const putAvatar = (as: Session, bytes: Buffer) =>
      system.call('PUT', '/api/users/me/avatar', {
        token: as.accessToken,
        body: bytes,
        headers: { 'content-type': 'image/png' },
      });

    it('takes an avatar larger than 64 KiB through the gateway, which still refuses 100 KiB of JSON elsewhere', async () => {
      const image = await noisyPng();
      expect(image.length).toBeGreaterThan(256 * KiB);
      const reply = await putAvatar(ann, image);
      expect(reply.status).toBe(200);
      expect(reply.body.avatarUrl).toMatch(new RegExp(`^/api/users/${ann.id}/avatar\\?v=[\\w-]+$`));

      const avatar = await fetch(`${system.url}${reply.body.avatarUrl}`);
      expect(avatar.status).toBe(200);
      expect(avatar.headers.get('content-type')).toBe('image/webp');
      expect(avatar.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(avatar.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await sharp(Buffer.from(await avatar.arrayBuffer())).metadata()).toMatchObject({
        format: 'webp',
        width: 256,
        height: 256,
      });

      expectError(
        await system.call('PATCH', `/api/users/${ann.id}`, {
          token: ann.accessToken,
          body: { name: 'x'.repeat(100 * KiB) },
        }),
        413,
        'PAYLOAD_TOO_LARGE',
      );
      const tooLarge = await putAvatar(ann, Buffer.concat([image, Buffer.alloc(2 * MiB)]));
      expect([tooLarge.status, tooLarge.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
      expect((await system.call('GET', '/api/users/me', { token: ann.accessToken })).body.avatarUrl).toBe(
        reply.body.avatarUrl,
      );
    });

    it('shows the avatar to others: their profile, the people search and a room’s members', async () => {
      const room = await system.call('POST', '/api/rooms', {
        token: bob.accessToken,
        body: { name: `faces ${process.pid} ${Math.random().toString(36).slice(2, 8)}`, kind: 'public' },
      });
      expect(room.status).toBe(201);
      await system.call('POST', `/api/rooms/${room.body.id}/members`, { token: ann.accessToken });
      const members = () =>
        system.call('GET', `/api/rooms/${room.body.id}/members`, { token: bob.accessToken });
      // chat-service has bob's profile cached from here on: the change must reach it.
      expect((await members()).status).toBe(200);

      const { avatarUrl } = (await putAvatar(bob, await noisyPng())).body;
      expect(avatarUrl).toMatch(/^\/api\/users\/[\w-]+\/avatar\?v=/);
      const seen = await system.call('GET', `/api/users/${bob.id}`, { token: ann.accessToken });
      expect(seen.body).toEqual({
        id: bob.id,
        username: bob.username,
        name: null,
        avatarUrl,
        createdAt: expect.any(String),
      });
      const search = await system.call('GET', `/api/users?q=${bob.username}`, { token: ann.accessToken });
      expect(search.body.items.map((user: Json) => user.avatarUrl)).toEqual([avatarUrl]);
      await within(5_000, async () => {
        const listed = (await members()).body.items.find((member: Json) => member.user.id === bob.id);
        expect(listed.user.avatarUrl).toBe(avatarUrl);
      });

      expect((await system.call('DELETE', '/api/users/me/avatar', { token: bob.accessToken })).status).toBe(
        204,
      );
      expect((await fetch(`${system.url}${avatarUrl}`)).status).toBe(404);
      await within(5_000, async () => {
        const listed = (await members()).body.items.find((member: Json) => member.user.id === bob.id);
        expect(listed.user.avatarUrl).toBeNull();
      });
    });
  });
}

avatarSuite('avatars through the gateway, embedded store and files under DATA_DIR', () => ({}));

describeWithInfra(['mongo', 'nats'], 'avatars on MongoDB (GridFS) and NATS', () => {
  const mongo = uniqueMongoUrl();
  avatarSuite('through the gateway', () => ({ MONGO_URL: mongo, NATS_URL: testNatsUrl()! }));
});
