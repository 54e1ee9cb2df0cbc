//! The join page: one namespace of names across terminal and web users.
import { expect, test } from '../support/fixtures';
import { joinPage } from '../support/browser';

test('a name a terminal user holds is refused on the join page with a clear message', async ({
  unique,
  terminal,
  freshPage,
}) => {
  const term = await terminal(unique('Holder'));
  const page = await freshPage();
  await page.goto('/');

  // Same name, other case: names are unique case-insensitively.
  await joinPage.name(page).fill(term.name.toLowerCase());
  await joinPage.submit(page).click();
  await expect(joinPage.error(page)).toBeVisible();
  await expect(joinPage.error(page)).toContainText(/taken|in use|already/i);
  await expect(joinPage.error(page)).toContainText(term.name.toLowerCase());
  await expect(page.getByTestId('message-input')).toHaveCount(0);

  // The page stays usable: another name joins.
  await joinPage.name(page).fill(unique('free'));
  await joinPage.submit(page).click();
  await expect(page.getByTestId('message-input')).toBeVisible();
});
