CREATE TABLE "tool_pins" (
	"server" text NOT NULL,
	"tool" text NOT NULL,
	"definition_hash" text NOT NULL,
	"definition" jsonb NOT NULL,
	"run_id" text NOT NULL,
	"pinned_at" timestamp with time zone NOT NULL,
	CONSTRAINT "tool_pins_server_tool_pk" PRIMARY KEY("server","tool")
);
