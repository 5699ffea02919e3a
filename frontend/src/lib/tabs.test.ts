import { describe, expect, it } from "vitest";
import { tabLabel } from "./tabs";

describe("tabLabel", () => {
  it("is the page's title", () => {
    expect(tabLabel({ title: "  Big Buck Bunny ", url: "https://example.com/film" })).toBe("Big Buck Bunny");
  });
  it("is the address when the page has no title", () => {
    expect(tabLabel({ title: "", url: "https://example.com/a" })).toBe("https://example.com/a");
  });
  it("calls a blank tab a new tab", () => {
    expect(tabLabel({ title: "about:blank", url: "about:blank" })).toBe("New tab");
    expect(tabLabel({ title: "", url: "" })).toBe("New tab");
  });
});
