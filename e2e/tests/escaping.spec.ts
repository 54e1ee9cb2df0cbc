//! Text from others is rendered as text: HTML and script in messages and file names show literally, run nothing.
import { expect, Page } from '@playwright/test';
import { test } from '../support/fixtures';

/** Payloads that would run code or add elements if they were ever inserted as HTML. */
const messagePayload = (n: number) =>
  `<img src=x onerror="window.__xss=${n}"><script>window.__xss=${n + 1}</script><b>bold</b>`;
// No `"` in the file name: Chromium itself sends it as `%22` in the multipart header (HTML spec), so the page
// would rightly show `%22`.
const fileNamePayload = '<img src=x onerror=window.__xss=9>.txt';

/** Records dialogs (alert, confirm) so the test can assert none opened. */
function watchDialogs(page: Page): string[] {
  const opened: string[] = [];
  page.on('dialog', async (d) => {
    opened.push(d.message());
    await d.dismiss();
  });
  return opened;
}

test('HTML and script in a message and in a file name are shown as text and run nothing', async ({
  unique,
  terminal,
  webUser,
}) => {
  const term = await terminal(unique('term'));
  const sender = await webUser(unique('sender'));
  const viewer = await webUser(unique('viewer'));
  const dialogs = watchDialogs(viewer.page);

  const fromTerm = `${unique('t')} ${messagePayload(1)}`;
  term.send(fromTerm);
  const fromWeb = `${unique('w')} ${messagePayload(3)} <svg onload="alert(5)"></svg>`;
  await sender.say(fromWeb);
  await sender.uploadFile('room', { name: fileNamePayload, mimeType: 'text/plain', buffer: Buffer.from('hello\n') });

  await expect(viewer.message(fromTerm)).toHaveCount(1);
  await expect(viewer.message(fromWeb)).toHaveCount(1);
  await expect(viewer.message(fileNamePayload)).toHaveCount(1);

  // Shown literally, and no element of the payloads exists anywhere in the page.
  const messages = viewer.timeline;
  await expect(messages.locator('img[src="x"], script, svg[onload]')).toHaveCount(0);
  await expect(messages.locator('b', { hasText: 'bold' })).toHaveCount(0);
  expect(await viewer.page.evaluate(() => (window as any).__xss)).toBeUndefined();
  expect(dialogs).toEqual([]);
});
