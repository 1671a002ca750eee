// Headless Debian Chromium driven by playwright-core (no browser download).
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const artifacts = path.join(root, "tests", "artifacts");

export function chromiumPath() {
  for (const candidate of [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    if (candidate && fs.existsSync(candidate)) return candidate;
  }
  throw new Error("Chromium is missing: run 'bash .ci/setup' (it installs Debian's chromium)");
}

export async function launch() {
  fs.mkdirSync(artifacts, { recursive: true });
  return chromium.launch({
    executablePath: chromiumPath(),
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

export async function screenshot(page, name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

/** The README's pictures (docs/images/), taken by the tests so they show the pages as they are. A
 *  picture is written only when its pixels' encoding changed, so a run that renders the same pages
 *  leaves a clone clean. The viewport only: a page's top is what a README shows. A page showing
 *  live figures (`live`: the analytics' latencies) renders differently on every run: its picture
 *  is written when missing or when README_IMAGES=update, else only to tests/artifacts/. */
export const readmeImages = path.join(root, "docs", "images");

export async function readmeScreenshot(page, name, { live = false } = {}) {
  // Transitions (a button's after its click) finished, so that a picture does not catch one midway.
  const image = await page.screenshot({ animations: "disabled" });
  fs.mkdirSync(readmeImages, { recursive: true });
  const file = path.join(readmeImages, `${name}.png`);
  const write = !fs.existsSync(file) || (!live && !fs.readFileSync(file).equals(image)) || process.env.README_IMAGES === "update";
  if (write) fs.writeFileSync(file, image);
  fs.writeFileSync(path.join(artifacts, `readme-${name}.png`), image);
}
