import { createRoom, sleep, startChat, type TestChat } from './support';

describe('presence on one instance', () => {
  let chat: TestChat;

  beforeAll(async () => {
    chat = await startChat({ env: { PRESENCE_GRACE_MS: '300' } });
  });

  afterAll(() => chat.stop());

  it('tells users sharing a room when someone comes online and goes offline, and no one else', async () => {
    const ann = chat.users.add('ann');
    const bob = chat.users.add('bob');
    const stranger = chat.users.add('stranger');
    const room = await createRoom(chat, ann, undefined, 'private');
    await chat.call('POST', `/api/rooms/${room.id}/invitations`, {
      token: ann.token,
      body: { userId: bob.id },
    });
    const annSocket = await chat.connect(ann);
    const strangerSocket = await chat.connect(stranger);

    const bobSocket = await chat.connect(bob);
    const online = await annSocket.waitFor((e) => e.type === 'presence' && e.user.id === bob.id);
    expect(online).toEqual({
      type: 'presence',
      user: { id: bob.id, username: bob.username, name: 'bob', createdAt: expect.any(String) },
      status: 'online',
    });
    expect(bobSocket.of('hello')[0].online.map((user: { id: string }) => user.id)).toEqual([ann.id]);

    bobSocket.close();
    const offline = await annSocket.waitFor((e) => e.type === 'presence' && e.status === 'offline');
    expect(offline.user.id).toBe(bob.id);
    expect(strangerSocket.of('presence')).toEqual([]);
    expect(annSocket.of('presence')).toHaveLength(2);
  });

  it('does not flap when the last socket comes back within the grace period', async () => {
    const cid = chat.users.add('cid');
    const dee = chat.users.add('dee');
    const room = await createRoom(chat, cid);
    await chat.call('POST', `/api/rooms/${room.id}/members`, { token: dee.token });
    const watcher = await chat.connect(cid);
    const first = await chat.connect(dee);
    await watcher.waitFor((e) => e.type === 'presence' && e.user.id === dee.id);
    first.close();
    await first.closed;
    await chat.connect(dee);
    await sleep(600);
    expect(watcher.of('presence').map((e) => e.status)).toEqual(['online']);
  });

  it('coalesces a burst of users coming online into a few frames per recipient', async () => {
    const owner = chat.users.add('owner');
    const room = await createRoom(chat, owner);
    const crowd = Array.from({ length: 30 }, (_, i) => chat.users.add(`crowd${i}`));
    for (const user of crowd) await chat.call('POST', `/api/rooms/${room.id}/members`, { token: user.token });
    const watcher = await chat.connect(owner);
    await Promise.all(crowd.map((user) => chat.connect(user)));
    const events = await watcher.waitForCount((e) => e.type === 'presence', 30);
    expect(new Set(events.map((e) => e.user.id)).size).toBe(30);
    const presenceFrames = watcher.frames.filter((frame) => frame.includes('"presence"'));
    expect(presenceFrames.length).toBeLessThanOrEqual(6);
    expect(presenceFrames.some((frame) => frame.startsWith('['))).toBe(true);
  });
});
