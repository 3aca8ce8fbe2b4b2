// detect.js runs an independent face detector over images for likeness's
// anonymization tests: face-api's SSD MobileNet v1 (trained on WIDER FACE,
// weights shipped in the npm package) on TensorFlow.js with its WASM
// backend, all offline.
//
// Input on stdin: a JSON array of binary PPM (P6) file paths. Output on
// stdout: one JSON line per image, in order, {"path": …, "faces": [{"score",
// "x", "y", "w", "h"}, …]} in the image's pixels. Faces below a score of
// 0.3 are not reported; the caller picks its own threshold. The detector
// sees each image resized to 512×512, so the caller tiles large images.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

function readPPM(file) {
  const buf = fs.readFileSync(file);
  const m = buf.toString('latin1', 0, 64).match(/^P6\s+(\d+)\s+(\d+)\s+255\s/);
  if (!m) throw new Error(`${file}: not a binary PPM with maxval 255`);
  const w = Number(m[1]);
  const h = Number(m[2]);
  return tf.tensor3d(new Int32Array(buf.subarray(m[0].length, m[0].length + w * h * 3)), [h, w, 3], 'int32');
}

async function main() {
  wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
  await tf.setBackend('wasm');
  await tf.ready();
  const models = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(models);
  const options = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.3, maxResults: 200 });
  const files = JSON.parse(fs.readFileSync(0, 'utf8'));
  for (const file of files) {
    const t = readPPM(file);
    const found = await faceapi.detectAllFaces(t, options);
    t.dispose();
    const faces = found.map((d) => ({ score: d.score, x: d.box.x, y: d.box.y, w: d.box.width, h: d.box.height }));
    process.stdout.write(JSON.stringify({ path: file, faces }) + '\n');
  }
}

main().catch((err) => {
  process.stderr.write(`detect.js: ${err.stack || err}\n`);
  process.exit(1);
});
