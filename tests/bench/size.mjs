// Each crate's share of the wasm: the code bytes of every function, named by the profiling build's
// name section (same optimisation as the release build, names kept), added up by the crate its
// demangled name starts with, plus the data segments (tables, strings) as one row.
//
//   node tests/bench/size.mjs [--build] [--top N] [path/to/index_bg.wasm]
//
// --build runs `bash .ci/build --profiling` first. --top lists the N largest functions too. Read a
// crate's share of the raw code as its share of the gzipped module: gzip compresses one
// compiler's code alike. A generic function is counted where its name's path starts (serde's
// derived code for the gateway's types under the deserializer that instantiated it), so what
// removing a crate saves is measured by building without it.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const args = process.argv.slice(2);
const topIndex = args.indexOf("--top");
const TOP = topIndex >= 0 ? Number(args[topIndex + 1]) : 0;
const file = args.find((arg, i) => arg.endsWith(".wasm") && args[i - 1] !== "--top")
  ?? path.join(root, "build-profiling", "index_bg.wasm");
if (args.includes("--build")) execFileSync("bash", [".ci/build", "--profiling"], { cwd: root, stdio: "inherit" });

const bytes = fs.readFileSync(file);

// --- Reading the module ---------------------------------------------------------------------------
function reader(buffer, start = 0, end = buffer.length) {
  let at = start;
  const r = {
    get at() { return at; },
    done: () => at >= end,
    byte: () => buffer[at++],
    u32() {
      let result = 0;
      let shift = 0;
      for (;;) {
        const b = buffer[at++];
        result += (b & 0x7f) * 2 ** shift;
        if ((b & 0x80) === 0) return result;
        shift += 7;
      }
    },
    skip(n) { at += n; },
    name() {
      const length = r.u32();
      const text = buffer.toString("utf8", at, at + length);
      at += length;
      return text;
    },
  };
  return r;
}

const sections = [];
{
  const r = reader(bytes, 8);
  while (!r.done()) {
    const id = r.byte();
    const size = r.u32();
    sections.push({ id, start: r.at, size });
    r.skip(size);
  }
}

// Imported functions come first in the function index space.
let imported = 0;
const importSection = sections.find((s) => s.id === 2);
if (importSection) {
  const r = reader(bytes, importSection.start, importSection.start + importSection.size);
  for (let count = r.u32(); count > 0; count--) {
    r.name();
    r.name();
    const kind = r.byte();
    if (kind === 0) {
      r.u32();
      imported++;
    } else if (kind === 1) {
      r.byte();
      const flags = r.u32();
      r.u32();
      if (flags & 1) r.u32();
    } else if (kind === 2) {
      const flags = r.u32();
      r.u32();
      if (flags & 1) r.u32();
    } else if (kind === 3) {
      r.byte();
      r.byte();
    } else if (kind === 4) {
      r.byte();
      r.u32();
    }
  }
}

const names = new Map();
for (const section of sections.filter((s) => s.id === 0)) {
  const r = reader(bytes, section.start, section.start + section.size);
  if (r.name() !== "name") continue;
  while (!r.done()) {
    const kind = r.byte();
    const size = r.u32();
    const next = r.at + size;
    if (kind === 1) {
      for (let count = r.u32(); count > 0; count--) names.set(r.u32(), r.name());
    }
    r.skip(next - r.at);
  }
}

const functions = [];
const code = sections.find((s) => s.id === 10);
{
  const r = reader(bytes, code.start, code.start + code.size);
  let index = imported;
  for (let count = r.u32(); count > 0; count--, index++) {
    const size = r.u32();
    functions.push({ name: names.get(index) ?? `function ${index}`, size });
    r.skip(size);
  }
}
const dataBytes = sections.filter((s) => s.id === 11).reduce((sum, s) => sum + s.size, 0);

// --- Attributing --------------------------------------------------------------------------------
// The crate a demangled name belongs to: the first path segment; for `<T as Trait>::f`, T's crate
// when T is a path (a trait's impl is code for that type), else the trait's (a generic parameter's
// or a primitive's impl); a primitive's or a slice's inherent method (`<u128>::_fmt_inner`,
// `<[T]>::sort`) counts for core, though a few are alloc's (`<str>::to_lowercase`).
function crateOf(name) {
  const text = name.replace(/\[[0-9a-f]{16}\]/g, "");
  const path = (part) => /^[&*]?(?:mut |const )?([A-Za-z_][A-Za-z0-9_]*)::/.exec(part)?.[1];
  const impl = /^<(.+?) as (.+)$/.exec(text);
  if (impl) return path(impl[1]) ?? path(impl[2]) ?? "other";
  if (/^<(?:[a-z0-9]+|\[.*\])>::/.test(text)) return "core";
  const inherent = /^<(.+)>::/.exec(text);
  if (inherent) return path(inherent[1]) ?? "other";
  if (path(text)) return path(text);
  if (/^(dlmalloc|__rust|__wbg|__wbindgen|__externref|memcpy|memset|memmove|memcmp)/.test(text)) return "runtime glue (allocator, mem*, bindings)";
  if (/externref shim|multivalue shim|^closure|^js-sys/.test(text)) return "wasm_bindgen";
  return "other";
}

const byCrate = new Map();
for (const f of functions) {
  const crate = crateOf(f.name);
  const entry = byCrate.get(crate) ?? { bytes: 0, functions: 0 };
  entry.bytes += f.size;
  entry.functions++;
  byCrate.set(crate, entry);
}

const codeBytes = functions.reduce((sum, f) => sum + f.size, 0);
const kb = (n) => (n / 1024).toFixed(1);
console.log(`${path.relative(process.cwd(), file)}: ${kb(bytes.length)} KB raw (names included), code ${kb(codeBytes)} KB in ${functions.length} functions, data ${kb(dataBytes)} KB`);
console.log(`(the release build has no names; its gzipped size is the one BENCHMARKS.md reports)\n`);
console.log("| crate | code KB | share of code | functions |");
console.log("|---|---|---|---|");
for (const [crate, { bytes: size, functions: count }] of [...byCrate].sort((a, b) => b[1].bytes - a[1].bytes)) {
  if (size / codeBytes < 0.002) continue;
  console.log(`| ${crate} | ${kb(size)} | ${((100 * size) / codeBytes).toFixed(1)} % | ${count} |`);
}
console.log(`| data segments | ${kb(dataBytes)} | | |`);

if (TOP > 0) {
  console.log(`\nlargest functions`);
  for (const f of [...functions].sort((a, b) => b.size - a.size).slice(0, TOP)) {
    console.log(`${String(f.size).padStart(8)}  ${f.name.slice(0, 160)}`);
  }
}
