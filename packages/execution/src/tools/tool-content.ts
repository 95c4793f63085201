// Turns the content blocks of an MCP tool result into the text a model reads. Text blocks are
// kept as they are; binary blocks are described, never inlined, so a model never receives
// kilobytes of base64 it cannot use.

/** The text of an MCP tool result's content blocks, one block per paragraph. */
export function contentToText(content: unknown): string {
  if (!Array.isArray(content)) return '';
  return content
    .map(blockToText)
    .filter((text) => text.length > 0)
    .join('\n\n');
}

function blockToText(block: unknown): string {
  if (block === null || typeof block !== 'object') return '';
  const item = block as Record<string, unknown>;
  switch (item.type) {
    case 'text':
      return typeof item.text === 'string' ? item.text : '';
    case 'image':
    case 'audio':
      return `[${item.type}: ${String(item.mimeType ?? 'unknown type')}, ${base64Bytes(item.data)} bytes]`;
    case 'resource': {
      const resource = (item.resource ?? {}) as Record<string, unknown>;
      if (typeof resource.text === 'string') return resource.text;
      return `[resource: ${String(resource.uri ?? 'unknown')}${resource.mimeType ? `, ${String(resource.mimeType)}` : ''}, ${base64Bytes(resource.blob)} bytes]`;
    }
    case 'resource_link':
      return `[resource link: ${String(item.uri ?? 'unknown')}${item.name ? ` (${String(item.name)})` : ''}]`;
    default:
      return `[${String(item.type ?? 'unknown')} content]`;
  }
}

function base64Bytes(data: unknown): number {
  if (typeof data !== 'string') return 0;
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((data.length * 3) / 4) - padding);
}
