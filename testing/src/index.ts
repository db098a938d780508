/**
 * @chat/testing: helpers for tests only; no production package depends on it. Infrastructure lookup for
 * suites (`describeWithInfra`, `uniqueMongoUrl`), a token issuer for services that verify tokens, a log
 * capture, the bus contract suite, a photo with GPS EXIF, and nats-server nodes and a FerretDB process that a
 * fault suite starts, kills and restarts itself.
 * The jest global setup and teardown live beside them and are named in the root jest.config.js, not
 * exported here.
 */
export * from './infra';
export * from './token-issuer';
export * from './log-capture';
export { busContractSuite, type BusPair } from './bus.contract';
export { natsServerBinary, startNatsNodes, type NatsNode, type NatsNodes } from './nats-servers';
export { ferretdbBinary, startFerretDb, type FerretDbNode } from './ferretdb-server';
export { accepts, freePort } from './ports';
export * from './metrics';
export { toolBinary } from './binaries';
export { photoWithGps, pngOf } from './images';
