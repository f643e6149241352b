// Runs verify.js over proofs.json and fails when its verdict differs from the
// Go verifier's for any case. Used by TestBrowserVerifierAgrees:
//   node testdata/run_vectors.mjs
import { readFile } from "node:fs/promises";

const here = new URL(".", import.meta.url);
const source = await readFile(new URL("verify.js", here), "utf8");
const { verifyInclusion } = await import("data:text/javascript," + encodeURIComponent(source));
const cases = JSON.parse(await readFile(new URL("proofs.json", here), "utf8"));

let failed = 0;
for (const c of cases) {
  const got = await verifyInclusion(c.proof, c.anchored_root, c.anchored_size);
  if (got !== c.valid) {
    failed++;
    console.log(`${c.name}: verify.js says ${got}, Go says ${c.valid}`);
  }
}
if (failed > 0) {
  console.log(`${failed} of ${cases.length} cases disagree`);
  process.exit(1);
}
console.log(`all ${cases.length} cases agree`);
