import { Router } from 'express';
import request from 'supertest';
import { createLogger } from '../logger';
import { methodResolver } from './methods';
import { createServiceApp } from './server';

const routes = [
  { method: 'get', path: '/api/users/me' },
  { method: 'get', path: '/api/users/{id}' },
  { method: 'patch', path: '/api/users/{id}' },
  { method: 'delete', path: '/api/users/{id}' },
  { method: 'post', path: '/api/rooms/{id}/members' },
] as const;

describe('methodResolver', () => {
  const resolve = methodResolver(routes);

  it('gives a literal path its own methods, not those of a template that also matches it', () => {
    expect(resolve('/api/users/me')).toEqual(['GET', 'HEAD', 'OPTIONS']);
    expect(resolve('/api/users/u1')).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH']);
  });

  it('matches as express routes: any case, one trailing slash, a parameter is one non-empty segment', () => {
    expect(resolve('/API/Rooms/r1/members/')).toEqual(['OPTIONS', 'POST']);
    expect(resolve('/api/rooms//members')).toBeUndefined();
    expect(resolve('/api/rooms/r1/members/x')).toBeUndefined();
    expect(resolve('/elsewhere')).toBeUndefined();
  });
});

describe('allowedMethods in a service app', () => {
  const logger = createLogger('methods-test', 'error');
  const router = Router();
  router.get('/api/users/me', (_req, res) => void res.json({ me: true }));
  router.all('/api/users/:id', (_req, res) => void res.json({ reached: true }));
  const app = createServiceApp({ logger, routes: [router], described: routes });

  it('answers a method the document does not list with 405 METHOD_NOT_ALLOWED and Allow', async () => {
    const reply = await request(app).put('/api/users/me');
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(reply.body.error.code).toBe('METHOD_NOT_ALLOWED');
    // A router that would take it (`/api/users/:id` matches `me`) never sees it.
    expect((await request(app).delete('/api/users/me')).status).toBe(405);
  });

  it('answers OPTIONS with 204 and the listed methods; the probes are known paths too', async () => {
    const reply = await request(app).options('/api/users/u1');
    expect(reply.status).toBe(204);
    expect(reply.headers.allow).toBe('DELETE, GET, HEAD, OPTIONS, PATCH');
    const probe = await request(app).post('/healthz');
    expect(probe.status).toBe(405);
    expect(probe.headers.allow).toBe('GET, HEAD, OPTIONS');
  });

  it('passes listed methods, CORS preflights and unknown paths on', async () => {
    expect((await request(app).get('/api/users/me')).body).toEqual({ me: true });
    expect((await request(app).patch('/api/users/u1')).body).toEqual({ reached: true });
    const preflight = await request(app)
      .options('/api/users/u1')
      .set('origin', 'https://example.com')
      .set('access-control-request-method', 'PATCH');
    expect(preflight.headers.allow).not.toBe('DELETE, GET, HEAD, OPTIONS, PATCH');
    expect((await request(app).trace('/nowhere')).status).toBe(404);
  });
});
