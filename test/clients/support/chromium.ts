import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it). */
export const chromiumPath = "/usr/bin/chromium";

/** Whether the browser tests can run; says once why not. */
export const hasChromium = existsSync(chromiumPath);
if (!hasChromium) console.warn(`Browser tests skipped: ${chromiumPath} is missing (apt-get install -y chromium).`);

/** Starts headless Chromium with nothing reaching beyond this machine. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
