// Trunk's post-build hook (Trunk.toml): writes a brotli (`.br`) and a gzip
// (`.gz`) copy beside each compressible file of the built client, once per
// build, so that the gateway serves them without compressing per request
// or per start (gateway/src/http/client_files.rs picks one by the
// request's Accept-Encoding). A copy that would not be smaller is not
// written. Node's own zlib: Node is already a build tool here (wasm-opt
// comes from the npm package binaryen), so no other program is needed.
//
//   node scripts/precompress.mjs [DIR]   (default: $TRUNK_STAGING_DIR)

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, extname } from "node:path";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";

// Not `.html`: the gateway writes the page itself (with its
// Content-Security-Policy), it never serves index.html as a file.
const COMPRESSIBLE = new Set([".wasm", ".js", ".css", ".svg", ".json", ".txt", ".map"]);

const dir = process.argv[2] ?? process.env.TRUNK_STAGING_DIR;
if (!dir) {
  console.error("precompress: no directory (give one, or run as Trunk's post_build hook)");
  process.exit(2);
}

function* files(at) {
  for (const entry of readdirSync(at, { withFileTypes: true })) {
    const path = join(at, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile()) yield path;
  }
}

for (const path of [...files(dir)]) {
  if (!COMPRESSIBLE.has(extname(path))) continue;
  const raw = readFileSync(path);
  const variants = {
    // Quality 11 (the best) with a window as large as the file needs:
    // built once, so the slow setting costs a few seconds per build only.
    br: brotliCompressSync(raw, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_LGWIN]: constants.BROTLI_MAX_WINDOW_BITS,
        [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
      },
    }),
    gz: gzipSync(raw, { level: constants.Z_BEST_COMPRESSION }),
  };
  for (const [ext, bytes] of Object.entries(variants)) {
    if (bytes.length < raw.length) writeFileSync(`${path}.${ext}`, bytes);
  }
  console.error(
    `precompress: ${path.slice(dir.length + 1)}: ${raw.length} B, ` +
      `br ${variants.br.length} B, gzip ${variants.gz.length} B`,
  );
}
