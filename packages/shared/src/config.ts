/**
 * The one place that reads process.env. Every variable of DESIGN.md (plus a few operational
 * limits) is parsed once by a single zod schema; an invalid value exits with code 2 and one line
 * naming the variable.
 */
import { z } from 'zod';

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .prefault(String(def));

const url = (def: string, protocols: string[]) =>
  z
    .string()
    .trim()
    .default(def)
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      `must be a URL with protocol ${protocols.join(' or ')}`,
    );

const share = (def: string) =>
  z
    .string()
    .trim()
    .default(def)
    .refine((v) => /^(0(\.\d+)?|1(\.0+)?)$/.test(v), 'must be a number between 0 and 1')
    .transform(Number);

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

export const configSchema = z
  .object({
    LOVDATA_API_URL: url('https://api.lovdata.no', ['http:', 'https:']).transform((v) =>
      v.replace(/\/+$/, ''),
    ),
    LOVDATA_DATASET_FILTER: z
      .string()
      .default('gjeldende')
      .transform((v) => (v.trim() === '' || v.trim().toLowerCase() === 'null' ? null : v.trim())),
    LOVDATA_API_TIMEOUT: int(30, 1, 3600),
    LOVDATA_MAX_DOWNLOAD_CONCURRENCY: int(4, 1, 64),
    /** Overall deadline of one archive download: LOVDATA_API_TIMEOUT + its size at this rate; 0 = none. */
    LOVDATA_MIN_DOWNLOAD_BYTES_PER_SECOND: int(65_536, 0, 1024 * 1024 * 1024),
    /** A dataset list naming more datasets than this (after the filter) is refused whole. */
    LOVDATA_MAX_DATASETS: int(500, 1, 100_000),
    DATABASE_URL: url('postgres://postgres@127.0.0.1:5432/lovsync', ['postgres:', 'postgresql:']),
    REDIS_URL: url('redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    /** How long a command waits for Redis before it gives up with one line naming REDIS_URL. */
    REDIS_CONNECT_TIMEOUT_SECONDS: int(10, 1, 3600),
    QUEUE_PREFIX: z
      .string()
      .default('lovsync')
      .refine((v) => /^[A-Za-z0-9_-]+$/.test(v), 'only letters, digits, _ and - are allowed'),
    RAW_DATA_DIR: z.string().trim().min(1).default('./data/raw'),
    EXTRACT_DIR: optionalText,
    SYNC_CRON: z
      .string()
      .default('0 2 * * *')
      .refine((v) => /^\s*(\S+\s+){4,5}\S+\s*$/.test(v), 'must be a cron expression with 5 or 6 fields'),
    SYNC_TZ: z
      .string()
      .default('Europe/Oslo')
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, 'must be an IANA time zone such as Europe/Oslo'),
    POLL_INTERVAL_SECONDS: int(300, 0, 86_400),
    PARSER_CONCURRENCY: int(8, 1, 256),
    PARSE_FAILURE_THRESHOLD: share('0.5'),
    HTTP_PORT: int(3000, 0, 65_535),
    DASHBOARD_USER: optionalText,
    DASHBOARD_PASSWORD: optionalText,
    DASHBOARD_ALLOW_MUTATIONS: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    BZIP2_DECODER: z.enum(['auto', 'lbzip2', 'bzip2', 'js']).default('auto'),
    MAX_ENTRY_BYTES: int(256 * 1024 * 1024, 1),
    MAX_ARCHIVE_BYTES: int(16 * 1024 * 1024 * 1024, 1),
    MAX_ARCHIVE_ENTRIES: int(1_000_000, 1),
    SHUTDOWN_TIMEOUT_SECONDS: int(25, 1, 3600),
    /** A run (or one archive) that would remove more than this share of the current files is refused unless forced. */
    MAX_REMOVAL_SHARE: share('0.5'),
    /** A dataset missing from the list is removed only after this many consecutive runs (or a forced run). */
    DATASET_MISSING_RUNS: int(3, 1, 1000),
    /** A run whose sync wrote no heartbeat for this long, and that no sync job holds, is failed. */
    SYNC_STALE_SECONDS: int(60, 5, 86_400),
    /** Forced syncs (full re-downloads) are accepted at most once per this many seconds; 0 = no limit. */
    FORCED_SYNC_MIN_INTERVAL_SECONDS: int(300, 0, 86_400),
    /** Webhook deliveries (issue 14): POSTs at once per deliver process. */
    DELIVERY_CONCURRENCY: int(8, 1, 256),
    /** Seconds a receiver gets to answer one POST (connect, headers and body). */
    DELIVERY_TIMEOUT_SECONDS: int(10, 1, 300),
    /** First retry delay; each further retry doubles it, up to DELIVERY_BACKOFF_MAX_MS. */
    DELIVERY_BACKOFF_BASE_MS: int(10_000, 1, 86_400_000),
    DELIVERY_BACKOFF_MAX_MS: int(3_600_000, 1, 86_400_000),
    /** A delivery is retried for at least this long (default 25 h) before it is dead-lettered. */
    DELIVERY_RETRY_SECONDS: int(90_000, 0, 30 * 86_400),
    /** Events per POST: a run's events for one subscription go in batches of at most this many. */
    DELIVERY_BATCH_EVENTS: int(500, 1, 10_000),
    /** How often the deliver role looks for newly finished runs to dispatch. */
    DELIVERY_POLL_MS: int(2_000, 50, 3_600_000),
    /** Overrides the diff/parse job lock (seconds); a dead worker's job is retried after it lapses. */
    JOB_LOCK_SECONDS: z
      .string()
      .optional()
      .transform((v) => (v === undefined || v.trim() === '' ? undefined : v))
      .pipe(z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).optional()),
  })
  .superRefine((c, ctx) => {
    if ((c.DASHBOARD_USER === undefined) !== (c.DASHBOARD_PASSWORD === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.DASHBOARD_USER === undefined ? 'DASHBOARD_USER' : 'DASHBOARD_PASSWORD'],
        message: 'DASHBOARD_USER and DASHBOARD_PASSWORD must be set together',
      });
    }
  });

export type Config = Readonly<z.output<typeof configSchema>>;

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`invalid configuration: ${variable} ${detail}`);
    this.name = 'ConfigError';
  }
}

/** Parses an environment (process.env by default). Throws ConfigError naming the first bad variable. */
export function parseConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape ?? {})) {
    const value = env[key];
    if (value !== undefined) input[key] = value;
  }
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const shown = env[variable];
    const value =
      shown === undefined || /PASSWORD|DATABASE_URL|REDIS_URL/.test(variable) ? '' : ` (got "${shown}")`;
    throw new ConfigError(variable, `${issue.message}${value}`);
  }
  return Object.freeze(result.data);
}

let loaded: Config | undefined;

/**
 * The process-wide configuration, parsed on first use. An invalid value prints one line naming the
 * variable and exits with code 2 (the contract in DESIGN.md).
 */
export function config(): Config {
  if (!loaded) {
    try {
      loaded = parseConfig();
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`lovsync: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
  }
  return loaded;
}
