#!/usr/bin/env node
// Drives the operator's statistics page (/admin/stats) in Debian's Chromium (through
// playwright-core, which never downloads a browser): a wrong token shows an error, the
// right one draws the three charts, the language switch shows Chinese labels, a filter
// changes the figures, the CSV downloads, and a reload keeps the token of the tab.
//
// Environment:
//   PAGE_URL        the page server (required), e.g. http://127.0.0.1:8080/
//   TOKEN           the operator token (required)
//   EXPECT          JSON: {"en": {figure id: text}, "zh_label": text, "filter": {"field": code,
//                   "figures": {figure id: text}}} (required)
//   TIMEOUT_S       seconds to wait for each step (default 30)
//   OUT_DIR         where the screenshots go (default: a new temporary directory)
//   CHROMIUM_PATH   the browser (default /usr/bin/chromium)
//   WEB_DIR         directory whose node_modules holds playwright-core (default bot/web)
//
// Exit code 0 on success; 1 with a "FAIL: ..." line on stderr otherwise.

import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;

const PAGE_URL = env.PAGE_URL || "";
const TOKEN = env.TOKEN || "";
const EXPECT = JSON.parse(env.EXPECT || "null");
const TIMEOUT_MS = Math.round(1000 * (Number(env.TIMEOUT_S) > 0 ? Number(env.TIMEOUT_S) : 30));
const CHROMIUM_PATH = env.CHROMIUM_PATH || "/usr/bin/chromium";
const WEB_DIR = env.WEB_DIR || path.resolve(here, "..", "..", "bot", "web");
const OUT_DIR = env.OUT_DIR || mkdtempSync(path.join(tmpdir(), "stats-page-shots-"));

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
const CHARTS = ["chart-fields", "chart-regions", "chart-funnel"];

class Failure extends Error {}

function log(text) {
  process.stdout.write(`stats_page: ${text}\n`);
}

function firstLine(err) {
  return String((err && err.message) || err).split("\n")[0];
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
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${file}`);
}

async function waitLoaded(page, what, lang) {
  const selector = lang ? `body[data-loaded="1"][data-lang="${lang}"]` : 'body[data-loaded="1"]';
  try {
    await page.waitForSelector(selector, { state: "attached", timeout: TIMEOUT_MS });
  } catch {
    const error = await page.locator("#error").innerText().catch(() => "?");
    throw new Failure(`${what}: the charts were not drawn within ${TIMEOUT_MS / 1000} s (error shown: "${error}")`);
  }
}

async function checkCharts(page, what) {
  for (const id of CHARTS) {
    const drawn = await page.locator(`#${id} canvas, #${id} svg`).count();
    if (drawn === 0) throw new Failure(`${what}: #${id} holds no canvas or svg`);
    const box = await page.locator(`#${id}`).boundingBox();
    if (!box || box.width < 100 || box.height < 100) throw new Failure(`${what}: #${id} is too small (${JSON.stringify(box)})`);
  }
}

async function checkFigures(page, expected, what) {
  for (const [id, text] of Object.entries(expected)) {
    const shown = (await page.locator(`#${id}`).innerText()).trim();
    if (shown !== text) throw new Failure(`${what}: #${id} shows "${shown}", expected "${text}"`);
  }
}

async function signInWrong(page) {
  await page.waitForSelector("#login", { state: "visible", timeout: TIMEOUT_MS });
  await page.fill("#token", `${TOKEN}-wrong`);
  await page.click("#sign-in");
  try {
    await page.waitForSelector("#error:not([hidden])", { state: "visible", timeout: TIMEOUT_MS });
  } catch {
    throw new Failure("a wrong token shows no error");
  }
  const error = (await page.locator("#error").innerText()).trim();
  if (!/token is missing or wrong/.test(error)) throw new Failure(`a wrong token shows "${error}"`);
  if (!(await page.locator("#login").isVisible())) throw new Failure("after a wrong token the sign-in form is gone");
  log(`wrong token: "${error}"`);
}

