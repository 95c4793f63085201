// The console's budgets (issue #18), measured with the browser (Debian's Chromium through
// playwright-core) against a real `factory serve` on the embedded store:
// - initial JavaScript: the gzipped size of every script index.html loads (pages other than the
//   inbox and runs load on first visit), and what the browser actually fetched to show the inbox;
// - the runs list over a store of 100,000 recorded runs (BENCH_QUICK=1: 5,000): time from
//   navigation to its first page on screen, as a full page load of /runs and as an in-app click,
//   by the page's clock (navigation start or click to the first row in the DOM) and the bench's,
//   beside a peer in the same run: a frameworkless page fetching the same API page (the floor);
// - the inbox: time from a run's hold (its run.held event, recorded by the server) to its card on
//   screen (a MutationObserver in the page notes when it appears), over several holds.
// Targets: ≤ 300 KB gzipped, ≤ 300 ms, ≤ 1 s. Figures go to bench/results/console.json.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { sql } from '@aifactory/store';
import { buildConsole, consoleAssetsDir, consoleIsBuilt } from '@aifactory/console';
import { chromiumPath, launchChromium, startConsoleServer } from '../packages/console/test/console-server.ts';

const quick = process.env.BENCH_QUICK === '1';
const seededRuns = quick ? 5_000 : 100_000;
const navigations = quick ? 3 : 7;
const holds = quick ? 3 : 7;
const benchDir = path.dirname(fileURLToPath(import.meta.url));
if (!existsSync(chromiumPath)) {
  console.log(`${chromiumPath} is missing (apt-get install -y chromium): the console bench is skipped.`);
  process.exit(0);
}

if (!consoleIsBuilt()) await buildConsole();
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (value: number) => Math.round(value * 10) / 10;

// ---------------------------------------------------------------- initial JavaScript, from the build
const indexHtml = readFileSync(path.join(consoleAssetsDir, 'index.html'), 'utf8');
const initialScripts = [...indexHtml.matchAll(/<(?:script[^>]+src|link[^>]+rel="modulepreload"[^>]+href)="\/([^"]+\.js)"/g)].map(
  (match) => match[1]!,
);
const initialGzipBytes = initialScripts.reduce(
  (sum, file) => sum + gzipSync(readFileSync(path.join(consoleAssetsDir, file)), { level: 9 }).length,
  0,
);

// ---------------------------------------------------------------- a store with many runs
const seedStarted = performance.now();
const server = await startConsoleServer({
  engine: 'pglite',
  async seed(store) {
    // Recorded runs as the runs table holds them (the list reads runs, not their events).
    await store.query(
      sql.raw(`INSERT INTO runs (id, agent, team, principal, status, metadata, started_at, ended_at, head_seq)
               SELECT 'run_seed_' || lpad(g::text, 7, '0'), CASE WHEN g % 3 = 0 THEN 'order-desk' ELSE 'file-clerk' END, 'web-shop',
                      'customer-' || (g % 200) || '@shop.example', CASE WHEN g % 17 = 0 THEN 'failed' ELSE 'completed' END, '{}'::jsonb,
                      now() - make_interval(secs => g * 30), now() - make_interval(secs => g * 30 - 2), 0
                 FROM generate_series(1, ${seededRuns}) g`),
    );
  },
});
const seedMs = performance.now() - seedStarted;

