// Generated from the server's OpenAPI document (GET /v1/openapi.json) by openapi-typescript; do not edit.
// Regenerate: UPDATE_OPENAPI_TYPES=1 npx vitest run packages/server/test/api-contract.test.ts
// packages/server/test/api-contract.test.ts fails when this file and the server's routes differ, and
// packages/client/test/openapi-contract.ts fails typecheck when the client's own types drift from it.
export interface paths {
    "/gateway/openai/v1/chat/completions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * OpenAI chat completions through the governed gateway
         * @description Point the openai SDK's baseURL at /gateway/openai/v1 with a factory token as its apiKey. Each call is decided by the gateway policy and recorded before it is sent; the answer is the provider's.
         */
        post: operations["gatewayChatCompletion"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/gateway/anthropic/v1/messages": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Anthropic Messages through the governed gateway
         * @description Point the @anthropic-ai/sdk's baseURL at /gateway/anthropic with a factory token as its apiKey (sent as x-api-key, or Authorization: Bearer). Each call is decided by the gateway policy and recorded before it is sent; the answer is the provider's.
         */
        post: operations["gatewayMessages"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Liveness
         * @description 503 while the server shuts down.
         */
        get: operations["health"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This document */
        get: operations["getOpenApiDocument"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The principal and roles of the presented token */
        get: operations["getMe"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/agents": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Agents this server can run */
        get: operations["listAgents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List runs, newest first
         * @description A page of runs, newest first (operators see their own). Walk the pages with the opaque nextCursor: runs started meanwhile never shift them, so each run is seen once.
         */
        get: operations["listRuns"];
        put?: never;
        /**
         * Start a run
         * @description Starts a run of an agent. With Accept: text/event-stream (or ?stream=true) its events stream until it completes, fails or is held; otherwise the answer is the run’s result.
         */
        post: operations["startRun"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A run and its recorded events */
        get: operations["getRun"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Follow a live run (SSE)
         * @description Streams a run, across holds, until it completes or fails: one this server drives live, one a worker or another server drives as its trace is recorded (model tokens are streamed only by the server that drives the run). Resumable: send Last-Event-ID (or ?after=N) to continue after event N. A run that has ended, and that this server did not drive lately, gets one run.status event.
         */
        get: operations["streamRunEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{id}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Resume a held run whose approval was decided
         * @description For a run whose approval was decided while no server drove it (e.g. the deciding process stopped); answers with the result.
         */
        post: operations["resumeRun"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{id}/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Verify a run’s hash chain and seal */
        post: operations["verifyRun"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{id}/explain": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The proof of every action
         * @description What, why (policy, rule, values), which data, and the outcome of each action; ?format=markdown for reports.
         */
        get: operations["explainRun"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{id}/export": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Export the run: OpenTelemetry GenAI spans, or its signed JSONL trace
         * @description format=otlp (default): OTLP JSON export requests, one per line, for observability tools. format=jsonl: the run’s events and seals as `factory runs export` writes them, ending in a trailer signed with the server’s seal key, verifiable offline with `factory runs verify --file`.
         */
        get: operations["exportRun"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{id}/resolve": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Settle a run held with reason outcome_unknown
         * @description The in-doubt call happened, run it again, or fail the run. Answered once the decision is recorded in the trace (no process need hand the run over for that); the run goes on in the background as soon as a process takes it. 409 when nothing is in doubt, or a decision is recorded already.
         */
        post: operations["resolveRun"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{id}/replay": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Replay a run, or re-decide it under other policies */
        post: operations["replayRun"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/policies/impact": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Impact of a policy change
         * @description Authority transitions per rule if recorded runs were decided under these policies.
         */
        post: operations["policyImpact"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/policies": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Policies in the server’s policy folder */
        get: operations["listPolicies"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/policies/schema": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The JSON Schema of the policy format
         * @description As `factory policy schema` prints it; editors (the console’s among them) complete policy YAML from it.
         */
        get: operations["getPolicySchema"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/policies/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Run a policy’s test cases, optionally against an edited source
         * @description Runs the cases in tests/<authority>.yaml beside the named policy, as `factory policy test` does; with `source`, against that text instead of the file. Nothing is saved.
         */
        post: operations["testPolicy"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/policies/validate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Validate a policy document
         * @description Problems name line and column.
         */
        post: operations["validatePolicy"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/approvals": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List approvals
         * @description Operators see those of their own runs.
         */
        get: operations["listApprovals"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/approvals/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One approval with its votes */
        get: operations["getApproval"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/approvals/{id}/approve": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Vote yes on a held action
         * @description When enough votes are in, the run resumes on this server.
         */
        post: operations["approveApproval"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/approvals/{id}/reject": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Vote no on a held action
         * @description The run resumes without the held action.
         */
        post: operations["rejectApproval"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List API tokens (never their secrets) */
        get: operations["listTokens"];
        put?: never;
        /**
         * Create an API token
         * @description Its secret is in the answer, once.
         */
        post: operations["createToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tokens/{id}/revoke": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Revoke a token
         * @description It is refused at once by this server (others within their token cache time).
         */
        post: operations["revokeToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tokens/{id}/rotate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Rotate a live token
         * @description A new secret with the same principal and roles; the old token is revoked at once, or expires after the grace period.
         */
        post: operations["rotateToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Verify every run and the seal chain
         * @description Against this server’s seal key, as `factory runs verify --all` does on the store.
         */
        post: operations["verifyAllRuns"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/usage": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Cost and tokens by team, feature, agent and model
         * @description Sums the usage and cost of every model.responded event in the window, attributed through its run (team, feature, agent) — the report of `factory usage`.
         */
        get: operations["getUsage"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Prometheus metrics
         * @description Prometheus text exposition format; without a token when the server runs with public metrics.
         */
        get: operations["getMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/streams/approvals": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Pending approvals you may see, live (SSE)
         * @description The whole list on connect and whenever it changes, each with whether you may vote and why not. Operators see those of their own runs.
         */
        get: operations["streamApprovals"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/notifications": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Inbox notifications, newest first */
        get: operations["listNotifications"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/notifications/read": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Mark inbox notifications read */
        post: operations["markNotificationsRead"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/policies/{name}/source": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The source text of a policy, by name
         * @description Policies in the server’s policy folder are named, never located by path (the console’s editor opens them).
         */
        get: operations["getPolicySource"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The figures the console charts
         * @description Decisions by authority over time, approval latency, runs by status and cost by team and feature.
         */
        get: operations["getStats"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{id}/feedback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Give feedback on a run
         * @description A score from -1 to 1, a comment and a correction, recorded as a sealed feedback record bound to the run’s head. Operators give feedback on their own runs.
         */
        post: operations["giveFeedback"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/feedback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Search feedback, newest first
         * @description By run, agent, sentiment, or only feedback that carries a correction.
         */
        get: operations["listFeedback"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        RunEvent: {
            /** @enum {string} */
            type: "run.started";
            runId: string;
            agent: string;
            principal: string;
        } | {
            /** @enum {string} */
            type: "token";
            runId: string;
            text: string;
        } | {
            /** @enum {string} */
            type: "action.decided";
            runId: string;
            step: number;
            kind: string;
            name: string;
            args: {
                [key: string]: unknown;
            };
            authority: components["schemas"]["Authority"];
            rules: string[];
            reason: string;
        } | {
            /** @enum {string} */
            type: "tool.returned";
            runId: string;
            step: number;
            name: string;
            ok: boolean;
            summary: string;
        } | {
            /** @enum {string} */
            type: "notification.queued";
            runId: string;
            step: number;
            targets: string[];
        } | {
            /** @enum {string} */
            type: "run.held";
            runId: string;
            step: number;
            approvalId: string;
            kind: string;
            name: string;
            args: {
                [key: string]: unknown;
            };
            approvers?: unknown;
            expiresAt?: string;
            /** @description Set when the run waits on a hand-off’s child run, which holds the approval. */
            childRunId?: string;
        } | {
            /** @enum {string} */
            type: "approval.applied";
            runId: string;
            step: number;
            approvalId: string;
            /** @enum {string} */
            outcome: "approved" | "rejected";
        } | {
            /** @enum {string} */
            type: "budget.exceeded";
            runId: string;
            limit: string;
            value: number;
            max: number;
            outcome: string;
        } | {
            /** @enum {string} */
            type: "answer";
            runId: string;
            text: string;
        } | {
            /** @enum {string} */
            type: "run.completed";
            runId: string;
            answer: string;
        } | {
            /** @enum {string} */
            type: "run.failed";
            runId: string;
            reason: string;
        };
        /** @enum {string} */
        Authority: "autonomous" | "notify_human" | "require_approval" | "deny";
        StreamNotice: {
            /** @enum {string} */
            type: "run.status";
            runId: string;
            status: string;
        } | {
            /** @enum {string} */
            type: "server.closing";
            runId: string;
            lastEventId: number;
        };
        ApprovalInbox: {
            /** @description Every pending approval the principal may see, whole (replace, do not merge). */
            approvals: components["schemas"]["InboxApproval"][];
        };
        InboxApproval: components["schemas"]["Approval"] & {
            decision: components["schemas"]["HoldingDecision"];
            /** @description The agent of the held run. */
            agent: string | null;
            /** @description Whether the principal watching may vote on it. */
            eligibility: {
                mayVote: boolean;
                /** @description Why not, and who may (separation of duties, roles). */
                reason?: string;
            };
        };
        ApprovalVote: {
            approver: string;
            roles: string[];
            /** @enum {string} */
            vote: "approve" | "reject";
            comment?: string;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            at: string;
        };
        /** @description The decision that held the action: its authority, reason and matched rules. */
        HoldingDecision: {
            authority: string;
            reason?: string;
            rules: unknown[];
        } | null;
        Approval: {
            /** @example apr_3f9c2a1b7d4e5f60 */
            id: string;
            runId: string;
            step: number;
            /** @description The held action with its exact arguments. */
            action: {
                kind: string;
                name: string;
                args?: unknown;
            };
            argsHash: string;
            policyHash: string;
            /** @description Who may approve, how many, and what expiry does. */
            requirement: {
                [key: string]: unknown;
            };
            /** @description The run’s principal (who cannot approve under separation of duties). */
            requestedBy: string;
            context: {
                [key: string]: unknown;
            };
            /** @enum {string} */
            status: "pending" | "approved" | "rejected" | "expired" | "consumed";
            /** @enum {string|null} */
            outcome: "approved" | "rejected" | null;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            requestedAt: string;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            expiresAt: string | null;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            decidedAt: string | null;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            consumedAt: string | null;
            votes: components["schemas"]["ApprovalVote"][];
        };
        /** @description The provider’s answer, as the provider gave it (masked where the policy obliges). */
        ChatCompletion: {
            id: string;
            /** @enum {string} */
            object: "chat.completion";
            created: number;
            model: string;
            choices: ({
                index: number;
                message: {
                    role: string;
                    content?: unknown;
                } & {
                    [key: string]: unknown;
                };
                finish_reason: string | null;
            } & {
                [key: string]: unknown;
            })[];
            usage?: {
                prompt_tokens: number;
                completion_tokens: number;
                total_tokens: number;
            } & {
                [key: string]: unknown;
            };
        } & {
            [key: string]: unknown;
        };
        /** @description An error in the OpenAI wire shape. */
        OpenAIError: {
            error: {
                message: string;
                type: string;
                param: string | null;
                code: string | null;
            };
        };
        /** @description An OpenAI chat completion request; fields the gateway does not read are passed on unchanged. */
        ChatCompletionRequest: {
            /**
             * @description A model the gateway routes (gateway.yaml), e.g. gpt-4o-mini.
             * @example gpt-4o-mini
             */
            model: string;
            messages: ({
                role: string;
                content?: unknown;
            } & {
                [key: string]: unknown;
            })[];
            /** @description Stream chunks as server-sent events, as the provider does. */
            stream?: boolean;
            /** @description Function tools; their names are governed like any other action. */
            tools?: unknown[];
        } & {
            [key: string]: unknown;
        };
        /** @description The provider’s answer, as the provider gave it (masked where the policy obliges). */
        MessagesAnswer: {
            id: string;
            /** @enum {string} */
            type: "message";
            /** @enum {string} */
            role: "assistant";
            model: string;
            content: ({
                type: string;
            } & {
                [key: string]: unknown;
            })[];
            stop_reason: string | null;
            usage: {
                input_tokens: number;
                output_tokens: number;
            } & {
                [key: string]: unknown;
            };
        } & {
            [key: string]: unknown;
        };
        /** @description An error in the Anthropic wire shape. */
        AnthropicError: {
            /** @enum {string} */
            type: "error";
            error: {
                type: string;
                message: string;
            };
        };
        /** @description An Anthropic Messages request; fields the gateway does not read are passed on unchanged. */
        MessagesRequest: {
            /**
             * @description A model the gateway routes (gateway.yaml), e.g. claude-haiku-4-5.
             * @example claude-haiku-4-5
             */
            model: string;
            messages: ({
                role: string;
                content?: unknown;
            } & {
                [key: string]: unknown;
            })[];
            max_tokens: number;
            system?: unknown;
            /** @description Stream events as server-sent events, as the provider does. */
            stream?: boolean;
            tools?: unknown[];
        } & {
            [key: string]: unknown;
        };
        Health: {
            ok: boolean;
            /** @description True while the server shuts down (then 503). */
            closing: boolean;
        };
        /** @description What went wrong. */
        Error: {
            error: {
                /**
                 * @description Stable error code, e.g. INPUT_INVALID, UNAUTHENTICATED, NOT_FOUND, FORBIDDEN, CONFLICT, RATE_LIMITED.
                 * @example NOT_FOUND
                 */
                code: string;
                /** @description What went wrong and what to do, in words. */
                message: string;
                /** @description The offending field, when one is to blame. */
                path?: string;
            };
        };
        Me: {
            principal: string;
            roles: string[];
            /** @description Id of the token presented (never its secret). */
            token: string;
        };
        AgentList: {
            agents: components["schemas"]["Agent"][];
        };
        Agent: {
            name: string;
            description: string | null;
            team: string | null;
            model: string;
            tools: string[];
        };
        RunResult: {
            runId: string;
            /** @enum {string} */
            status: "completed";
            answer: string;
        } | {
            runId: string;
            /** @enum {string} */
            status: "held";
            held: components["schemas"]["HeldAction"];
        } | {
            runId: string;
            /** @enum {string} */
            status: "failed";
            error: string;
        };
        HeldAction: {
            approvalId: string;
            step: number;
            kind: string;
            name: string;
            args?: unknown;
        };
        /** @description Start a run. */
        StartRun: {
            /**
             * @description Agent name as the server knows it (GET /v1/agents).
             * @example order-desk
             */
            agent: string;
            /**
             * @description The user message the run starts with.
             * @example Where is my order 1042?
             */
            input: string;
        };
        RunList: {
            /** @description Newest first. */
            runs: components["schemas"]["RunSummary"][];
            /** @description Pass as ?cursor= for the next page; null on the last. Runs started meanwhile never shift the pages. */
            nextCursor: string | null;
        };
        RunSummary: {
            id: string;
            agent: string;
            team: string | null;
            principal: string;
            /** @description running, queued, orphaned, recovering, held, completed or failed. */
            status: string;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            startedAt: string;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            endedAt: string | null;
            replayOf: string | null;
            parentRunId: string | null;
            /** @description Events in the run (its head seq). */
            events: number;
            /** @description Whether the run’s final seal exists. */
            sealed: boolean;
        };
        RunDetail: {
            run: {
                id: string;
                agent: string;
                team: string | null;
                principal: string;
                status: string;
                /**
                 * Format: date-time
                 * @example 2026-03-01T09:30:00.000Z
                 */
                startedAt: string;
                /**
                 * Format: date-time
                 * @example 2026-03-01T09:30:00.000Z
                 */
                endedAt: string | null;
                metadata?: unknown;
            };
            summary?: components["schemas"]["RunSummary"];
            events: components["schemas"]["RecordedEvent"][];
        };
        /** @description One event of the run’s hash-chained log (first 5,000). */
        RecordedEvent: {
            seq: number;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            ts: string;
            type: string;
            actor: string;
            payload?: unknown;
            erased: boolean;
            hash: string;
        };
        /** @description Resume a held run whose approval was decided. */
        ResumeRun: {
            /** @description The decided approval to apply (default: the one recorded for the run). */
            approvalId?: string;
        };
        /** @description Whether every hash and signature of the run checks out (ok), and the first problem if not. */
        VerificationReport: {
            [key: string]: unknown;
        };
        /** @description Each action: what, why (policy, rule, values), which data, and the outcome. */
        Explanation: {
            [key: string]: unknown;
        };
        Resolution: {
            runId: string;
            /** @enum {string} */
            resolution: "confirmed" | "retried" | "failed";
            by: string;
            result?: components["schemas"]["RunResult"] & unknown;
            /**
             * @description The run goes on in the background.
             * @enum {string}
             */
            status?: "running";
        };
        /** @description Settle the actions a crash left in doubt in a run held with reason outcome_unknown. */
        ResolveRun: {
            /**
             * @description The in-doubt call happened (confirmed), run it again (retried), or fail the run (failed).
             * @enum {string}
             */
            resolution: "confirmed" | "retried" | "failed";
            /** @description With confirmed: what the call returned, as the agent will read it. */
            result?: string;
            /** @description Why, in the resolver’s words. */
            reason?: string;
        };
        /** @description The replay from the recordings: identical, or the first divergence. */
        ReplayReport: {
            [key: string]: unknown;
        };
        /** @description How the run would have been decided under the given policies. */
        WhatIfReport: {
            [key: string]: unknown;
        };
        /** @description Replay a recorded run, or re-decide it under other policies. */
        Replay: {
            /** @description Policy YAML sources to re-decide the run under (what-if). */
            policies?: string[];
        };
        /** @description Authority transitions per rule over the recorded runs. */
        ImpactReport: {
            [key: string]: unknown;
        };
        /** @description Impact of a policy change on recorded runs. */
        PolicyImpact: {
            /** @description Policy YAML sources to re-decide recorded runs under. */
            policies: string[];
            /** @description Only runs of this agent. */
            agent?: string;
            /**
             * Format: date-time
             * @description Only runs started at or after this time.
             */
            since?: string;
        };
        PolicyList: {
            policies: components["schemas"]["PolicyInfo"][];
            problems: components["schemas"]["LocatedProblem"][];
        };
        PolicyInfo: {
            name: string;
            version: string | number;
            owner: string | null;
            file: string;
            hash: string;
            rules: number;
        };
        LocatedProblem: {
            /** @description One sentence: what is wrong and what would be right. */
            message: string;
            /** @description Where: file, line and column (1-based) and the field path; as much as is known. */
            location: {
                file?: string;
                line?: number;
                column?: number;
                path?: string;
            };
            /**
             * @description The problem as one line, `file:line:column: path: message`, rendered as the CLI prints it (core formatLocation).
             * @example order-desk.yaml:5:12: spec.default: Must be one of autonomous, notify_human, require_approval, deny.
             */
            text: string;
        };
        /** @description A JSON Schema (draft-07) document: the policy format. */
        PolicyJsonSchema: {
            [key: string]: unknown;
        };
        PolicyTestReport: {
            /** @description null when the policy has no test cases (see message). */
            report: {
                total: number;
                passed: number;
                failed: number;
                results: {
                    name: string;
                    /** @description The test file, relative to the policy folder. */
                    file: string;
                    line: number;
                    expected: components["schemas"]["Authority"];
                    actual: components["schemas"]["Authority"];
                    passed: boolean;
                    failures: string[];
                    /** @description policy/rule ids of the rules that matched. */
                    rules: string[];
                }[];
            } | null;
            message?: string;
        };
        /** @description Run a policy’s test cases (its folder’s tests/<authority>.yaml), as `factory policy test` does. */
        TestPolicy: {
            /** @description The policy (in the server’s policy folder) whose test cases to run. */
            name: string;
            /** @description Edited policy YAML to run the cases against instead of the file (nothing is saved). */
            source?: string;
        };
        PolicyValidation: {
            ok: boolean;
            policy?: {
                name: string;
                version: string | number;
                hash: string;
                rules: number;
            };
            problems: components["schemas"]["LocatedProblem"][];
        };
        /** @description Validate a policy document. */
        ValidatePolicy: {
            /** @description Policy YAML. */
            source: string;
            /** @description File name used in error locations. */
            file?: string;
        };
        ApprovalList: {
            approvals: components["schemas"]["Approval"][];
        };
        VoteResult: {
            /**
             * @description counted: more votes are needed; approved or rejected: decided.
             * @enum {string}
             */
            result: "counted" | "approved" | "rejected";
            /** @description With counted: votes still needed. */
            remaining?: number;
            approval: components["schemas"]["Approval"];
            /** @description Whether the decided run resumed on this server (follow it with GET /v1/runs/{id}/events). */
            resumed: boolean;
        };
        /** @description A vote on a held action. */
        Vote: {
            /** @description Why, in the approver’s words. */
            comment?: string;
        };
        TokenList: {
            tokens: components["schemas"]["Token"][];
        };
        /** @description An API token, never its secret. */
        Token: {
            id: string;
            principal: string;
            roles: string[];
            description: string | null;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            createdAt: string;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            lastUsedAt: string | null;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            revokedAt: string | null;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            expiresAt: string | null;
            rotatedFrom: string | null;
        };
        CreatedToken: {
            id: string;
            principal: string;
            roles: string[];
            description: string | null;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            createdAt: string;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            lastUsedAt: string | null;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            revokedAt: string | null;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            expiresAt: string | null;
            rotatedFrom: string | null;
            /** @description The secret, shown this once. */
            token: string;
        };
        /** @description Create an API token; the secret is in the answer, once. */
        CreateToken: {
            /**
             * @description Who the token acts for.
             * @example alice@acme.example
             */
            principal: string;
            /**
             * @description Server roles and policy roles the token carries.
             * @example [
             *       "operator"
             *     ]
             */
            roles: string[];
            /** @description What the token is for. */
            description?: string;
            /** @description Lifetime in milliseconds (absent: never expires). */
            expiresInMs?: number;
        };
        RotatedToken: {
            created: components["schemas"]["CreatedToken"] & unknown;
            previous: components["schemas"]["Token"] & unknown;
        };
        /** @description Rotate a token: a new secret with the same principal and roles. */
        RotateToken: {
            /** @description Lifetime of the new token in milliseconds; null: never expires; absent: the old token's lifetime. */
            expiresInMs?: number | null;
            /** @description Keep the old token working this long (default 0: revoked at once). */
            graceMs?: number;
        };
        VerifyAll: {
            summary: components["schemas"]["VerificationSummary"];
            /** @enum {string} */
            location: "server";
        };
        VerificationSummary: {
            /** @description True when every run and the seal chain verify. */
            ok: boolean;
            runs: number;
            events: number;
            erased: number;
            sealed: number;
            failed: number;
            /** @description The failing runs’ verification reports (at most 100). */
            failures: {
                [key: string]: unknown;
            }[];
            warnings: string[];
            /** @description The seal chain’s verdict. */
            sealChain: {
                [key: string]: unknown;
            };
            /** @description The first break anywhere, when not ok. */
            problem?: {
                [key: string]: unknown;
            };
            /** @description Whether seal keys were pinned; unpinned results only prove self-consistency. */
            pinned: boolean;
            /** @description How the newest seals were checked (witness, anchor or none). */
            tail: {
                [key: string]: unknown;
            };
        };
        /** @description Cost and tokens of the model calls recorded in the trace, by descending cost. */
        UsageReport: {
            by: ("team" | "feature" | "agent" | "model")[];
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            since: string | null;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            until: string | null;
            rows: components["schemas"]["UsageRow"][];
            total: {
                /** @description Runs that made at least one of these calls. */
                runs: number;
                /** @description Model calls answered. */
                calls: number;
                inputTokens: number;
                outputTokens: number;
                costUsd: number;
            };
        };
        /** @description One group: the dimensions grouped by (null when unknown), and its figures. */
        UsageRow: {
            team?: string | null;
            feature?: string | null;
            agent?: string | null;
            model?: string | null;
            /** @description Runs that made at least one of these calls. */
            runs: number;
            /** @description Model calls answered. */
            calls: number;
            inputTokens: number;
            outputTokens: number;
            costUsd: number;
        };
        NotificationList: {
            /** @description Newest first. */
            notifications: components["schemas"]["Notification"][];
        };
        Notification: {
            /** @description Outbox id; also sent as the X-Aifactory-Delivery header. */
            id: number;
            runId: string;
            /** @description webhook:<url>, inbox:<name>, slack:#channel, email:<address> or log. */
            target: string;
            /** @enum {string} */
            kind: "webhook" | "inbox" | "slack" | "email" | "log";
            /** @description The JSON body delivered. */
            payload?: unknown;
            /** @enum {string} */
            status: "pending" | "delivered" | "failed";
            attempts: number;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            nextAttemptAt: string;
            lastError: string | null;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            createdAt: string;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            deliveredAt: string | null;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            readAt: string | null;
        };
        NotificationsRead: {
            /** @description Ids of the items marked read now. */
            marked: number[];
        };
        PolicySource: {
            policy: {
                name: string;
                version: string;
                hash: string;
                file: string;
                /** @description The policy file’s YAML text. */
                source: string;
            };
        };
        /** @description What the console charts. */
        Stats: {
            stats: {
                /**
                 * Format: date-time
                 * @example 2026-03-01T09:30:00.000Z
                 */
                since: string;
                /**
                 * Format: date-time
                 * @example 2026-03-01T09:30:00.000Z
                 */
                until: string;
                /** @enum {string} */
                bucket: "hour" | "day";
                /** @description Decisions by authority per bucket. */
                decisions: {
                    /**
                     * Format: date-time
                     * @example 2026-03-01T09:30:00.000Z
                     */
                    at: string;
                    authority: string;
                    count: number;
                }[];
                /** @description The latest decided approvals in the window (at most 1,000), oldest first. */
                approvalLatencies: {
                    approvalId: string;
                    runId: string;
                    /** @enum {string} */
                    outcome: "granted" | "rejected" | "expired";
                    /**
                     * Format: date-time
                     * @example 2026-03-01T09:30:00.000Z
                     */
                    requestedAt: string;
                    seconds: number;
                }[];
                /** @description Runs started in the window, by status. */
                runsByStatus: {
                    [key: string]: number;
                };
                costByTeamAndFeature: components["schemas"]["UsageRow"][];
                costTotal: {
                    /** @description Runs that made at least one of these calls. */
                    runs: number;
                    /** @description Model calls answered. */
                    calls: number;
                    inputTokens: number;
                    outputTokens: number;
                    costUsd: number;
                };
            };
        };
        Feedback: {
            /** @description The feedback record’s own id (a sealed chain). */
            id: string;
            runId: string;
            /** @description The agent of the run the feedback is about. */
            agent: string;
            by: string;
            score: number;
            /** @enum {string} */
            sentiment: "positive" | "neutral" | "negative";
            comment?: string;
            correction?: string;
            /** @description The run’s input text, when it had one. */
            input?: string;
            /**
             * Format: date-time
             * @example 2026-03-01T09:30:00.000Z
             */
            givenAt: string;
            /** @description The run’s head when the feedback was given. */
            runHead: {
                seq: number;
                hash: string;
            };
        };
        FeedbackList: {
            /** @description Newest first. */
            feedback: components["schemas"]["Feedback"][];
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    gatewayChatCompletion: {
        parameters: {
            query?: never;
            header?: {
                /** @description The feature the call is for (cost attribution); also read from metadata.feature in the body. */
                "x-aifactory-feature"?: string;
                /** @description Data classifications the request carries, comma-separated (policies may deny or mask on them). */
                "x-aifactory-data-classification"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ChatCompletionRequest"];
            };
        };
        responses: {
            /** @description The completion (or its chunks). */
            200: {
                headers: {
                    /** @description The gateway session run that recorded the call. */
                    "x-aifactory-run"?: string;
                    /** @description The step of that run. */
                    "x-aifactory-step"?: string;
                    /** @description The model that answered (after fallbacks). */
                    "x-aifactory-model"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ChatCompletion"];
                    "text/event-stream": string;
                };
            };
            /** @description The body is not a request of this protocol (the message names the field), or a header is malformed. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OpenAIError"];
                };
            };
            /** @description No valid factory token (the SDK’s apiKey). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OpenAIError"];
                };
            };
            /** @description The token lacks a gateway role, or the policy denies the call or would hold it (the gateway cannot wait for an approval). */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OpenAIError"];
                };
            };
            /** @description The model is not one the gateway routes. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OpenAIError"];
                };
            };
            /** @description Too many requests, or a budget of the team or feature is spent. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OpenAIError"];
                };
            };
            /** @description The gateway failed; nothing was sent to the provider unrecorded. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OpenAIError"];
                };
            };
            /** @description The provider failed or could not be reached (after the configured retries and fallbacks). */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OpenAIError"];
                };
            };
            /** @description The gateway is shutting down; retry against another instance. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OpenAIError"];
                };
            };
        };
    };
    gatewayMessages: {
        parameters: {
            query?: never;
            header?: {
                /** @description The feature the call is for (cost attribution); also read from metadata.feature in the body. */
                "x-aifactory-feature"?: string;
                /** @description Data classifications the request carries, comma-separated (policies may deny or mask on them). */
                "x-aifactory-data-classification"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["MessagesRequest"];
            };
        };
        responses: {
            /** @description The message (or its events). */
            200: {
                headers: {
                    /** @description The gateway session run that recorded the call. */
                    "x-aifactory-run"?: string;
                    /** @description The step of that run. */
                    "x-aifactory-step"?: string;
                    /** @description The model that answered (after fallbacks). */
                    "x-aifactory-model"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MessagesAnswer"];
                    "text/event-stream": string;
                };
            };
            /** @description The body is not a request of this protocol (the message names the field), or a header is malformed. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AnthropicError"];
                };
            };
            /** @description No valid factory token (the SDK’s apiKey). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AnthropicError"];
                };
            };
            /** @description The token lacks a gateway role, or the policy denies the call or would hold it (the gateway cannot wait for an approval). */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AnthropicError"];
                };
            };
            /** @description The model is not one the gateway routes. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AnthropicError"];
                };
            };
            /** @description Too many requests, or a budget of the team or feature is spent. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AnthropicError"];
                };
            };
            /** @description The gateway failed; nothing was sent to the provider unrecorded. */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AnthropicError"];
                };
            };
            /** @description The provider failed or could not be reached (after the configured retries and fallbacks). */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AnthropicError"];
                };
            };
            /** @description The gateway is shutting down; retry against another instance. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AnthropicError"];
                };
            };
        };
    };
    health: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Alive. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
            /** @description A foreign Host or Origin (DNS-rebinding protection). */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Shutting down. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
        };
    };
    getOpenApiDocument: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI document of this server. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                };
            };
            /** @description A foreign Host or Origin (DNS-rebinding protection). */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getMe: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Who you are to this server. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Me"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listAgents: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The agents. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentList"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listRuns: {
        parameters: {
            query?: {
                /** @description Only runs of this agent. */
                agent?: string;
                /** @description Only runs in this state. */
                status?: "running" | "queued" | "orphaned" | "recovering" | "held" | "completed" | "failed";
                /** @description Only runs started by this principal (operators see only their own whatever they ask). */
                principal?: string;
                /** @description Only runs of agents of this team. */
                team?: string;
                /** @description Only runs with at least one decision of this authority (deny: runs that met a boundary). */
                authority?: components["schemas"]["Authority"] & unknown;
                /** @description Only runs started at or after (ISO time or a duration ago: 30m, 24h, 7d). */
                since?: string;
                /** @description Only runs started before (ISO time or a duration ago). */
                until?: string;
                /** @description The nextCursor of the previous page, unchanged. */
                cursor?: string;
                /** @description Runs per page (default 100). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of runs and the cursor of the next. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunList"];
                };
            };
            /** @description The query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    startRun: {
        parameters: {
            query?: {
                /** @description Stream events (as Accept: text/event-stream does). */
                stream?: "true" | "false";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["StartRun"];
            };
        };
        responses: {
            /** @description The run’s events (SSE), or its result (JSON). */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                    "application/json": components["schemas"]["RunResult"];
                };
            };
            /** @description The body or query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the server accepts. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not application/json. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The server is shutting down and takes no new work; retry on another instance. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getRun: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The run, its summary and its first 5,000 events. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunDetail"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    streamRunEvents: {
        parameters: {
            query?: {
                /** @description Continue after this event number (as Last-Event-ID). */
                after?: string;
            };
            header?: {
                /** @description The id of the last event received; the stream continues after it. */
                "last-event-id"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The run’s events. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    resumeRun: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["ResumeRun"];
            };
        };
        responses: {
            /** @description How the run ended (for now). */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunResult"];
                };
            };
            /** @description The body or query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state (e.g. the approval was decided already, the approver voted already). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the server accepts. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not application/json. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    verifyRun: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The verification report. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        report: components["schemas"]["VerificationReport"];
                    };
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    explainRun: {
        parameters: {
            query?: {
                /** @description Only this step. */
                step?: string;
                format?: "json" | "markdown";
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The explanation. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        explanation: components["schemas"]["Explanation"];
                    };
                    "text/markdown": string;
                };
            };
            /** @description The query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    exportRun: {
        parameters: {
            query?: {
                /** @description otlp (default) or jsonl. */
                format?: "otlp" | "jsonl";
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description JSON lines: OTLP export requests, or the trace export. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/x-ndjson": string;
                };
            };
            /** @description The query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    resolveRun: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ResolveRun"];
            };
        };
        responses: {
            /** @description Recorded; the run goes on. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Resolution"];
                };
            };
            /** @description The body or query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state (e.g. the approval was decided already, the approver voted already). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the server accepts. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not application/json. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The server is shutting down and takes no new work; retry on another instance. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    replayRun: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["Replay"];
            };
        };
        responses: {
            /** @description The replay (identical or the first divergence), or the what-if. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        replay: components["schemas"]["ReplayReport"];
                    } | {
                        whatIf: components["schemas"]["WhatIfReport"];
                    };
                };
            };
            /** @description The body or query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the server accepts. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not application/json. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    policyImpact: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PolicyImpact"];
            };
        };
        responses: {
            /** @description The impact report. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        impact: components["schemas"]["ImpactReport"];
                    };
                };
            };
            /** @description The body or query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the server accepts. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not application/json. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listPolicies: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The policies and the problems of those that do not load. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PolicyList"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getPolicySchema: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The JSON Schema. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PolicyJsonSchema"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    testPolicy: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TestPolicy"];
            };
        };
        responses: {
            /** @description The results, or null and why there are none. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PolicyTestReport"];
                };
            };
            /** @description The body or query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the server accepts. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not application/json. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    validatePolicy: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ValidatePolicy"];
            };
        };
        responses: {
            /** @description ok, or the problems. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PolicyValidation"];
                };
            };
            /** @description The body or query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the server accepts. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not application/json. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listApprovals: {
        parameters: {
            query?: {
                status?: "pending" | "approved" | "rejected" | "expired" | "consumed";
                runId?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The approvals. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApprovalList"];
                };
            };
            /** @description The query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApproval: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The approval. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        approval: components["schemas"]["Approval"];
                    };
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    approveApproval: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["Vote"];
            };
        };
        responses: {
            /** @description The vote was counted, or decided the approval. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VoteResult"];
                };
            };
            /** @description The body or query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Separation of duties (the run’s own principal), or the approver rules do not admit this approver. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state (e.g. the approval was decided already, the approver voted already). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the server accepts. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not application/json. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    rejectApproval: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["Vote"];
            };
        };
        responses: {
            /** @description The vote was counted, or decided the approval. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VoteResult"];
                };
            };
            /** @description The body or query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Separation of duties (the run’s own principal), or the approver rules do not admit this approver. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Conflicts with the current state (e.g. the approval was decided already, the approver voted already). */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the server accepts. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not application/json. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listTokens: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The tokens, oldest first. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TokenList"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateToken"];
            };
        };
        responses: {
            /** @description The token and its secret. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CreatedToken"];
                };
            };
            /** @description The body or query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the server accepts. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not application/json. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    revokeToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The revoked token. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Token"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    rotateToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RotateToken"];
            };
        };
        responses: {
            /** @description The new token (its secret shown once) and the old one. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RotatedToken"];
                };
            };
            /** @description The body or query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the server accepts. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not application/json. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    verifyAllRuns: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The summary of every run’s verification. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VerifyAll"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getUsage: {
        parameters: {
            query?: {
                /** @description Comma-separated dimensions to group by: team, feature, agent, model (default team,feature). */
                by?: string;
                /** @description Calls answered at or after (ISO time or a duration ago: 30d). */
                since?: string;
                /** @description Calls answered before. */
                until?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The usage report. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UsageReport"];
                };
            };
            /** @description The query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The metrics. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    streamApprovals: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The pending approvals, as they change. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listNotifications: {
        parameters: {
            query?: {
                /** @description Only this inbox (the <name> of inbox:<name>). */
                inbox?: string;
                /** @description Only items nobody marked read. */
                unread?: "true" | "false";
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The notifications. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NotificationList"];
                };
            };
            /** @description The query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    markNotificationsRead: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description Mark these items read. */
                    ids?: number[];
                    /**
                     * @description Mark every unread item read (of `inbox` when given).
                     * @enum {boolean}
                     */
                    all?: true;
                    inbox?: string;
                };
            };
        };
        responses: {
            /** @description The items marked read now. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NotificationsRead"];
                };
            };
            /** @description The body or query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the server accepts. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not application/json. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getPolicySource: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The policy and its YAML text. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PolicySource"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getStats: {
        parameters: {
            query?: {
                /** @description Start of the window (default: 7 days ago). */
                since?: string;
                /** @description End of the window (default: now). */
                until?: string;
                bucket?: "hour" | "day";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The figures of the window. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Stats"];
                };
            };
            /** @description The query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    giveFeedback: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description From -1 (bad) to 1 (good); 1 and -1 for thumbs up and down. */
                    score: number;
                    /** @description What the person thought of the answer. */
                    comment?: string;
                    /** @description The answer the person expected; factory feedback export turns it into an eval case. */
                    correction?: string;
                };
            };
        };
        responses: {
            /** @description The feedback as recorded. */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        feedback: components["schemas"]["Feedback"];
                    };
                };
            };
            /** @description The body or query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is larger than the server accepts. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The body is not application/json. */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listFeedback: {
        parameters: {
            query?: {
                /** @description Feedback on this run only. */
                runId?: string;
                /** @description Feedback on runs of this agent only. */
                agent?: string;
                /** @description Only this sentiment (score above, at or below 0). */
                sentiment?: "positive" | "neutral" | "negative";
                /** @description true: only feedback that carries a correction. */
                corrections?: "true" | "false";
                /** @description At most this many, newest first (default 100). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The feedback. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FeedbackList"];
                };
            };
            /** @description The query is invalid; the message names each offending field. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No valid bearer token (see the WWW-Authenticate header). */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Refused outright: a foreign Host or Origin, or an act-as header from a token other than the local credential. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Absent, or not visible to the token’s roles: both answer alike, so nothing leaks. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many requests for this token or failed authentications from this address; see Retry-After. */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
}
