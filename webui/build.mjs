// Bundles the front end into dist/: app.js and app.css (xterm.js's styles
// with ours), and index.html. `make build` runs it after `npm ci`; the Go
// build then embeds dist/ with -tags webui.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';

const dist = new URL('./dist/', import.meta.url);
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: { app: 'src/main.ts' },
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'iife',
  target: ['es2022'],
  outdir: 'dist',
  legalComments: 'linked',
  logLevel: 'warning',
});
await copyFile(new URL('./src/index.html', import.meta.url), new URL('index.html', dist));
