// Shared by the control-plane tests: real policies from YAML text, real actions.
import type { Action, ActionKind, DecisionContext } from '../src/index.ts';
import { compilePolicies, parsePolicy, type PolicySet } from '../src/index.ts';

/** A policy document with the boilerplate filled in. */
export function policyText(name: string, spec: string, version = 1): string {
  return `apiVersion: aifactory/v1\nkind: AutonomyPolicy\nmetadata: { name: ${name}, version: ${version} }\nspec:\n${spec
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n')}\n`;
}

/** Compiles policies given as [name, spec] pairs. */
export function setOf(...policies: Array<[string, string]>): PolicySet {
  return compilePolicies(policies.map(([name, spec]) => parsePolicy(policyText(name, spec), `${name}.yaml`)));
}

/** An action with an agent, principal and run filled in. */
export function action(kind: ActionKind, name: string, args: Record<string, unknown> = {}, overrides: Partial<Action> = {}): Action {
  return {
    kind,
    name,
    args,
    agent: { id: 'agent-1', team: 'finance' },
    principal: { id: 'alice', roles: ['analyst'] },
    run: { id: 'run-1', steps: 1, tool_calls: 0, tokens: 0, cost_usd: 0, elapsed_ms: 0 },
    ...overrides,
  };
}

/** A context with data classifications. */
export function withData(...classifications: string[]): DecisionContext {
  return { data: { classifications } };
}
