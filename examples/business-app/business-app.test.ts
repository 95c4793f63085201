// End to end in headless Chromium (Debian's, driven by playwright-core): a customer asks the
// shop page's copilot, sees its answer stream in, asks for a refund, sees the held action and
// its status, and sees the answer arrive once a support lead approves through the API.
import { existsSync } from 'node:fs';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startBusinessApp, type BusinessApp } from './business-app.ts';

const executablePath = '/usr/bin/chromium';
const haveChromium = existsSync(executablePath);
if (!haveChromium && !process.env.CI)
  console.warn(`[business-app] ${executablePath} is missing: the browser test is skipped (apt-get install -y chromium).`);

describe.skipIf(!haveChromium && !process.env.CI)('the business app embedding a copilot, in headless Chromium', () => {
  let app: BusinessApp;
  let browser: Browser;

  beforeAll(async () => {
    app = await startBusinessApp();
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    if (app) rmSync(app.workspace.root, { recursive: true, force: true });
  });

  it('streams an answer, shows a held refund with its approval, and shows the answer once a support lead approves', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(app.url);

    await page.fill('#message', 'Where is my order?');
    await page.click('#send');
    await page.waitForSelector('#status[data-state="completed"]', { timeout: 15_000 });
    expect(await page.textContent('#answer')).toContain('arrives on Friday');
    expect(await page.locator('#actions li').allTextContents()).toContain('answer answer: autonomous');

    await page.fill('#message', 'I want a refund, the filters are broken');
    await page.click('#send');
    await page.waitForSelector('#status[data-state="held"]', { timeout: 15_000 });
    const statusText = (await page.textContent('#status')) ?? '';
    const approvalId = /apr_[A-Za-z0-9]+/.exec(statusText)?.[0];
    expect(approvalId).toBeDefined();
    await page.waitForSelector('#status[data-approval-status="pending"]');
    expect(await page.locator('#actions li').allTextContents()).toContain('answer answer: require_approval');
    expect(await page.textContent('#answer')).toBe('');

    const vote = await fetch(`${app.api.url}/v1/approvals/${approvalId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.supportLeadToken}`, 'content-type': 'application/json' },
      body: '{"comment":"ok"}',
    });
    expect(vote.status).toBe(200);
    await page.waitForSelector('#status[data-state="completed"]', { timeout: 15_000 });
    expect(await page.textContent('#answer')).toContain('refund 40 EUR');
    expect(errors).toEqual([]);
  });
});
