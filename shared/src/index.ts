/**
 * @chat/shared: what every service builds on. Config, logging, errors, schemas, the bus (NATS and
 * in-process), access-token verification, HTTP edge helpers, store helpers and the test harness.
 */
export * from './errors';
export * from './context';
export * from './logger';
export * from './config';
export * from './schemas';
export * from './lifecycle';

export * from './bus/bus';
export * from './bus/subjects';
export { MemoryBus, type MemoryBusOptions } from './bus/memory-bus';
export { NatsBus, connectNatsBus } from './bus/nats-bus';
export { createBus } from './bus/create-bus';
export { busContractSuite } from './bus/bus.contract';

export * from './auth/keys';
export * from './auth/revocations';
export * from './auth/verifier';
export * from './auth/require-auth';
export * from './auth/verification';

export * from './http/validate';
export * from './http/error-handler';
export * from './http/request-context';
export * from './http/health';
export * from './http/server';
export * from './http/route-description';

export * from './store/mongo';
export * from './store/embedded';
export * from './store/cursor';

export * from './testing/infra';
export * from './testing/token-issuer';
export * from './testing/log-capture';
