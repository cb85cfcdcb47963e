// What the multi-tab browser tests share: loading playwright-core, reading the bot's messages
// in a rasa-webchat page, typing, clicking a button, failing with a readable message.

import { createRequire } from "node:module";
import path from "node:path";

export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
export const PHONE = { width: 390, height: 844 };

export class Failure extends Error {}

export function loadPlaywright(webDir) {
  const require = createRequire(path.join(webDir, "package.json"));
  return require("playwright-core");
}

export async function botTexts(page) {
  return page.evaluate(() => Array.from(document.querySelectorAll(".rw-response"), (el) => el.innerText.trim()));
}

// Steps bound to one timeout: wait for a bot message, type a message, click a reply button.
export function chatSteps(timeoutMs) {
  async function waitForBot(page, pattern, what) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = (await botTexts(page)).find((text) => pattern.test(text));
      if (found) return found;
      await page.waitForTimeout(250);
    }
    throw new Failure(`${what}: no bot message matching ${pattern} within ${timeoutMs / 1000} s; ` +
      `last ones: ${JSON.stringify((await botTexts(page)).slice(-4))}`);
  }

  async function say(page, text, echoed = 20) {
    await page.fill(".rw-new-message", text);
    await page.click(".rw-send");
    await page.locator(".rw-client", { hasText: text.slice(0, echoed) }).last().waitFor({ timeout: 10_000 });
  }

  async function click(page, title, what) {
    const button = page.locator(".rw-reply", { hasText: title }).last();
    try {
      await button.waitFor({ state: "visible", timeout: timeoutMs });
    } catch {
      const shown = await page.locator(".rw-reply").allInnerTexts().catch(() => []);
      throw new Failure(`${what}: no button "${title}" (buttons shown: ${JSON.stringify(shown.slice(-8))})`);
    }
    await button.click();
  }

  return { waitForBot, say, click };
}
