/**
 * @chat/gateway: the HTTP edge in front of users-, auth- and chat-service.
 */
export { createApp, type GatewayDeps } from './app';
export { loadGatewayConfig, type GatewayConfig } from './config';
export { gatewayRoutes } from './http/gateway.routes';
