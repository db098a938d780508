import type { ZodType } from 'zod';

/**
 * One HTTP route as the API documentation describes it. Each service exports the list of its routes with
 * the same zod schemas it validates with, so the OpenAPI document cannot drift from the code.
 * `path` uses OpenAPI templating (`/api/users/{id}`); a `null` response has no body.
 */
export interface RouteDescription {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  path: string;
  summary: string;
  /** `true`: an access token; `'metrics-token'`: METRICS_TOKEN as a bearer token when one is set, else open. */
  auth: boolean | 'metrics-token';
  /** The media type of the route's own answers when it is not JSON (error answers are always JSON). */
  mediaType?: string;
  body?: ZodType;
  query?: ZodType;
  responses: Record<number, ZodType | null>;
}
