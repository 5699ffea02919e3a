// Generates src/realtime/wire.ts, the room socket's message types, from the wire package's
// models (wire/watchparty_wire/room.py; python -m watchparty_wire.typescript), as gen-api.mjs
// does for REST. With --check it writes nothing and exits 1 when the committed file is stale, so
// `make lint` fails on a message change that did not regenerate the web app's types.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..", "..");
const out = resolve(here, "..", "src", "realtime", "wire.ts");
const venvPython = resolve(repo, ".venv", "bin", "python");
const python = process.env.PYTHON ?? (existsSync(venvPython) ? venvPython : "python3");

const text = execFileSync(python, ["-m", "watchparty_wire.typescript"], {
  cwd: repo,
  encoding: "utf8",
  maxBuffer: 16 * 1024 * 1024,
});

if (process.argv.includes("--check")) {
  const current = existsSync(out) ? readFileSync(out, "utf8") : "";
  if (current !== text) {
    console.error("src/realtime/wire.ts is stale: run `npm run gen:wire` in frontend/ and commit it");
    process.exit(1);
  }
  console.log("src/realtime/wire.ts is current");
} else {
  writeFileSync(out, text);
  console.log(`wrote ${out}`);
}
