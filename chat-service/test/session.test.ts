import { sleep, startChat, type TestChat } from './support';

describe('the session on the socket', () => {
  let chat: TestChat;

  beforeAll(async () => {
    chat = await startChat({ env: { HEARTBEAT_INTERVAL_MS: '150' } });
  });

  afterAll(() => chat.stop());

  it('closes the sockets of a session that ended (logout) with 4001 within 2 s, and only those', async () => {
    const ann = chat.users.add('ann');
    const ended = [await chat.connect(ann), await chat.connect(ann)];
    const otherSession = await chat.connect({ token: chat.users.token(ann) });
    const started = Date.now();
    await chat.users.endSession(ann);
    for (const client of ended) expect((await client.closed).code).toBe(4001);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await otherSession.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    const refused = await chat.connect(ann).catch((error: { status: number }) => error.status);
    expect(refused).toBe(401);
  });

  it('closes every socket of a deleted user with 4003 within 2 s', async () => {
    const bob = chat.users.add('bob');
    const clients = [await chat.connect(bob), await chat.connect({ token: chat.users.token(bob) })];
    const started = Date.now();
    await chat.users.delete(bob);
    for (const client of clients) expect((await client.closed).code).toBe(4003);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('closes with 4003 when a session ends because its user was deleted', async () => {
    const cid = chat.users.add('cid');
    const client = await chat.connect(cid);
    await chat.users.endSession(cid, 'user_deleted');
    expect((await client.closed).code).toBe(4003);
  });

  it('sends session.expiring a minute before expiry, then closes with 4001 at expiry', async () => {
    const dee = chat.users.add('dee');
    const client = await chat.connect({ token: chat.users.token(dee, { expiresInSeconds: 2 }) });
    const expiring = await client.waitFor((e) => e.type === 'session.expiring');
    expect(client.events.indexOf(expiring)).toBeGreaterThan(
      client.events.findIndex((e) => e.type === 'hello'),
    );
    const expiresAt = Date.parse(expiring.expiresAt);
    expect(expiresAt).toBeGreaterThan(Date.now());
    const closed = await client.closed;
    expect(closed.code).toBe(4001);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt - 50);
  });

  it('keeps a socket open past its first expiry after a refresh with a fresh token', async () => {
    const eve = chat.users.add('eve');
    const client = await chat.connect({ token: chat.users.token(eve, { expiresInSeconds: 2 }) });
    const fresh = chat.users.token(eve, { expiresInSeconds: 900 });
    const refreshed = await client.request({ type: 'refresh', token: fresh });
    expect(refreshed).toEqual({ type: 'refreshed', ref: expect.any(String), expiresAt: expect.any(String) });
    expect(Date.parse(refreshed.expiresAt)).toBeGreaterThan(Date.now() + 800_000);
    await sleep(2_600);
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it("refuses a refresh with another user's token or a bad one, and keeps the socket", async () => {
    const fay = chat.users.add('fay');
    const gus = chat.users.add('gus');
    const client = await chat.connect(fay);
    expect(await client.request({ type: 'refresh', token: gus.token })).toMatchObject({
      type: 'error',
      code: 'FORBIDDEN',
    });
    expect(await client.request({ type: 'refresh', token: 'garbage' })).toMatchObject({
      type: 'error',
      code: 'UNAUTHENTICATED',
    });
    expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('drops a socket that stops answering pings, and keeps one that answers', async () => {
    const hal = chat.users.add('hal');
    const silent = await chat.connect(hal, { autoPong: false });
    const lively = await chat.connect(hal);
    const closed = await silent.closed;
    expect(closed.code).toBe(1006);
    await sleep(400);
    expect(await lively.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });
});
