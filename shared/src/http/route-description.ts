import type { ZodType } from 'zod';

/**
 * One HTTP route as the API documentation describes it. Each service exports the list of its routes with
 * the same zod schemas it validates with, so the OpenAPI document cannot drift from the code.
 * `path` uses OpenAPI templating (`/api/users/{id}`); a `null` response has no body. The answers every
 * route of a kind gives (400 for bad input, 401 without a token, 413 and 415 for bodies, the gateway's
 * 429 and 503) are added by the document's generator; `responses` lists the route's own.
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
  /** A body that is a file, not JSON: each media type the route takes, with its JSON Schema. */
  upload?: Readonly<Record<string, Record<string, unknown>>>;
  /** The object schema the router parses `req.params` with: one property per `{name}` in `path`. */
  params?: ZodType;
  query?: ZodType;
  responses: Record<number, ZodType | null>;
}
