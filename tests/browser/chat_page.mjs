#!/usr/bin/env node
// Drives the chat page in Debian's Chromium (through playwright-core, which never
// downloads a browser): sends one message, waits for match cards, reloads the page
// and checks the conversation is still there, then screenshots desktop and phone.
//
// Environment:
//   PAGE_URL       the chat page (required), e.g. http://127.0.0.1:8080/
//   MESSAGE        what to send (default: the ceramic kilns need below)
//   TIMEOUT_S      seconds to wait for the page and for the match cards (default 60)
//   OUT_DIR        where the screenshots go (default: a new temporary directory)
//   CHROMIUM_PATH  the browser (default /usr/bin/chromium)
//   WEB_DIR        directory whose node_modules holds playwright-core (default bot/web)
//
// Exit code 0 on success; 1 with a "FAIL: ..." line on stderr otherwise.

import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;

const PAGE_URL = env.PAGE_URL || "";
const MESSAGE = env.MESSAGE || "We need a technology to reduce the energy consumption of our ceramic kilns in Jiangsu";
const TIMEOUT_MS = Math.round(1000 * (Number(env.TIMEOUT_S) > 0 ? Number(env.TIMEOUT_S) : 60));
const CHROMIUM_PATH = env.CHROMIUM_PATH || "/usr/bin/chromium";
const WEB_DIR = env.WEB_DIR || path.resolve(here, "..", "..", "bot", "web");
const OUT_DIR = env.OUT_DIR || mkdtempSync(path.join(tmpdir(), "chat-page-shots-"));

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

// The widget's bundled CSS @imports a web font from a CDN; the page's CSP blocks it
// on purpose (no internet at run time), so that one refusal is expected.
const EXPECTED_CSP_REFUSAL = /fonts\.googleapis\.com/;

class Failure extends Error {}

function log(text) {
  process.stdout.write(`chat_page: ${text}\n`);
}

function loadPlaywright() {
  const require = createRequire(path.join(WEB_DIR, "package.json"));
  try {
    return require("playwright-core");
  } catch (err) {
    throw new Failure(`playwright-core not found under ${WEB_DIR}/node_modules (run 'npm ci' there): ${err.message}`);
  }
}

async function shot(page, name) {
  const file = path.join(OUT_DIR, name);
  await page.screenshot({ path: file, fullPage: false });
  log(`screenshot ${file}`);
  return file;
}

async function conversation(page) {
  return page.evaluate(() => {
    const texts = (sel) => Array.from(document.querySelectorAll(sel), (el) => el.innerText.trim()).filter(Boolean);
    return {
      user: texts(".rw-client"),
      bot: texts(".rw-response"),
      cards: texts(".rw-carousel-card .rw-carousel-card-title"),
      cardButtons: document.querySelectorAll(".rw-carousel-card .rw-carousel-buttons-container .rw-reply").length,
      quickReplies: texts(".rw-replies .rw-reply"),
    };
  });
}

async function checkLayout(page, label, viewport) {
  const box = await page.evaluate(() => {
    const rect = (sel) => {
      const el = document.querySelector(sel);
      if (!el) return null;
      const r = el.getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height };
    };
    return {
      scrollWidth: document.documentElement.scrollWidth,
      title: rect("h1"),
      input: rect(".rw-new-message"),
      messages: rect(".rw-messages-container"),
    };
  });
  const problems = [];
  if (box.scrollWidth > viewport.width + 1) problems.push(`page is wider than the viewport (${box.scrollWidth}px)`);
  if (!box.title || box.title.height === 0) problems.push("platform name not shown");
  if (!box.input) problems.push("message input missing");
  else if (box.input.bottom > viewport.height + 1 || box.input.top < 0) problems.push("message input outside the viewport");
  if (!box.messages || box.messages.height < 120) problems.push("message area missing or too small");
  if (problems.length) throw new Failure(`${label} layout: ${problems.join("; ")}`);
}

function firstLine(err) {
  return String((err && err.message) || err).split("\n")[0];
}

// The widget is shown, and connected: its input stays disabled until the socket.io
// server confirms the session.
async function waitForChat(page, what) {
  try {
    await page.waitForSelector(".rw-new-message", { state: "visible", timeout: TIMEOUT_MS });
  } catch {
    const notice = await page.locator(".notice").allInnerTexts().catch(() => []);
    throw new Failure(`${what}: chat widget did not appear within ${TIMEOUT_MS / 1000} s ${JSON.stringify(notice)}`);
  }
  try {
    await page.waitForSelector(".rw-new-message:not([disabled])", { state: "visible", timeout: TIMEOUT_MS });
  } catch {
    const status = await page.locator("#status").innerText().catch(() => "?");
    const config = await page.evaluate(() => JSON.stringify(window.MATCHMAKER_CONFIG || null)).catch(() => "?");
    throw new Failure(`${what}: the chat did not connect to its socket.io server within ${TIMEOUT_MS / 1000} s ` +
      `(status "${status}", config ${config})`);
  }
}

