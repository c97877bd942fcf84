// The partner dashboard end to end in a real browser: Debian's headless Chromium driven by
// playwright-core (no browser download), against a real platform. A member of two tenants signs
// in, chooses one, sees its quota; a job submitted through the API appears with its pending
// reason, then its progress bar moves to 100 % from live events alone (no reload); the owner of
// the model sees who used it; the language switch shows Chinese; an alliance admin sees the
// cluster. Screenshots: artifacts/dashboard.png (Chinese), dashboard-en.png, dashboard-assets.png,
// dashboard-operator.png.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { scaleModel } from '../model-runtime/engine/__fixtures__/tiny-models';
import { deployTensorEndpoint, tensorItem } from './harness/model-factory';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

// Browser globals inside page.evaluate callbacks (the project compiles without the DOM lib).
declare const window: any, document: any, MutationObserver: any;

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const available = fs.existsSync(CHROMIUM);
if (!available) {
  // CI installs it (.ci/run); a developer machine without it skips loudly, never silently.
  console.warn(`SKIPPING the dashboard browser test: ${CHROMIUM} is not installed (apt-get install -y chromium fonts-noto-cjk)`);
}
const suite = available ? describe : describe.skip;

let tp: TestPlatform;
let browser: Browser;
let endpointId: string;

