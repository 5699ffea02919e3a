// The room browser's tab strip in words (pure).
import type { TabInfo } from "../realtime/protocol";

/** What a tab is called in the strip: its page's title; a blank tab is "New tab"; a page
 * without a title goes by its address. */
export function tabLabel(tab: Pick<TabInfo, "title" | "url">): string {
  const url = tab.url.trim();
  const title = tab.title.trim();
  if (url === "" || url === "about:blank") return title && title !== "about:blank" ? title : "New tab";
  return title || url;
}

/** The server's and the agent's refusals of a tab command, in words (docs/protocol.md, "Tabs"). */
export const TAB_ERRORS: Readonly<Record<string, string>> = {
  too_many_tabs: "The room’s browser has all the tabs it can hold: close one first.",
  last_tab: "The room’s browser keeps at least one tab.",
  no_such_tab: "That tab is already closed.",
  not_holder: "Only the holder of the remote can change tabs.",
  url_not_allowed: "The room cannot open that address.",
};
