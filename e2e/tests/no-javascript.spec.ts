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
  await web.uploadFile(term.name, { name, mimeType: 'image/png', buffer: png });

  // Without scripts the form submits as a page load; the gateway redirects back to the chat page with a notice.
  await expect(web.page.getByTestId('notice')).toBeVisible();
  await expect(web.upload.form).toBeVisible();
  const saved = await term.waitFor(fileSaved(web.name), 20_000);
  expect(sha256(fs.readFileSync(saved.path))).toBe(sha256(png));
});
