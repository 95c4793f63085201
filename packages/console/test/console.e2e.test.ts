// The console end to end, in Debian's Chromium (playwright-core) against a real `factory serve`,
// on the embedded store and on Postgres: sign in with a token; a refund the order desk holds
// appears in the inbox live, with the rule and reason that held it; approve it with a comment and
// watch the run complete on its page, reject another; verify it, read its proof and export its
// signed trace; filter the runs by team and authority; edit the policy with completion from its
// JSON Schema, see lint at file:line:column, preview the change as a transition table, run the
// policy's tests against it and review its diff; every chart draws data. axe-core
// finds no serious or critical violation on any page, the pages' controls are reached with Tab,
// and nothing breaks the Content-Security-Policy.
import { existsSync, readFileSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { buildConsole, consoleIsBuilt } from '../src/index.ts';
import { chromiumPath, launchChromium, startConsoleServer, type ConsoleServer } from './console-server.ts';

const haveChromium = existsSync(chromiumPath);
if (!haveChromium && !process.env.CI)
  console.warn(`[console] ${chromiumPath} is missing: the browser test is skipped (apt-get install -y chromium).`);
const postgresUrl = process.env.AIFACTORY_TEST_DATABASE_URL;

const engines = [
  { engine: 'pglite' as const, skip: false },
  { engine: 'postgres' as const, skip: !postgresUrl },
];

/** Runs axe on the page; answers the serious and critical violations (id and where). */
async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
}

/** Presses Tab from the top of the page until every wanted control has had focus (or gives up); answers those never reached. */
async function unreachedByTab(page: Page, wanted: string[], maxTabs = 80): Promise<string[]> {
  // Page-side code as strings: this file is type-checked without the DOM library.
  await page.evaluate('document.activeElement && document.activeElement.blur()');
  await page.locator('body').focus();
  const reached = new Set<string>();
  for (let index = 0; index < maxTabs && reached.size < wanted.length; index += 1) {
    await page.keyboard.press('Tab');
    const label = String(
      await page.evaluate(
        `(() => { const element = document.activeElement; return element ? (element.getAttribute('aria-label') || element.id || '') + '|' + (element.textContent || '').trim().slice(0, 60) : ''; })()`,
      ),
    );
    for (const name of wanted) if (label.includes(name)) reached.add(name);
  }
  return wanted.filter((name) => !reached.has(name));
}

