import { closedOrigin, send, startGateway, startUpstream, type Upstream } from './helpers';

/** A chat instance from CHAT_URLS that is gone (killed, never restarted) must not cost clients 503s. */
describe('gateway with a chat instance that refuses connections', () => {
  let live: Upstream;
  let gateway: { url: string; stop(): Promise<void> };

  beforeAll(async () => {
    live = await startUpstream('live');
    gateway = await startGateway({
      USERS_URL: live.url,
      AUTH_URL: live.url,
      CHAT_URLS: `${await closedOrigin()},${live.url}`,
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    await live.close();
  });

  it('sends each chat request without a body to a live instance instead of answering 503', async () => {
    const urls = ['/api/rooms', '/api/rooms/r-1/messages', '/api/direct/u-2', '/api/rooms'];
    const replies = await Promise.all(urls.map((url) => send(gateway.url, url)));
    expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200, 200]);
    expect(live.seen.map((request) => request.url).sort()).toEqual([...urls].sort());
  });

  it('once it refused a connection, passes it over for requests with a body too', async () => {
    expect((await send(gateway.url, '/api/rooms')).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const reply = await send(gateway.url, '/api/rooms', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      statuses.push(reply.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200]);
  });
});
