CREATE TABLE "store_identity" (
	"id" text PRIMARY KEY NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "seals" DROP CONSTRAINT "seals_run_id_unique";--> statement-breakpoint
ALTER TABLE "seals" ADD COLUMN "kind" text DEFAULT 'final' NOT NULL;--> statement-breakpoint
ALTER TABLE "seals" ADD COLUMN "store_id" text;--> statement-breakpoint
CREATE UNIQUE INDEX "seals_run_id_unique" ON "seals" USING btree ("run_id") WHERE kind = 'final';--> statement-breakpoint
CREATE INDEX "seals_run_idx" ON "seals" USING btree ("run_id","seq");--> statement-breakpoint
-- The store's identity is recorded once, here, and never changes: anchors and witnesses key on it.
INSERT INTO "store_identity" ("id") SELECT gen_random_uuid()::text WHERE NOT EXISTS (SELECT 1 FROM "store_identity");--> statement-breakpoint
CREATE TRIGGER "store_identity_append_only" BEFORE UPDATE OR DELETE ON "store_identity" FOR EACH ROW EXECUTE FUNCTION aifactory_append_only_guard();--> statement-breakpoint
CREATE TRIGGER "store_identity_no_truncate" BEFORE TRUNCATE ON "store_identity" FOR EACH STATEMENT EXECUTE FUNCTION aifactory_append_only_guard();
