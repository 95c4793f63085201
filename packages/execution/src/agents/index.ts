// Agent definitions of the execution plane: the format, its loaders and its JSON Schema. The
// package barrel re-exports from here; anything exported here is public API.
export { loadAgentDefinition, loadAgents, locateAgentField, parseAgentDefinition, withResolvedPrompt } from './agent-definition.ts';
export { findAgent, findAgentByName, isAgentName, loadAgentInFolder } from './agent-lookup.ts';
export { findPolicyVersions, rememberPolicies } from './definition-rows.ts';
export type { PolicyVersionRecord } from './definition-rows.ts';
export type { AgentLookupOptions } from './agent-lookup.ts';
export type { AgentDefinition, AgentLoadOptions, ResolvedPromptInfo } from './agent-definition.ts';
export { agentDocumentSchema, agentJsonSchema, agentLimitsSchema, agentNamePattern, promptReferencePattern } from './agent-schema.ts';
export type { AgentDocument, AgentDocumentInput, AgentLimits } from './agent-schema.ts';
export { expandVariables } from './template-variables.ts';
export type { ExpandResult, TemplateContext } from './template-variables.ts';
