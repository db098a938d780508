import { z } from 'zod';
import { authRoutes } from '@chat/auth-service';
import { attachmentRoutes, chatRoutes } from '@chat/chat-service';
import { gatewayRoutes } from '@chat/gateway';
import { usersRoutes } from '@chat/users-service';
import { errorBodySchema, type RouteDescription } from '@chat/shared';

type JsonSchema = Record<string, unknown>;

/**
 * zod's JSON Schema, adjusted where its keywords would claim more than the server checks: `format: email`
 * stands for RFC 5321/5322 rules (local-part length, label length) that the server does not apply, while
 * the `pattern` zod emits beside it is exactly what the server applies. So only the pattern is kept
 * (issue 14: the document must not reject what the server accepts).
 */
function toSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    override: ({ jsonSchema }) => {
      if (jsonSchema.format === 'email' && jsonSchema.pattern) {
        delete jsonSchema.format;
        jsonSchema.description ??= 'An email address, as the pattern says.';
      }
    },
  }) as JsonSchema;
  delete json.$schema;
  return json;
}

/** Query parameters from an object schema: one parameter per property, required when the schema says so. */
function queryParameters(schema: z.ZodType): JsonSchema[] {
  const json = toSchema(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema: property,
  }));
}

/** Path parameters from the schema the router parses `req.params` with; every `{name}` must be in it. */
function pathParameters(route: RouteDescription): JsonSchema[] {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => name!);
  if (names.length === 0) return [];
  const properties = ((route.params && toSchema(route.params, 'input').properties) ?? {}) as Record<
    string,
    JsonSchema
  >;
  return names.map((name) => {
    const schema = properties[name];
    if (!schema) throw new Error(`${route.method} ${route.path}: no params schema for {${name}}`);
    return { name, in: 'path', required: true, schema };
  });
}

const statusText: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
  400: 'VALIDATION_FAILED (details: [{path, message}]), INVALID_JSON or BAD_REQUEST',
  401: 'UNAUTHENTICATED (or INVALID_CREDENTIALS at login); header WWW-Authenticate: Bearer',
  403: 'FORBIDDEN, or LIMIT_REACHED where a per-user cap applies (details: [{limit, value}])',
  404: 'NOT_FOUND',
  409: 'A unique value is taken',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE: the body has a Content-Encoding other than identity, or is a file of a type the route does not take',
  429: 'RATE_LIMITED; header Retry-After',
  503: 'UPSTREAM_UNAVAILABLE; header Retry-After',
};

/** The error body is the same on every route: described once, referenced everywhere. */
function responseSchema(schema: z.ZodType): JsonSchema {
  return schema === errorBodySchema ? { $ref: '#/components/schemas/Error' } : toSchema(schema, 'output');
}

/** A response body under its media type: the route's own (JSON unless it says otherwise), errors as JSON. */
function responseContent(route: RouteDescription, schema: z.ZodType): JsonSchema {
  const mediaType = schema === errorBodySchema ? 'application/json' : (route.mediaType ?? 'application/json');
  return { [mediaType]: { schema: responseSchema(schema) } };
}

/** Who may call a route: `{}` in the list means "no credentials" is one of the ways. */
function security(route: RouteDescription): JsonSchema[] {
  if (route.auth === 'metrics-token') return [{}, { metricsToken: [] }];
  return route.auth ? [{ bearer: [] }] : [];
}

/** One group of routes in the document; `proxied` routes reach a service through the gateway. */
export interface DocumentedService {
  tag: string;
  routes: readonly RouteDescription[];
  /** The gateway forwards these to a service, so they may also answer 503 UPSTREAM_UNAVAILABLE. */
  proxied: boolean;
}

/** Headers every answer, or every answer of one status, carries (README, "API"). */
const headers = {
  RequestId: {
    description: 'The request id: the one the client sent in x-request-id, else a fresh one.',
    schema: { type: 'string' },
  },
  WwwAuthenticate: { description: 'Always `Bearer`.', schema: { type: 'string', const: 'Bearer' } },
  RetryAfter: {
    description: 'Seconds to wait before trying again.',
    schema: { type: 'integer', minimum: 1 },
  },
};

