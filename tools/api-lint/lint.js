// FOLIO's api-lint check (folio-org/folio-tools api-lint/amf.js) over several files in one process.
//
//   node lint.js [-w] -t "RAML 1.0" FILE...        node lint.js [-w] -t "OAS 3.0" FILE...
//
// Per file, as amf.js does: parse with the type's AMF configuration, validate the parsed unit, fail when
// either does not conform, and with -w also when either reported anything (a warning). One process for
// all files, because loading AMF costs more than checking a file. Prints one block per file; exits 1 when
// a file failed, 2 on a usage error.
'use strict';

const fs = require('fs');
const path = require('path');
const amf = require('amf-client-js');

const CLIENTS = {
  'RAML 1.0': () => amf.RAMLConfiguration.RAML10().baseUnitClient(),
  'OAS 3.0': () => amf.OASConfiguration.OAS30().baseUnitClient(),
  'OAS 3.1': () => amf.OASConfiguration.OAS31().baseUnitClient(),
};

function parseArgs(argv) {
  const args = { warnings: false, type: null, files: [] };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '-w') {
      args.warnings = true;
    } else if (argv[i] === '-t') {
      i += 1;
      args.type = argv[i];
    } else {
      args.files.push(argv[i]);
    }
  }
  return args;
}

function report(stage, result) {
  const lines = [`  ${stage}: conforms=${result.conforms} results=${result.results.length}`];
  result.results.forEach((res) => {
    const where = res.location ? ` (${path.basename(res.location)})` : '';
    lines.push(`    ${res.severityLevel}: ${res.message}${where}`);
  });
  return lines;
}

async function lint(client, file, warnings) {
  const parsed = await client.parseDocument(`file://${path.resolve(file)}`);
  const validated = await client.validate(parsed.baseUnit);
  let failed = !parsed.conforms || !validated.conforms;
  if (warnings && (parsed.results.length > 0 || validated.results.length > 0)) {
    failed = true;
  }
  const lines = [`${failed ? 'FAIL' : 'ok'} ${file}`, ...report('parse', parsed), ...report('validate', validated)];
  return { failed, text: lines.join('\n') };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!CLIENTS[args.type] || args.files.length === 0) {
    console.error(`usage: node lint.js [-w] -t "${Object.keys(CLIENTS).join('" | "')}" FILE...`);
    process.exit(2);
  }
  const missing = args.files.filter((file) => !fs.existsSync(file));
  if (missing.length > 0) {
    console.error(`Input file does not exist: ${missing.join(', ')}`);
    process.exit(2);
  }
  let failures = 0;
  for (const file of args.files) {
    // A fresh client per file, as amf.js gets one per run: no state carried from file to file.
    const outcome = await lint(CLIENTS[args.type](), file, args.warnings);
    console.log(outcome.text);
    failures += outcome.failed ? 1 : 0;
  }
  console.log(`${args.files.length - failures} of ${args.files.length} conform${args.warnings ? ' (warnings fatal)' : ''}`);
  process.exitCode = failures > 0 ? 1 : 0;
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(2);
});
