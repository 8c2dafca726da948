import type { ClientBase } from "pg";
import { tenancyNoticeCodes } from "./tenancy-names.js";

/** A notice of the tenancy functions: which kind a table became, or a key without `tenant_id`. */
export interface TenancyNotice {
  message: string;
  /** True for a key without `tenant_id` (a WARNING), false for a table's kind (a NOTICE). */
  warning: boolean;
}

/** Listens to one client's notices until stopped. */
export interface NoticeCollector {
  /** The tenancy notices heard, in order; other notices (PostgreSQL's own) are left out. */
  messages(): TenancyNotice[];
  stop(): void;
}

const codes = new Set<string>(Object.values(tenancyNoticeCodes));

/**
 * Collects the notices the tenancy functions raise (SQLSTATEs of {@link tenancyNoticeCodes}) on
 * `client` while a request runs: the executor hands them on in the answer and the log. Only these:
 * the text of other notices is not the service's to vouch for.
 */
export function collectTenancyNotices(client: Pick<ClientBase, "on" | "off">): NoticeCollector {
  const heard: TenancyNotice[] = [];
  const listener = (notice: { code?: string; message?: string }) => {
    if (notice.code !== undefined && codes.has(notice.code) && notice.message !== undefined) {
      heard.push({ message: notice.message, warning: notice.code === tenancyNoticeCodes.keyWithoutTenant });
    }
  };
  client.on("notice", listener);
  return { messages: () => heard, stop: () => client.off("notice", listener) };
}
