export * from './runs.ts';
export * from './files.ts';
export * from './documents.ts';
export * from './subscriptions.ts';
