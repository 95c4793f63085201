CREATE TABLE "api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"principal" text NOT NULL,
	"roles" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"description" text,
	"created_at" timestamp with time zone NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "checkpoint_writes" (
	"thread_id" text NOT NULL,
	"checkpoint_ns" text DEFAULT '' NOT NULL,
	"checkpoint_id" text NOT NULL,
	"task_id" text NOT NULL,
	"idx" integer NOT NULL,
	"channel" text NOT NULL,
	"type" text,
	"value" "bytea",
	CONSTRAINT "checkpoint_writes_thread_id_checkpoint_ns_checkpoint_id_task_id_idx_pk" PRIMARY KEY("thread_id","checkpoint_ns","checkpoint_id","task_id","idx")
);
--> statement-breakpoint
CREATE TABLE "checkpoints" (
	"thread_id" text NOT NULL,
	"checkpoint_ns" text DEFAULT '' NOT NULL,
	"checkpoint_id" text NOT NULL,
	"parent_checkpoint_id" text,
	"type" text,
	"checkpoint" "bytea" NOT NULL,
	"metadata_type" text,
	"metadata" "bytea" NOT NULL,
	CONSTRAINT "checkpoints_thread_id_checkpoint_ns_checkpoint_id_pk" PRIMARY KEY("thread_id","checkpoint_ns","checkpoint_id")
);
--> statement-breakpoint
CREATE TABLE "approval_votes" (
	"approval_id" text NOT NULL,
	"approver" text NOT NULL,
	"roles" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"vote" text NOT NULL,
	"comment" text,
	"ts" timestamp with time zone NOT NULL,
	CONSTRAINT "approval_votes_approval_id_approver_pk" PRIMARY KEY("approval_id","approver")
);
--> statement-breakpoint
CREATE TABLE "approvals" (
	"id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"step" integer NOT NULL,
	"action" jsonb NOT NULL,
	"args_hash" text NOT NULL,
	"policy_hash" text NOT NULL,
	"requirement" jsonb NOT NULL,
	"requested_by" text NOT NULL,
	"status" text NOT NULL,
	"requested_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone,
	"decided_at" timestamp with time zone,
	"consumed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "artifacts" (
	"hash" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"content" text NOT NULL,
	"first_seen_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"target" text NOT NULL,
	"payload" jsonb NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone NOT NULL,
	"delivered_at" timestamp with time zone,
	"read_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "policy_versions" (
	"hash" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"version" text NOT NULL,
	"source" text NOT NULL,
	"file" text,
	"first_seen_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events" (
	"run_id" text NOT NULL,
	"seq" integer NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"type" text NOT NULL,
	"actor" text NOT NULL,
	"payload" jsonb,
	"payload_salt" text,
	"payload_hash" text NOT NULL,
	"schema_version" integer DEFAULT 1 NOT NULL,
	"erased_at" timestamp with time zone,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL,
	CONSTRAINT "events_run_id_seq_pk" PRIMARY KEY("run_id","seq")
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" text PRIMARY KEY NOT NULL,
	"agent" text NOT NULL,
	"team" text,
	"principal" text NOT NULL,
	"status" text NOT NULL,
	"input" jsonb,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"replay_of" text,
	"parent_run_id" text,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	"head_seq" integer DEFAULT 0 NOT NULL,
	"head_hash" text
);
--> statement-breakpoint
CREATE TABLE "seals" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"head_seq" integer NOT NULL,
	"head_hash" text NOT NULL,
	"key_id" text NOT NULL,
	"public_key" text NOT NULL,
	"prev_seal_hash" text NOT NULL,
	"seal_hash" text NOT NULL,
	"signature" text NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	CONSTRAINT "seals_run_id_unique" UNIQUE("run_id")
);
--> statement-breakpoint
CREATE TABLE "kn_chunks" (
	"id" text PRIMARY KEY NOT NULL,
	"collection" text NOT NULL,
	"document_id" integer NOT NULL,
	"label" integer NOT NULL,
	"ordinal" integer NOT NULL,
	"content" text NOT NULL,
	"content_hash" text NOT NULL,
	"location" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kn_collections" (
	"name" text PRIMARY KEY NOT NULL,
	"embedding_model" text NOT NULL,
	"dimensions" integer NOT NULL,
	"classifications" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kn_documents" (
	"id" serial PRIMARY KEY NOT NULL,
	"collection" text NOT NULL,
	"source_path" text NOT NULL,
	"content_hash" text NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"media_type" text NOT NULL,
	"classifications" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"ingested_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "checkpoint_writes_thread_idx" ON "checkpoint_writes" USING btree ("thread_id");--> statement-breakpoint
CREATE INDEX "approvals_status_idx" ON "approvals" USING btree ("status");--> statement-breakpoint
CREATE INDEX "approvals_run_idx" ON "approvals" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "notifications_status_idx" ON "notifications" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "events_type_idx" ON "events" USING btree ("type");--> statement-breakpoint
CREATE INDEX "events_ts_idx" ON "events" USING btree ("ts");--> statement-breakpoint
CREATE INDEX "runs_agent_started_idx" ON "runs" USING btree ("agent","started_at");--> statement-breakpoint
CREATE INDEX "runs_status_idx" ON "runs" USING btree ("status");--> statement-breakpoint
CREATE INDEX "kn_chunks_document_idx" ON "kn_chunks" USING btree ("document_id");--> statement-breakpoint
CREATE UNIQUE INDEX "kn_chunks_label_idx" ON "kn_chunks" USING btree ("collection","label");--> statement-breakpoint
CREATE INDEX "kn_chunks_hash_idx" ON "kn_chunks" USING btree ("collection","content_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "kn_documents_source_idx" ON "kn_documents" USING btree ("collection","source_path");