function responseHeaders(status: number): JsonSchema {
  return {
    'x-request-id': { $ref: '#/components/headers/RequestId' },
    ...(status === 401 ? { 'WWW-Authenticate': { $ref: '#/components/headers/WwwAuthenticate' } } : {}),
    ...(status === 429 || status === 503
      ? { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } }
      : {}),
  };
}

/**
 * The answers a route has by its kind, beyond its own: 400 wherever it takes input (path, query or body),
 * 401 wherever it needs an access token, 413 and 415 wherever it takes a body (the body limit; a
 * Content-Encoding other than identity), the gateway's rate limit on all of `/api` (the probes come
 * before it), and 503 when a proxied route's service is down.
 */
function kindResponses(route: RouteDescription, proxied: boolean): Record<number, z.ZodType> {
  const responses: Record<number, z.ZodType> = {};
  if (route.params || route.query || route.body) responses[400] = errorBodySchema;
  if (route.auth === true) responses[401] = errorBodySchema;
  if (route.body || route.upload) Object.assign(responses, { 413: errorBodySchema, 415: errorBodySchema });
  if (route.upload) responses[400] = errorBodySchema;
  if (route.path.startsWith('/api/')) responses[429] = errorBodySchema;
  if (proxied) responses[503] = errorBodySchema;
  return responses;
}

/**
 * The OpenAPI 3.1 document of the public REST API, built from the route lists the services export
 * (the same zod schemas they validate requests with).
 */
export function buildOpenApiDocument(services: readonly DocumentedService[]): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const { tag, routes, proxied } of services) {
    for (const route of routes) {
      const parameters = [...pathParameters(route), ...(route.query ? queryParameters(route.query) : [])];
      const answers = { ...kindResponses(route, proxied), ...route.responses };
      const responses = Object.fromEntries(
        Object.keys(answers)
          .map(Number)
          .sort((a, b) => a - b)
          .map((status) => {
            const schema = answers[status];
            return [
              String(status),
              {
                description: statusText[status] ?? 'See the error code',
                headers: responseHeaders(status),
                ...(schema ? { content: responseContent(route, schema) } : {}),
              },
            ];
          }),
      );
      paths[route.path] ??= {};
      paths[route.path]![route.method] = {
        tags: [tag],
        summary: route.summary,
        security: security(route),
        ...(parameters.length ? { parameters } : {}),
        ...(route.body
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: toSchema(route.body, 'input') } },
              },
            }
          : {}),
        ...(route.upload
          ? {
              requestBody: {
                required: true,
                content: Object.fromEntries(
                  Object.entries(route.upload).map(([mediaType, schema]) => [mediaType, { schema }]),
                ),
              },
            }
          : {}),
        responses,
      };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Chat platform API',
      version: '1.0.0',
      description:
        'The REST API behind the gateway. Errors: {"error": {"code", "message", "details"?}}. Every response carries x-request-id. A method a path does not list here answers 405 METHOD_NOT_ALLOWED with an Allow header naming the ones it does, and OPTIONS answers 204 with that Allow. The WebSocket protocol at /ws is described in docs/asyncapi.md.',
    },
    servers: [{ url: 'http://localhost:8080' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        metricsToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'METRICS_TOKEN; required by /metrics only when the deployment sets it.',
        },
      },
      headers,
      schemas: { Error: toSchema(errorBodySchema, 'output') },
    },
    paths,
  };
}

/** Every route of the system: each service's own list and the gateway's. */
export function systemOpenApiDocument(): JsonSchema {
  return buildOpenApiDocument([
    { tag: 'users', routes: usersRoutes, proxied: true },
    { tag: 'auth', routes: authRoutes, proxied: true },
    { tag: 'rooms', routes: chatRoutes, proxied: true },
    { tag: 'attachments', routes: attachmentRoutes, proxied: true },
    { tag: 'gateway', routes: gatewayRoutes, proxied: false },
  ]);
}

/** The document as docs/openapi.json holds it: two-space indents and a trailing newline. */
export function renderOpenApiDocument(document: JsonSchema = systemOpenApiDocument()): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
