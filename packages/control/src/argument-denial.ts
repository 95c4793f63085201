// The decision for a tool call whose arguments do not match the tool's input schema. Such a call
// never reaches decide(): a rule written for `action.args.account == 12345` must not see
// "12345" or [12345] as something else, so the call is denied before any rule, and the decision
// names the schema errors. A constructor, not a rule, so every policy set gets the same outcome.
import type { DenyDecision } from './decision.ts';
import type { PolicySet } from './policy-set.ts';

const empty: readonly never[] = Object.freeze([]);

/** Denies a tool call whose arguments fail its input schema; `errors` as the validator gives them (`args.account: must be integer`). */
export function argumentsDenied(set: PolicySet, tool: string, errors: readonly string[]): DenyDecision {
  const shown = errors.slice(0, 5).map((error) => error.replace(/\.$/, ''));
  const more = errors.length > shown.length ? ` and ${errors.length - shown.length} more` : '';
  const name = tool.length > 80 ? `${tool.slice(0, 77)}...` : tool;
  return Object.freeze({
    authority: 'deny',
    rules: empty,
    skipped: empty,
    policies: Array.isArray(set?.refs) ? set.refs : empty,
    obligations: Object.freeze({ notify: empty, redact: empty }),
    reason: `Denied before any rule: the arguments of tool '${name}' do not match its input schema (${shown.join('; ')}${more}).`,
    defaulted: false,
  }) as DenyDecision;
}
