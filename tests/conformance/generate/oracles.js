// Answer, with the official npm packages, for every input make_oracles.py sends on stdin.
//
//   NODE_PATH=/tmp/js/node_modules node oracles.js < inputs.json > answers.json
//
// inputs.json: {"x": [text, ...], "bluesky": [text, ...]}
// answers:     {"x": [[v2 weightedLength, v2 valid, v3 weightedLength, v3 valid], ...],
//               "bluesky": [[facet, ...], ...]}   (RichText.detectFacetsWithoutResolution, mentions dropped)
'use strict';
const twitter = require('twitter-text');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));

(async () => {
  // ESM packages ignore NODE_PATH: load @atproto/api from the first NODE_PATH entry.
  const apiIndex = require('path').join(process.env.NODE_PATH.split(':')[0], '@atproto/api/dist/index.js');
  const { RichText } = await import(require('url').pathToFileURL(apiIndex).href);
  const x = input.x.map((text) => {
    const v2 = twitter.parseTweet(text, twitter.configs.version2);
    const v3 = twitter.parseTweet(text, twitter.configs.version3);
    return [v2.weightedLength, v2.valid, v3.weightedLength, v3.valid];
  });
  const bluesky = input.bluesky.map((text) => {
    const rt = new RichText({ text });
    rt.detectFacetsWithoutResolution();
    return (rt.facets || [])
      .filter((f) => !f.features.some((feat) => feat.$type === 'app.bsky.richtext.facet#mention'))
      .map((f) => ({ index: f.index, features: f.features }));
  });
  process.stdout.write(JSON.stringify({ x, bluesky }));
})();
