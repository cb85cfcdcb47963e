#!/usr/bin/env node
// The platform's whole loop in four browser tabs of Debian's Chromium (playwright-core), in one
// language: a new user (tab A) describes a need and saves it; a lab (tab B) posts a matching
// achievement and A is pushed the alert; A asks for a person, a technology broker (tab C) signs
// in, takes the request and talks with A until handing A back; A contacts B's achievement, both
// confirm the NDA, B proposes, A accepts (a deal); the operator (tab D) sees the deal on the
// statistics page.
//
// Environment:
//   PAGE_URL       the chat page (required)
//   BROKER_CODE    a one-time sign-in code of an intermediary (required)
//   ADMIN_TOKEN    the operator token of the statistics (required)
//   LANG_UNDER_TEST  en | zh (default en)
//   RUN            a token unique to this run, put into the texts (default: random)
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
const BROKER_CODE = env.BROKER_CODE || "";
const ADMIN_TOKEN = env.ADMIN_TOKEN || "";
const LANG = env.LANG_UNDER_TEST === "zh" ? "zh" : "en";
const RUN = env.RUN || `R${Math.random().toString(36).slice(2, 7).toUpperCase()}`;
const TIMEOUT_MS = Math.round(1000 * (Number(env.TIMEOUT_S) > 0 ? Number(env.TIMEOUT_S) : 60));
const CHROMIUM_PATH = env.CHROMIUM_PATH || "/usr/bin/chromium";
const WEB_DIR = env.WEB_DIR || path.resolve(here, "..", "..", "bot", "web");
const OUT_DIR = env.OUT_DIR || mkdtempSync(path.join(tmpdir(), "platform-shots-"));

