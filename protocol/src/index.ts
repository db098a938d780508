/**
 * @chat/protocol: the socket protocol and the entities every side sees. The server validates with these
 * schemas; the client library and the web client use their types (and the constants, which need no zod).
 * docs/asyncapi.json is generated from here; docs/architecture.md says how to add a frame.
 */
export * from './ids';
export * from './errors';
export * from './close-codes';
export * from './entities';
export * from './frames';
export * from './events';
