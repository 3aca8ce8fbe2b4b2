// Parses an AsyncAPI document with the AsyncAPI project's parser and exits
// 1 on any error-level diagnostic (warnings and hints are printed).
import { Parser, fromFile } from '@asyncapi/parser';

const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, process.argv[2]).parse();
let failed = !document;
for (const d of diagnostics) {
  console.log(`severity ${d.severity} ${d.code}: ${d.message} at ${JSON.stringify(d.path)}`);
  if (d.severity === 0) failed = true;
}
if (document) console.log(`parsed: ${document.allChannels().length} channels, ${document.allMessages().length} messages`);
process.exit(failed ? 1 : 0);
