// The one drizzle schema every plane shares. Each file belongs to one plane.
export * from './trace.ts';
export * from './governance.ts';
export * from './checkpoints.ts';
export * from './knowledge.ts';
export * from './access.ts';
