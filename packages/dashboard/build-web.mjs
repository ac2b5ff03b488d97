// Bundles the page (web/) with esbuild into dist/web: index.html, main.js, main.css (uPlot's CSS
// included). No CDN at run time: everything the page loads comes from the gateway.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist', 'web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { main: join(here, 'web', 'main.ts') },
  bundle: true, format: 'esm', target: 'es2022', minify: true, sourcemap: false,
  outdir: out, logLevel: 'warning', legalComments: 'linked',
});
copyFileSync(join(here, 'web', 'index.html'), join(out, 'index.html'));
