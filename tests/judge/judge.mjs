// Judge composed posts with the platforms' own code: npm twitter-text 3.1.0 (X; also the URL
// extractor Mastodon's Ruby twitter-text fork is built on) and @atproto/api's RichText (Bluesky).
//
//   node judge.mjs < requests.jsonl > answers.jsonl
//
// One JSON object per input line, one answer per output line, in order; many requests per process.
//   {"id": ..., "judge": "x", "text": ...}        -> {"id", "weightedLength", "valid", "urls", "hashtags", "mentions"}
//   {"id": ..., "judge": "bluesky", "text": ...}  -> {"id", "graphemeLength", "byteLength", "facets"}
//   {"id": ..., "judge": "urls", "text": ...}     -> {"id", "urls"}  (with a scheme only, as Mastodon links them)
// Every span is [start, end) in code points of `text` (Python's str indices), except Bluesky facets,
// which keep their UTF-8 byte ranges. It only answers; the test decides what is wrong.
import readline from 'node:readline';
import twitter from 'twitter-text';
import { RichText } from '@atproto/api';

const cpIndex = (text) => {
  // UTF-16 offset -> code point offset, for a whole string at once.
  const map = new Array(text.length + 1);
  let cp = 0;
  for (let i = 0; i < text.length; i++) {
    map[i] = cp;
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) { map[++i] = cp; }
    cp++;
  }
  map[text.length] = cp;
  return map;
};

const spans = (text, entities, key) => {
  const map = cpIndex(text);
  return entities.map((e) => [map[e.indices[0]], map[e.indices[1]], e[key]]);
};

const judges = {
  x(text) {
    const parsed = twitter.parseTweet(text);
    return {
      weightedLength: parsed.weightedLength,
      valid: parsed.valid,
      urls: spans(text, twitter.extractUrlsWithIndices(text), 'url'),
      hashtags: spans(text, twitter.extractHashtagsWithIndices(text), 'hashtag'),
      mentions: spans(text, twitter.extractMentionsWithIndices(text), 'screenName'),
    };
  },
  bluesky(text) {
    const rt = new RichText({ text });
    rt.detectFacetsWithoutResolution();
    return {
      graphemeLength: rt.graphemeLength,
      byteLength: rt.length,
      facets: (rt.facets || []).map((f) => ({ index: f.index, features: f.features })),
    };
  },
  urls(text) {
    return { urls: spans(text, twitter.extractUrlsWithIndices(text, { extractUrlsWithoutProtocol: false }), 'url') };
  },
};

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    const request = JSON.parse(line);
    const judge = judges[request.judge];
    answer = judge ? { id: request.id, ...judge(request.text) } : { id: request.id, error: `no judge ${request.judge}` };
  } catch (err) {
    answer = { id: null, error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
