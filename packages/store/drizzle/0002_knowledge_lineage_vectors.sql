DROP INDEX "kn_documents_source_idx";--> statement-breakpoint
ALTER TABLE "kn_chunks" ADD COLUMN "source_path" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "kn_chunks" ADD COLUMN "document_version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "kn_chunks" ADD COLUMN "document_hash" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "kn_chunks" ADD COLUMN "embedding" "bytea";--> statement-breakpoint
ALTER TABLE "kn_collections" ADD COLUMN "revision" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "kn_collections" ADD COLUMN "next_label" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "kn_documents" ADD COLUMN "source_root" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "kn_documents" ADD COLUMN "byte_size" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "kn_documents_source_idx" ON "kn_documents" USING btree ("collection","source_root","source_path");