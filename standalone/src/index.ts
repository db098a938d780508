/** @chat/standalone: the whole system in one process, for `npm start` and end-to-end tests. */
export { createSystem } from './app';
export { loadStandaloneConfig, type StandaloneConfig } from './config';
export {
  buildOpenApiDocument,
  renderOpenApiDocument,
  systemOpenApiDocument,
  type DocumentedService,
} from './openapi';
export { buildAsyncApiDocument, renderAsyncApiDocument } from './asyncapi';
