// The execution plane's LangGraph checkpointer over the shared store: anything exported here is public API.
export { StoreCheckpointSaver } from './store-checkpoint-saver.ts';
export type { StoreCheckpointSaverOptions } from './store-checkpoint-saver.ts';
export { eraseSubjectFromCheckpoints, eraseSubjectInValue, erasedMarker } from './checkpoint-erasure.ts';
export type { CheckpointErasureResult } from './checkpoint-erasure.ts';
