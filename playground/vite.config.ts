// Build of the browser playground (`npm run build` -> dist/playground/, served by the REST gateway at
// /playground/ when `server.http.playground` is on). Preact's JSX through Vite's own transformer: no Babel.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/playground/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/playground', import.meta.url)),
    emptyOutDir: true,
    // CodeMirror and Cytoscape make one large chunk; the page is local tooling, not a public site.
    chunkSizeWarningLimit: 2048,
  },
});
