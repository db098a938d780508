import { z } from 'zod';
import type { RouteDescription } from '@chat/shared';

type JsonSchema = Record<string, unknown>;

function toSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
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

function pathParameters(path: string): JsonSchema[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
}

const statusText: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
  400: 'VALIDATION_FAILED or INVALID_JSON',
  401: 'UNAUTHENTICATED (or INVALID_CREDENTIALS at login); header WWW-Authenticate: Bearer',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'A unique value is taken',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED; header Retry-After',
  503: 'UPSTREAM_UNAVAILABLE',
};

/**
 * The OpenAPI 3.1 document of the public REST API, built from the route lists the services export
 * (the same zod schemas they validate requests with).
 */
export function buildOpenApiDocument(services: Array<{ tag: string; routes: readonly RouteDescription[] }>): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const { tag, routes } of services) {
    for (const route of routes) {
      const parameters = [...pathParameters(route.path), ...(route.query ? queryParameters(route.query) : [])];
      const responses = Object.fromEntries(
        Object.entries(route.responses).map(([status, schema]) => [
          status,
          {
            description: statusText[Number(status)] ?? 'See the error code',
            ...(schema ? { content: { 'application/json': { schema: toSchema(schema, 'output') } } } : {}),
          },
        ]),
      );
      paths[route.path] ??= {};
      paths[route.path]![route.method] = {
        tags: [tag],
        summary: route.summary,
        ...(route.auth ? { security: [{ bearer: [] }] } : { security: [] }),
        ...(parameters.length ? { parameters } : {}),
        ...(route.body
          ? { requestBody: { required: true, content: { 'application/json': { schema: toSchema(route.body, 'input') } } } }
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
        'The REST API behind the gateway. Errors: {"error": {"code", "message", "details"?}}. Every response carries x-request-id. The WebSocket protocol at /ws is described in docs/asyncapi.md.',
    },
    servers: [{ url: 'http://localhost:8080' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths,
  };
}
