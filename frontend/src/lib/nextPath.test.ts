import { describe, expect, it } from "vitest";
import { nextPath } from "./nextPath";

const next = (value: string) => nextPath(`?next=${value}`);

describe("nextPath", () => {
  it("keeps a path on this site, with its query and fragment", () => {
    expect(next("/room/k7qm3xtp")).toBe("/room/k7qm3xtp");
    expect(next(encodeURIComponent("/room/k7qm3xtp?x=1#chat"))).toBe("/room/k7qm3xtp?x=1#chat");
    expect(next("/settings/sessions")).toBe("/settings/sessions");
    expect(nextPath("")).toBe("/dashboard");
  });

  it.each([
    ["a protocol-relative URL", "//evil.example/x"],
    ["a backslash the browser reads as a slash", "/\\evil.example/x"],
    ["an encoded backslash", "/%5Cevil.example"],
    ["backslashes twice", "%5C%5Cevil.example"],
    ["an encoded tab before the second slash", "/%09/evil.example"],
    ["an encoded newline", "/%0A/evil.example"],
    ["a carriage return", "/%0D%0A/evil.example"],
    ["a NUL", "/%00/evil.example"],
    ["an absolute URL", "https://evil.example/"],
    ["an encoded absolute URL", encodeURIComponent("https://evil.example/")],
    ["javascript:", "javascript:alert(1)"],
    ["data:", "data:text/html,x"],
    ["a scheme with slashes", "http:/evil.example"],
    ["a relative path", "dashboard"],
    ["a leading space", "%20//evil.example"],
    ["three slashes", "///evil.example"],
    ["a backslash later on", "/room/%5C%5Cevil"],
  ])("refuses %s", (_what, value) => {
    expect(next(value)).toBe("/dashboard");
  });

  it("never leaves the origin for any refused or kept input", () => {
    for (const value of ["/a/../../..//evil.example", "/./\t/evil", "/%2e%2e/x"]) {
      const out = next(value);
      expect(out.startsWith("/") && !out.startsWith("//") && !out.startsWith("/\\")).toBe(true);
    }
  });
});
