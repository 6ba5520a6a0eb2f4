/** The change events a subscription can ask for (no dependencies: the CLI validates options with it at start-up). */
export const EVENT_TYPES = [
  'document.added',
  'document.modified',
  'document.removed',
  'section.added',
  'section.modified',
  'section.removed',
  'run.finished',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
