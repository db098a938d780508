import { errorBodySchema, type RouteDescription } from '@chat/shared';
import {
  jwksSchema,
  loginBodySchema,
  loginResponseSchema,
  refreshBodySchema,
  tokenPairSchema,
} from './auth.schemas';

/** Every route auth-service serves, with its request and response schemas. */
export const authRoutes: readonly RouteDescription[] = [
  {
    method: 'post',
    path: '/api/auth/login',
    summary: 'Log in with a username (or email) and password; starts a session.',
    auth: false,
    body: loginBodySchema,
    responses: { 200: loginResponseSchema, 401: errorBodySchema },
  },
  {
    method: 'post',
    path: '/api/auth/refresh',
    summary:
      'Trade a refresh token for a new pair; the old refresh token stops working, and presenting it again ends the session.',
    auth: false,
    body: refreshBodySchema,
    responses: { 200: tokenPairSchema, 401: errorBodySchema },
  },
  {
    method: 'post',
    path: '/api/auth/logout',
    summary: "End the access token's session everywhere.",
    auth: true,
    responses: { 204: null },
  },
  {
    method: 'get',
    path: '/api/auth/jwks',
    summary: 'The public keys (JWKS) that verify access tokens.',
    auth: false,
    responses: { 200: jwksSchema },
  },
];
