import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The browser client. `@chat/client` and `@chat/protocol` are bundled from their TypeScript source (as jest does), so building the
 * web client does not wait for `tsc -b`. JSX compiles to Preact's automatic runtime (tsconfig `jsxImportSource`).
 */
export default defineConfig({
  resolve: {
    alias: {
      '@chat/client': fileURLToPath(new URL('../client/src/index.ts', import.meta.url)),
      '@chat/protocol': fileURLToPath(new URL('../protocol/src/index.ts', import.meta.url)),
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Every browser this targets preloads modules natively; the polyfill would be dead weight.
    modulePreload: { polyfill: false },
  },
  server: {
    // `npm run dev -w web` against a running gateway (`npm start`) on 8080.
    proxy: {
      '/api': 'http://localhost:8080',
      '/ws': { target: 'ws://localhost:8080', ws: true },
    },
  },
});
