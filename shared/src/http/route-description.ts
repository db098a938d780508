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
  auth: boolean;
  body?: ZodType;
  query?: ZodType;
  responses: Record<number, ZodType | null>;
}
