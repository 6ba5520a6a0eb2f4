export * from './client.ts';
export * from './migrate.ts';
export * from './queries/runs.ts';
export * from './queries/files.ts';
export * from './queries/dashboard.ts';
export * as schema from './schema/index.ts';
export * from './queries/subscriptions.ts';
export * from './queries/outbox.ts';
