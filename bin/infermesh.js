#!/usr/bin/env node
// The TypeScript sources run directly on Node 24 (type stripping): there is no build step.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `infermesh needs Node.js 24 or newer, but this is ${process.version}.\n` +
      'In a checkout, run it through npm (npx infermesh, npm start), which uses the Node 24 the project installs;\n' +
      'elsewhere, install Node.js 24 LTS.\n',
  );
  process.exit(1);
}
// `infermesh render | head`: a reader that goes away is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
