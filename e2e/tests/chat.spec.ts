//! Room messages, private messages and history between browser users and terminal users.
import { expect, test } from '../support/fixtures';
import { mentioning, privateMessage, roomMessage, usersListing } from '../support/terminal';

test('a browser user and a terminal user exchange room messages both ways and see each other listed', async ({
  unique,
  terminal,
  webUser,
}) => {
  const term = await terminal(unique('term'));
  const web = await webUser(unique('web'));

  // Each sees the other in its user list, with the right kind.
  await expect(web.user(term.name)).toBeVisible();
  await expect(web.user(term.name)).toHaveAttribute('data-kind', 'terminal');
  await expect(web.user(web.name)).toHaveAttribute('data-kind', 'web');
  term.send('/users');
  await term.waitFor(usersListing(web.name, 'web'));

  // Browser -> terminal.
  const fromWeb = unique('hello from the browser');
  await web.say(fromWeb);
  await term.waitFor(roomMessage(web.name, fromWeb));
  await expect(web.message(fromWeb)).toHaveCount(1);

  // Terminal -> browser, with the sender's name on the page.
  const fromTerm = unique('hello from the terminal');
  term.send(fromTerm);
  await expect(web.message(fromTerm)).toHaveCount(1);
  await expect(web.message(fromTerm).getByTestId('message-from')).toContainText(term.name);

  // The user list follows a leave.
  expect(await term.quit()).toBe(0);
  await expect(web.user(term.name)).toHaveCount(0);
});

test('a private message reaches only its recipient, browser to terminal and terminal to browser', async ({
  unique,
  terminal,
  webUser,
}) => {
  const term = await terminal(unique('term'));
  const bystanderTerm = await terminal(unique('other'));
  const web = await webUser(unique('web'));
  const thirdWeb = await webUser(unique('third'));

  // Browser -> terminal, with the same command as in the terminal.
  const toTerm = unique('psst terminal');
  await web.say(`/private ${term.name} ${toTerm}`);
  await term.waitFor(privateMessage(web.name, toTerm));
  await expect(web.message(toTerm), 'sender sees its own private message').toHaveCount(1);
  await expect(web.message(toTerm)).toHaveAttribute('data-private', 'true');

  // Terminal -> browser.
  const toWeb = unique('psst browser');
  term.send(`/private ${web.name} ${toWeb}`);
  await expect(web.message(toWeb)).toHaveCount(1);
  await expect(web.message(toWeb)).toHaveAttribute('data-private', 'true');
  await expect(web.message(toWeb).getByTestId('message-from')).toContainText(term.name);

  // A room message sent after both private ones is a barrier: once the others have it, they would already have
  // had the private messages, which the core handled first.
  const barrier = unique('barrier');
  term.send(barrier);
  await expect(thirdWeb.message(barrier)).toHaveCount(1);
  await bystanderTerm.waitFor(roomMessage(term.name, barrier));
  await expect(thirdWeb.page.locator('body')).not.toContainText(toTerm);
  await expect(thirdWeb.page.locator('body')).not.toContainText(toWeb);
  expect(bystanderTerm.all(mentioning(toTerm))).toEqual([]);
  expect(bystanderTerm.all(mentioning(toWeb))).toEqual([]);
});

test('history: a browser that joins late sees the earlier room messages in order', async ({
  unique,
  terminal,
  webUser,
}) => {
  const term = await terminal(unique('term'));
  const early = await webUser(unique('early'));
  const first = unique('first of history');
  const second = unique('second of history');
  const third = unique('third of history');
  term.send(first);
  await term.waitFor(roomMessage(term.name, first));
  await early.say(second);
  await term.waitFor(roomMessage(early.name, second));
  term.send(third);
  await term.waitFor(roomMessage(term.name, third));

  const late = await webUser(unique('late'));
  for (const text of [first, second, third]) await expect(late.message(text)).toHaveCount(1);
  const texts = await late.messages.allTextContents();
  const at = (t: string) => texts.findIndex((x) => x.includes(t));
  expect(at(first)).toBeLessThan(at(second));
  expect(at(second)).toBeLessThan(at(third));
  await expect(late.message(second).getByTestId('message-from')).toContainText(early.name);
  for (const text of [first, second, third]) await expect(late.message(text)).toHaveAttribute('data-history', 'true');
});
