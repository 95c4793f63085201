DROP INDEX "runs_started_idx";--> statement-breakpoint
CREATE INDEX "runs_started_id_idx" ON "runs" USING btree ("started_at","id");