//! The upload form is a plain HTML form: it works in a browser with JavaScript disabled.
import * as fs from 'node:fs';
import { expect, test } from '../support/fixtures';
import { makePng, sha256 } from '../support/files';
import { fileSaved } from '../support/terminal';

test.use({ javaScriptEnabled: false });

test('the upload form works with JavaScript disabled', async ({ unique, terminal, webUser }) => {
  const term = await terminal(unique('term'));
  const web = await webUser(unique('nojs'));

  const png = makePng(6, 6);
  const name = `${unique('plain')}.png`;
  const response = await web.uploadFile(term.name, { name, mimeType: 'image/png', buffer: png });

  // Without scripts the form is submitted by the browser itself, as a page load; the gateway redirects back to
  // the chat page, which shows a notice.
  expect(response.request().isNavigationRequest(), 'the form submission is a page navigation').toBe(true);
  expect(response.status()).toBeGreaterThanOrEqual(300);
  expect(response.status()).toBeLessThan(400);
  await web.page.waitForURL((url) => url.pathname !== '/upload');
  await expect(web.page.getByTestId('notice')).toBeVisible();
  await expect(web.page.getByTestId('notice')).toContainText(name);
  await expect(web.upload.form).toBeVisible();
  const saved = await term.waitFor(fileSaved(web.name), 20_000);
  expect(sha256(fs.readFileSync(saved.path))).toBe(sha256(png));
});
