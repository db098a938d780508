/**
 * @chat/auth-service: login against users-service, ES256 access tokens with a JWKS (HTTP and bus),
 * rotating refresh tokens with reuse detection, logout, and session revocation on the durable stream.
 */
export { createApp, type AuthAppDeps } from './app';
export { authConfigShape, loadAuthConfig, type AuthConfig } from './config';
export { authRoutes } from './http/auth.routes';
export {
  jwksSchema,
  loginBodySchema,
  loginResponseSchema,
  publicJwkSchema,
  refreshBodySchema,
  tokenPairSchema,
} from './http/auth.schemas';
