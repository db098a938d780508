/**
 * @chat/shared: what every service builds on. Config, logging, errors, schemas, the bus (NATS and
 * in-process), access-token verification, HTTP edge helpers and store helpers. Test helpers live in
 * @chat/testing.
 */
export * from './errors';
export * from './context';
export * from './logger';
export * from './config';
export * from './schemas';
export * from './lifecycle';
export * from './window-limiter';

export * from './bus/bus';
export * from './bus/subjects';
export { MemoryBus, type MemoryBusOptions } from './bus/memory-bus';
export { NatsBus, connectNatsBus } from './bus/nats-bus';
export { createBus } from './bus/create-bus';

export * from './auth/keys';
export * from './auth/revocations';
export * from './auth/verifier';
export * from './auth/require-auth';
export * from './auth/verification';

export * from './http/validate';
export * from './http/error-handler';
export * from './http/request-context';
export * from './http/health';
export * from './http/metrics';
export * from './http/server';
export * from './http/route-description';
export * from './http/methods';
export * from './http/client-address';

export * from './store/mongo';
export * from './store/embedded';
export * from './store/cursor';
