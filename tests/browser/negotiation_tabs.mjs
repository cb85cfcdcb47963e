#!/usr/bin/env node
// Two browser tabs negotiate on the chat page in Debian's Chromium (playwright-core): an
// anonymous enterprise (tab A) contacts a listing; its owner (tab B) signs in with a code
// and is pushed the request; both confirm the NDA with the buttons, A writes a message that
// is pushed into B's open page, B proposes terms, A accepts them and both rate the deal.
//
// Environment:
//   PAGE_URL       the chat page (required)
//   QUERY          what tab A searches for (a title of the owner's listing)
//   CODE           the owner's one-time sign-in code (required)
//   TIMEOUT_S      seconds to wait for each step (default 60)
//   OUT_DIR        where the screenshots go
//   CHROMIUM_PATH  the browser (default /usr/bin/chromium)
//   WEB_DIR        directory whose node_modules holds playwright-core (default bot/web)
//
// Exit code 0 on success; 1 with a "FAIL: ..." line on stderr otherwise.

import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { CHROMIUM_ARGS, Failure, PHONE, chatSteps, loadPlaywright } from "./chat_tabs.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const PAGE_URL = env.PAGE_URL || "";
const QUERY = env.QUERY || "";
const CODE = env.CODE || "";
const TIMEOUT_MS = Math.round(1000 * (Number(env.TIMEOUT_S) > 0 ? Number(env.TIMEOUT_S) : 60));
const CHROMIUM_PATH = env.CHROMIUM_PATH || "/usr/bin/chromium";
const WEB_DIR = env.WEB_DIR || path.resolve(here, "..", "..", "bot", "web");
const OUT_DIR = env.OUT_DIR || mkdtempSync(path.join(tmpdir(), "negotiation-shots-"));

const { waitForBot, say: typed, click } = chatSteps(TIMEOUT_MS);

function log(text) {
  process.stdout.write(`negotiation_tabs: ${text}\n`);
}

async function say(page, text) {
  await typed(page, text, 30);
}

async function openTab(browser, name) {
  const context = await browser.newContext({ viewport: PHONE, locale: "en-US" });
  const page = await context.newPage();
  page.on("pageerror", (err) => log(`${name} page error: ${err.message}`));
  const response = await page.goto(PAGE_URL, { waitUntil: "load", timeout: TIMEOUT_MS });
  if (!response || !response.ok()) throw new Failure(`${name}: page answered ${response ? response.status() : "nothing"}`);
  await page.waitForSelector(".rw-new-message:not([disabled])", { state: "visible", timeout: TIMEOUT_MS });
  await page.waitForTimeout(1500);
  return { context, page };
}

async function run() {
  if (!PAGE_URL || !CODE || !QUERY) throw new Failure("PAGE_URL, QUERY and CODE must be set");
  mkdirSync(OUT_DIR, { recursive: true });
  const { chromium } = loadPlaywright(WEB_DIR);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
  const tabs = [];
  try {
    const a = await openTab(browser, "tab A");
    const b = await openTab(browser, "tab B");
    tabs.push(a, b);

    log("A searches and contacts the first match");
    await say(a.page, `We are looking for research on this: ${QUERY}`);
    await a.page.waitForSelector(".rw-carousel-card", { state: "attached", timeout: TIMEOUT_MS });
    await a.page.locator(".rw-carousel-card").first().locator(".rw-reply", { hasText: "Contact" }).first().click();
    const opened = await waitForBot(a.page, /Negotiation thread #(\d+) opened/, "contact");
    const thread = opened.match(/thread #(\d+)/)[1];
    log(`thread #${thread}`);

    log("B signs in and is pushed the request");
    await say(b.page, `login ${CODE}`);
    await waitForBot(b.page, /Signed in/, "login");
    await waitForBot(b.page, new RegExp(`New contact request in thread #${thread}`), "request pushed to B");
    await click(b.page, `Accept #${thread}`, "B accepts");
    await waitForBot(b.page, /standard NDA \(version/, "NDA shown to B");

    log("A is pushed the acceptance; both confirm the NDA");
    await waitForBot(a.page, new RegExp(`request in thread #${thread} was accepted`), "acceptance pushed to A");
    await click(a.page, `I agree to the NDA #${thread}`, "A confirms the NDA");
    await waitForBot(a.page, /Waiting for the other party/, "A waits for B");
    await click(b.page, `I agree to the NDA #${thread}`, "B confirms the NDA");
    await waitForBot(b.page, new RegExp(`Thread #${thread} is open`), "B sees the thread open");
    await waitForBot(a.page, new RegExp(`Thread #${thread} is open`), "disclosure pushed to A");

    log("A writes; the message is pushed into B's page");
    await say(a.page, `open thread ${thread}`);
    await waitForBot(a.page, new RegExp(`You are in thread #${thread}`), "A enters");
    await say(a.page, "Hello from tab A, can you share the pilot data?");
    await waitForBot(a.page, /Sent to the other party/, "A's message stored");
    await waitForBot(b.page, /Hello from tab A, can you share the pilot data\?/, "message pushed to B");

    log("B proposes terms; A accepts; both rate");
    await say(b.page, `open thread ${thread}`);
    await waitForBot(b.page, new RegExp(`You are in thread #${thread}`), "B enters");
    await say(b.page, "propose licence 500000 yuan 12 months milestones: prototype; pilot line");
    await waitForBot(b.page, /Proposal sent/, "B's proposal stored");
    await waitForBot(a.page, /Proposal in thread/, "proposal pushed to A");
    await click(a.page, "Accept proposal", "A accepts the proposal");
    await waitForBot(a.page, /Deal agreed/, "A sees the deal");
    await click(a.page, "★★★★★", "A rates");
    await waitForBot(a.page, /rating \(5★\)/, "A's rating recorded");
    await waitForBot(b.page, /Deal agreed/, "deal pushed to B");
    await click(b.page, "★★★★", "B rates");
    await waitForBot(b.page, /rating \(4★\)/, "B's rating recorded");

    await a.page.screenshot({ path: path.join(OUT_DIR, "tab_a.png") });
    await b.page.screenshot({ path: path.join(OUT_DIR, "tab_b.png") });
    log(`OK: thread #${thread} from contact to a rated deal across two tabs; screenshots in ${OUT_DIR}`);
  } catch (err) {
    for (const [index, tab] of tabs.entries()) {
      await tab.page.screenshot({ path: path.join(OUT_DIR, `failure_${index}.png`) }).catch(() => {});
    }
    throw err;
  } finally {
    for (const tab of tabs) await tab.context.close().catch(() => {});
    await browser.close().catch(() => {});
  }
}

run().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`FAIL: ${err instanceof Failure ? err.message : String(err && err.stack || err)}\n`);
    process.exit(1);
  },
);
