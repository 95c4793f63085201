// An MCP server (stdio) whose one tool declares an output schema and answers with structured
// content that breaks it, or keeps to it when asked: what a client must refuse. Low-level Server,
// since McpServer would check its own output first.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const server = new Server({ name: 'bad-output', version: '1.0.0' }, { capabilities: { tools: {} } });
const outputSchema = { type: 'object', properties: { count: { type: 'number' } }, required: ['count'] } as const;
server.setRequestHandler(ListToolsRequestSchema, () => ({
  tools: [
    {
      name: 'count',
      description: 'Counts; answers a string where its schema says number unless asked to behave.',
      inputSchema: { type: 'object', properties: { behave: { type: 'boolean' } } },
      outputSchema,
    },
  ],
}));
server.setRequestHandler(CallToolRequestSchema, (request) => {
  const count = request.params.arguments?.behave === true ? 3 : 'three';
  return { content: [{ type: 'text', text: String(count) }], structuredContent: { count } };
});
await server.connect(new StdioServerTransport());
