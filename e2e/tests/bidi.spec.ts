//! Bidi spoofing (issue 10 item 15, the browser's half): U+202E and the other invisible format and control
//! characters in others' texts and file names are shown visibly as `<U+202E>`, so `invoice\u202egnp.exe` cannot
//! look like "invoiceexe.png".
import { expect } from '@playwright/test';
import * as path from 'node:path';
import { test } from '../support/fixtures';
import { writeTempFile } from '../support/files';

const RLO = '\u202e';

test('bidi and format characters in texts and file names are shown as <U+XXXX>, never applied', async ({
  unique,
  terminal,
  webUser,
}) => {
  const term = await terminal(unique('term'));
  const sender = await webUser(unique('sender'));
  const viewer = await webUser(unique('viewer'));

  const webTag = unique('w');
  await sender.say(`${webTag} invoice${RLO}gnp.exe zero\u200bwidth`);
  const termTag = unique('t');
  term.send(`${termTag} pay${RLO}fdp.exe isolate\u2067x\u2069`);
  const fileStem = unique('invoice');
  const filePath = writeTempFile(`${fileStem}${RLO}gnp.exe`, Buffer.from('MZ not a picture\n'));
  term.send(`/sendfile all ${filePath}`);

  const fromWeb = viewer.message(webTag).getByTestId('message-text');
  await expect(fromWeb).toHaveText(`${webTag} invoice<U+202E>gnp.exe zero<U+200B>width`);
  const fromTerm = viewer.message(termTag).getByTestId('message-text');
  await expect(fromTerm).toHaveText(`${termTag} pay<U+202E>fdp.exe isolate<U+2067>x<U+2069>`);
  const link = viewer.message(fileStem).getByTestId('file-link');
  await expect(link).toContainText(`${fileStem}<U+202E>gnp.exe`);
  expect(path.basename(filePath)).toContain(RLO);

  // Nothing invisible reaches the page's text at all.
  const shown = await viewer.timeline.innerText();
  expect(shown).not.toMatch(/[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/);
});
