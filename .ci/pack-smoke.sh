#!/usr/bin/env bash
# Packs the package, installs the tarball in an empty project, and checks that
# ESM import, CJS require and the .d.ts types all work from the outside.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
cd "$work"
cat > package.json <<'JSON'
{ "name": "etl-stream-smoke", "version": "0.0.0", "private": true, "type": "module" }
JSON
npm install --no-audit --no-fund --silent "./$tarball" "typescript@$(node -p "require('$root/node_modules/typescript/package.json').version")" "@types/node@20"
names=$(node -e "console.log(JSON.stringify(require('$root/test/unit/public-exports.json')))")
cat > esm.mjs <<JS
import * as etl from 'etl-stream';
import * as testing from 'etl-stream/testing';
const expected = ${names};
const missing = expected.root.filter((n) => !(n in etl));
const missingTesting = expected.testing.filter((n) => !(n in testing));
if (missing.length || missingTesting.length) { console.error('ESM missing', missing, missingTesting); process.exit(1); }
console.log('esm ok:', Object.keys(etl).length, 'names');
JS
cat > cjs.cjs <<JS
const etl = require('etl-stream');
const testing = require('etl-stream/testing');
const expected = ${names};
const missing = expected.root.filter((n) => !(n in etl));
const missingTesting = expected.testing.filter((n) => !(n in testing));
if (missing.length || missingTesting.length) { console.error('CJS missing', missing, missingTesting); process.exit(1); }
console.log('cjs ok:', Object.keys(etl).length, 'names');
JS
cp "$root/.ci/consumer.ts" consumer.ts
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true,
  "noEmit": true, "skipLibCheck": false, "types": ["node"], "lib": ["ES2023", "ESNext.Disposable"] }, "files": ["consumer.ts"] }
JSON
node esm.mjs
node cjs.cjs
npx tsc -p tsconfig.json
echo "types ok"
