// MCP tools of the execution plane: the tool host and tool naming. The package barrel
// re-exports from here; anything exported here is public API.
export { ToolHost } from './tool-host.ts';
export type { ServerToolDescriptor } from './tool-host.ts';
export type { ServerStatus, ServerTransportKind } from './server-connection.ts';
export type { McpServerConfig, ToolCallOptions, ToolDescriptor, ToolErrorCode, ToolHostOptions, ToolResult } from './tool-types.ts';
export {
  fromModelToolName,
  modelToolNamePattern,
  reservedServerNames,
  serverNamePattern,
  serverNameProblem,
  splitToolName,
  toModelToolName,
} from './tool-names.ts';
export { compileAllowList } from './allow-list.ts';
export type { AllowList } from './allow-list.ts';
export { resolvePackageBin } from './package-bin.ts';
export { ToolPinStore, changedFields, pinnedDefinition, pinnedFields, toolDefinitionHash } from './tool-pins.ts';
export type { PinnedToolDefinition, ToolPin } from './tool-pins.ts';
export { ArgumentValidator } from './argument-validator.ts';
