//! The suite's `test`: Playwright's, plus the shared system's addresses, unique names, and factories for terminal
//! users and browser users that clean up after every test.
import { test as base, expect, Page } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { WebUser } from './browser';
import { removeTempFiles } from './files';
import { Terminal } from './terminal';

export interface System {
  /** Base URL of the shared gateway's pages. */
  httpUrl: string;
  /** `host:port` of the shared gateway's embedded core, for terminal clients. */
  coreAddr: string;
}

interface Fixtures {
  /** Runs around every test: removes the temporary source files the test wrote. */
  tempFiles: void;
  sys: System;
  /** `unique('ann')` → `ann-3f9a1c`: tests share one room, so every name and text is made unique. */
  unique: (prefix: string) => string;
  /** Spawns a terminal user (joined when the promise resolves); stopped after the test. */
  terminal: (name: string, coreAddr?: string) => Promise<Terminal>;
  /** Opens a new browser context and joins as `name` (chat page connected when it resolves); closed after. */
  webUser: (name: string, httpUrl?: string) => Promise<WebUser>;
  /** A browser context's page that has not joined yet (for the join page itself). */
  freshPage: (httpUrl?: string) => Promise<Page>;
}

export const test = base.extend<Fixtures>({
  tempFiles: [
    async ({}, use) => {
      await use();
      removeTempFiles();
    },
    { auto: true },
  ],

  sys: async ({}, use) => {
    const httpUrl = process.env.SB_HTTP_URL;
    const coreAddr = process.env.SB_CORE_ADDR;
    if (!httpUrl || !coreAddr) throw new Error('SB_HTTP_URL/SB_CORE_ADDR unset: global setup did not run');
    await use({ httpUrl, coreAddr });
  },

  unique: async ({}, use) => {
    await use((prefix) => `${prefix}-${randomBytes(3).toString('hex')}`);
  },

  terminal: async ({ sys }, use) => {
    const started: Terminal[] = [];
    await use(async (name, coreAddr) => {
      const t = await Terminal.start(name, coreAddr ?? sys.coreAddr);
      started.push(t);
      return t;
    });
    await Promise.all(started.map((t) => t.close()));
  },

  freshPage: async ({ browser, sys }, use) => {
    const contexts: Awaited<ReturnType<typeof browser.newContext>>[] = [];
    await use(async (httpUrl) => {
      // newContext() inherits the test's `use` options (javaScriptEnabled, tracing, screenshots).
      const context = await browser.newContext({ baseURL: httpUrl ?? sys.httpUrl });
      contexts.push(context);
      return await context.newPage();
    });
    await Promise.all(contexts.map((c) => c.close()));
  },

  webUser: async ({ freshPage, javaScriptEnabled }, use) => {
    await use(async (name, httpUrl) => {
      const user = new WebUser(await freshPage(httpUrl), name, javaScriptEnabled !== false);
      await user.join();
      return user;
    });
  },
});

export { expect };
