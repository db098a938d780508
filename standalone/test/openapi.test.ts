import { readFileSync } from 'node:fs';
import path from 'node:path';
import { renderOpenApiDocument, systemOpenApiDocument } from '@chat/standalone';
import type { Json } from './support/system';

const DOCS_FILE = path.resolve(__dirname, '../../docs/openapi.json');

/** Every REST endpoint of the v1 contract (Users, Auth, Rooms and history), in OpenAPI templating. */
const CONTRACT_ENDPOINTS: Array<{ method: string; path: string; auth: boolean }> = [
  { method: 'post', path: '/api/users', auth: false },
  { method: 'get', path: '/api/users', auth: true },
  { method: 'get', path: '/api/users/me', auth: true },
  { method: 'get', path: '/api/users/{id}', auth: true },
  { method: 'patch', path: '/api/users/{id}', auth: true },
  { method: 'delete', path: '/api/users/{id}', auth: true },
  { method: 'post', path: '/api/auth/login', auth: false },
  { method: 'post', path: '/api/auth/refresh', auth: false },
  { method: 'post', path: '/api/auth/logout', auth: true },
  { method: 'get', path: '/api/auth/jwks', auth: false },
  { method: 'get', path: '/api/rooms', auth: true },
  { method: 'get', path: '/api/rooms/public', auth: true },
  { method: 'post', path: '/api/rooms', auth: true },
  { method: 'post', path: '/api/rooms/{id}/members', auth: true },
  { method: 'delete', path: '/api/rooms/{id}/members/me', auth: true },
  { method: 'post', path: '/api/rooms/{id}/invitations', auth: true },
  { method: 'post', path: '/api/direct/{userId}', auth: true },
  { method: 'get', path: '/api/rooms/{id}/messages', auth: true },
  { method: 'get', path: '/healthz', auth: false },
  { method: 'get', path: '/readyz', auth: false },
];

/** Follows a local `$ref` (`#/a/b`) in `document`. */
function resolve(document: Json, ref: string): unknown {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<Json>((node, key) => (node === undefined ? undefined : node[key]), document);
}

function refsIn(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) refsIn(item, found);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') found.push(value);
      else refsIn(value, found);
    }
  }
  return found;
}

