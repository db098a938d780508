import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderAsyncApiDocument } from './asyncapi';
import { renderOpenApiDocument } from './openapi';

/**
 * `npm run docs`: writes docs/openapi.json (from the services' route lists) and docs/asyncapi.json (from
 * `@chat/protocol` and the NATS subject definitions) at the repository root.
 */
const docs = path.resolve(__dirname, '../../docs');
mkdirSync(docs, { recursive: true });
for (const [name, text] of [
  ['openapi.json', renderOpenApiDocument()],
  ['asyncapi.json', renderAsyncApiDocument()],
] as const) {
  writeFileSync(path.join(docs, name), text);
  process.stdout.write(`wrote docs/${name}\n`);
}
