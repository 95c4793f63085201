// The API request behind the console's runs list: without imports of its own, so the boot script
// (boot.ts) can ask for a reloaded list's first page before React and the pages have loaded.

/** The runs list's filters, by their query names (the console's /runs?… and the API's alike). */
export const filterNames = ['agent', 'status', 'principal', 'team', 'authority', 'since', 'until'] as const;
/** One of them. */
export type FilterName = (typeof filterNames)[number];

const pageSize = 50;

/** The GET /v1/runs request for the console's /runs?… query (also asked for by boot.ts on a full load). */
export function runsRequest(search: string): string {
  const query = new URLSearchParams(search);
  const params = new URLSearchParams();
  for (const name of [...filterNames, 'cursor']) {
    const value = query.get(name);
    if (!value) continue;
    // datetime-local values are local times without a zone: the API takes instants.
    params.set(
      name,
      (name === 'since' || name === 'until') && !Number.isNaN(new Date(value).getTime()) ? new Date(value).toISOString() : value,
    );
  }
  params.set('limit', String(pageSize));
  return `/v1/runs?${params}`;
}
