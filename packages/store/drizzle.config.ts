import { defineConfig } from 'drizzle-kit';

// Migrations are generated from src/schema and applied at open time by openStore().
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/schema/*.ts',
  out: './drizzle',
});