const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { job { id } } }`;
const SET_QUOTA = `mutation($slug: String!, $guaranteed: Int!) { setQuota(input: { tenantSlug: $slug, budgetUnits: 5000, guaranteedDevices: $guaranteed, borrowLimitDevices: 0, weight: 1 }) { budgetUnits } }`;

suite('dashboard in a real browser', () => {
  beforeAll(async () => {
    // A heavy cpu weight, so that the tiny model's runs cost visible compute units in the charts.
    tp = await startTestPlatform({ env: { WORKER_SLOTS: '1', SCHEDULER_TICK_MS: '200', MAX_SHARD_ITEMS: '1', BILLING_WEIGHTS: 'cpu=20000,ascend-910b=20,h200=40' } });
    ({ endpointId } = await deployTensorEndpoint(tp, 'alice', 'casia', 'dash-scale', scaleModel(3), { visibility: 'ALLIANCE' }));
    // alice is a member of casia and of whu: she must choose. whu gets no devices yet, so its
    // jobs wait with a pending reason until the operator grants one.
    await tp.as('alice', `{ viewer { username } }`);
    await tp.as('bob', `mutation { addMember(tenantSlug: "whu", username: "alice", role: MEMBER) { role } }`);
    await tp.as('admin', SET_QUOTA, { slug: 'whu', guaranteed: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await tp?.close();
  });

  /** A page that records every problem the browser reports and every address it contacts. */
  async function openPage(): Promise<{ page: Page; problems: string[]; contacted: Set<string> }> {
    const context = await browser.newContext({ viewport: { width: 1366, height: 1000 }, locale: 'en-GB' });
    const page = await context.newPage();
    const problems: string[] = [];
    const contacted = new Set<string>();
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('request', (r) => contacted.add(new URL(r.url()).origin));
    page.on('websocket', (ws) => contacted.add(new URL(ws.url()).origin));
    return { page, problems, contacted };
  }

  async function signIn(page: Page, user: string): Promise<void> {
    await page.goto(`${tp.url}/dashboard`);
    await page.getByTestId('username').fill(user);
    await page.getByTestId('password').fill(user);
    await page.getByTestId('sign-in').click();
  }

  it('serves the page with a strict Content-Security-Policy and only local assets', async () => {
    const res = await fetch(`${tp.url}/dashboard`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/https?:\/\//);
    for (const asset of ['/dashboard/app.js', '/dashboard/vendor/echarts.js', '/dashboard/vendor/graphql-ws/client.js', '/dashboard/config.json']) {
      expect([asset, (await fetch(`${tp.url}${asset}`)).status]).toEqual([asset, 200]);
    }
    expect((await fetch(`${tp.url}/dashboard/vendor/graphql-ws/..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${tp.url}/dashboard/secret.js`)).status).toBe(404);
  });

  it('signs in, chooses a tenant, shows quota and a job going live to 100 %, who used my model, and Chinese', async () => {
    const { page, problems, contacted } = await openPage();
    await signIn(page, 'alice');
    await page.getByTestId('choose-whu').click();
    await see(page.getByTestId('acting-tenant')).toHaveText('whu');
    await see(page.getByTestId('quota-budget')).toHaveText('5,000');
    await see(page.getByTestId('quota-available')).toHaveText('5,000');
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    // A marker that a reload would wipe.
    await page.evaluate(() => { (window as any).__noReload = true; });

    const inputs = Array.from({ length: 5 }, (_, i) => tensorItem([i, i, i]));
    const { submitJob } = await tp.as('alice', SUBMIT, { input: { endpointId, inputs } }, 'whu');
    const row = page.locator(`[data-testid="job-row"][data-job-id="${submitJob.job.id}"]`);
    await row.waitFor();
    await see(row.getByTestId('job-progress')).toHaveText('0%');
    // The scheduler's reason appears in the table (refreshed while the job waits).
    await see(row.getByTestId('job-pending-reason')).toHaveText(/guarantee|borrow|limit|device/i, { timeout: 15_000 });
    // Every progress value the row shows from now on.
    await page.evaluate((id) => {
      const seen: string[] = [];
      (window as any).__progress = seen;
      new MutationObserver(() => {
        const text = document.querySelector(`[data-job-id="${id}"] [data-testid="job-progress"]`)?.textContent;
        if (text && seen[seen.length - 1] !== text) seen.push(text);
      }).observe(document.getElementById('jobs-body')!, { childList: true, subtree: true, characterData: true });
    }, submitJob.job.id);

    await tp.as('admin', SET_QUOTA, { slug: 'whu', guaranteed: 1 });
    await see(row.getByTestId('job-progress')).toHaveText('100%', { timeout: 30_000 });
    await see(row).toHaveAttribute('data-status', 'SUCCEEDED');
    await see(row.getByTestId('job-status')).toHaveText('succeeded');
    const progress: string[] = await page.evaluate(() => (window as any).__progress);
    expect(progress[progress.length - 1]).toBe('100%');
    // One live event per shard: the bar moved through intermediate values.
    expect(progress.filter((p) => p !== '0%' && p !== '100%').length).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
    // Usage of the last 30 days now has a bar for today, and the quota shows what was used.
    await see(page.locator('#usage-empty')).toBeHidden({ timeout: 10_000 });
    await see(page.getByTestId('quota-used')).toHaveText(/^(?!0$)[\d,.]+$/, { timeout: 10_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-en.png'), fullPage: true });

    // 中文
    await page.getByTestId('lang-zh').click();
    await see(page.locator('html')).toHaveAttribute('lang', 'zh-CN');
    await see(page.locator('h1')).toHaveText('合作伙伴控制台');
    await see(page.getByTestId('jobs-table').locator('th').nth(1)).toHaveText('状态');
    await see(page.getByTestId('quota').locator('h2 span')).toHaveText('算力配额');
    await see(row.getByTestId('job-status')).toHaveText('已完成');
    await see(page.getByTestId('live')).toHaveText('实时');
    // The CJK font is installed and used (not tofu boxes).
    const fontOk = await page.evaluate(async () => {
      await document.fonts.ready;
      return document.fonts.check('16px "Noto Sans CJK SC"', '合作伙伴');
    });
    expect(fontOk).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    // casia owns the model whu just used: switching tenant shows who used it.
    await page.getByTestId('tenant-select').selectOption('casia');
    await see(page.getByTestId('acting-tenant')).toHaveText('casia');
    const asset = page.getByTestId('asset-row').filter({ hasText: 'dash-scale' });
    await see(asset).toContainText('Wuhan University (whu)');
    await see(asset).toContainText('模型');
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-assets.png'), fullPage: true });
    await page.getByTestId('lang-en').click();
    await see(page.locator('h1')).toHaveText('Partner dashboard');
    await see(asset).toContainText('Model');

    expect(problems).toEqual([]);
    expect([...contacted].every((origin) => origin === tp.url || origin === tp.url.replace(/^http/, 'ws'))).toBe(true);
    await page.context().close();
  }, 120_000);

  it('shows an alliance admin the cluster, and a wrong password a clear error', async () => {
    const { page, problems } = await openPage();
    await signIn(page, 'admin');
    await see(page.locator('#operator-view')).toBeVisible();
    await see(page.getByTestId('device-row').first()).toBeVisible();
    await see(page.getByTestId('cluster-pending')).toHaveText(/^\d+$/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-operator.png'), fullPage: true });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByTestId('username').fill('bob');
    await page.getByTestId('password').fill('wrong');
    await page.getByTestId('sign-in').click();
    await see(page.getByTestId('sign-in-error')).toHaveText(/Sign-in failed/);
    // The failed sign-in is the realm's 401, which the browser logs; nothing else may be.
    expect(problems.filter((p) => !/401/.test(p))).toEqual([]);
    await page.context().close();
  }, 60_000);
});

// playwright's `expect` lives in @playwright/test (not installed); these few assertions poll as it does.
interface PageMatchers {
  toHaveText(expected: string | RegExp, opts?: { timeout?: number }): Promise<void>;
  toContainText(expected: string, opts?: { timeout?: number }): Promise<void>;
  toHaveAttribute(name: string, value: string, opts?: { timeout?: number }): Promise<void>;
  toBeVisible(opts?: { timeout?: number }): Promise<void>;
  toBeHidden(opts?: { timeout?: number }): Promise<void>;
}

function see(locator: Locator): PageMatchers {
  const poll = async (what: string, check: () => Promise<boolean>, timeout = 10_000) => {
    const deadline = Date.now() + timeout;
    for (;;) {
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${locator} ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const text = async () => ((await locator.first().textContent({ timeout: 1_000 })) ?? '').trim();
  return {
    toHaveText: (expected, opts) => poll(`to have text ${expected}`, async () => {
      const t = await text();
      return typeof expected === 'string' ? t === expected : expected.test(t);
    }, opts?.timeout).catch(async (err) => { throw new Error(`${err.message}; last text: "${await text().catch(() => '?')}"`); }),
    toContainText: (expected, opts) => poll(`to contain ${expected}`, async () => (await text()).includes(expected), opts?.timeout),
    toHaveAttribute: (name, value, opts) => poll(`to have ${name}=${value}`, async () => (await locator.first().getAttribute(name, { timeout: 1_000 })) === value, opts?.timeout),
    toBeVisible: (opts) => poll('to be visible', () => locator.first().isVisible(), opts?.timeout),
    toBeHidden: (opts) => poll('to be hidden', () => locator.first().isHidden(), opts?.timeout),
  };
}
