// Preloaded into the jsii Node process (NODE_OPTIONS=--require) by mlgov/provider_loader.py.
//
// When jsii loads the @cdktf/provider-aws assembly it require()s the package's lib/index.js,
// which require()s all ~2,100 resource modules (~250 MB of JavaScript) although a synth
// touches a few dozen. jsii finds a class by walking the package's exports along its fqn
// (exports.s3Bucket.S3Bucket), so exports that require() their module on first access give
// jsii the same objects while only the used modules are ever compiled.
//
// Only an index.js made solely of `exports.x = require("./x");` lines (plus the TypeScript
// preamble) is rewritten; anything else is compiled as written, after one warning line.
"use strict";

const fs = require("fs");
const path = require("path");
const Module = require("module");

const PACKAGE = "@cdktf/provider-aws";
const REQUIRE_LINE = /^exports\.([A-Za-z_$][\w$]*) = require\("(\.\/[\w.-]+)"\);$/;
const HARMLESS = [
  /^$/,
  /^"use strict";$/,
  /^\/\/.*$/,
  /^\/\*\*?$/,
  /^ \*.*$/,
  /^ \*\/$/,
  /^Object\.defineProperty\(exports, "__esModule", \{ value: true \}\);$/,
  /^exports\.[\w$]+( = exports\.[\w$]+)* = void 0;$/,
];

function isProviderIndex(filename) {
  if (path.basename(filename) !== "index.js" || path.basename(path.dirname(filename)) !== "lib") {
    return false;
  }
  try {
    const manifest = path.join(path.dirname(filename), "..", "package.json");
    return JSON.parse(fs.readFileSync(manifest, "utf-8")).name === PACKAGE;
  } catch (err) {
    return false;
  }
}

// [[exportName, relativePath], ...] or a reason why the file is not in the expected shape.
function parseIndex(source) {
  const entries = [];
  const lines = source.split(/\r?\n/);
  for (const line of lines) {
    const match = REQUIRE_LINE.exec(line);
    if (match) {
      entries.push([match[1], match[2]]);
    } else if (!HARMLESS.some((re) => re.test(line))) {
      return { reason: `unexpected line: ${line.slice(0, 80)}` };
    }
  }
  if (entries.length === 0) {
    return { reason: "no `exports.x = require(...)` lines" };
  }
  return { entries };
}

const originalJs = Module._extensions[".js"];
Module._extensions[".js"] = function mlgovLazyProviderIndex(module, filename) {
  if (!isProviderIndex(filename)) {
    return originalJs.call(this, module, filename);
  }
  const parsed = parseIndex(fs.readFileSync(filename, "utf-8"));
  if (parsed.reason) {
    process.stderr.write(`mlgov: warning: lazy require of ${PACKAGE} unavailable (${parsed.reason}); loading all modules\n`);
    return originalJs.call(this, module, filename);
  }
  const exportsObject = module.exports;
  Object.defineProperty(exportsObject, "__esModule", { value: true });
  for (const [name, relative] of parsed.entries) {
    Object.defineProperty(exportsObject, name, {
      enumerable: true,
      configurable: true,
      get() {
        const value = module.require(relative);
        Object.defineProperty(exportsObject, name, { enumerable: true, configurable: true, writable: true, value });
        return value;
      },
    });
  }
};

// For tests (node -e): the parser and the package check, without side effects beyond the hook.
module.exports = { parseIndex, isProviderIndex };
