// Preloaded into the jsii Node process (NODE_OPTIONS=--require) by mlgov/provider_loader.py,
// next to lazy_provider.js.
//
// cdktf records a full JavaScript stack trace (with Error.stackTraceLimit raised to its
// maximum) whenever it creates a token or a nested-block reference: every resource
// constructor makes several, and each `${...}` reference makes more. The traces are only ever
// shown in the message of an error about an unresolvable token; they never reach the
// synthesized JSON. Formatting them is a sixth of the Node process's time in a large synth,
// so cdktf's captureStackTrace is replaced by one that records nothing.
//
// MLGOV_TOKEN_TRACES=1 keeps cdktf's traces (when debugging such an error). If cdktf's module
// is not where or what this expects, nothing is changed.
"use strict";

const fs = require("fs");
const Module = require("module");
const path = require("path");

const TARGET = path.join("lib", "tokens", "private", "stack-trace.js");

function isCdktfStackTrace(filename) {
  if (!filename.endsWith(path.sep + TARGET)) {
    return false;
  }
  try {
    const manifest = path.join(filename.slice(0, -TARGET.length), "package.json");
    return JSON.parse(fs.readFileSync(manifest, "utf-8")).name === "cdktf";
  } catch (err) {
    return false;
  }
}

if (!/^(1|true|yes)$/i.test(process.env.MLGOV_TOKEN_TRACES || "")) {
  const originalJs = Module._extensions[".js"];
  Module._extensions[".js"] = function mlgovNoTokenTraces(module, filename) {
    const result = originalJs.call(this, module, filename);
    if (isCdktfStackTrace(filename) && typeof module.exports.captureStackTrace === "function") {
      module.exports.captureStackTrace = function captureNoStackTrace() {
        return [];
      };
    }
    return result;
  };
}
