// npm test: compile src/, gen/ and test/ with tsc into a scratch directory under tsclient/ (so that `ws` resolves
// from node_modules), run node --test on the compiled tests, and remove the scratch directory.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
mkdirSync(join(root, ".test-build"), { recursive: true });
const out = mkdtempSync(join(root, ".test-build", "run-"));
let status = 1;
try {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const c = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.json"), "--noEmit", "false", "--declaration", "false", "--outDir", out], { stdio: "inherit" });
  if (c.status !== 0) {
    status = c.status ?? 1;
  } else {
    writeFileSync(join(out, "package.json"), '{"type":"module"}\n');
    const t = spawnSync(process.execPath, ["--test", join(out, "test", "e2e.test.js")], { stdio: "inherit" });
    status = t.status ?? 1;
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exit(status);
