//! A browser user: a Playwright page on the gateway's pages, driven through the `data-testid` hooks the templates
//! list at their top (templates/join.html, templates/chat.html). Every selector lives here, so a template change
//! is one edit.
import { expect, Locator, Page, Response } from '@playwright/test';

/** The join page's hooks. */
export const joinPage = {
  name: (page: Page) => page.getByTestId('join-name'),
  submit: (page: Page) => page.getByTestId('join-submit'),
  error: (page: Page) => page.getByTestId('join-error'),
};

export class WebUser {
  constructor(
    readonly page: Page,
    readonly name: string,
    /** False in a context without JavaScript: the page then has no live connection to wait for. */
    readonly scripts = true,
  ) {}

  /** Opens the join page, joins as `this.name`, and waits for the chat page. */
  async join(): Promise<void> {
    await this.page.goto('/');
    await joinPage.name(this.page).fill(this.name);
    await joinPage.submit(this.page).click();
    await expect(this.messageInput, `chat page for ${this.name}`).toBeVisible();
    if (this.scripts) await this.expectConnected();
  }

  get messageInput(): Locator {
    return this.page.getByTestId('message-input');
  }

  get connectionState(): Locator {
    return this.page.getByTestId('connection-state');
  }

  async expectConnected(): Promise<void> {
    await expect(this.connectionState).toHaveAttribute('data-state', 'connected');
  }

  /** Types a line into the message box and sends it (plain text, or a command like `/private bob hi`). */
  async say(text: string): Promise<void> {
    await this.messageInput.fill(text);
    await this.messageInput.press('Enter');
  }

  /** Every message entry on the page. */
  get messages(): Locator {
    return this.page.getByTestId('message');
  }

  /** Message entries whose text contains `text`. */
  message(text: string): Locator {
    return this.messages.filter({ hasText: text });
  }

  /** The timeline (every message, file and join/leave entry). */
  get timeline(): Locator {
    return this.page.getByTestId('message-list');
  }

  /** The entry for `name` in the user list (`data-kind` is `terminal` or `web`). */
  user(name: string): Locator {
    return this.page.getByTestId('user-list').locator(`[data-testid="user"][data-name="${name}"]`);
  }

  /** The upload form's parts. */
  get upload() {
    const form = this.page.getByTestId('upload-form');
    return {
      form,
      file: form.getByTestId('upload-file'),
      to: form.getByTestId('upload-to'),
      submit: form.getByTestId('upload-submit'),
    };
  }

  /**
   * Sends a file through the page's HTML upload form to `to` (a user name, or `room`) and returns the response to
   * the form's POST (a page navigation without JavaScript, a script's request with it).
   */
  async uploadFile(to: string, file: string | { name: string; mimeType: string; buffer: Buffer }): Promise<Response> {
    const { file: input, to: recipient, submit } = this.upload;
    await recipient.selectOption(to);
    await input.setInputFiles(file);
    const [response] = await Promise.all([
      this.page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/upload'),
      submit.click(),
    ]);
    return response;
  }

  /** The inline image in the entry announcing file `name`. */
  image(name: string): Locator {
    return this.message(name).getByTestId('inline-image');
  }

  /** The download link in the entry announcing file `name`. */
  fileLink(name: string): Locator {
    return this.message(name).getByTestId('file-link');
  }

  /** Waits until `img` has loaded and decoded (naturalWidth > 0) and returns its natural width. */
  async expectImageLoaded(img: Locator): Promise<number> {
    await expect(img).toBeVisible();
    await expect
      .poll(() => img.evaluate((el: HTMLImageElement) => (el.complete ? el.naturalWidth : 0)), {
        message: 'image decoded (naturalWidth > 0)',
      })
      .toBeGreaterThan(0);
    return await img.evaluate((el: HTMLImageElement) => el.naturalWidth);
  }
}