async function waitForCards(page, timeout, what) {
  try {
    await page.waitForSelector(".rw-carousel-card .rw-carousel-card-title", { state: "attached", timeout });
  } catch {
    const seen = await conversation(page).catch(() => null);
    throw new Failure(`${what}: no match cards (carousel elements) within ${timeout / 1000} s; ` +
      `conversation shown: ${JSON.stringify(seen)}`);
  }
}

async function run() {
  if (!PAGE_URL) throw new Failure("PAGE_URL is not set");
  mkdirSync(OUT_DIR, { recursive: true });
  const { chromium } = loadPlaywright();
  const profile = mkdtempSync(path.join(tmpdir(), "chat-page-profile-"));
  const problems = [];
  let context;
  let page;
  try {
    try {
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: DESKTOP,
        locale: "en-US",
        timeout: TIMEOUT_MS,
      });
    } catch (err) {
      throw new Failure(`cannot start Chromium at ${CHROMIUM_PATH}: ${firstLine(err)}`);
    }
    page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => {
      const text = msg.text();
      if (msg.type() === "error" && /Content Security Policy/i.test(text) && !EXPECTED_CSP_REFUSAL.test(text)) {
        problems.push(`CSP refusal: ${text}`);
      }
    });

    log(`opening ${PAGE_URL}`);
    let response;
    try {
      response = await page.goto(PAGE_URL, { waitUntil: "load", timeout: TIMEOUT_MS });
    } catch (err) {
      throw new Failure(`cannot open ${PAGE_URL}: ${firstLine(err)}`);
    }
    if (!response || !response.ok()) throw new Failure(`page answered ${response ? response.status() : "nothing"}`);
    await waitForChat(page, "on first load");
    await checkLayout(page, "desktop", DESKTOP);
    // A new conversation may open with a greeting; let it arrive before typing.
    await page.waitForSelector(".rw-response", { timeout: Math.min(TIMEOUT_MS, 10_000) }).catch(() => {});
    await page.waitForTimeout(1500);

    log(`sending: ${MESSAGE}`);
    await page.fill(".rw-new-message", MESSAGE);
    await page.click(".rw-send");
    try {
      await page.locator(".rw-client", { hasText: MESSAGE.slice(0, 40) }).first().waitFor({ timeout: 10_000 });
    } catch {
      throw new Failure("the sent message is not shown in the conversation");
    }
    await waitForCards(page, TIMEOUT_MS, "after sending");
    // Let the messages that follow the cards (e.g. quick replies) arrive.
    await page.waitForTimeout(2500);
    const before = await conversation(page);
    log(`cards: ${before.cards.length} (${before.cardButtons} buttons), bot messages: ${before.bot.length}, ` +
      `quick replies: ${before.quickReplies.length}`);
    if (before.cardButtons === 0) problems.push("match cards have no buttons");
    await shot(page, "desktop.png");

    log("reloading");
    await page.reload({ waitUntil: "load", timeout: TIMEOUT_MS });
    await waitForChat(page, "after reload");
    await waitForCards(page, Math.min(TIMEOUT_MS, 15_000), "after reload");
    const after = await conversation(page);
    if (!after.user.some((t) => t.includes(MESSAGE.slice(0, 40)))) {
      throw new Failure(`after reload the sent message is gone; shown: ${JSON.stringify(after)}`);
    }
    if (after.cards.length < before.cards.length) {
      throw new Failure(`after reload ${after.cards.length} cards are shown, ${before.cards.length} before`);
    }
    await checkLayout(page, "desktop (reloaded)", DESKTOP);
    await shot(page, "desktop_reloaded.png");

    await page.setViewportSize(PHONE);
    await page.waitForTimeout(500);
    await checkLayout(page, "phone", PHONE);
    await page.evaluate(() => {
      const box = document.querySelector(".rw-messages-container");
      const card = document.querySelector(".rw-carousel-card");
      if (box && card) box.scrollTop = Math.max(0, card.offsetTop - 80);
    });
    await shot(page, "phone.png");

    if (problems.length) throw new Failure(problems.join("\n  "));
    log(`OK: ${after.cards.length} match cards shown and kept across a reload; screenshots in ${OUT_DIR}`);
  } catch (err) {
    if (page && !page.isClosed()) await shot(page, "failure.png").catch(() => {});
    throw err;
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

run().then(
  () => process.exit(0),
  (err) => {
    const text = err instanceof Failure ? err.message : firstLine(err);
    process.stderr.write(`FAIL: ${text}\n`);
    process.exit(1);
  },
);