const browser = await launchChromium();
const results: Record<string, unknown> = {};
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const fetchedScripts: Array<{ url: string; bytes: number }> = [];
  page.on('response', async (response) => {
    if (response.url().endsWith('.js'))
      fetchedScripts.push({ url: new URL(response.url()).pathname, bytes: (await response.body().catch(() => Buffer.alloc(0))).length });
  });
  await page.goto(`${server.url}/`);
  await page.fill('#token', server.leadToken);
  await page.click('button[type=submit]');
  await page.waitForSelector('.live[data-live=yes]');
  const scriptsForInbox = [...new Set(fetchedScripts.map((script) => script.url))];

  // ---------------------------------------------------------------- runs list: full load and in-app click
  // Two clocks: the page's own (navigation start, or the click, to the first row in the DOM, noted
  // by a MutationObserver: what a user sees) and the bench's (goto/click to Playwright seeing the
  // row, which adds the DevTools protocol's round trips).
  await page.addInitScript(`new MutationObserver((changes, observer) => {
    if (document.querySelector('table.runs tbody tr')) { window.__rowsAt = performance.now(); observer.disconnect(); }
  }).observe(document, { childList: true, subtree: true });`);
  const fullLoads: number[] = [];
  const fullLoadsInPage: number[] = [];
  // What the first page waits on, by the page's resource timing (ms from navigation start): the
  // document, the entry script, the API page asked and answered, then the rows in the DOM.
  const waits: Array<Record<string, number>> = [];
  for (let index = 0; index < navigations; index += 1) {
    const started = performance.now();
    await page.goto(`${server.url}/runs`);
    await page.waitForSelector('table.runs tbody tr');
    fullLoads.push(performance.now() - started);
    fullLoadsInPage.push(Number(await page.evaluate('window.__rowsAt')));
    waits.push(
      (await page.evaluate(`(() => {
        const resources = performance.getEntriesByType('resource');
        const ended = (prefix) => {
          const entry = resources.find((candidate) => candidate.name.includes('/assets/' + prefix) && candidate.name.endsWith('.js'));
          return entry ? entry.responseEnd : NaN;
        };
        const list = resources.find((entry) => entry.name.includes('/v1/runs?'));
        return {
          document_end: performance.getEntriesByType('navigation')[0].responseEnd,
          boot_script_end: ended('index-'),
          app_script_end: ended('main-'),
          runs_asked: list ? list.startTime : NaN,
          runs_answered: list ? list.responseEnd : NaN,
          rows_in_dom: window.__rowsAt,
        };
      })()`)) as Record<string, number>,
    );
  }
  const waitMedians = Object.fromEntries(Object.keys(waits[0]!).map((key) => [key, round(median(waits.map((wait) => wait[key]!)))]));
  // The server's part alone: the same API page asked from Node (no browser), as CPU-light as it gets.
  const apiPage: number[] = [];
  for (let index = 0; index < navigations * 3; index += 1) {
    const started = performance.now();
    const response = await fetch(`${server.url}/v1/runs?limit=50`, { headers: { authorization: `Bearer ${server.leadToken}` } });
    await response.arrayBuffer();
    apiPage.push(performance.now() - started);
  }
  const apiPageBytes = (
    await (await fetch(`${server.url}/v1/runs?limit=50`, { headers: { authorization: `Bearer ${server.leadToken}` } })).arrayBuffer()
  ).byteLength;
  const clicks: number[] = [];
  const clicksInPage: number[] = [];
  for (let index = 0; index < navigations; index += 1) {
    await page.getByRole('link', { name: 'Inbox' }).click();
    await page.waitForSelector('.live[data-live=yes]');
    await page.evaluate(`(() => {
      window.__clickAt = undefined; window.__rowsAt = undefined;
      document.addEventListener('click', () => { window.__clickAt = performance.now(); }, { capture: true, once: true });
      new MutationObserver((changes, observer) => {
        if (document.querySelector('table.runs tbody tr')) { window.__rowsAt = performance.now(); observer.disconnect(); }
      }).observe(document, { childList: true, subtree: true });
    })()`);
    const started = performance.now();
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    await page.waitForSelector('table.runs tbody tr');
    clicks.push(performance.now() - started);
    clicksInPage.push(Number(await page.evaluate('window.__rowsAt - window.__clickAt')));
  }
  const rowsShown = await page.locator('table.runs tbody tr').count();

  // The peer in the same run: the least a page can do to show that first page (one HTML document
  // with an inline script that fetches the same API page and writes 50 rows with the DOM, no
  // framework), served at the same origin through the browser's request interception. The ratio
  // console / peer is what the app adds over the floor the server and the machine set.
  const peerHtml = `<!doctype html><html><head><meta charset="utf-8"><title>peer</title></head><body><table class="runs"><tbody></tbody></table><script>
    fetch('/v1/runs?limit=50', { headers: { authorization: 'Bearer ' + sessionStorage.getItem('aifactory.console.token') } })
      .then((response) => response.json())
      .then((body) => {
        const tbody = document.querySelector('tbody');
        for (const run of body.runs) {
          const row = document.createElement('tr');
          for (const value of [run.id, run.agent, run.principal, run.status, new Date(run.startedAt).toLocaleString(), run.events, run.sealed ? 'yes' : 'no']) {
            const cell = document.createElement('td');
            cell.textContent = String(value);
            row.append(cell);
          }
          tbody.append(row);
        }
      });
  </script></body></html>`;
  await page.route(`${server.url}/bench-peer`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: peerHtml }),
  );
  const peerLoadsInPage: number[] = [];
  for (let index = 0; index < navigations; index += 1) {
    await page.goto(`${server.url}/bench-peer`);
    await page.waitForSelector('table.runs tbody tr');
    peerLoadsInPage.push(Number(await page.evaluate('window.__rowsAt')));
  }
  await page.unroute(`${server.url}/bench-peer`);
  await page.goto(`${server.url}/runs`);
  await page.waitForSelector('table.runs tbody tr');

  // ---------------------------------------------------------------- inbox: hold → card on screen
  await page.getByRole('link', { name: 'Inbox' }).click();
  await page.waitForSelector('.live[data-live=yes]');
  await page.evaluate(`(() => {
    window.__seen = {};
    new MutationObserver(() => {
      for (const card of document.querySelectorAll('[data-approval-id]')) {
        const id = card.getAttribute('data-approval-id');
        if (!(id in window.__seen)) window.__seen[id] = Date.now();
      }
    }).observe(document.body, { childList: true, subtree: true });
  })()`);
  const holdToCard: number[] = [];
  for (let index = 0; index < holds; index += 1) {
    const held = await server.startRun(`I want a refund for order ${index}`);
    if (held.status !== 'held' || !held.held) throw new Error(`expected a held run, got ${held.status}`);
    await page.waitForSelector(`[data-approval-id="${held.held.approvalId}"]`, { timeout: 30_000 });
    const seenAt = Number(await page.evaluate(`window.__seen[${JSON.stringify(held.held.approvalId)}]`));
    const run = (await (
      await fetch(`${server.url}/v1/runs/${held.runId}`, { headers: { authorization: `Bearer ${server.leadToken}` } })
    ).json()) as { events: Array<{ type: string; ts: string }> };
    const heldAt = Date.parse(run.events.find((event) => event.type === 'run.held')!.ts);
    holdToCard.push(seenAt - heldAt);
  }
  await context.close();

  Object.assign(results, {
    quick,
    seeded_runs: seededRuns,
    seed_ms: Math.round(seedMs),
    initial_js: {
      files: initialScripts,
      gzip_kb: round(initialGzipBytes / 1024),
      fetched_to_show_inbox: scriptsForInbox,
      target_kb: 300,
      target_met: initialGzipBytes <= 300 * 1024,
    },
    runs_list_first_page_ms: {
      full_load_in_page_median: round(median(fullLoadsInPage)),
      full_load_in_page_all: fullLoadsInPage.map(round),
      in_app_click_in_page_median: round(median(clicksInPage)),
      in_app_click_in_page_all: clicksInPage.map(round),
      peer_full_load_in_page_median: round(median(peerLoadsInPage)),
      peer_full_load_in_page_all: peerLoadsInPage.map(round),
      full_load_ratio_to_peer: round(median(fullLoadsInPage) / median(peerLoadsInPage)),
      full_load_waits_median_ms_from_navigation: waitMedians,
      api_page_from_node_median: round(median(apiPage)),
      api_page_bytes: apiPageBytes,
      full_load_median: round(median(fullLoads)),
      full_load_all: fullLoads.map(round),
      in_app_click_median: round(median(clicks)),
      in_app_click_all: clicks.map(round),
      rows_shown: rowsShown,
      target_ms: 300,
      target_met: median(fullLoadsInPage) <= 300 && median(clicksInPage) <= 300,
    },
    inbox_hold_to_card_ms: {
      median: round(median(holdToCard)),
      max: round(Math.max(...holdToCard)),
      all: holdToCard.map(round),
      target_ms: 1000,
      target_met: Math.max(...holdToCard) <= 1000,
    },
    loadavg: loadavg().map((value) => Number(value.toFixed(2))),
  });
} finally {
  await browser.close();
  await server.close();
}

console.log(JSON.stringify(results, null, 2));
mkdirSync(path.join(benchDir, 'results'), { recursive: true });
writeFileSync(path.join(benchDir, 'results', 'console.json'), `${JSON.stringify(results, null, 2)}\n`);
