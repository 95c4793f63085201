CREATE TABLE "run_leases" (
	"run_id" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"epoch" integer NOT NULL,
	"state" text DEFAULT 'driving' NOT NULL,
	"acquired_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "run_leases_expires_idx" ON "run_leases" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "run_leases_owner_idx" ON "run_leases" USING btree ("owner");