// An independent verifier of likeness consent receipts, written from
// docs/RECEIPTS.md alone. It uses only node:crypto (Ed25519, SHA-256).
//
//   node verify.mjs --receipt receipt.jws --jwks jwks.json [--origin ORIGIN]
//   node verify.mjs --vectors DIR   (checks DIR/vectors.json, checkpoint, receipts)
//
// Exit status 0 when everything verifies, 1 with "FAIL: ..." otherwise.
import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

class Fail extends Error {}
function check(ok, msg) {
  if (!ok) throw new Fail(msg);
}

const sha256 = (...parts) => createHash("sha256").update(Buffer.concat(parts.map((p) => Buffer.from(p)))).digest();
const hashLeaf = (leaf) => sha256([0x00], leaf);
const hashChildren = (l, r) => sha256([0x01], l, r);
const hex = (b) => Buffer.from(b).toString("hex");
const b64url = (s) => {
  check(/^[A-Za-z0-9_-]*$/.test(s), "not base64url");
  return Buffer.from(s, "base64url");
};
const b64std = (s) => {
  const b = Buffer.from(s, "base64");
  check(b.toString("base64") === s, `not canonical base64: ${s}`);
  return b;
};

// --- Keys -----------------------------------------------------------------

// RFC 7638 thumbprint of an OKP key: SHA-256 of the required members in
// lexicographic order, no whitespace.
function thumbprint(jwk) {
  return sha256(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).toString("base64url");
}

// The note key hash: the first 4 bytes of SHA-256(name "\n" 0x01 pub).
function noteKeyHash(name, pub) {
  return sha256(name, "\n", [0x01], pub).subarray(0, 4);
}

function keyFor(jwks, kid) {
  const jwk = jwks.keys.find((k) => k.kid === kid);
  check(jwk, `no key with kid ${kid} in the JWKS`);
  check(jwk.kty === "OKP" && jwk.crv === "Ed25519", `key ${kid} is not an Ed25519 key`);
  const pub = b64url(jwk.x);
  check(pub.length === 32, "Ed25519 public key is not 32 bytes");
  // A thumbprint kid must be the key's own; an 8-hex-digit kid is the legacy
  // note key hash, checked against the checkpoint origin later.
  if (!/^[0-9a-f]{8}$/.test(kid)) check(thumbprint(jwk) === kid, `kid ${kid} is not the key's RFC 7638 thumbprint`);
  return { pub, key: createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x }, format: "jwk" }) };
}

// --- Leaves ---------------------------------------------------------------

// Event members in version-1 (declaration) order; required ones are always
// present, optional ones omitted when "" or 0.
const MEMBERS = [
  ["index", "int", true], ["id", "str", true], ["type", "str", true], ["subject", "str", true],
  ["purpose", "str"], ["notice_version", "int"], ["notice_sha256", "str"], ["method", "str"],
  ["language", "str"], ["collector", "str"], ["time", "int", true], ["sealed_sha256", "str"],
  ["validation", "str"], ["refers", "str"],
];

