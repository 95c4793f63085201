DROP INDEX "events_type_idx";--> statement-breakpoint
DROP INDEX "events_ts_idx";--> statement-breakpoint
ALTER TABLE "events" ALTER COLUMN "payload" SET DATA TYPE text;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "redactions" jsonb;--> statement-breakpoint
CREATE INDEX "runs_started_idx" ON "runs" USING btree ("started_at");--> statement-breakpoint
-- Append-only trace: every role (the application's included) is refused UPDATE, DELETE and
-- TRUNCATE on events and seals. The one update let through is erasure of a payload: payload and
-- salt set to null and erased_at set, every other column unchanged (the chain covers the
-- payload's salted hash, so it still verifies). A superuser can still disable triggers; the hash
-- chain and the signed seal chain are what catch that.
CREATE OR REPLACE FUNCTION aifactory_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL
     AND NEW.payload IS NULL AND NEW.payload_salt IS NULL
     AND NEW.run_id = OLD.run_id AND NEW.seq = OLD.seq AND NEW.ts = OLD.ts AND NEW.type = OLD.type
     AND NEW.actor = OLD.actor AND NEW.payload_hash = OLD.payload_hash
     AND NEW.schema_version = OLD.schema_version AND NEW.redactions IS NOT DISTINCT FROM OLD.redactions
     AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'events are append-only: % refused (only erasing a payload is allowed)', TG_OP USING ERRCODE = '42501';
END $$;--> statement-breakpoint
CREATE OR REPLACE FUNCTION aifactory_append_only_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = '42501';
END $$;--> statement-breakpoint
CREATE TRIGGER "events_append_only" BEFORE UPDATE OR DELETE ON "events" FOR EACH ROW EXECUTE FUNCTION aifactory_events_guard();--> statement-breakpoint
CREATE TRIGGER "events_no_truncate" BEFORE TRUNCATE ON "events" FOR EACH STATEMENT EXECUTE FUNCTION aifactory_append_only_guard();--> statement-breakpoint
CREATE TRIGGER "seals_append_only" BEFORE UPDATE OR DELETE ON "seals" FOR EACH ROW EXECUTE FUNCTION aifactory_append_only_guard();--> statement-breakpoint
CREATE TRIGGER "seals_no_truncate" BEFORE TRUNCATE ON "seals" FOR EACH STATEMENT EXECUTE FUNCTION aifactory_append_only_guard();
