//! The core restarts under connected pages: they show that they are reconnecting, keep their page, recover, and
//! show no message twice. This test runs its own core-server and gateway (`--core`), so the restart does not
//! disturb the shared system the other tests use.
import { randomBytes } from 'node:crypto';
import { expect, test } from '../support/fixtures';
import { CoreServer, Gateway, startCore, startGateway } from '../support/gateway';
import { isWelcome, roomMessage } from '../support/terminal';

let core: CoreServer;
let gateway: Gateway;
const token = randomBytes(16).toString('hex');

test.beforeEach(async () => {
  core = await startCore('restart-core', token);
  gateway = await startGateway('restart-gateway', { addr: core.addr, token });
});

test.afterEach(async () => {
  await gateway?.stop();
  await core?.process.stop('SIGKILL');
});

// SIGTERM is an operator's restart (the core tells its clients and drains); SIGKILL is a crash.
for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test(`the core restarts (${signal}) under a connected page: it shows reconnecting, recovers, and shows nothing twice`, async ({
    unique,
    terminal,
    webUser,
  }) => {
    const term = await terminal(unique('term'), core.addr);
    const web = await webUser(unique('web'), gateway.httpUrl);
    const other = await webUser(unique('other'), gateway.httpUrl);
    // A mark in the page's JavaScript state: if the page were reloaded, it would be gone.
    await web.page.evaluate(() => ((window as any).__samePage = true));

    const before = unique('before the restart');
    await web.say(before);
    await term.waitFor(roomMessage(web.name, before));
    await expect(other.message(before)).toHaveCount(1);

    // Stop the core and start a new one on the same address.
    await core.process.stop(signal);
    await expect(web.connectionState).toHaveAttribute('data-state', 'reconnecting');
    await expect(web.connectionState).toHaveText(/reconnecting/i);
    const welcomesBefore = term.all(isWelcome()).length;
    core = await startCore('restart-core-2', token, core.port);

    await web.expectConnected();
    await other.expectConnected();
    expect(await web.page.evaluate(() => (window as any).__samePage)).toBe(true);

    // The terminal client rejoins on its own too; then the room works in every direction.
    await expect.poll(() => term.all(isWelcome()).length, { timeout: 20_000 }).toBeGreaterThan(welcomesBefore);
    const fromTerm = unique('after from the terminal');
    term.send(fromTerm);
    await expect(web.message(fromTerm)).toHaveCount(1);
    await expect(other.message(fromTerm)).toHaveCount(1);
    const fromWeb = unique('after from the browser');
    await web.say(fromWeb);
    await term.waitFor(roomMessage(web.name, fromWeb));
    await expect(other.message(fromWeb)).toHaveCount(1);

    // Nothing was shown twice: each text once, on both pages, after everything has arrived; no chat text appears in
    // two entries and no entry id twice.
    for (const user of [web, other]) {
      for (const text of [before, fromTerm, fromWeb]) await expect(user.message(text)).toHaveCount(1);
      const texts = await user.timeline
        .locator('[data-testid="message"][data-kind="message"] [data-testid="message-text"]')
        .allTextContents();
      expect(texts.length).toBeGreaterThanOrEqual(3);
      expect(new Set(texts).size, `a message shown twice on ${user.name}'s page: ${texts.join(' | ')}`).toBe(
        texts.length,
      );
      const seqs = await user.messages.evaluateAll((els) => els.map((el) => el.getAttribute('data-seq')));
      expect(new Set(seqs).size, `an entry shown twice on ${user.name}'s page`).toBe(seqs.length);
    }
  });
}
