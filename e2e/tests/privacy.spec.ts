//! What is meant for one person never reaches more people than chosen: when the chosen recipient leaves, the page
//! refuses to send and says why, instead of falling back to the whole room.
import { expect, test } from '../support/fixtures';
import { mentioning, roomMessage } from '../support/terminal';

test('writing privately to someone who left is refused, never sent to the room, even when the name comes back', async ({
  unique,
  terminal,
  webUser,
}) => {
  const carolName = unique('carol');
  const carol = await terminal(carolName);
  const bystander = await terminal(unique('bystander'));
  const web = await webUser(unique('web'));
  const watcher = await webUser(unique('watcher'));

  await web.user(carol.name).click();
  await expect(web.page.getByTestId('private-target')).toBeVisible();
  await expect(web.page.getByTestId('private-gone')).toBeHidden();

  expect(await carol.quit()).toBe(0);
  await expect(web.user(carol.name)).toHaveCount(0);
  // Still writing privately to carol, marked gone: never silently back to the room.
  await expect(web.page.getByTestId('private-target')).toBeVisible();
  await expect(web.page.getByTestId('private-gone')).toBeVisible();

  const secret = unique('for carol only');
  await web.say(secret);
  await expect(web.page.getByTestId('notice')).toContainText('left the room');
  await expect(web.messageInput, 'the text is kept for the user to decide').toHaveValue(secret);

  // Someone else takes the name: still refused (it may not be the same person).
  const impostor = await terminal(carolName);
  await expect(web.user(carolName)).toBeVisible();
  await web.messageInput.press('Enter');
  await expect(web.page.getByTestId('private-gone')).toBeVisible();
  await expect(web.messageInput).toHaveValue(secret);

  // A room message after the refused sends is a barrier: had anything been sent, the others would have it first.
  const barrier = unique('barrier');
  bystander.send(barrier);
  await expect(watcher.message(barrier)).toHaveCount(1);
  await expect(web.message(barrier)).toHaveCount(1);
  await impostor.waitFor(roomMessage(bystander.name, barrier));
  for (const page of [web.page, watcher.page]) await expect(page.getByTestId('message-list')).not.toContainText(secret);
  expect(bystander.all(mentioning(secret))).toEqual([]);
  expect(impostor.all(mentioning(secret))).toEqual([]);

  // Choosing again is explicit: back to the room sends to the room.
  await web.page.getByTestId('private-cancel').click();
  await expect(web.page.getByTestId('private-target')).toBeHidden();
});

test('a file for someone who left is refused and stays addressed to them, never switched to the room', async ({
  unique,
  terminal,
  webUser,
}) => {
  const bob = await terminal(unique('bob'));
  const bystander = await terminal(unique('bystander'));
  const web = await webUser(unique('web'));
  const uploads: string[] = [];
  web.page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/upload') uploads.push(r.method());
  });

  const { file, to, submit } = web.upload;
  await to.selectOption(bob.name);
  expect(await bob.quit()).toBe(0);
  await expect(web.user(bob.name)).toHaveCount(0);
  await expect(to, 'the recipient stays bob').toHaveValue(bob.name);
  await expect(to.locator('option:checked')).toContainText('left');

  const name = `${unique('for-bob')}.txt`;
  await file.setInputFiles({ name, mimeType: 'text/plain', buffer: Buffer.from('only for bob') });
  await submit.click();
  await expect(web.page.getByTestId('notice')).toContainText('left the room');

  const barrier = unique('barrier');
  bystander.send(barrier);
  await expect(web.message(barrier)).toHaveCount(1);
  expect(uploads, 'no upload was attempted').toEqual([]);
  expect(bystander.all(mentioning(name))).toEqual([]);
  await expect(web.page.getByTestId('message-list')).not.toContainText(name);
});
