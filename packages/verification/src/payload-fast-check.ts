// A fast yes for the payloads a governed step records on every action (a decision, a model or
// tool intent, an outcome). The zod schemas of event-types.ts stay the authority: a payload this
// does not accept goes to zod, which accepts it or says what is wrong, so error messages and
// every other type are unchanged. What this accepts, zod accepts too — each check here is as
// strict as the schema's, or stricter (plain objects only, finite numbers, safe integers, no
// symbol keys); a property test holds it. Why: zod builds a full output copy of every payload,
// and its parsers are shared with the MCP SDK's many schemas in one process, which leaves them
// megamorphic; on the hot path that is a third of what recording an event costs.
import type { EventType } from './event-types.ts';

type Check = (payload: unknown) => boolean;

/** zod's object test (looseObject): any non-null, non-array object. */
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Stricter than zod's record test (isPlainObject, string keys): Object's prototype or none, no own constructor, no symbol keys. */
function isPlainRecord(value: unknown): boolean {
  if (!isObject(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return (
    (prototype === Object.prototype || prototype === null) &&
    !Object.hasOwn(value, 'constructor') &&
    Object.getOwnPropertySymbols(value).length === 0
  );
}

const isStep = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isNonEmpty = (value: unknown): boolean => typeof value === 'string' && value.length > 0;
const isNonNegative = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const sha256Pattern = /^[0-9a-f]{64}$/;
const isSha256 = (value: unknown): boolean => typeof value === 'string' && sha256Pattern.test(value);
const authorities: ReadonlySet<unknown> = new Set(['autonomous', 'notify_human', 'require_approval', 'deny']);
const optional = (value: unknown, check: (value: unknown) => boolean): boolean => value === undefined || check(value);
const optionalString = (value: unknown): boolean => value === undefined || typeof value === 'string';
const optionalNullableString = (value: unknown): boolean => value === undefined || value === null || typeof value === 'string';
const isErrorInfo = (value: unknown): boolean =>
  isNonEmpty(value) || (isObject(value) && typeof value.message === 'string' && optionalString(value.code));
const isUsage = (value: unknown): boolean =>
  isObject(value) &&
  optional(value.inputTokens, isNonNegative) &&
  optional(value.outputTokens, isNonNegative) &&
  optional(value.input_tokens, isNonNegative) &&
  optional(value.output_tokens, isNonNegative);

const checks: Partial<Record<EventType, Check>> = {
  // Every start, on the path to a streamed run's first event.
  'run.started': (payload) =>
    isObject(payload) &&
    isNonEmpty(payload.agent) &&
    isNonEmpty(payload.principal) &&
    optionalNullableString(payload.team) &&
    optional(payload.metadata, isPlainRecord) &&
    optionalNullableString(payload.replay_of) &&
    optionalNullableString(payload.parent_run_id),
  'policy.decided': (payload) => {
    if (!isObject(payload) || !isStep(payload.step)) return false;
    const action = payload.action;
    const decision = payload.decision;
    return (
      isObject(action) &&
      isNonEmpty(action.kind) &&
      isNonEmpty(action.name) &&
      optional(action.args, isPlainRecord) &&
      optional(action.args_hash, isSha256) &&
      isObject(decision) &&
      authorities.has(decision.authority) &&
      Array.isArray(decision.rules) &&
      optionalString(decision.reason)
    );
  },
  'model.requested': (payload) => isObject(payload) && isStep(payload.step) && optional(payload.request_hash, isSha256),
  'model.responded': (payload) =>
    isObject(payload) &&
    isStep(payload.step) &&
    optionalString(payload.model) &&
    optional(payload.usage, isUsage) &&
    optional(payload.cost_usd, isNonNegative),
  'model.failed': (payload) => isObject(payload) && isStep(payload.step) && isErrorInfo(payload.error),
  'tool.called': (payload) => isObject(payload) && isStep(payload.step) && isNonEmpty(payload.name) && optionalString(payload.call_id),
  'tool.returned': (payload) => isObject(payload) && isStep(payload.step) && isNonEmpty(payload.name) && optionalString(payload.call_id),
  'tool.failed': (payload) =>
    isObject(payload) && isStep(payload.step) && isNonEmpty(payload.name) && optionalString(payload.call_id) && isErrorInfo(payload.error),
  'answer.given': (payload) => isObject(payload) && isStep(payload.step) && typeof payload.text === 'string',
};

/** True when the payload certainly satisfies its type's schema; false means "ask zod", not "invalid". */
export function acceptsFast(type: EventType, payload: unknown): boolean {
  const check = checks[type];
  return check !== undefined && check(payload);
}

/** The event types acceptsFast knows (tests). */
export const fastCheckedTypes = Object.keys(checks) as EventType[];
