import fc from 'fast-check';
import { authRoutes } from '@chat/auth-service';
import { chatRoutes } from '@chat/chat-service';
import { usersRoutes } from '@chat/users-service';
import { startSystem, type Session, type TestSystem } from './support/system';

/**
 * A bounded HTTP fuzz of the whole system (issue 9, "Done when"): requests to every described route and to
 * the edge's own, with methods, path parameters, queries, bodies, content types and tokens drawn from good
 * values and from anything at all. Whatever arrives, the answer is never a 500 and never a crash, and an
 * error under /api is JSON in the contract's shape.
 */

const ROUTES = [...usersRoutes, ...authRoutes, ...chatRoutes].map((route) => ({
  method: route.method.toUpperCase(),
  path: route.path,
}));
const EDGE_PATHS = [
  '/healthz',
  '/readyz',
  '/metrics',
  '/api/docs/openapi.json',
  '/ws',
  '/api',
  '/api/nowhere',
];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
const BODY_KEYS = [
  'username',
  'password',
  'name',
  'email',
  'phone',
  'kind',
  'userId',
  'refreshToken',
  'role',
];

interface Draw {
  method: string;
  path: string;
  params: string[];
  query: Array<[string, string]>;
  body: { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'raw'; text: string };
  contentType: string | undefined;
  contentEncoding: string | undefined;
  token: 'valid' | 'none' | 'garbage';
}

describe('fuzzed HTTP requests against the whole system (issue 9)', () => {
  let system: TestSystem;
  let session: Session;
  let roomId: string;

  beforeAll(async () => {
    system = await startSystem({
      RATE_LIMIT_PER_MINUTE: '100000000',
      SIGNUPS_PER_ADDRESS_PER_HOUR: '100000000',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '100000000',
      INVITATIONS_PER_MINUTE: '100000000',
    });
    session = await system.account('fuzzer');
    roomId = (
      await system.call('POST', '/api/rooms', {
        token: session.accessToken,
        body: { name: 'fuzzed room', kind: 'public' },
      })
    ).body.id;
  });

  afterAll(() => system.stop());

  function draws(): fc.Arbitrary<Draw> {
    const anything = fc.jsonValue({ maxDepth: 3 });
    const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }));
    const param = fc.oneof(
      fc.constantFrom('me', 'x', '', '..', '%00', '%E0%A4%A', 'a'.repeat(300)),
      fc.constant('<room>'),
      fc.constant('<user>'),
      text.map(encodeURIComponent),
      fc.uuid(),
    );
    const body = fc.oneof(
      fc.constant({ kind: 'none' as const }),
      fc
        .dictionary(
          fc.oneof(fc.constantFrom(...BODY_KEYS), fc.string({ maxLength: 10 })),
          fc.oneof(text, anything),
          {
            maxKeys: 5,
          },
        )
        .map((value) => ({ kind: 'json' as const, value })),
      anything.map((value) => ({ kind: 'json' as const, value })),
      text.map((raw) => ({ kind: 'raw' as const, text: raw })),
    );
    const route = fc.oneof(
      fc.constantFrom(...ROUTES),
      fc.constantFrom(...EDGE_PATHS).map((path) => ({ method: 'GET', path })),
    );
    return fc
      .record({
        route,
        otherMethod: fc.option(fc.constantFrom(...METHODS), { freq: 4 }),
        params: fc.array(param, { minLength: 2, maxLength: 2 }),
        query: fc.array(
          fc.tuple(fc.constantFrom('limit', 'cursor', 'before', 'after', 'q', 'fields', 'x'), text),
          {
            maxLength: 3,
          },
        ),
        body,
        contentType: fc.option(
          fc.constantFrom(
            'application/json',
            'text/plain',
            'application/x-www-form-urlencoded',
            'application/json; charset=latin1',
            '*/*',
          ),
          { nil: undefined },
        ),
        contentEncoding: fc.option(fc.constantFrom('gzip', 'br', 'deflate', 'identity', 'x-unknown'), {
          freq: 5,
          nil: undefined,
        }),
        token: fc.constantFrom('valid' as const, 'valid' as const, 'none' as const, 'garbage' as const),
      })
      .map(({ route, otherMethod, ...rest }) => ({
        ...rest,
        method: otherMethod ?? route.method,
        path: route.path,
      }));
  }

  function url(draw: Draw): string {
    let index = 0;
    const path = draw.path.replace(/\{[^}]+\}/g, () => {
      const param = draw.params[index++] ?? 'x';
      if (param === '<room>') return roomId;
      if (param === '<user>') return session.id;
      return param;
    });
    const query = new URLSearchParams(draw.query).toString();
    return query ? `${path}?${query}` : path;
  }

  it('answers thousands of random requests without a 500, each /api error in the contract’s shape', async () => {
    await fc.assert(
      fc.asyncProperty(draws(), async (draw) => {
        const headers: Record<string, string> = {};
        if (draw.token === 'valid') headers.authorization = `Bearer ${session.accessToken}`;
        if (draw.token === 'garbage') headers.authorization = 'Bearer e30.e30.e30';
        if (draw.contentType) headers['content-type'] = draw.contentType;
        if (draw.contentEncoding) headers['content-encoding'] = draw.contentEncoding;
        const body =
          draw.method === 'GET' || draw.method === 'HEAD' || draw.body.kind === 'none'
            ? undefined
            : draw.body.kind === 'raw'
              ? draw.body.text
              : JSON.stringify(draw.body.value);
        const target = url(draw);
        const response = await fetch(`${system.url}${target}`, { method: draw.method, headers, body });
        const text = await response.text();
        const what = `${draw.method} ${target} -> ${response.status} ${text.slice(0, 200)}`;
        expect([what, response.status < 500]).toEqual([what, true]);
        if (response.status >= 400 && draw.method !== 'HEAD' && target.startsWith('/api/')) {
          const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
          expect([what, typeof parsed.error?.code, typeof parsed.error?.message]).toEqual([
            what,
            'string',
            'string',
          ]);
        }
        // The fuzz may log its own user out or delete it: carry on as a new one.
        if (draw.token === 'valid' && response.status === 401) session = await system.account('fuzzer');
      }),
      { numRuns: 2_000 },
    );
    // Still serving: the fuzz may have ended its own last session, so a fresh user asks.
    expect((await system.call('GET', '/readyz')).status).toBe(200);
    const after = await system.account('after-fuzz');
    expect((await system.call('GET', '/api/rooms', { token: after.accessToken })).status).toBe(200);
  }, 180_000);
});
