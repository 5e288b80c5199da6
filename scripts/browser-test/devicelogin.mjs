// Drives Debian's headless Chromium through the tenant simulator's
// /devicelogin page, as a person would: open the page, type a wrong code
// (the page must say so), type the right one, submit, read the result.
// Called by cli/browser_test.go with one JSON argument:
//   {url, code, spki, chromium, userDataDir, screenshotDir}
// and prints one JSON line describing what the browser saw. Exit 0 means the
// browser part ran; the Go test judges the content.
import { chromium } from 'playwright-core';
import path from 'node:path';

const cfg = JSON.parse(process.argv[2] ?? '{}');
for (const k of ['url', 'code', 'spki', 'chromium', 'userDataDir', 'screenshotDir']) {
  if (!cfg[k]) {
    console.error(`devicelogin.mjs: missing ${k}`);
    process.exit(2);
  }
}

const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Trust exactly the simulator's certificate key, not every certificate:
  // Chromium honours this list only with an explicit --user-data-dir, which
  // launchPersistentContext passes (a fresh directory from the Go test).
  `--ignore-certificate-errors-spki-list=${cfg.spki}`,
];

const seen = { steps: [] };
const ctx = await chromium.launchPersistentContext(cfg.userDataDir, {
  executablePath: cfg.chromium,
  headless: true,
  args,
  viewport: { width: 900, height: 640 },
  timeout: 20000,
});
try {
  ctx.setDefaultTimeout(10000);
  const page = ctx.pages()[0] ?? (await ctx.newPage());

  const first = await page.goto(cfg.url, { waitUntil: 'load' });
  seen.steps.push({ step: 'open', status: first.status(), title: await page.title() });
  const box = page.getByLabel('Enter the code displayed on your app or device.');
  seen.focused = await box.evaluate((el) => el === document.activeElement);
  const submit = page.getByRole('button', { name: 'Next' });

  // A wrong code: the page must stay on the form and say what went wrong.
  await box.fill('WRNG-CODE');
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), submit.click()]);
  seen.steps.push({
    step: 'wrong code',
    title: await page.title(),
    result: await page.locator('#result').innerText(),
    resultRole: await page.locator('#result').getAttribute('role'),
    invalid: await box.getAttribute('aria-invalid'),
  });
  await page.screenshot({ path: path.join(cfg.screenshotDir, 'devicelogin-wrong-code.png'), fullPage: true });

  // The right code, typed key by key as a person would.
  await box.fill('');
  await box.pressSequentially(cfg.code);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), box.press('Enter')]);
  seen.steps.push({
    step: 'right code',
    title: await page.title(),
    heading: await page.locator('h1').innerText(),
    result: await page.locator('#result').innerText(),
    resultRole: await page.locator('#result').getAttribute('role'),
    formGone: (await page.locator('form').count()) === 0,
  });
  seen.screenshot = path.join(cfg.screenshotDir, 'devicelogin-signed-in.png');
  await page.screenshot({ path: seen.screenshot, fullPage: true });
} finally {
  await ctx.close();
}
console.log(JSON.stringify(seen));
