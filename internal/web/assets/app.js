// likeness: progressive enhancement only. Every page works without this file.
// It offers verbal consent where the browser can record audio.
(function () {
  "use strict";
  var form = document.getElementById("consent-form");
  var box = document.getElementById("verbal");
  if (!form || !box || !form.dataset.recordUrl) return;
  if (!window.MediaRecorder || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  box.hidden = false;

  var start = document.getElementById("verbal-start");
  var stop = document.getElementById("verbal-stop");
  var status = document.getElementById("verbal-status");
  var sentence = document.getElementById("verbal-sentence");
  var recorder = null, chunks = [];

  function selected() {
    return Array.prototype.filter.call(form.querySelectorAll('input[name="purpose"]'), function (c) { return c.checked; });
  }
  function updateSentence() {
    var titles = selected().map(function (c) {
      var label = form.querySelector('label[for="' + c.id + '"]');
      return label ? label.textContent.replace(/^[^:]*:\s*/, "") : c.value;
    });
    sentence.textContent = titles.length ? sentence.dataset.template + titles.join("; ") + "." : "";
  }
  form.addEventListener("change", updateSentence);
  updateSentence();

  start.addEventListener("click", function () {
    if (selected().length === 0) { status.textContent = status.dataset.none; return; }
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.ondataavailable = function (e) { if (e.data.size) chunks.push(e.data); };
      recorder.onstop = function () {
        stream.getTracks().forEach(function (t) { t.stop(); });
        upload(new Blob(chunks, { type: recorder.mimeType || "audio/webm" }));
      };
      recorder.start();
      start.hidden = true; stop.hidden = false; stop.focus();
      status.textContent = status.dataset.recording;
    }, function () { status.textContent = status.dataset.denied; });
  });
  stop.addEventListener("click", function () { if (recorder) recorder.stop(); stop.hidden = true; });

  function upload(blob) {
    status.textContent = status.dataset.uploading;
    var fd = new FormData();
    ["csrf", "notice_version", "notice_sha256", "lang"].forEach(function (n) { fd.append(n, form.elements[n].value); });
    selected().forEach(function (c) { fd.append("purpose", c.value); });
    fd.append("recording", blob, "consent.webm"); // the recording goes last: the server streams it
    fetch(form.dataset.recordUrl, { method: "POST", body: fd, credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (res) {
        if (!res.ok) { status.textContent = res.body.error || ""; start.hidden = false; return; }
        var main = document.getElementById("main");
        main.textContent = "";
        var h = document.createElement("h1"); h.textContent = res.body.title; main.appendChild(h);
        var p = document.createElement("p"); p.className = "lead"; p.textContent = res.body.message; main.appendChild(p);
        var ul = document.createElement("ul"); ul.className = "granted";
        (res.body.granted || []).forEach(function (t) { var li = document.createElement("li"); li.textContent = t; ul.appendChild(li); });
        main.appendChild(ul);
        if (res.body["continue"]) {
          var a = document.createElement("a"); a.className = "btn"; a.href = res.body["continue"]; a.textContent = res.body.label;
          var pa = document.createElement("p"); pa.appendChild(a); main.appendChild(pa);
        }
        main.focus();
      }, function () { status.textContent = status.dataset.denied; start.hidden = false; });
  }
})();