// Go encoding/json string escaping (with its HTML escaping).
function goString(s) {
  let out = '"';
  for (const ch of s.toWellFormed()) {
    const c = ch.codePointAt(0);
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20 || ch === "<" || ch === ">" || ch === "&" || c === 0x2028 || c === 0x2029)
      out += "\\u" + c.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

// leafBytes returns the leaf of an event as carried in a receipt.
function leafBytes(ev) {
  for (const k of Object.keys(ev)) check(k === "v" || k === "imported" || MEMBERS.some(([m]) => m === k), `unknown event member ${k}`);
  // "imported" is true or absent, and only in version-2 leaves.
  check(ev.imported === undefined || (ev.imported === true && ev.v !== undefined), "imported must be true, in a version-2 leaf");
  const present = [];
  for (const [name, kind, required] of MEMBERS) {
    const val = ev[name] ?? (kind === "int" ? 0 : "");
    check(kind === "int" ? Number.isSafeInteger(val) : typeof val === "string", `event ${name} is not a${kind === "int" ? "n integer" : " string"}`);
    if (required || (val !== "" && val !== 0)) present.push([name, val]);
  }
  if (ev.v === undefined) {
    return Buffer.from("{" + present.map(([k, v]) => `"${k}":` + (typeof v === "string" ? goString(v) : String(v))).join(",") + "}");
  }
  check(ev.v === 2, `unknown leaf version ${ev.v}`);
  // RFC 8785: members sorted by UTF-16 code units, ECMAScript serialisation.
  present.push(["v", 2]);
  if (ev.imported) present.push(["imported", true]);
  present.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from("{" + present.map(([k, v]) => JSON.stringify(k) + ":" + JSON.stringify(v)).join(",") + "}");
}

// --- Merkle proofs (RFC 9162 section 2.1) ----------------------------------

function rootFromInclusion(index, size, leafHash, proof) {
  check(index < size, `index ${index} not below size ${size}`);
  let fn = BigInt(index), sn = BigInt(size) - 1n, r = leafHash;
  for (const p of proof) {
    check(sn !== 0n, "inclusion proof too long");
    if ((fn & 1n) === 1n || fn === sn) {
      r = hashChildren(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = hashChildren(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  check(sn === 0n, "inclusion proof too short");
  return r;
}

function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
  check(0 < first && first <= second, "need 0 < first <= second");
  if (first === second) return check(proof.length === 0 && firstRoot.equals(secondRoot), "equal sizes, different roots");
  const path = (first & (first - 1)) === 0 ? [firstRoot, ...proof] : [...proof];
  check(path.length > 0, "empty consistency proof");
  let fn = BigInt(first) - 1n, sn = BigInt(second) - 1n;
  while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    check(sn !== 0n, "consistency proof too long");
    if ((fn & 1n) === 1n || fn === sn) {
      fr = hashChildren(c, fr); sr = hashChildren(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      sr = hashChildren(sr, c);
    }
    fn >>= 1n; sn >>= 1n;
  }
  check(sn === 0n && fr.equals(firstRoot) && sr.equals(secondRoot), "consistency proof does not verify");
}

function merkleRoot(leafHashes) {
  if (leafHashes.length === 1) return leafHashes[0];
  let k = 1;
  while (k * 2 < leafHashes.length) k *= 2;
  return hashChildren(merkleRoot(leafHashes.slice(0, k)), merkleRoot(leafHashes.slice(k)));
}

// --- Checkpoints (signed notes) --------------------------------------------

function openCheckpoint(note, pub, key) {
  const i = note.lastIndexOf("\n\n");
  check(i > 0, "checkpoint is not a signed note");
  const text = note.slice(0, i + 1);
  const lines = text.split("\n");
  check(lines.length === 5 && lines[4] === "", "checkpoint body is not 4 lines");
  const [origin, sizeLine, rootLine, timeLine] = lines;
  check(origin !== "" && /^(0|[1-9][0-9]*)$/.test(sizeLine) && /^time -?(0|[1-9][0-9]*)$/.test(timeLine), "malformed checkpoint");
  const root = b64std(rootLine);
  check(root.length === 32, "checkpoint root is not 32 bytes");
  const wantHash = noteKeyHash(origin, pub);
  let signed = false;
  for (const line of note.slice(i + 2).split("\n")) {
    if (line === "") continue;
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    check(m, `malformed signature line ${line}`);
    const sig = b64std(m[2]);
    if (m[1] !== origin || sig.length !== 68 || !sig.subarray(0, 4).equals(wantHash)) continue;
    check(verify(null, Buffer.from(text), key, sig.subarray(4)), "checkpoint signature does not verify");
    signed = true;
  }
  check(signed, `checkpoint carries no signature by this key under origin ${origin}`);
  return { origin, size: Number(sizeLine), root, keyHash: hex(wantHash) };
}

// --- Receipts ---------------------------------------------------------------

export function verifyReceipt(jws, jwks, wantOrigin) {
  const parts = jws.trim().split(".");
  check(parts.length === 3, "not a compact JWS");
  const header = JSON.parse(b64url(parts[0]));
  check(header.alg === "EdDSA", `alg ${header.alg}, want EdDSA`);
  check(header.typ === "likeness-receipt+jws", `typ ${header.typ}`);
  const { pub, key } = keyFor(jwks, header.kid);
  check(verify(null, Buffer.from(parts[0] + "." + parts[1]), key, b64url(parts[2])), "JWS signature does not verify");
  const c = JSON.parse(b64url(parts[1]));
  check(c.version === "likeness-receipt/1", `receipt version ${c.version}`);
  const ev = c.event, l = c.ledger;

  const cp = openCheckpoint(l.checkpoint, pub, key);
  if (wantOrigin !== undefined) check(cp.origin === wantOrigin, `origin ${cp.origin}, want ${wantOrigin}`);
  if (/^[0-9a-f]{8}$/.test(header.kid)) check(header.kid === cp.keyHash, "legacy kid is not the note key hash");
  check(cp.size === l.size, `checkpoint size ${cp.size}, receipt says ${l.size}`);

  const leafHash = hashLeaf(leafBytes(ev));
  check(hex(leafHash) === l.leaf_hash, "leaf_hash is not the hash of the event");
  check(ev.index === l.index, "ledger index is not the event's");
  const root = rootFromInclusion(l.index, l.size, leafHash, l.inclusion_proof.map((h) => Buffer.from(h, "hex")));
  check(root.equals(cp.root), "inclusion proof does not reach the checkpoint root");

  check(["grant", "withdraw", "renew", "validated", "validation_rejected"].includes(c.type), `receipt type ${c.type}`);
  for (const [claim, member] of [["type", "type"], ["subject", "subject"], ["method", "method"], ["language", "language"],
    ["collector", "collector"], ["notice_version", "notice_version"], ["notice_sha256", "notice_sha256"],
    ["validation", "validation"], ["refers", "refers"]]) {
    const empty = member === "notice_version" ? 0 : "";
    check((c[claim] ?? empty) === (ev[member] ?? empty), `claim ${claim} disagrees with the event`);
  }
  check(c.event_time === Math.floor(ev.time / 1e6), "event_time disagrees with the event");
  check((c.imported ?? false) === (ev.imported ?? false), "claim imported disagrees with the event");
  check(c.purposes.length === 1 && c.purposes[0].id === (ev.purpose ?? ""), "purposes disagree with the event");
  return { claims: c, checkpoint: cp, kid: header.kid };
}

function verifyVectors(dir) {
  const read = (name) => readFileSync(join(dir, name), "utf8");
  const vf = JSON.parse(read("vectors.json"));
  const jwks = JSON.parse(read("jwks.json"));
  const hashes = vf.events.map((e, i) => {
    const leaf = leafBytes(e.event);
    check(leaf.equals(Buffer.from(e.leaf, "utf8")), `event ${i}: leaf bytes differ:\n${leaf}\n${e.leaf}`);
    const h = hashLeaf(leaf);
    check(hex(h) === e.leaf_hash, `event ${i}: leaf hash differs`);
    return h;
  });
  const root = merkleRoot(hashes);
  check(hex(root) === vf.root && hashes.length === vf.size, "root differs");

  const { pub, key } = keyFor(jwks, vf.kid);
  check(jwks.keys.some((k) => k.kid === vf.legacy_kid && k.x === jwks.keys[0].x), "JWKS lacks the legacy kid");
  check(hex(noteKeyHash(vf.origin, pub)) === vf.legacy_kid, "legacy kid is not the note key hash");
  check(vf.verifier_key === `${vf.origin}+${vf.legacy_kid}+${Buffer.concat([Buffer.from([1]), pub]).toString("base64")}`, "verifier key format");
  for (const note of [vf.checkpoint, read("checkpoint")]) {
    const cp = openCheckpoint(note, pub, key);
    check(cp.origin === vf.origin && cp.size === vf.size && hex(cp.root) === vf.root, "checkpoint states another tree");
  }
  const inc = vf.inclusion;
  const got = rootFromInclusion(inc.index, inc.size, hashes[inc.index], inc.proof.map((h) => Buffer.from(h, "hex")));
  check(got.equals(root), "inclusion proof does not reach the root");
  const con = vf.consistency;
  verifyConsistency(con.from, con.size, Buffer.from(con.from_root, "hex"), root, con.proof.map((h) => Buffer.from(h, "hex")));
  check(hex(merkleRoot(hashes.slice(0, con.from))) === con.from_root, "consistency from_root differs");
  for (const [name, kid] of [["receipt.jws", vf.kid], ["receipt-legacy.jws", vf.legacy_kid], ["receipt-imported.jws", vf.kid]]) {
    const r = verifyReceipt(read(name), jwks, vf.origin);
    check(r.kid === kid, `${name}: kid ${r.kid}, want ${kid}`);
    check((r.claims.imported ?? false) === (name === "receipt-imported.jws"), `${name}: imported is ${r.claims.imported}`);
  }
  return `${vf.events.length} leaves, root, checkpoint, inclusion, consistency and 3 receipts`;
}

function main(argv) {
  const arg = (name) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  try {
    if (arg("--vectors") !== undefined) {
      console.log("ok: " + verifyVectors(arg("--vectors")));
    } else {
      check(arg("--receipt") && arg("--jwks"), "usage: verify.mjs --receipt FILE --jwks FILE [--origin ORIGIN] | --vectors DIR");
      const jwks = JSON.parse(readFileSync(arg("--jwks"), "utf8"));
      const r = verifyReceipt(readFileSync(arg("--receipt"), "utf8"), jwks, arg("--origin"));
      console.log(`ok: ${r.claims.type} of ${r.claims.event.purpose} at index ${r.claims.ledger.index} in ${r.checkpoint.origin} size ${r.checkpoint.size}`);
    }
  } catch (e) {
    console.log("FAIL: " + (e instanceof Fail ? e.message : e.stack));
    process.exit(1);
  }
}

main(process.argv.slice(2));
