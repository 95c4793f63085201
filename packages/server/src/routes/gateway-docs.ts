// The LLM gateway's two routes as the OpenAPI document describes them. The handlers are plain Hono
// routes in gateway/gateway-routes.ts (they answer in each provider's own wire shape, errors
// included, so the official SDKs raise their own errors); this module only describes them: the
// fields the gateway reads, the answers and statuses it gives, and the headers it adds.
import { z } from '@hono/zod-openapi';
import { gatewayBasePaths, gatewayRoles } from '../gateway/gateway-routes.ts';
import { classificationHeader, featureHeader } from '../gateway/llm-gateway.ts';
import type { ApiApp } from './context.ts';

const tags = ['gateway'];

/** An OpenAI-style error body (what the openai SDK reads into its APIError). */
const openAIError = z
  .object({ error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }) })
  .openapi('OpenAIError', { description: 'An error in the OpenAI wire shape.' });

/** An Anthropic-style error body (what the @anthropic-ai/sdk reads into its APIError). */
const anthropicError = z
  .object({ type: z.literal('error'), error: z.object({ type: z.string(), message: z.string() }) })
  .openapi('AnthropicError', { description: 'An error in the Anthropic wire shape.' });

const message = z.object({ role: z.string(), content: z.unknown().optional() }).catchall(z.unknown());

const chatCompletionRequest = z
  .object({
    model: z
      .string()
      .min(1)
      .openapi({ description: 'A model the gateway routes (gateway.yaml), e.g. gpt-4o-mini.', example: 'gpt-4o-mini' }),
    messages: z.array(message).min(1),
    stream: z.boolean().optional().openapi({ description: 'Stream chunks as server-sent events, as the provider does.' }),
    tools: z.array(z.unknown()).optional().openapi({ description: 'Function tools; their names are governed like any other action.' }),
  })
  .catchall(z.unknown())
  .openapi('ChatCompletionRequest', {
    description: 'An OpenAI chat completion request; fields the gateway does not read are passed on unchanged.',
  });

const chatCompletion = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(z.object({ index: z.number().int(), message, finish_reason: z.string().nullable() }).catchall(z.unknown())),
    usage: z
      .object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() })
      .catchall(z.unknown())
      .optional(),
  })
  .catchall(z.unknown())
  .openapi('ChatCompletion', { description: 'The provider\u2019s answer, as the provider gave it (masked where the policy obliges).' });

const messagesRequest = z
  .object({
    model: z
      .string()
      .min(1)
      .openapi({ description: 'A model the gateway routes (gateway.yaml), e.g. claude-haiku-4-5.', example: 'claude-haiku-4-5' }),
    messages: z.array(message).min(1),
    max_tokens: z.number().int().positive(),
    system: z.unknown().optional(),
    stream: z.boolean().optional().openapi({ description: 'Stream events as server-sent events, as the provider does.' }),
    tools: z.array(z.unknown()).optional(),
  })
  .catchall(z.unknown())
  .openapi('MessagesRequest', { description: 'An Anthropic Messages request; fields the gateway does not read are passed on unchanged.' });

const messagesAnswer = z
  .object({
    id: z.string(),
    type: z.literal('message'),
    role: z.literal('assistant'),
    model: z.string(),
    content: z.array(z.object({ type: z.string() }).catchall(z.unknown())),
    stop_reason: z.string().nullable(),
    usage: z.object({ input_tokens: z.number().int(), output_tokens: z.number().int() }).catchall(z.unknown()),
  })
  .catchall(z.unknown())
  .openapi('MessagesAnswer', { description: 'The provider\u2019s answer, as the provider gave it (masked where the policy obliges).' });

const gatewayHeaders = z.object({
  [featureHeader]: z.string().max(100).optional().openapi({
    description: 'The feature the call is for (cost attribution); also read from metadata.feature in the body.',
    example: 'order-chat',
  }),
  [classificationHeader]: z.string().max(500).optional().openapi({
    description: 'Data classifications the request carries, comma-separated (policies may deny or mask on them).',
    example: 'pii',
  }),
});

const answeredHeaders = {
  'x-aifactory-run': { description: 'The gateway session run that recorded the call.', schema: { type: 'string' as const } },
  'x-aifactory-step': { description: 'The step of that run.', schema: { type: 'string' as const } },
  'x-aifactory-model': { description: 'The model that answered (after fallbacks).', schema: { type: 'string' as const } },
};

/** The statuses the gateway answers with, in the protocol's error shape. */
const errors = (schema: z.ZodType) => {
  const problem = (description: string) => ({ description, content: { 'application/json': { schema } } });
  return {
    400: problem('The body is not a request of this protocol (the message names the field), or a header is malformed.'),
    401: problem('No valid factory token (the SDK\u2019s apiKey).'),
    403: problem(
      'The token lacks a gateway role, or the policy denies the call or would hold it (the gateway cannot wait for an approval).',
    ),
    404: problem('The model is not one the gateway routes.'),
    429: problem('Too many requests, or a budget of the team or feature is spent.'),
    500: problem('The gateway failed; nothing was sent to the provider unrecorded.'),
    502: problem('The provider failed or could not be reached (after the configured retries and fallbacks).'),
    503: problem('The gateway is shutting down; retry against another instance.'),
  };
};

const stream = (what: string) => ({
  'text/event-stream': {
    schema: z.string().openapi({ description: `With stream: true, the provider\u2019s ${what} passed through as server-sent events.` }),
  },
});

/** Adds the gateway's routes to the app's OpenAPI document (when the server serves a gateway). */
export function documentGatewayRoutes(app: ApiApp): void {
  const security = [{ bearer: [] }];
  app.openAPIRegistry.registerPath({
    method: 'post',
    path: `${gatewayBasePaths.openai}/chat/completions`,
    operationId: 'gatewayChatCompletion',
    tags,
    security,
    'x-roles': [...gatewayRoles],
    summary: 'OpenAI chat completions through the governed gateway',
    description: `Point the openai SDK's baseURL at ${gatewayBasePaths.openai} with a factory token as its apiKey. Each call is decided by the gateway policy and recorded before it is sent; the answer is the provider's.`,
    request: { headers: gatewayHeaders, body: { required: true, content: { 'application/json': { schema: chatCompletionRequest } } } },
    responses: {
      200: {
        description: 'The completion (or its chunks).',
        headers: answeredHeaders,
        content: { 'application/json': { schema: chatCompletion }, ...stream('chat.completion.chunk events') },
      },
      ...errors(openAIError),
    },
  });
  app.openAPIRegistry.registerPath({
    method: 'post',
    path: `${gatewayBasePaths.anthropic}/v1/messages`,
    operationId: 'gatewayMessages',
    tags,
    security,
    'x-roles': [...gatewayRoles],
    summary: 'Anthropic Messages through the governed gateway',
    description: `Point the @anthropic-ai/sdk's baseURL at ${gatewayBasePaths.anthropic} with a factory token as its apiKey (sent as x-api-key, or Authorization: Bearer). Each call is decided by the gateway policy and recorded before it is sent; the answer is the provider's.`,
    request: { headers: gatewayHeaders, body: { required: true, content: { 'application/json': { schema: messagesRequest } } } },
    responses: {
      200: {
        description: 'The message (or its events).',
        headers: answeredHeaders,
        content: { 'application/json': { schema: messagesAnswer }, ...stream('message stream events') },
      },
      ...errors(anthropicError),
    },
  });
}
