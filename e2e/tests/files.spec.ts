//! Files and images between browser users and terminal users: bytes compared, images decoded by the browser.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect, test } from '../support/fixtures';
import { makePng, sha256, writeTempFile } from '../support/files';
import { fileSaved } from '../support/terminal';

test('an image uploaded through the page form reaches a terminal user byte for byte and shows inline for another browser', async ({
  unique,
  terminal,
  webUser,
}) => {
  const term = await terminal(unique('term'));
  const uploader = await webUser(unique('uploader'));
  const viewer = await webUser(unique('viewer'));
  const png = makePng(5, 4);
  const name = `${unique('picture')}.png`;

  await uploader.uploadFile('room', { name, mimeType: 'image/png', buffer: png });

  const saved = await term.waitFor(fileSaved(uploader.name), 20_000);
  expect(path.dirname(saved.path)).toBe(term.downloadDir);
  expect(sha256(fs.readFileSync(saved.path))).toBe(sha256(png));

  const img = viewer.image(name);
  expect(await viewer.expectImageLoaded(img)).toBe(5);
});

test('/sendimage from the terminal shows inline in the browser; /sendfile gives a download with the same bytes', async ({
  unique,
  terminal,
  webUser,
}) => {
  const term = await terminal(unique('term'));
  const web = await webUser(unique('web'));

  const pngPath = writeTempFile(`${unique('snap')}.png`, makePng(7, 3));
  term.send(`/sendimage ${web.name} ${pngPath}`);
  const img = web.image(path.basename(pngPath));
  expect(await web.expectImageLoaded(img)).toBe(7);

  const bytes = randomBytes(300_000); // several protocol chunks
  const filePath = writeTempFile(`${unique('notes')}.bin`, bytes);
  term.send(`/sendfile ${web.name} ${filePath}`);
  const link = web.fileLink(path.basename(filePath));
  await expect(link).toBeVisible();
  const [download] = await Promise.all([web.page.waitForEvent('download'), link.click()]);
  expect(download.suggestedFilename()).toBe(path.basename(filePath));
  const got = fs.readFileSync(await download.path());
  expect(got.length).toBe(bytes.length);
  expect(sha256(got)).toBe(sha256(bytes));
});
