/** Child processes for benches: timed shell pipelines, node children reporting JSON, peak RSS. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WORKER_PROCESS } from '@lovsync/testkit/support/processes';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `bash -c` with pipefail and returns its wall-clock time in ms; throws on a non-zero exit. */
export async function timeShell(command: string): Promise<number> {
  const t0 = performance.now();
  const child = spawn('bash', ['-c', `set -o pipefail; ${command}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`${command} exited ${code}: ${stderr.trim().slice(0, 2000)}`);
  return ms;
}

/** Peak resident set size (VmHWM) of a live process, in bytes. */
export function peakRss(pid: number | 'self' = 'self'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

const RESULT_PREFIX = 'BENCH-RESULT ';

/** For a child script: hands its result to {@link runNodeChild}. */
export function reportResult(result: unknown): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

/** Waits for a child spawned with piped stdout/stderr to close; returns its exit code and output. */
export async function collectOutput(
  child: ChildProcess,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  return { code, stdout, stderr };
}

/**
 * Runs `node --import tsx <script> ...args` from the repository root with extra env vars and
 * returns the value the script passed to {@link reportResult}.
 */
export async function runNodeChild<T>(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { code, stdout, stderr } = await collectOutput(child);
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  if (code !== 0 || !line) {
    throw new Error(`${script} ${args.join(' ')} exited ${code}: ${stderr.trim().slice(-3000)}`);
  }
  return JSON.parse(line.slice(RESULT_PREFIX.length)) as T;
}

/**
 * Like @lovsync/testkit/support/processes startWorkerProcess, with node flags first (--cpu-prof is not
 * allowed in NODE_OPTIONS): starts the worker process (WORKER_PROCESS) and waits for its "ready".
 */
export async function startWorkerWithFlags(
  role: string,
  env: Record<string, string>,
  nodeFlags: string[],
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', WORKER_PROCESS, role], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${role} not ready in 30 s: ${stderr}`)), 30_000);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      if (s.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${role} exited ${code}: ${stderr}`));
    });
  });
  child.removeAllListeners('exit');
  return child;
}
