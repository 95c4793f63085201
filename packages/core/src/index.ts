// Anything exported here is public API of @aifactory/core: add with care, never remove lightly.
export { AiFactoryError, ErrorCode, SystemError, UserError, formatLocation, formatPosition } from './errors.ts';
export type { AiFactoryErrorOptions, SourceLocation } from './errors.ts';
export type { Principal } from './principal.ts';
export { canonicalJson, contentHash, sha256Hex } from './canonical-json.ts';
