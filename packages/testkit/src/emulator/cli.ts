/**
 * Runs the Lovdata API emulator until SIGINT/SIGTERM:
 *   pnpm emulator --dir <archives> [--port 8089] [--host 127.0.0.1] [--build-fixtures]
 * --build-fixtures first writes gjeldende-lover.tar.bz2 and lovtidend-avd1-2025.tar.bz2, built
 * from the real fixture documents, into --dir.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildFixtureArchives } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator } from './server.ts';

const USAGE = 'usage: pnpm emulator --dir <archives> [--port 8089] [--host 127.0.0.1] [--build-fixtures]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      port: { type: 'string', default: '8089' },
      host: { type: 'string', default: '127.0.0.1' },
      'build-fixtures': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  if (!values.dir) throw new Error(`--dir is required\n${USAGE}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be 0..65535, got ${values.port}`);
  const dir = resolve(values.dir);

  if (values['build-fixtures']) {
    await mkdir(dir, { recursive: true });
    for (const file of await buildFixtureArchives(dir)) console.log(`built ${file}`);
  }
  const emulator = await startEmulator({ dir, port, host: values.host });
  console.log(`Lovdata API emulator serving ${dir} at ${emulator.url}`);
  console.log(`  LOVDATA_API_URL=${emulator.url}`);

  const stop = (signal: NodeJS.Signals) => {
    console.log(`${signal}: stopping`);
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
