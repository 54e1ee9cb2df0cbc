// Playwright configuration for the Switchboard end-to-end suite.
//
// Browsers: Debian's Chromium (Playwright cannot download its own browser on these machines), with the flags
// that keep it from reaching outside hosts. The system under test is built and started once by
// `support/global-setup.ts` (gateway + embedded core on free ports); tests find it through environment variables.
import { defineConfig } from '@playwright/test';

const ci = !!process.env.CI;

export default defineConfig({
  testDir: './tests',
  globalSetup: './support/global-setup.ts',
  // Two cores are shared by Chromium, the gateway, the core and the terminal clients: two workers keep both busy
  // without making timing-sensitive waits flaky.
  workers: 2,
  fullyParallel: true,
  forbidOnly: ci,
  // A retry would hide a flaky system; a failure must be looked at.
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  // The build in global setup can take minutes on a fresh machine; the suite itself takes well under one.
  globalTimeout: 15 * 60_000,
  reporter: [['list'], ['html', { open: 'never' }]],
  use: {
    browserName: 'chromium',
    headless: true,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
