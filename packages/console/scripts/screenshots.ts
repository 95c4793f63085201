// Regenerates the console's screenshots in docs/console/: a real `factory serve` on a throw-away
// workspace (the business app's order desk), a few runs — answered, one held refund approved, one
// rejected, one waiting in the inbox — and each page in Debian's Chromium.
//   pnpm --filter @aifactory/console screenshots
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConsole, consoleIsBuilt } from '../src/index.ts';
import { chromiumPath, launchChromium, startConsoleServer } from '../test/console-server.ts';

const outDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'console');
if (!existsSync(chromiumPath)) {
  process.stderr.write(`${chromiumPath} is missing: apt-get install -y chromium\n`);
  process.exit(1);
}
if (!consoleIsBuilt()) await buildConsole();
mkdirSync(outDir, { recursive: true });

const server = await startConsoleServer({ engine: 'pglite' });
const browser = await launchChromium();
try {
  await server.startRun('Where is my order?');
  await server.startRun('Do you ship to Norway?');
  const approved = await server.startRun('I want a refund, the filters are broken');
  const vote = await fetch(`${server.url}/v1/approvals/${approved.held!.approvalId}/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.leadToken}`, 'content-type': 'application/json' },
    body: '{"comment":"Faulty filters: refund approved."}',
  });
  if (!vote.ok) throw new Error(`approve answered ${vote.status}`);
  // A refund the support lead rejects: a boundary violation for the charts.
  const refused = await server.startRun('A refund for order 1044, please');
  const rejection = await fetch(`${server.url}/v1/approvals/${refused.held!.approvalId}/reject`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.leadToken}`, 'content-type': 'application/json' },
    body: '{"comment":"Delivered intact: no refund."}',
  });
  if (!rejection.ok) throw new Error(`reject answered ${rejection.status}`);
  const waiting = await server.startRun('Please refund my order 1043, it arrived broken');

  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const shot = async (name: string) => {
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(outDir, `${name}.png`), fullPage: false });
    process.stdout.write(`docs/console/${name}.png\n`);
  };
  await page.goto(`${server.url}/`);
  await shot('sign-in');
  await page.fill('#token', server.leadToken);
  await page.click('button[type=submit]');
  await page.waitForSelector(`[data-approval-id="${waiting.held!.approvalId}"]`);
  await shot('inbox');

  await page.getByRole('link', { name: 'Runs', exact: true }).click();
  await page.waitForSelector('table.runs tbody tr');
  await shot('runs');

  // Wait for the approved run to finish in the background before showing it.
  for (let tries = 0; tries < 100; tries += 1) {
    const body = (await (
      await fetch(`${server.url}/v1/runs/${approved.runId}`, { headers: { authorization: `Bearer ${server.leadToken}` } })
    ).json()) as { run: { status: string } };
    if (body.run.status === 'completed') break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await page.goto(`${server.url}/runs/${approved.runId}`);
  await page.waitForSelector('[data-testid=run-status][data-status=completed]');
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForSelector('[data-testid=verify-result]');
  await shot('run');
  await page.getByRole('button', { name: 'Explain' }).click();
  await page.waitForSelector('#explain-heading');
  await page.locator('#explain-heading').scrollIntoViewIfNeeded();
  await shot('explain');

  await page.getByRole('link', { name: 'Policies' }).click();
  const editor = page.locator('.cm-content');
  await editor.waitFor();
  // The editor opens empty and is filled when the policy's text arrives: paste only after that.
  for (let tries = 0; tries < 100 && !((await editor.textContent()) ?? '').includes('refunds-need-a-support-lead'); tries += 1)
    await page.waitForTimeout(100);
  // A stricter default, pasted in, to show lint and the transition table.
  const source = (
    (await (
      await fetch(`${server.url}/v1/policies/order-desk/source`, { headers: { authorization: `Bearer ${server.leadToken}` } })
    ).json()) as { policy: { source: string } }
  ).policy.source;
  await editor.click();
  await page.keyboard.press('Control+a');
  await editor.evaluate(
    new Function(
      'element',
      'pasted',
      "const data = new DataTransfer(); data.setData('text/plain', pasted); element.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));",
    ) as (element: unknown, pasted: string) => void,
    source.replace('default: autonomous', 'default: notify_human'),
  );
  await page.waitForSelector('[data-testid=lint][data-problems="0"]');
  await page.getByRole('button', { name: 'Preview impact on recorded runs' }).click();
  await page.waitForSelector('[data-testid=impact]');
  await page.locator('[data-testid=impact]').scrollIntoViewIfNeeded();
  await shot('policies');
  await page.getByRole('button', { name: 'Run policy tests' }).click();
  await page.waitForSelector('[data-testid=policy-tests] table');
  await page.getByRole('button', { name: 'Review changes' }).click();
  await page.waitForSelector('[data-testid=policy-diff]');
  await page.locator('[data-testid=policy-tests]').scrollIntoViewIfNeeded();
  await shot('policy-review');

  await page.getByRole('link', { name: 'Charts' }).click();
  await page.waitForSelector('[data-testid=chart-status] svg');
  await shot('charts');
  await context.close();
} finally {
  await browser.close();
  await server.close();
}
