import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderOpenApiDocument } from './openapi';

/** `npm run docs`: writes docs/openapi.json at the repository root from the services' route lists. */
const file = path.resolve(__dirname, '../../docs/openapi.json');
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, renderOpenApiDocument());
process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
