import { z } from 'zod';
import { errorBodySchema, type RouteDescription } from '@chat/shared';
import { OPENAPI_PATH } from './docs.router';

const healthSchema = z.object({ status: z.literal('ok') });
const readinessSchema = z.object({
  status: z.enum(['ready', 'unavailable']),
  checks: z.record(z.string(), z.enum(['ok', 'unavailable'])),
});

/** The routes the gateway answers itself; everything else under `/api` belongs to a service. */
export const gatewayRoutes: RouteDescription[] = [
  {
    method: 'get',
    path: '/healthz',
    summary: 'The gateway process answers.',
    auth: false,
    responses: { 200: healthSchema },
  },
  {
    method: 'get',
    path: '/readyz',
    summary:
      'Every upstream service is ready: its /readyz answers 200 (chat: at least one instance); 503 names which is not.',
    auth: false,
    responses: { 200: readinessSchema, 503: readinessSchema },
  },
  {
    method: 'get',
    path: '/metrics',
    summary:
      "The gateway process's metrics in the Prometheus text format (in the one-process run: the whole process's, chat_* included). Requires METRICS_TOKEN as a bearer token when set.",
    auth: 'metrics-token',
    mediaType: 'text/plain; version=0.0.4',
    responses: { 200: z.string(), 401: errorBodySchema },
  },
  {
    method: 'get',
    path: OPENAPI_PATH,
    summary: 'This OpenAPI document.',
    auth: false,
    responses: { 200: z.record(z.string(), z.unknown()), 404: errorBodySchema },
  },
];
