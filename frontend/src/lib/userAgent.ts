// A person-readable device name from a User-Agent header: "Firefox on Windows".

const BROWSERS: [RegExp, string][] = [
  [/HeadlessChrome\//, "Headless Chrome"],
  [/Edg(?:e|A|iOS)?\//, "Edge"],
  [/OPR\/|Opera/, "Opera"],
  [/SamsungBrowser\//, "Samsung Internet"],
  [/Firefox\/|FxiOS\//, "Firefox"],
  [/Chromium\//, "Chromium"],
  [/Chrome\/|CriOS\//, "Chrome"],
  [/Safari\//, "Safari"],
];

const SYSTEMS: [RegExp, string][] = [
  [/Windows/, "Windows"],
  [/iPhone|iPad|iPod/, "iOS"],
  [/Android/, "Android"],
  [/CrOS/, "ChromeOS"],
  [/Mac OS X|Macintosh/, "macOS"],
  [/Linux/, "Linux"],
];

export function describeUserAgent(ua: string | null | undefined): string {
  const text = (ua ?? "").trim();
  if (text === "") return "Unknown device";
  const browser = BROWSERS.find(([re]) => re.test(text))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(text))?.[1];
  if (browser !== undefined && system !== undefined) return `${browser} on ${system}`;
  if (browser !== undefined) return browser;
  if (system !== undefined) return `Browser on ${system}`;
  // A script or tool: its own product token ("curl/8.5", "python-httpx/0.27").
  const token = text.split(/\s+/)[0] ?? text;
  return token.length > 40 ? `${token.slice(0, 39)}…` : token;
}
