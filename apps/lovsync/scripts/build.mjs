#!/usr/bin/env node
/**
 * Compiles the `lovsync` command to JavaScript (apps/lovsync/dist), run by `pnpm install` (the root
 * `prepare` script) and by `pnpm build`. apps/lovsync/bin/lovsync.js runs this bundle while it is
 * current and the TypeScript sources through tsx otherwise, so an edit never runs stale code.
 *
 * Our own code (apps, packages, services) is bundled, code-split at every dynamic import so a
 * command loads only what it needs; third-party packages stay in node_modules, imported by the
 * absolute path each source file would resolve them to (except INLINE below) (a bundle in apps/lovsync cannot resolve
 * another workspace package's dependencies by name). `import.meta.url` keeps its source file's
 * value, so paths next to the sources (migrations, package.json) still resolve. The bundle is
 * machine-local like node_modules: the stamp records the root it was built for.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const app = dirname(dirname(fileURLToPath(import.meta.url)));
const root = dirname(dirname(app));
const outdir = join(app, 'dist');
const builtins = new Set(builtinModules);
/** Pure-ESM packages of many small files that every command loads: bundled too (zod alone is 225 files). */
const INLINE = ['zod'];

let build;
try {
  ({ build } = await import('esbuild'));
} catch {
  // A production install (`pnpm install --prod`, the Docker image) has no esbuild: no bundle, and the
  // bin runs the sources through tsx (a production dependency).
  console.error('lovsync build: esbuild is not installed (production install); the sources run through tsx');
  process.exit(0);
}
const { newestMtime } = await import('../bin/sources.js');
const buildStart = Date.now();
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

/** Bare imports of third-party packages: external, by the absolute path the importer resolves. */
const thirdParty = {
  name: 'third-party-by-path',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData?.inner) return undefined;
      const id = args.path.startsWith('node:') ? args.path.slice(5) : args.path;
      if (builtins.has(id) || builtins.has(id.split('/')[0])) return { path: args.path, external: true };
      if (args.path.startsWith('@lovsync/')) return undefined; // ours: bundled
      if (INLINE.some((p) => args.path === p || args.path.startsWith(`${p}/`))) return undefined;
      const r = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        pluginData: { inner: true },
      });
      if (r.errors.length) return { errors: r.errors };
      return { path: pathToFileURL(r.path).href, external: true };
    });
    b.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
      if (args.path.includes(`${'/'}node_modules${'/'}`)) return undefined;
      const text = readFileSync(args.path, 'utf8').replaceAll(
        'import.meta.url',
        JSON.stringify(pathToFileURL(args.path).href),
      );
      return { contents: text, loader: 'ts' };
    });
  },
};

const result = await build({
  metafile: true,
  absWorkingDir: root,
  entryPoints: { main: join(app, 'src/cli/main.ts') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  conditions: [],
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
  sourcemap: 'linked',
  logLevel: 'warning',
  plugins: [thirdParty],
});

// Every bundled source file, the workspace manifests, and the lockfile (a dependency change moves the third-party paths).
const sources = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules/'));
// A workspace package's manifest decides how its subpaths resolve (exports), so it is an input too.
const manifests = new Set(sources.map((f) => `${f.split('/').slice(0, 2).join('/')}/package.json`));
const inputs = [...sources, ...manifests, 'pnpm-lock.yaml'];
const newest = newestMtime(root, inputs);
if (newest === null || newest > buildStart) {
  // A source changed during the build: leave no stamp, so the sources run until the next build.
  console.error('lovsync build: sources changed while building; the bundle is left unstamped');
  process.exit(0);
}
writeFileSync(join(outdir, 'stamp.json'), `${JSON.stringify({ root, newest, inputs }, null, 1)}\n`);
console.error(`lovsync build: apps/lovsync/dist in ${Date.now() - buildStart} ms`);