describe('OpenAPI document', () => {
  const document: Json = systemOpenApiDocument();

  it('docs/openapi.json is what the code generates (run `npm run docs` after changing a route)', () => {
    expect(readFileSync(DOCS_FILE, 'utf8')).toBe(renderOpenApiDocument());
  });

  it.each(CONTRACT_ENDPOINTS)(
    'documents $method $path from the contract',
    ({ method, path: route, auth }) => {
      const operation = document.paths[route]?.[method];
      expect(operation).toBeDefined();
      expect(operation.security).toEqual(auth ? [{ bearer: [] }] : []);
      if (auth) {
        expect(operation.responses['401'].headers['WWW-Authenticate']).toEqual({
          $ref: '#/components/headers/WwwAuthenticate',
        });
      }
      for (const [, name] of route.matchAll(/\{(\w+)\}/g)) {
        expect(operation.parameters).toContainEqual(
          expect.objectContaining({ name, in: 'path', required: true }),
        );
      }
      for (const response of Object.values<Json>(operation.responses)) {
        expect(response.headers['x-request-id']).toEqual({ $ref: '#/components/headers/RequestId' });
      }
    },
  );

  it('describes every body the contract rejects unknown fields of as closed', () => {
    for (const [route, method] of [
      ['/api/users', 'post'],
      ['/api/users/{id}', 'patch'],
      ['/api/auth/login', 'post'],
      ['/api/auth/refresh', 'post'],
      ['/api/rooms', 'post'],
      ['/api/rooms/{id}/invitations', 'post'],
    ] as const) {
      const schema = document.paths[route][method].requestBody.content['application/json'].schema;
      expect(schema.additionalProperties).toBe(false);
    }
  });

  it('answers 429 with Retry-After on every /api route, as the gateway rate limit does', () => {
    for (const [route, operations] of Object.entries<Json>(document.paths)) {
      if (!route.startsWith('/api/')) continue;
      for (const operation of Object.values<Json>(operations)) {
        expect(operation.responses['429'].headers['Retry-After']).toBeDefined();
      }
    }
  });

  it('documents GET /metrics (contract v1.1): Prometheus text, open or behind METRICS_TOKEN', () => {
    const operation = document.paths['/metrics']?.get;
    expect(operation.security).toEqual([{}, { metricsToken: [] }]);
    expect(document.components.securitySchemes.metricsToken).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    expect(Object.keys(operation.responses['200'].content)).toEqual(['text/plain; version=0.0.4']);
    expect(operation.responses['401'].headers['WWW-Authenticate']).toEqual({
      $ref: '#/components/headers/WwwAuthenticate',
    });
  });

  it('every $ref points at something in the document', () => {
    const refs = refsIn(document);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) expect(resolve(document, ref)).toBeDefined();
  });

  it('states the id pattern of every path parameter the routers parse as an id (issue 14)', () => {
    for (const [route, method] of [
      ['/api/users/{id}', 'get'],
      ['/api/rooms/{id}/invitations', 'post'],
      ['/api/direct/{userId}', 'post'],
    ] as const) {
      for (const parameter of document.paths[route][method].parameters.filter((p: Json) => p.in === 'path')) {
        expect(parameter.schema).toMatchObject({
          type: 'string',
          pattern: '^[A-Za-z0-9_-]+$',
          maxLength: 64,
        });
      }
    }
  });

  it('gives every operation the errors of its kind: 400 with input, 401 with a token, 413 and 415 with a body', () => {
    for (const operations of Object.values<Json>(document.paths)) {
      for (const operation of Object.values<Json>(operations)) {
        const statuses = Object.keys(operation.responses);
        if (operation.parameters?.length || operation.requestBody) expect(statuses).toContain('400');
        if (operation.security?.[0]?.bearer) expect(statuses).toContain('401');
        if (operation.requestBody) expect(statuses).toEqual(expect.arrayContaining(['413', '415']));
      }
    }
  });

  it('states the rules zod refines: at least one change in PATCH /api/users/{id}, text once trimmed', () => {
    const patch = document.paths['/api/users/{id}'].patch.requestBody.content['application/json'].schema;
    expect(patch).toMatchObject({ minProperties: 1, dependentRequired: { currentPassword: ['password'] } });
    expect(patch.anyOf).toContainEqual({ required: ['password'] });
    expect(patch.anyOf).not.toContainEqual({ required: ['currentPassword'] });
    const room = document.paths['/api/rooms'].post.requestBody.content['application/json'].schema;
    const patterns = room.properties.name.allOf.map((rule: Json) => new RegExp(rule.pattern, 'u'));
    const accepted = (name: string) => patterns.every((pattern: RegExp) => pattern.test(name));
    expect(
      [' general ', ' '.repeat(10) + 'x'.repeat(64), '   ', 'x'.repeat(65), 'a\u0001b'].map(accepted),
    ).toEqual([true, true, false, false, false]);
  });

  it('claims no email format the server does not check, and says that a blank query value is absent', () => {
    const signup = document.paths['/api/users'].post.requestBody.content['application/json'].schema;
    const email = signup.properties.email.anyOf[0];
    expect(email).not.toHaveProperty('format');
    expect(email.pattern).toBeDefined();
    const limit = document.paths['/api/users'].get.parameters.find((p: Json) => p.name === 'limit');
    expect(limit.schema.anyOf).toContainEqual({ type: 'string', const: '' });
  });

  it('signup documents the username and password rules of the contract', () => {
    const signup = document.paths['/api/users'].post.requestBody.content['application/json'].schema;
    expect(signup.required).toEqual(expect.arrayContaining(['username', 'password']));
    expect(signup.properties.username).toMatchObject({ minLength: 3, maxLength: 32 });
    expect(signup.properties.password).toMatchObject({ minLength: 8, maxLength: 128 });
    expect(signup.properties).not.toHaveProperty('role');
  });
});
