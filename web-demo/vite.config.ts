import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

// The demo talks to the gateway directly (CORS), so the dev server proxies nothing.
// `base: './'` lets the built `dist/` be served from any path (vite preview, the gateway, a static server).
export default defineConfig({
  root,
  base: './',
  // Vite 8 transforms TSX itself (oxc); no React plugin needed.
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  server: { port: 5173, host: '127.0.0.1', strictPort: false },
  preview: { port: 5173, host: '127.0.0.1', strictPort: false },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022' },
});
