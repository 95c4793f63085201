/** Stable error codes: scripts and the HTTP API match on these, never on message text. */
export const ErrorCode = {
  PolicyInvalid: 'POLICY_INVALID',
  AgentInvalid: 'AGENT_INVALID',
  InputInvalid: 'INPUT_INVALID',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  /** A process acted on a run whose lease (fencing epoch) another process has taken over. */
  LeaseLost: 'LEASE_LOST',
  Forbidden: 'FORBIDDEN',
  ApprovalInvalid: 'APPROVAL_INVALID',
  VerificationFailed: 'VERIFICATION_FAILED',
  StoreUnavailable: 'STORE_UNAVAILABLE',
  /** The embedded store is open in another live process (see details.owner). */
  StoreBusy: 'STORE_BUSY',
  ModelFailed: 'MODEL_FAILED',
  ToolFailed: 'TOOL_FAILED',
  Internal: 'INTERNAL',
} as const;
/** One of the stable error codes. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Where in a source file something went wrong; lines and columns are 1-based. */
export interface SourceLocation {
  /** File path as the user gave it, or a label such as `<inline>`. */
  file?: string;
  /** 1-based line. */
  line?: number;
  /** 1-based column. */
  column?: number;
  /** Dotted path of the offending field, e.g. `spec.rules[2].when`. */
  path?: string;
}

/** Options every aifactory error accepts. */
export interface AiFactoryErrorOptions {
  /** Where the problem is, when it comes from a file or a field. */
  location?: SourceLocation;
  /** Structured details for `--json` output and the HTTP API. */
  details?: Record<string, unknown>;
  /** The underlying error. */
  cause?: unknown;
}

/** Base class of every error aifactory throws on purpose. */
export class AiFactoryError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** Where the problem is, when known. */
  readonly location: SourceLocation | undefined;
  /** Structured details. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AiFactoryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.location = options.location;
    this.details = options.details;
  }

  /** `file:line:column` prefix followed by the message, as compilers print. */
  format(): string {
    return `${formatLocation(this.location)}${this.message}`;
  }

  /** A plain object for `--json` output; never includes the stack. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, location: this.location, details: this.details };
  }
}

/** The caller's mistake: a bad policy, bad input, an unknown id. Shown to the user as is. */
export class UserError extends AiFactoryError {}

/** Our fault or the environment's: a lost connection, a crashed server, a bug. */
export class SystemError extends AiFactoryError {}

/**
 * Renders `file:line:column: path: ` for a location, or nothing: the one way a located issue (a
 * policy, lint, agent or eval problem) is shown, `${formatLocation(location)}${message}`.
 */
export function formatLocation(location: SourceLocation | undefined): string {
  if (!location) return '';
  let prefix = '';
  const position = formatPosition(location);
  if (position) prefix += `${position}: `;
  if (location.path) prefix += `${location.path}: `;
  return prefix;
}

/** Renders `file:line:column` (as much of it as is known), or nothing when there is no file. */
export function formatPosition(location: SourceLocation | undefined): string {
  if (!location?.file) return '';
  let text = location.file;
  if (location.line !== undefined) text += `:${location.line}`;
  if (location.line !== undefined && location.column !== undefined) text += `:${location.column}`;
  return text;
}