const T = {
  en: {
    need: `We need a sodium-ion battery electrolyte additive ${RUN} that stops capacity fade at low temperature`,
    save: "notify me of new matches",
    saved: /Saved as need #(\d+)/,
    post: `post an achievement: Sodium-ion battery electrolyte additive ${RUN} that stops capacity fade at low ` +
      "temperature. Tested in pouch cells for 500 cycles at minus 20 degrees.",
    posted: /Published your achievement #(\d+)/,
    alert: (need) => new RegExp(`New match for your saved need #${need}`),
    person: "talk to a person",
    asked: /\(request #(\d+)\)/,
    login: (code) => `login ${code}`,
    signed: /Signed in/,
    take: (item) => `take ${item}`,
    taken: (item) => new RegExp(`You have item #${item}`),
    joined: /from the platform is with you now/,
    userSays: `Our pouch cells fade after 200 cycles ${RUN}`,
    brokerSees: /the person: Our pouch cells fade after 200 cycles/,
    brokerSays: "I will connect you with the lab that has just posted its additive.",
    userSees: /Platform broker: I will connect you with the lab/,
    done: (item) => `done ${item}`,
    back: /You are back with the assistant/,
    search: `sodium-ion battery electrolyte additive ${RUN} capacity fade`,
    contact: "Contact",
    opened: /Negotiation thread #(\d+) opened/,
    request: (t) => new RegExp(`New contact request in thread #${t}`),
    accept: (t) => `Accept #${t}`,
    accepted: (t) => new RegExp(`request in thread #${t} was accepted`),
    nda: (t) => `I agree to the NDA #${t}`,
    waiting: /Waiting for the other party/,
    open: (t) => new RegExp(`Thread #${t} is open`),
    enter: (t) => `open thread ${t}`,
    entered: (t) => new RegExp(`You are in thread #${t}`),
    propose: "propose licence 300000 yuan 12 months",
    proposed: /Proposal sent/,
    proposal: /Proposal in thread/,
    acceptProposal: "Accept proposal",
    deal: /Deal agreed/,
    statsLang: "#lang-en",
    dealsLabel: "Deals",
  },
  zh: {
    need: `我们需要一种钠离子电池电解液添加剂${RUN}，解决低温下容量衰减的问题`,
    save: "有新成果通知我",
    saved: /已保存为订阅#(\d+)/,
    post: `发布成果：钠离子电池电解液添加剂${RUN}抑制低温容量衰减。已在软包电池中完成零下20度500次循环测试。`,
    posted: /已发布您的成果 #(\d+)/,
    alert: (need) => new RegExp(`您订阅的需求#${need}`),
    person: "转人工",
    asked: /请求#(\d+)/,
    login: (code) => `登录 ${code}`,
    signed: /登录成功/,
    take: (item) => `认领${item}`,
    taken: (item) => new RegExp(`您已认领事项#${item}`),
    joined: /平台人工客服（.+）已接入/,
    userSays: `我们的软包电池循环200次后衰减${RUN}`,
    brokerSees: /用户：我们的软包电池循环200次后衰减/,
    brokerSays: "我可以为您对接刚发布这项成果的实验室。",
    userSees: /平台经纪人：我可以为您对接/,
    done: (item) => `完成${item}`,
    back: /人工服务已结束/,
    search: `钠离子电池电解液添加剂${RUN}低温容量衰减`,
    contact: "联系",
    opened: /建立洽谈 #(\d+)/,
    request: (t) => new RegExp(`洽谈#${t}有新的对接请求`),
    accept: (t) => `接受 #${t}`,
    accepted: (t) => new RegExp(`您在洽谈#${t}中的请求已被接受`),
    nda: (t) => `同意保密协议 #${t}`,
    waiting: /等待对方确认/,
    open: (t) => new RegExp(`洽谈#${t}已正式开启`),
    enter: (t) => `进入洽谈${t}`,
    entered: (t) => new RegExp(`您已进入洽谈#${t}`),
    propose: "提议 许可 30万 12个月",
    proposed: /已在洽谈#\d+中提交方案/,
    proposal: /的合作方案/,
    acceptProposal: "接受方案",
    deal: /已达成合作/,
    statsLang: "#lang-zh",
    dealsLabel: "达成合作",
  },
}[LANG];

const { waitForBot, say, click } = chatSteps(TIMEOUT_MS);

function log(text) {
  process.stdout.write(`platform_tabs[${LANG}]: ${text}\n`);
}

async function openTab(browser, name, url = PAGE_URL) {
  const context = await browser.newContext({ viewport: PHONE, locale: LANG === "zh" ? "zh-CN" : "en-US" });
  const page = await context.newPage();
  page.on("pageerror", (err) => log(`${name} page error: ${err.message}`));
  const response = await page.goto(url, { waitUntil: "load", timeout: TIMEOUT_MS });
  if (!response || !response.ok()) throw new Failure(`${name}: page answered ${response ? response.status() : "nothing"}`);
  return { context, page, name };
}

async function openChat(browser, name) {
  const tab = await openTab(browser, name);
  await tab.page.waitForSelector(".rw-new-message:not([disabled])", { state: "visible", timeout: TIMEOUT_MS });
  await tab.page.waitForTimeout(1500);
  return tab;
}

async function saveNeedAndGetAlert(a, b) {
  log("A describes a need and saves it");
  await say(a.page, T.need);
  await a.page.waitForTimeout(1500);
  await say(a.page, T.save);
  const need = (await waitForBot(a.page, T.saved, "need saved")).match(T.saved)[1];
  log(`need #${need}; B posts a matching achievement`);
  await say(b.page, T.post);
  await waitForBot(b.page, T.posted, "achievement posted");
  const started = Date.now();
  await waitForBot(a.page, T.alert(need), "alert pushed to A");
  log(`alert arrived in A ${Date.now() - started} ms after B's post was answered`);
}

async function helpedByBroker(a, c) {
  log("A asks for a person; C signs in and takes the request");
  await say(a.page, T.person);
  const item = (await waitForBot(a.page, T.asked, "handoff asked")).match(T.asked)[1];
  await say(c.page, T.login(BROKER_CODE));
  await waitForBot(c.page, T.signed, "broker login");
  await say(c.page, T.take(item));
  await waitForBot(c.page, T.taken(item), "broker takes the request");
  await waitForBot(a.page, T.joined, "A is told a person joined");
  log("A and C talk; C hands A back");
  await say(a.page, T.userSays);
  await waitForBot(c.page, T.brokerSees, "A's words pushed to C");
  await say(c.page, T.brokerSays);
  await waitForBot(a.page, T.userSees, "C's words pushed to A");
  await say(c.page, T.done(item));
  await waitForBot(a.page, T.back, "A is told the assistant is back");
}

async function dealWithTheLab(a, b) {
  log("A finds B's achievement and contacts it");
  await say(a.page, T.search);
  await a.page.waitForSelector(".rw-carousel-card", { state: "attached", timeout: TIMEOUT_MS });
  const card = a.page.locator(".rw-carousel-card", { hasText: RUN }).last();
  await card.waitFor({ state: "attached", timeout: TIMEOUT_MS });
  await card.locator(".rw-reply", { hasText: T.contact }).first().click();
  const thread = (await waitForBot(a.page, T.opened, "contact")).match(T.opened)[1];
  log(`thread #${thread}: B accepts, both confirm the NDA`);
  await waitForBot(b.page, T.request(thread), "request pushed to B");
  await click(b.page, T.accept(thread), "B accepts");
  await waitForBot(a.page, T.accepted(thread), "acceptance pushed to A");
  await click(a.page, T.nda(thread), "A confirms the NDA");
  await waitForBot(a.page, T.waiting, "A waits for B");
  await click(b.page, T.nda(thread), "B confirms the NDA");
  await waitForBot(a.page, T.open(thread), "disclosure pushed to A");
  log("B proposes, A accepts");
  await say(b.page, T.enter(thread));
  await waitForBot(b.page, T.entered(thread), "B enters");
  await say(b.page, T.propose);
  await waitForBot(b.page, T.proposed, "B's proposal stored");
  await waitForBot(a.page, T.proposal, "proposal pushed to A");
  await click(a.page, T.acceptProposal, "A accepts the proposal");
  await waitForBot(a.page, T.deal, "A sees the deal");
}

async function operatorSeesTheDeal(browser) {
  log("the operator opens the statistics page");
  const d = await openTab(browser, "tab D", new URL("admin/stats", PAGE_URL).href);
  await d.page.fill("#token", ADMIN_TOKEN);
  await d.page.click("#sign-in");
  await d.page.waitForSelector('body[data-loaded="1"]', { timeout: TIMEOUT_MS });
  await d.page.click(T.statsLang);
  await d.page.waitForFunction((label) => document.body.innerText.includes(label), T.dealsLabel,
    { timeout: TIMEOUT_MS });
  const deals = Number((await d.page.locator("#figure-deals").innerText()).trim());
  if (!(deals >= 1)) throw new Failure(`statistics show ${deals} deals`);
  for (const id of ["chart-fields", "chart-regions", "chart-funnel"]) {
    const drawn = await d.page.locator(`#${id} canvas, #${id} svg`).count();
    if (!drawn) throw new Failure(`chart ${id} was not drawn`);
  }
  log(`statistics show ${deals} deal(s)`);
  return d;
}

async function run() {
  if (!PAGE_URL || !BROKER_CODE || !ADMIN_TOKEN) throw new Failure("PAGE_URL, BROKER_CODE and ADMIN_TOKEN must be set");
  mkdirSync(OUT_DIR, { recursive: true });
  const { chromium } = loadPlaywright(WEB_DIR);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
  const tabs = [];
  try {
    const a = await openChat(browser, "tab A");
    const b = await openChat(browser, "tab B");
    const c = await openChat(browser, "tab C");
    tabs.push(a, b, c);
    await saveNeedAndGetAlert(a, b);
    await helpedByBroker(a, c);
    await dealWithTheLab(a, b);
    tabs.push(await operatorSeesTheDeal(browser));
    for (const tab of tabs) {
      await tab.page.screenshot({ path: path.join(OUT_DIR, `${LANG}_${tab.name.replace(" ", "_")}.png`) });
    }
    log(`OK: need, alert, broker, deal and statistics in four tabs; screenshots in ${OUT_DIR}`);
  } catch (err) {
    for (const tab of tabs) {
      await tab.page.screenshot({ path: path.join(OUT_DIR, `failed_${LANG}_${tab.name.replace(" ", "_")}.png`) })
        .catch(() => {});
    }
    throw err;
  } finally {
    await browser.close();
  }
}

run().catch((err) => {
  process.stderr.write(`FAIL: ${err instanceof Failure ? err.message : err.stack || err}\n`);
  process.exit(1);
});
