// Builds the console (app/) into dist/: one small entry chunk, pages loaded on demand, hashed
// file names under assets/ (served with a one-year cache), no inline scripts (the server's
// Content-Security-Policy admits scripts from its own origin only).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: path.join(here, 'app'),
  base: '/',
  plugins: [react(), preloadApp()],
  build: {
    outDir: path.join(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    // No module-preload polyfill: it is an inline script, which the CSP refuses.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});

/**
 * The entry (boot.ts) is tiny and imports the app (main.tsx) dynamically, so it can ask for the
 * runs list's page first; a modulepreload link in index.html has the browser fetch the app's chunk
 * alongside it rather than after it has run.
 */
function preloadApp(): Plugin {
  return {
    name: 'aifactory-preload-app',
    transformIndexHtml: {
      order: 'post',
      handler(html, context) {
        const app = Object.values(context.bundle ?? {}).find(
          (output) => output.type === 'chunk' && output.facadeModuleId?.endsWith(`${path.sep}main.tsx`),
        );
        if (!app) return html;
        return {
          html,
          tags: [{ tag: 'link', attrs: { rel: 'modulepreload', crossorigin: true, href: `/${app.fileName}` }, injectTo: 'head' }],
        };
      },
    },
  };
}
