// Opens the viewer test page in headless Chromium (Playwright, system Chromium) and prints the
// page's report as JSON on stdout. Usage: node run.mjs <page-url> [seconds] [min-frames]
import { chromium } from 'playwright-core';

const [url, seconds = '3', minFrames = '30'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
         '--autoplay-policy=no-user-gesture-required'],
});
try {
  const page = await browser.newPage();
  page.on('console', (m) => process.stderr.write(`console: ${m.text()}\n`));
  await page.goto(url);
  await page.evaluate(([s, n]) => window.run(Number(s), Number(n)), [seconds, minFrames]);
  const result = await page.evaluate(() => window.result);
  process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  await browser.close();
}