async function checkDownload(page) {
  const [download] = await Promise.all([
    page.waitForEvent("download", { timeout: TIMEOUT_MS }),
    page.click("#download"),
  ]);
  const name = download.suggestedFilename();
  if (name !== "platform-stats.csv") throw new Failure(`the CSV is offered as "${name}"`);
  const file = await download.path();
  const text = readFileSync(file, "utf-8");
  if (!text.startsWith("section,key,metric,value\r\n")) throw new Failure(`the CSV starts with ${JSON.stringify(text.slice(0, 60))}`);
  log(`CSV downloaded: ${text.split("\r\n").length - 2} rows`);
}

async function run() {
  if (!PAGE_URL || !TOKEN || !EXPECT) throw new Failure("PAGE_URL, TOKEN and EXPECT must be set");
  mkdirSync(OUT_DIR, { recursive: true });
  const { chromium } = loadPlaywright();
  const profile = mkdtempSync(path.join(tmpdir(), "stats-page-profile-"));
  const problems = [];
  let context;
  let page;
  try {
    try {
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1280, height: 900 },
        locale: "en-US",
        acceptDownloads: true,
        timeout: TIMEOUT_MS,
      });
    } catch (err) {
      throw new Failure(`cannot start Chromium at ${CHROMIUM_PATH}: ${firstLine(err)}`);
    }
    page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error" && /Content Security Policy/i.test(msg.text())) problems.push(`CSP refusal: ${msg.text()}`);
    });
    page.on("request", (req) => {
      if (req.url().includes(TOKEN)) problems.push(`the token is in a URL: ${req.url()}`);
    });

    const url = new URL("admin/stats", PAGE_URL).toString();
    log(`opening ${url}`);
    const response = await page.goto(url, { waitUntil: "load", timeout: TIMEOUT_MS });
    if (!response || !response.ok()) throw new Failure(`page answered ${response ? response.status() : "nothing"}`);

    await signInWrong(page);
    await shot(page, "unauthorized.png");
    await page.fill("#token", TOKEN);
    await page.click("#sign-in");
    await waitLoaded(page, "after signing in", "en");
    await checkCharts(page, "English");
    await checkFigures(page, EXPECT.en, "English");
    if (await page.locator("#error").isVisible()) throw new Failure("an error is still shown after signing in");
    await shot(page, "stats_en.png");

    log("switching to Chinese");
    await page.click("#lang-zh");
    await waitLoaded(page, "after switching to Chinese", "zh");
    await checkCharts(page, "Chinese");
    const heading = (await page.locator("#fields-heading").innerText()).trim();
    if (heading !== EXPECT.zh_label) throw new Failure(`the field chart is titled "${heading}", expected "${EXPECT.zh_label}"`);
    const lang = await page.evaluate(() => document.documentElement.lang);
    if (lang !== "zh-CN") throw new Failure(`the page language is "${lang}" after switching to Chinese`);
    await shot(page, "stats_zh.png");

    log(`filtering on field ${EXPECT.filter.field}`);
    await page.selectOption("#field", EXPECT.filter.field);
    await page.click("#apply");
    await waitLoaded(page, "after filtering", "zh");
    await checkFigures(page, EXPECT.filter.figures, "filtered");
    await checkDownload(page);

    log("reloading: the token of this tab is kept");
    await page.reload({ waitUntil: "load", timeout: TIMEOUT_MS });
    await waitLoaded(page, "after reload", "zh");
    if (await page.locator("#login").isVisible()) throw new Failure("after a reload the token is asked for again");
    await checkCharts(page, "reloaded");

    if (problems.length) throw new Failure(problems.join("\n  "));
    log(`OK: charts drawn in English and Chinese, filter and CSV work; screenshots in ${OUT_DIR}`);
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
