// Dump the tables bot/data needs from the official npm packages, as JSON on stdout.
//
// Run with NODE_PATH pointing at a node_modules holding twitter-text@3.1.0 (which pulls in
// twemoji-parser@11.0.2) and tlds@1.261.0 (the version @atproto/api@0.21.0 resolves):
//   NODE_PATH=/tmp/js/node_modules node js_tables.js > tables.json
// build_bot_data.py runs this for you.
'use strict';
const fs = require('fs');
const path = require('path');
const tt = require('twitter-text');
const r = tt.regexen;

// Code point ranges matched by a twitter-text character rule, as the hashtag regex applies it
// (flag "i", whole code point, surrogate pairs included).
function ranges(re) {
  const rx = new RegExp('^(?:' + re.source + ')$', 'i');
  const out = [];
  let start = -1;
  let prev = -2;
  for (let c = 0; c <= 0x10ffff; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    if (rx.test(String.fromCodePoint(c))) {
      if (c !== prev + 1) {
        if (start >= 0) out.push([start, prev]);
        start = c;
      }
      prev = c;
    }
  }
  if (start >= 0) out.push([start, prev]);
  return out;
}

// The TLD alternations, in the order twitter-text lists them.
function alternatives(re) {
  return re.source.replace(/^\(\?:\(\?:/, '').replace(/\)\(\?=.*$/, '').split('|');
}
const gtld = alternatives(r.validGTLD);
const cctld = alternatives(r.validCCTLD);

// Which BMP characters the "i" flag (no "u") lets stand for each non-ASCII TLD character.
const variants = {};
for (const ch of new Set([...gtld.join(''), ...cctld.join('')])) {
  if (ch.charCodeAt(0) < 128) continue;
  const rx = new RegExp('^' + ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$', 'i');
  let v = '';
  for (let x = 0; x < 0x10000; x++) {
    if (x >= 0xd800 && x <= 0xdfff) continue;
    if (rx.test(String.fromCharCode(x))) v += String.fromCharCode(x);
  }
  if (v !== ch) variants[ch] = v;
}

const twemojiDir = path.dirname(require.resolve('twemoji-parser/package.json'));
const twemojiSource = fs.readFileSync(path.join(twemojiDir, 'dist/lib/regex.js'), 'utf8');
const tlds = require('tlds');

process.stdout.write(
  JSON.stringify({
    twitter_text_version: require('twitter-text/package.json').version,
    twemoji_parser_version: require('twemoji-parser/package.json').version,
    tlds_version: require('tlds/package.json').version,
    hashtag_alpha: ranges(r.hashtagAlpha),
    hashtag_alnum: ranges(r.hashtagAlphaNumeric),
    gtld,
    cctld,
    variants,
    twemoji_source: twemojiSource,
    atproto_tlds: tlds,
  }),
);
