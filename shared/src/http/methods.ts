import type { Request, RequestHandler } from 'express';
import { MethodNotAllowedError } from '../errors';
import type { RouteDescription } from './route-description';

type DescribedRoute = Pick<RouteDescription, 'method' | 'path'>;

interface PathTemplate {
  /** Lower-cased literal segments; `null` for a `{parameter}`, which matches any one non-empty segment. */
  segments: (string | null)[];
  /** Literal segments first: templates compare by it, the smallest is the most specific. */
  rank: string;
  methods: Set<string>;
}

function templateOf(path: string): Omit<PathTemplate, 'methods'> {
  const segments = path
    .split('/')
    .slice(1)
    .map((segment) => (/^\{\w+\}$/.test(segment) ? null : segment.toLowerCase()));
  return { segments, rank: segments.map((segment) => (segment === null ? '1' : '0')).join('') };
}

function matches(template: PathTemplate, segments: readonly string[]): boolean {
  return (
    template.segments.length === segments.length &&
    template.segments.every((segment, i) => (segment === null ? segments[i] !== '' : segment === segments[i]))
  );
}

/**
 * The methods of a path as the described routes give them (with HEAD wherever GET is, and OPTIONS), or
 * `undefined` for a path no route describes. Of the templates that match, the most specific wins (a
 * literal segment over a parameter, from the left): `/api/users/me` has the methods of `/api/users/me`,
 * not also those of `/api/users/{id}`. Paths compare as express routes them: in any case, with or
 * without one trailing slash.
 */
export function methodResolver(routes: readonly DescribedRoute[]): (path: string) => string[] | undefined {
  const templates = new Map<string, PathTemplate>();
  for (const route of routes) {
    const key = route.path.toLowerCase();
    const template = templates.get(key) ?? { ...templateOf(route.path), methods: new Set<string>() };
    template.methods.add(route.method.toUpperCase());
    if (route.method === 'get') template.methods.add('HEAD');
    template.methods.add('OPTIONS');
    templates.set(key, template);
  }
  return (path) => {
    const segments = path
      .replace(/(.)\/$/, '$1')
      .split('/')
      .slice(1)
      .map((s) => s.toLowerCase());
    const found = [...templates.values()].filter((template) => matches(template, segments));
    if (found.length === 0) return undefined;
    const best = found.reduce((a, b) => (b.rank < a.rank ? b : a)).rank;
    const methods = new Set(found.filter((t) => t.rank === best).flatMap((t) => [...t.methods]));
    return [...methods].sort();
  };
}

/** A CORS preflight is the CORS policy's to answer, not a question about the resource's methods. */
function isPreflight(req: Request): boolean {
  return req.method === 'OPTIONS' && req.get('access-control-request-method') !== undefined;
}

/**
 * The methods the API document declares, enforced (RFC 9110 §15.5.6): on a described path, a method it
 * does not list is 405 METHOD_NOT_ALLOWED with `Allow`, and OPTIONS answers 204 with that `Allow`.
 * Paths no route describes pass on (to a 404, or to whatever else serves them). Mounted before the
 * routers, so a router that also matches a more general template (`/api/users/:id` for `/api/users/me`)
 * never answers a method the document does not give that path.
 */
export function allowedMethods(routes: readonly DescribedRoute[]): RequestHandler {
  const resolve = methodResolver(routes);
  return (req, res, next) => {
    const allow = resolve(req.path);
    if (!allow || isPreflight(req)) {
      next();
    } else if (req.method === 'OPTIONS') {
      res.set('Allow', allow.join(', ')).status(204).end();
    } else if (allow.includes(req.method)) {
      next();
    } else {
      next(new MethodNotAllowedError(req.method, req.path, allow));
    }
  };
}