describe.skipIf(!haveChromium && !process.env.CI)('the console in headless Chromium against factory serve', () => {
  let browser: Browser;

  beforeAll(async () => {
    if (!consoleIsBuilt()) await buildConsole();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  describe.each(engines)('on $engine', ({ engine, skip }) => {
    let server: ConsoleServer;
    beforeAll(async () => {
      if (skip) return;
      server = await startConsoleServer({ engine, ...(postgresUrl ? { databaseUrl: postgresUrl } : {}) });
    });
    afterAll(async () => {
      await server?.close();
    });

    it.skipIf(skip)(
      'approves a held refund from the live inbox, watches the run complete, verifies and explains it, previews a policy change and draws every chart',
      async () => {
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const page = await context.newPage();
        const problems: string[] = [];
        page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
        page.on('console', (message) => {
          if (message.type() === 'error' && !/status of 40[14]/.test(message.text())) problems.push(`console: ${message.text()}`);
        });
        await server.startRun('Where is my order?');

        // Sign in; a wrong token is refused with the API's reason.
        await page.goto(`${server.url}/`);
        await page.fill('#token', 'aif_not-a-real-token');
        await page.click('button[type=submit]');
        await expect.poll(() => page.locator('[role=alert]').textContent()).toContain('does not accept this token');
        await page.fill('#token', server.leadToken);
        await page.click('button[type=submit]');
        await page.waitForSelector('[data-testid=principal]');
        expect(await page.textContent('[data-testid=principal]')).toBe('lena@shop.example');
        await page.waitForSelector('.live[data-live=yes]');
        expect(await seriousViolations(page)).toEqual([]);

        // A refund is held while the inbox is open: it appears without a reload.
        const held = await server.startRun('I want a refund, the filters are broken');
        expect(held.status).toBe('held');
        const card = page.locator(`[data-approval-id="${held.held!.approvalId}"]`);
        await card.waitFor({ timeout: 15_000 });
        const cardText = (await card.textContent()) ?? '';
        expect(cardText).toContain('order-desk/refunds-need-a-support-lead');
        expect(cardText).toContain('Only a support lead may promise a refund.');
        expect(cardText).toContain('role support-lead');
        expect(cardText).toContain('customer-7@shop.example');
        expect(await unreachedByTab(page, ['Inbox', 'Runs', 'Policies', 'Charts', 'Approve', 'Reject'])).toEqual([]);
        expect(await seriousViolations(page)).toEqual([]);

        await card.locator('textarea').fill('Refund approved: the filters were faulty.');
        await card.getByRole('button', { name: 'Approve' }).click();
        // Decided: the card leaves the pending list (the stream sends the list without it).
        await card.waitFor({ state: 'detached', timeout: 15_000 });

        // Another refund, rejected: a boundary the agent ran into, charted below.
        const refused = await server.startRun('A refund for order 1043, please');
        const refusedCard = page.locator(`[data-approval-id="${refused.held!.approvalId}"]`);
        await refusedCard.waitFor({ timeout: 15_000 });
        await refusedCard.locator('textarea').fill('Not eligible: the order was delivered intact.');
        await refusedCard.getByRole('button', { name: 'Reject' }).click();
        await refusedCard.waitFor({ state: 'detached', timeout: 15_000 });

        // The run's page: it completes (followed live), verifies, and explains itself.
        await page.goto(`${server.url}/runs/${held.runId}`);
        await page.waitForSelector('[data-testid=run-status][data-status=completed]', { timeout: 30_000 });
        expect(await page.locator('.timeline').textContent()).toContain('refunds-need-a-support-lead');
        await page.getByRole('button', { name: 'Verify' }).click();
        await page.waitForSelector('[data-testid=verify-result][data-ok=true]', { timeout: 30_000 });
        await page.getByRole('button', { name: 'Explain' }).click();
        await page.waitForSelector('#explain-heading');
        expect(await page.locator('.explain').textContent()).toMatch(
          /Held for approval by order-desk\/refunds-need-a-support-lead.*approval apr_\w+: approved/,
        );
        expect(await unreachedByTab(page, ['Verify', 'Explain', 'Replay', 'Export JSONL', 'Export OTLP'])).toEqual([]);
        // The signed trace downloads as JSONL: the run's events, then the trailer.
        const download = page.waitForEvent('download');
        await page.getByRole('button', { name: 'Export JSONL' }).click();
        const exported = await download;
        expect(exported.suggestedFilename()).toBe(`${held.runId}.jsonl`);
        const exportedLines = readFileSync((await exported.path())!, 'utf8')
          .trimEnd()
          .split('\n');
        expect(exportedLines.some((line) => line.includes(held.runId))).toBe(true);
        expect(exportedLines.at(-1)).toContain('trailer');
        expect(await seriousViolations(page)).toEqual([]);

        // The runs list, by navigation (the SPA's own links).
        await page.getByRole('link', { name: 'Runs', exact: true }).click();
        await page.waitForSelector('table.runs');
        expect(await page.locator('table.runs tbody tr').count()).toBeGreaterThanOrEqual(3);
        expect(await seriousViolations(page)).toEqual([]);
        // Filtered by team and authority: the two held refunds, not the question about the order.
        await page.fill('#filter-team', 'web-shop');
        await page.selectOption('#filter-authority', 'require_approval');
        await page.getByRole('button', { name: 'Filter' }).click();
        await expect.poll(() => page.locator('table.runs tbody tr').count(), { timeout: 15_000 }).toBe(2);
        expect(new URL(page.url()).search).toBe('?team=web-shop&authority=require_approval');
        expect(await page.locator('table.runs').textContent()).toContain(held.runId);
        expect(
          await unreachedByTab(page, ['filter-agent', 'filter-status', 'filter-authority', 'filter-since', 'Filter', held.runId]),
        ).toEqual([]);
        await page.fill('#filter-team', 'no-such-team');
        await page.getByRole('button', { name: 'Filter' }).click();
        await page.waitForSelector('text=No runs match.');

        // Policies: lint at file:line:column, then a stricter default previewed over the recorded runs.
        await page.getByRole('link', { name: 'Policies' }).click();
        const editor = page.locator('.cm-content');
        await editor.waitFor();
        await expect.poll(() => editor.textContent(), { timeout: 15_000 }).toContain('refunds-need-a-support-lead');
        // Completion from the policy format's JSON Schema: a top-level key being typed is offered.
        await editor.click();
        await page.keyboard.press('Control+Home');
        await page.keyboard.type('ki');
        const completion = page.locator('.cm-tooltip-autocomplete');
        await completion.waitFor({ timeout: 15_000 });
        expect(await completion.textContent()).toContain('kind');
        await page.keyboard.press('Escape');
        const source = (
          (await (
            await fetch(`${server.url}/v1/policies/order-desk/source`, { headers: { authorization: `Bearer ${server.leadToken}` } })
          ).json()) as { policy: { source: string } }
        ).policy.source;
        expect(source).toContain('default: autonomous');
        // Replace the text as a user pasting it would (typing runs of spaces into a contenteditable
        // through insertText turns them into no-break spaces, which no user keyboard does).
        const paste = async (text: string) => {
          await editor.click();
          await page.keyboard.press('Control+a');
          await editor.evaluate(
            new Function(
              'element',
              'pasted',
              "const data = new DataTransfer(); data.setData('text/plain', pasted); element.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));",
            ) as (element: unknown, pasted: string) => void,
            text,
          );
        };
        await paste(source.replace('default: autonomous', 'default: sometimes'));
        await page.waitForSelector('[data-testid=lint]:not([data-problems="0"])', { timeout: 15_000 });
        expect(await page.locator('[data-testid=lint]').textContent()).toMatch(/\.yaml:\d+:\d+: /);
        await paste(source.replace('default: autonomous', 'default: require_approval'));
        await page.waitForSelector('[data-testid=lint][data-problems="0"]', { timeout: 15_000 }).catch(async (error: Error) => {
          throw new Error(
            `${error.message}\nlint: ${await page.locator('[data-testid=lint]').textContent()}\neditor: ${await editor.innerText()}`,
          );
        });
        await page.getByRole('button', { name: 'Preview impact on recorded runs' }).click();
        await page.waitForSelector('[data-testid=impact] table', { timeout: 30_000 });
        const impact = (await page.locator('[data-testid=impact]').textContent()) ?? '';
        expect(impact).toContain('autonomous');
        expect(impact).toContain('require_approval');
        // The policy's own cases, run against the edit: the two that expect autonomy now fail.
        await page.getByRole('button', { name: 'Run policy tests' }).click();
        await page.waitForSelector('[data-testid=policy-tests][data-failed="2"]', { timeout: 30_000 });
        expect(await page.locator('[data-testid=policy-tests]').textContent()).toContain('1 of 3 case(s) pass');
        // Then the diff to review: exactly the changed default.
        await page.getByRole('button', { name: 'Review changes' }).click();
        const diff = (await page.locator('[data-testid=policy-diff] pre').textContent()) ?? '';
        expect(diff.split('\n').filter((line) => line.startsWith('+') || line.startsWith('-'))).toEqual([
          '-   default: autonomous',
          '+   default: require_approval',
        ]);
        // By keyboard: Tab indents in the editor (as the page says); Esc, then Tab, moves on to the buttons.
        await editor.click();
        await page.keyboard.press('Escape');
        const focused: string[] = [];
        for (let index = 0; index < 6; index += 1) {
          await page.keyboard.press('Tab');
          focused.push(String(await page.evaluate("document.activeElement ? document.activeElement.textContent.trim() : ''")));
        }
        expect(focused).toEqual(expect.arrayContaining(['Run policy tests', 'Preview impact on recorded runs', 'Review changes']));
        expect(await seriousViolations(page)).toEqual([]);

        // Charts: each one has data.
        await page.getByRole('link', { name: 'Charts' }).click();
        for (const chart of ['decisions', 'violations', 'latency', 'cost', 'status']) {
          await page.waitForSelector(`[data-testid=chart-${chart}]`);
          expect(Number(await page.getAttribute(`[data-testid=chart-${chart}]`, 'data-points')), chart).toBeGreaterThan(0);
          expect(await page.locator(`[data-testid=chart-${chart}] svg`).count(), chart).toBe(1);
        }
        expect(await unreachedByTab(page, ['window', 'Figures'])).toEqual([]);
        expect(await seriousViolations(page)).toEqual([]);

        expect(problems).toEqual([]);
        await context.close();
      },
      300_000,
    );

    it.skipIf(skip)(
      'shows an operator only what the API lets them see, and says why they cannot approve their own run',
      async () => {
        const context = await browser.newContext();
        const page = await context.newPage();
        const held = await server.startRun('Another refund please');
        await page.goto(`${server.url}/`);
        await page.fill('#token', server.customerToken);
        await page.click('button[type=submit]');
        const card = page.locator(`[data-approval-id="${held.held!.approvalId}"]`);
        await card.waitFor({ timeout: 15_000 });
        expect(await card.textContent()).toContain('Separation of duties');
        // No vote buttons for an operator, and no pages the API would refuse them.
        expect(await card.getByRole('button', { name: 'Approve' }).count()).toBe(0);
        expect(await page.getByRole('navigation', { name: 'Pages' }).textContent()).toBe('InboxRuns');
        await context.close();
      },
      60_000,
    );
  });
});
