// Builds the web assets into ../api/static (package data of the service, not committed):
// hashed bundles under assets/, the pages with their asset names filled in, a manifest with
// each bundle's size, and the stamp make checks. `--tests` bundles test/*.test.ts for node --test.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, "../api/static");

async function buildTests() {
  const dir = path.join(here, "test");
  const entries = (await readdir(dir)).filter((f) => f.endsWith(".test.ts")).map((f) => path.join(dir, f));
  const outdir = path.join(here, ".test-build");
  await rm(outdir, { recursive: true, force: true });
  await esbuild.build({ entryPoints: entries, outdir, bundle: true, platform: "node", format: "esm",
    outExtension: { ".js": ".mjs" }, logLevel: "warning" });
}

async function buildAssets() {
  const started = performance.now();
  await rm(out, { recursive: true, force: true });
  const result = await esbuild.build({
    entryPoints: {
      workbench: path.join(here, "src/workbench/main.ts"),
      graphiql: path.join(here, "src/graphiql/main.tsx"),
      site: path.join(here, "src/site.css"),
    },
    outdir: path.join(out, "assets"),
    entryNames: "[name]-[hash]",
    assetNames: "[name]-[hash]",
    bundle: true,
    minify: true,
    format: "esm",
    target: ["chrome110", "firefox110", "safari16"],
    sourcemap: false, // the wheel ships the bundles, not 8 MB of maps
    legalComments: "linked",
    metafile: true,
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
  });
  const names = {};
  const sizes = {};
  for (const [file, info] of Object.entries(result.metafile.outputs)) {
    if (!info.entryPoint && !info.cssBundle && !file.endsWith(".css")) continue;
    if (file.endsWith(".map")) continue;
    const base = path.basename(file);
    const logical = base.replace(/-[A-Z0-9]{8}\./, ".");
    names[logical] = `/static/assets/${base}`;
    sizes[logical] = info.bytes;
  }
  for (const page of await readdir(path.join(here, "pages"))) {
    let html = await readFile(path.join(here, "pages", page), "utf8");
    html = html.replace(/\{\{([\w.]+)\}\}/g, (_, name) => {
      if (!names[name]) throw new Error(`${page}: no asset ${name}`);
      return names[name];
    });
    await writeFile(path.join(out, page), html);
  }
  const digest = createHash("sha256").update(JSON.stringify(names)).digest("hex").slice(0, 12);
  const manifest = { build: digest, assets: names, bytes: sizes };
  await writeFile(path.join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  await writeFile(path.join(out, ".built"), `${digest}\n`);
  const gz = [];
  for (const [name, url] of Object.entries(names)) {
    const file = path.join(out, "assets", path.basename(url));
    const { gzipSync } = await import("node:zlib");
    const size = (await stat(file)).size;
    gz.push(`${name} ${(size / 1024).toFixed(0)} KiB (${(gzipSync(await readFile(file)).length / 1024).toFixed(0)} KiB gzip)`);
  }
  console.log(`web assets built in ${((performance.now() - started) / 1000).toFixed(1)} s: ${gz.join(", ")}`);
}

if (process.argv.includes("--tests")) await buildTests();
else await buildAssets();
