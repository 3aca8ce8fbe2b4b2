// likeness: check a consent receipt in the person's own browser, with
// WebCrypto alone (Ed25519, SHA-256) and no call to the server: the JWS
// signature, the checkpoint (a signed note) it names, the leaf hash of the
// event and its inclusion proof up to the checkpoint's root, as
// docs/RECEIPTS.md specifies them. The organization's public key (JWKS) is
// in the page; the receipt comes from the person's history or a file.
// Progressive enhancement: without this file the portal works as before.
(function () {
  "use strict";
  var box = document.getElementById("receipt-check");
  if (!box || !box.dataset.jwks || !window.crypto || !crypto.subtle || !window.TextEncoder) return;
  var jwks;
  try { jwks = JSON.parse(box.dataset.jwks); } catch (e) { return; }
  box.hidden = false;
  var out = document.getElementById("receipt-result");
  var enc = new TextEncoder();

  function Fail(msg) { this.message = msg; }
  function check(ok, msg) { if (!ok) throw new Fail(msg); }

  function b64urlBytes(s) {
    check(/^[A-Za-z0-9_-]*$/.test(s), "not base64url");
    return b64Bytes(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  }
  function b64Bytes(s) {
    var bin = atob(s), b = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
    return b;
  }
  function hexBytes(h) {
    check(/^([0-9a-f]{2})*$/.test(h), "not hex");
    var b = new Uint8Array(h.length / 2);
    for (var i = 0; i < b.length; i++) b[i] = parseInt(h.substr(2 * i, 2), 16);
    return b;
  }
  function toHex(b) {
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }
  function concat(parts) {
    var n = 0, i, off = 0;
    for (i = 0; i < parts.length; i++) n += parts[i].length;
    var b = new Uint8Array(n);
    for (i = 0; i < parts.length; i++) { b.set(parts[i], off); off += parts[i].length; }
    return b;
  }
  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  function sha256(bytes) {
    return crypto.subtle.digest("SHA-256", bytes).then(function (d) { return new Uint8Array(d); });
  }
  var hashLeaf = function (leaf) { return sha256(concat([new Uint8Array([0]), leaf])); };
  var hashChildren = function (l, r) { return sha256(concat([new Uint8Array([1]), l, r])); };

  // Event members in version-1 (declaration) order; required ones always
  // present, optional ones omitted when "" or 0.
  var MEMBERS = [
    ["index", "int", true], ["id", "str", true], ["type", "str", true], ["subject", "str", true],
    ["purpose", "str"], ["notice_version", "int"], ["notice_sha256", "str"], ["method", "str"],
    ["language", "str"], ["collector", "str"], ["time", "int", true], ["sealed_sha256", "str"],
    ["validation", "str"], ["refers", "str"], ["imported", "bool"]
  ];
  // Go encoding/json string escaping, HTML escaping included (leaf v1).
  function goString(s) {
    var out = '"';
    for (var ch of s) {
      var c = ch.codePointAt(0);
      if (ch === '"' || ch === "\\") out += "\\" + ch;
      else if (ch === "\n") out += "\\n";
      else if (ch === "\r") out += "\\r";
      else if (ch === "\t") out += "\\t";
      else if (ch === "\b") out += "\\b";
      else if (ch === "\f") out += "\\f";
      else if (c < 0x20 || ch === "<" || ch === ">" || ch === "&" || c === 0x2028 || c === 0x2029)
        out += "\\u" + ("000" + c.toString(16)).slice(-4);
      else out += ch;
    }
    return out + '"';
  }
  function leafBytes(ev) {
    Object.keys(ev).forEach(function (k) {
      check(k === "v" || MEMBERS.some(function (m) { return m[0] === k; }), "unknown event member " + k);
    });
    var present = [];
    MEMBERS.forEach(function (m) {
      var empty = m[1] === "int" ? 0 : m[1] === "bool" ? false : "";
      var val = ev[m[0]] === undefined ? empty : ev[m[0]];
      var typed = m[1] === "int" ? Number.isSafeInteger(val) : m[1] === "bool" ? val === true || (val === false && ev[m[0]] === undefined) : typeof val === "string";
      check(typed, "event " + m[0] + " has the wrong type");
      if (m[2] || val !== empty) present.push([m[0], val]);
    });
    if (ev.v === undefined) {
      check(!ev.imported, "a version-1 leaf cannot be imported");
      return enc.encode("{" + present.map(function (p) {
        return '"' + p[0] + '":' + (typeof p[1] === "string" ? goString(p[1]) : String(p[1]));
      }).join(",") + "}");
    }
    check(ev.v === 2, "unknown leaf version " + ev.v);
    // RFC 8785: members sorted by UTF-16 code units, ECMAScript serialisation.
    present.push(["v", 2]);
    present.sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; });
    return enc.encode("{" + present.map(function (p) { return JSON.stringify(p[0]) + ":" + JSON.stringify(p[1]); }).join(",") + "}");
  }

  // RFC 9162 section 2.1.3.2: the root an inclusion proof leads to.
  async function rootFromInclusion(index, size, leafHash, proof) {
    check(index < size, "index not below size");
    var fn = BigInt(index), sn = BigInt(size) - 1n, r = leafHash;
    for (var i = 0; i < proof.length; i++) {
      check(sn !== 0n, "inclusion proof too long");
      if ((fn & 1n) === 1n || fn === sn) {
        r = await hashChildren(proof[i], r);
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      } else {
        r = await hashChildren(r, proof[i]);
      }
      fn >>= 1n; sn >>= 1n;
    }
    check(sn === 0n, "inclusion proof too short");
    return r;
  }

  async function openCheckpoint(note, pub, key) {
    var i = note.lastIndexOf("\n\n");
    check(i > 0, "the checkpoint is not a signed note");
    var text = note.slice(0, i + 1), lines = text.split("\n");
    check(lines.length === 5 && lines[4] === "", "malformed checkpoint");
    check(/^(0|[1-9][0-9]*)$/.test(lines[1]) && /^time -?(0|[1-9][0-9]*)$/.test(lines[3]), "malformed checkpoint");
    var root = b64Bytes(lines[2]);
    check(root.length === 32, "checkpoint root is not 32 bytes");
    var keyHash = (await sha256(concat([enc.encode(lines[0] + "\n"), new Uint8Array([1]), pub]))).slice(0, 4);
    var signed = false, sigs = note.slice(i + 2).split("\n");
    for (var j = 0; j < sigs.length; j++) {
      if (sigs[j] === "") continue;
      var m = /^\u2014 (\S+) (\S+)$/.exec(sigs[j]);
      check(m, "malformed signature line");
      var sig = b64Bytes(m[2]);
      if (m[1] !== lines[0] || sig.length !== 68 || !equal(sig.slice(0, 4), keyHash)) continue;
      check(await crypto.subtle.verify("Ed25519", key, sig.slice(4), enc.encode(text)), "the checkpoint signature does not verify");
      signed = true;
    }
    check(signed, "the checkpoint is not signed by this organization's key");
    return { origin: lines[0], size: Number(lines[1]), root: root, keyHash: toHex(keyHash) };
  }

  // verify checks a compact JWS receipt and returns its claims.
  async function verify(jws) {
    var parts = jws.trim().split(".");
    check(parts.length === 3, "this is not a receipt (a compact JWS)");
    var header = JSON.parse(new TextDecoder().decode(b64urlBytes(parts[0])));
    check(header.alg === "EdDSA" && header.typ === "likeness-receipt+jws", "this is not a likeness receipt");
    var jwk = (jwks.keys || []).find(function (k) { return k.kid === header.kid; });
    check(jwk && jwk.kty === "OKP" && jwk.crv === "Ed25519", "the receipt is signed by a key this organization does not publish");
    var pub = b64urlBytes(jwk.x);
    check(pub.length === 32, "bad public key");
    var key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    check(await crypto.subtle.verify("Ed25519", key, b64urlBytes(parts[2]), enc.encode(parts[0] + "." + parts[1])),
      "the signature does not verify: the receipt was changed or not made by this organization");
    var c = JSON.parse(new TextDecoder().decode(b64urlBytes(parts[1])));
    check(c.version === "likeness-receipt/1", "unknown receipt version");
    var ev = c.event, l = c.ledger;
    var cp = await openCheckpoint(l.checkpoint, pub, key);
    if (/^[0-9a-f]{8}$/.test(header.kid)) check(header.kid === cp.keyHash, "the key id is not the checkpoint key's");
    check(cp.size === l.size, "the checkpoint is not the receipt's");
    var leafHash = await hashLeaf(leafBytes(ev));
    check(toHex(leafHash) === l.leaf_hash && ev.index === l.index, "the event is not the one the ledger entry holds");
    var root = await rootFromInclusion(l.index, l.size, leafHash, l.inclusion_proof.map(hexBytes));
    check(equal(root, cp.root), "the inclusion proof does not reach the signed checkpoint");
    check(c.type === ev.type && c.subject === ev.subject && !!c.imported === !!ev.imported, "the claims disagree with the event");
    return c;
  }

  function show(ok, text) {
    out.textContent = text;
    out.className = ok ? "ok" : "bad";
    out.dataset.result = ok ? "verified" : "failed";
  }
  function run(jws, label) {
    show(false, box.dataset.checking);
    out.dataset.result = "checking";
    verify(jws).then(function (c) {
      show(true, box.dataset.ok.replace("%s", label || (c.event.purpose || "")).replace("%d", c.ledger.index));
    }, function (e) {
      show(false, box.dataset.bad + " " + (e instanceof Fail ? e.message : String(e && e.message || e)));
    });
  }

  document.querySelectorAll("button[data-receipt]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      // The person's own receipt, fetched as the download link would; the
      // check itself runs here.
      fetch(b.dataset.receipt, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Fail(r.status);
        return r.text();
      }).then(function (t) { run(t, b.dataset.label); }, function (e) { show(false, box.dataset.bad + " " + e.message); });
    });
  });
  var file = document.getElementById("receipt-file");
  file.addEventListener("change", function () {
    if (!file.files.length) return;
    file.files[0].text().then(function (t) {
      var jws = t.trim();
      if (jws.charAt(0) === "{" || jws.charAt(0) === '"') {
        var v = JSON.parse(jws);
        jws = typeof v === "string" ? v : (v.receipt || (v.receipts || [])[0] || "");
      }
      run(jws, "");
    });
  });
})();
