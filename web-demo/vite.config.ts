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
  // Pre-bundle every dependency up front, so the first visit never triggers a "new dependencies optimized" reload.
  optimizeDeps: {
    include: [
      'react',
      'react/jsx-runtime',
      'react/jsx-dev-runtime',
      'react-dom/client',
      '@apollo/client',
      '@apollo/client/react',
      '@apollo/client/link/error',
      '@apollo/client/link/subscriptions',
      '@apollo/client/utilities',
      'graphql',
      'graphql-ws',
      'rxjs',
    ],
  },
  server: { port: 5173, host: '127.0.0.1', strictPort: false },
  preview: { port: 5173, host: '127.0.0.1', strictPort: false },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022' },
});
