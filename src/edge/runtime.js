// The few Workers runtime calls the edge makes, written in JavaScript where that is simpler and
// cheaper than crossing into Rust for every chunk: fetch with a timeout, bounded body reads with a
// deadline, a byte-counting stream, a stream cut when its source stalls, a body written while it
// is sent and the Cache API. Errors
// are thrown as short strings the edge maps to the core's FetchFailure / BodyError.

// Headers cross between Rust and JavaScript in one string each way, structured so that no name or
// value can be read as more than one header (src/edge/wire.rs is the Rust half):
// - to Rust, each name and value preceded by its length and a colon ("4:host9:127.0.0.1");
// - from Rust, the names and values end to end in one string, with where each ends (UTF-16 units,
//   as `slice` counts) in a Uint32Array: there is no separator to forge.
//
// forEach, not for...of: measured in workerd's profiler, about 4.5 µs per call on a browser's six
// request headers against 7.5 (each step of the iterator is a call into the runtime).
function headerText(headers) {
  let text = "";
  headers.forEach((value, name) => {
    text += prefix(name) + name + prefix(value) + value;
  });
  return text;
}

// A request's method, URL and headers in one string, for one crossing into Rust instead of four:
// "<method> <url> <headers>". Neither a method (a token) nor a URL as the runtime writes it holds
// a space, so the first two spaces end them.
export function requestHead(request) {
  return request.method + " " + request.url + " " + headerText(request.headers);
}

// An answer as Rust reads it, in one crossing: [status, headers, body], the body a Uint8Array (read
// with the head), a ReadableStream or null.
function answerOf(response, body = response.body) {
  return [response.status, headerText(response.headers), body];
}

// "<length>:" of a string; the usual short lengths from a table (measured: as cheap as the
// line-based form it replaced, where formatting each number was not).
const PREFIXES = Array.from({ length: 256 }, (_, length) => length + ":");
function prefix(text) {
  return text.length < 256 ? PREFIXES[text.length] : text.length + ":";
}

// The names and values back as a Headers object. Built by append: measured in workerd, a Response
// takes a Headers object faster than the same headers as [name, value] pairs or as a plain object.
// `ends` is a view of the module's memory: read before anything else can run.
function headersFrom(text, ends) {
  const headers = new Headers();
  let start = 0;
  for (let i = 1; i < ends.length; i += 2) {
    const middle = ends[i - 1];
    const end = ends[i];
    headers.append(text.slice(start, middle), text.slice(middle, end));
    start = end;
  }
  return headers;
}

// Streams `respond` passes on as they are: origin answers' bodies (workerd knows their length and
// fails the answer itself when the origin stops short), the idle cut's output (already a
// FixedLengthStream when a length was declared) and tee branches of either. A stream of the
// Worker's own with a declared length gets a FixedLengthStream in `respond`.
const lengthKnown = new WeakSet();

// Bodies whose exact length the runtime enforces (a request's, an origin answer's that `send` did
// not read), with the headers that declare it: `readLimited` reads them natively when the length
// fits. The headers are only looked at when a body is read.
const declaringHeaders = new WeakMap();

// The body length `headers` declare, when the runtime holds the body to it (no content coding).
function declaredLength(headers) {
  // Digits only, as the core reads it (Number() would also take "", "1e3" or "0x10").
  const declared = headers.get("content-length");
  const length = declared !== null && /^[0-9]+$/.test(declared) ? Number(declared) : NaN;
  return Number.isSafeInteger(length) && !headers.has("content-encoding") ? length : undefined;
}

// A request's whole body, read natively in one call (a chat message's: see src/edge/body_first.rs):
// a Uint8Array, or, when the read failed (the client went away, or sent less than it declared), a
// stream that fails `readLimited` as the read did. The request's own stream is spent by then.
export function requestBytes(request) {
  return request.arrayBuffer().then(
    (bytes) => new Uint8Array(bytes),
    (error) => failingStream("broken: " + messageOf(error)),
  );
}

// A request's body, noted with the headers that declare its length.
export function requestBody(request) {
  const body = request.body;
  if (body) declaringHeaders.set(body, request.headers);
  return body;
}

// Builds the Worker's answer; null-body statuses (101, 204, 205, 304) get no body. A streamed body
// whose length the origin declared keeps it: the client sees the length, and an origin that stops
// short makes the answer fail instead of ending early as if complete.
export function respond(status, text, ends, body) {
  const empty = status === 101 || status === 204 || status === 205 || status === 304;
  const list = headersFrom(text, ends);
  if (!empty && body instanceof ReadableStream && !lengthKnown.has(body)) {
    const length = declaredLength(list);
    if (length !== undefined) {
      const fixed = new FixedLengthStream(length);
      body.pipeTo(fixed.writable).catch(() => {});
      body = fixed.readable;
    }
  }
  return new Response(empty ? null : body, { status, headers: list });
}

// Sends a request, giving up when the origin has not answered (headers) within `timeoutMs`.
// Redirects are returned, never followed. A request body under a byte limit (`limitStream`) that
// passes it aborts the fetch: the origin's request fails instead of ending as if complete, and its
// answer, should it come first, is dropped for "too_large".
//
// Resolves as the answer (`answerOf`). One that declares at most `readAheadBytes` (uncompressed) is
// read here, natively and by the same timer: one await, one timer and one crossing less than
// reading it afterwards. When that read fails its body is a stream that fails `readLimited` the
// same way a read of the body would have ("timeout" or "broken: ..."). Any other answer's body is
// read later by `readLimited` within the rest of the same deadline, or streamed.
export async function send(method, url, text, ends, body, timeoutMs, readAheadBytes) {
  const headers = headersFrom(text, ends);
  const controller = new AbortController();
  let readTooLate;
  const timer = setTimeout(() => {
    controller.abort();
    readTooLate?.();
  }, timeoutMs);
  const init = { method, headers, redirect: "manual", signal: controller.signal };
  const limited = body instanceof ReadableStream ? limitStates.get(body) : undefined;
  if (limited) limited.abort = () => controller.abort();
  if (body !== null && body !== undefined) init.body = body;
  try {
    const response = await fetch(url, init);
    if (limited && limited.exceeded) {
      controller.abort();
      throw "too_large";
    }
    if (!response.body) return answerOf(response);
    const length = declaredLength(response.headers);
    if (length !== undefined && length <= readAheadBytes) {
      // An abort cannot end a body once the answer has come: the timer rejects the read.
      const read = new Promise((resolve, reject) => {
        readTooLate = () => reject("timeout");
        if (controller.signal.aborted) return readTooLate();
        response.arrayBuffer().then(resolve, (error) => reject("broken: " + messageOf(error)));
      });
      return answerOf(response, await read.then((bytes) => new Uint8Array(bytes), failingStream));
    }
    lengthKnown.add(response.body);
    declaringHeaders.set(response.body, response.headers);
    return answerOf(response);
  } catch (error) {
    if (limited && limited.exceeded) throw "too_large";
    if (controller.signal.aborted) throw "timeout";
    throw "network: " + messageOf(error);
  } finally {
    clearTimeout(timer);
  }
}

function messageOf(error) {
  return error && error.message ? error.message : String(error);
}

// Streams standing for a body whose read already failed, with why (see `send`).
const failedReads = new WeakMap();
function failingStream(reason) {
  const stream = new ReadableStream({ start: (controller) => controller.error(new Error(reason)) });
  failedReads.set(stream, reason);
  return stream;
}

// Reads a whole stream into bytes, failing with "too_large" past `limit` bytes, and with "timeout"
// when it has not ended within `timeoutMs` (Infinity: no deadline; a body the client sends, or
// one from the cache). The fetch's own signal cannot end a body (the runtime ignores an abort once
// the answer has come), so the deadline is a timer of its own.
export function readLimited(stream, limit, timeoutMs) {
  if (stream === null || stream === undefined) return Promise.resolve(new Uint8Array(0));
  const failed = failedReads.get(stream);
  if (failed !== undefined) return Promise.reject(failed);
  if (!Number.isFinite(timeoutMs)) return readAll(stream, limit);
  return readAllBy(stream, limit, timeoutMs);
}

async function readAllBy(stream, limit, timeoutMs) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject("timeout"), timeoutMs);
  });
  try {
    return await Promise.race([readAll(stream, limit, late), late]);
  } finally {
    clearTimeout(timer);
  }
}

// `readLimited`'s read. When `late` rejects (the deadline passed), a read chunk by chunk cancels
// the stream; a native read (`arrayBuffer`) cannot be cancelled and is abandoned to the runtime,
// which drops it when the request ends. The native read is a plain promise chain, not an async
// function: a chat message's body is read so on every message.
function readAll(stream, limit, late) {
  // Too long a declared length still goes through the counting loop below: answering before any
  // of the body was read made clients still sending it see a reset instead of the 413.
  const headers = declaringHeaders.get(stream);
  const declared = headers === undefined ? undefined : declaredLength(headers);
  if (declared !== undefined && declared <= limit) {
    // Never a synchronous throw into Rust (a throw through a wasm import is a trap): a stream
    // already read fails the promise instead.
    try {
      return new Response(stream).arrayBuffer().then(
        (bytes) => new Uint8Array(bytes),
        (error) => Promise.reject("broken: " + messageOf(error)),
      );
    } catch (error) {
      return Promise.reject("broken: " + messageOf(error));
    }
  }
  return readChunks(stream, limit, late);
}

async function readChunks(stream, limit, late) {
  const reader = stream.getReader();
  late?.catch(() => reader.cancel().catch(() => {}));
  const chunks = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        reader.cancel().catch(() => {});
        throw "too_large";
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error === "too_large") throw error;
    throw "broken: " + messageOf(error);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

// The state of each stream `limitStream` made: `exceeded` once it passed its limit, and `abort`,
// set by `send`, to abort the fetch sending it.
const limitStates = new WeakMap();

// A stream that passes bytes through and fails once more than `limit` have passed. The fetch
// sending it is aborted first: erroring the stream alone ends the upload as if it were complete,
// and the origin would answer a truncated body.
export function limitStream(stream, limit) {
  const state = { exceeded: false, abort: undefined };
  let total = 0;
  const limited = stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        total += chunk.byteLength;
        if (total > limit) {
          state.exceeded = true;
          state.abort?.();
          controller.error(new Error("request body too large"));
        } else {
          controller.enqueue(chunk);
        }
      },
    }),
  );
  limitStates.set(limited, state);
  return limited;
}

// How much one read of the origin's body may take. A default read gets the runtime's own chunk (a
// few KB), and each chunk crosses into JavaScript and back: a 1 MB answer came through at 65 MB/s
// against 960 for a Worker that passes the body on untouched. Reads into buffers of up to 256 KB (a
// byte stream fills as much as it has, without waiting for more) gave 370-440 MB/s, and 480-500 for
// 20 MB (tests/bench/growth.mjs). A buffer is sized to what is left of a declared length, else it
// starts small and doubles while reads fill it: 256 KB for every answer cost a small answer's GET a
// quarter of its requests per second.
const LARGEST_READ_BYTES = 256 * 1024;
const FIRST_READ_BYTES = 16 * 1024;

// A stream that fails when its source sends nothing for `idleMs` while it is being read: a
// proxied answer that stalls is cut instead of holding the client. Time only counts while a chunk
// is awaited from the source: a client reading slowly is not the source stalling. The client sees
// the answer break off when its length was declared (a FixedLengthStream holds it to that
// length); without one, the runtime ends a failed chunked answer as if it were complete (workerd
// issue 6818), so the cut shows only as a short body.
//
// Measured (A/B of the proxied GET against the build before the cut, on a loaded machine): a
// JavaScript ReadableStream here, then piped into `respond`'s FixedLengthStream, kept 0.69 of the
// throughput; chunks copied into a native stream, watched by one timer per idle period rather than
// one per chunk, keep 0.90 (of a small answer's requests per second; large answers gained most from
// reading in large buffers, above).
export function cutWhenIdle(stream, idleMs) {
  const headers = declaringHeaders.get(stream);
  const length = headers === undefined ? undefined : declaredLength(headers);
  const { readable, writable } = length === undefined ? new IdentityTransformStream() : new FixedLengthStream(length);
  lengthKnown.add(readable);
  if (headers !== undefined) declaringHeaders.set(readable, headers);
  copyWatched(stream, length, writable.getWriter(), idleMs);
  return readable;
}

async function copyWatched(stream, length, writer, idleMs) {
  // A body that is not a byte stream (one the Worker made itself) is read chunk by chunk.
  let byob = true;
  let reader;
  try {
    reader = stream.getReader({ mode: "byob" });
  } catch {
    byob = false;
    reader = stream.getReader();
  }
  let copied = 0;
  // The next read's buffer: what is left of a declared length, else twice the last one if it filled.
  const nextReadBytes = (last) => {
    if (length !== undefined) return Math.min(Math.max(length - copied, 1), LARGEST_READ_BYTES);
    if (last === undefined) return FIRST_READ_BYTES;
    const size = last.buffer.byteLength;
    return last.byteLength === size ? Math.min(size * 2, LARGEST_READ_BYTES) : size;
  };
  let readBytes = nextReadBytes();
  let awaiting = false;
  let since = Date.now();
  let cut = false;
  const watch = () => {
    const idle = Date.now() - since;
    if (awaiting && idle >= idleMs) {
      cut = true;
      const error = new Error("the origin sent nothing for " + idleMs + " ms");
      writer.abort(error).catch(() => {});
      reader.cancel(error).catch(() => {});
    } else {
      timer = setTimeout(watch, awaiting ? idleMs - idle : idleMs);
    }
  };
  let timer = setTimeout(watch, idleMs);
  // The buffer of the last read, free again once its chunk is written: the next read goes into it
  // when it is large enough. Against a new buffer for every read (allocated, zeroed, collected),
  // measured in alternation: answers of 1 MB came through 1.14 times as fast, of 20 MB 1.31.
  let spare;
  const nextBuffer = () =>
    spare !== undefined && spare.byteLength >= readBytes ? new Uint8Array(spare, 0, readBytes) : new Uint8Array(readBytes);
  try {
    for (;;) {
      awaiting = true;
      since = Date.now();
      const { done, value } = await (byob ? reader.read(nextBuffer()) : reader.read());
      awaiting = false;
      if (done) break;
      if (byob) {
        copied += value.byteLength;
        readBytes = nextReadBytes(value);
      }
      await writer.write(value);
      if (byob) spare = value.buffer;
    }
    if (!cut) await writer.close();
  } catch (error) {
    writer.abort(error).catch(() => {});
    reader.cancel(error).catch(() => {});
  } finally {
    clearTimeout(timer);
  }
}

// A body written while it is sent (a streamed chat reply): [writer, readable]. Writes are not
// awaited: they queue in the stream, in order, and once the client has gone away they fail,
// quietly.
const encoder = new TextEncoder();

export function openBody() {
  const { readable, writable } = new TransformStream();
  return [writable.getWriter(), readable];
}

export function writeBody(writer, text) {
  writer.write(encoder.encode(text)).catch(() => {});
}

export function endBody(writer) {
  writer.close().catch(() => {});
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Both branches keep what is known of the source: a branch of a stream whose length the runtime
// holds has that length too, and must not be piped into another FixedLengthStream by `respond`
// (workerd cannot pipe between its own transform streams: the answer came out empty).
export function tee(stream) {
  const branches = stream.tee();
  const headers = declaringHeaders.get(stream);
  for (const branch of branches) {
    if (lengthKnown.has(stream)) lengthKnown.add(branch);
    if (headers !== undefined) declaringHeaders.set(branch, headers);
  }
  return branches;
}

export async function cacheGet(key) {
  const found = await caches.default.match(key);
  return found ? answerOf(found) : null;
}

// Stores a response under a URL key for `ttlSeconds`; the Cache API needs max-age to keep it.
export async function cachePut(key, status, text, ends, body, ttlSeconds) {
  const stored = headersFrom(text, ends);
  stored.set("cache-control", "max-age=" + ttlSeconds);
  stored.delete("set-cookie");
  await caches.default.put(key, new Response(body, { status, headers: stored }));
}

// Imported Web Crypto keys, by algorithm and SPKI bytes: importKey costs more than a verify.
const importedKeys = new Map();
const ALGORITHMS = {
  RS256: { import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, verify: { name: "RSASSA-PKCS1-v1_5" } },
  ES256: { import: { name: "ECDSA", namedCurve: "P-256" }, verify: { name: "ECDSA", hash: "SHA-256" } },
};

// Verifies a JWS signature; false on any failure (a key that does not import, a bad signature).
export async function verifySignature(algorithm, spki, message, signature) {
  const params = ALGORITHMS[algorithm];
  if (!params) return false;
  const cacheKey = algorithm + ":" + btoa(String.fromCharCode(...spki));
  let key = importedKeys.get(cacheKey);
  if (!key) {
    key = crypto.subtle.importKey("spki", spki, params.import, false, ["verify"]);
    if (importedKeys.size > 64) importedKeys.clear();
    importedKeys.set(cacheKey, key);
  }
  try {
    return await crypto.subtle.verify(params.verify, await key, signature, message);
  } catch (_) {
    importedKeys.delete(cacheKey);
    return false;
  }
}

// Rate-limit counters: one Durable Object per counter name (a limit and a key), asked over RPC.
// All of a request's counters at once; each answer is [allowed, remaining, reset, countedAt], or
// NaNs when its object failed or did not answer within `timeoutMs` (the limit's `fail` decides).
// `names` come joined by "\n" (the core's counter names never hold one).
export async function spendLimits(namespace, names, requests, periods, timeoutMs) {
  const list = names.split("\n");
  const answers = await Promise.all(
    list.map((name, i) => {
      const stub = namespace.get(namespace.idFromName(name));
      return withTimeout(stub.spend(requests[i], periods[i]), timeoutMs).catch(() => null);
    }),
  );
  const flat = new Float64Array(list.length * 4).fill(NaN);
  answers.forEach((answer, i) => {
    if (Array.isArray(answer) && answer.length === 4) flat.set(answer, i * 4);
  });
  return flat;
}

// Gives back requests counted for a request another limit refused.
export function giveBack(namespace, names, countedAt) {
  return Promise.all(
    names.split("\n").map((name, i) => namespace.get(namespace.idFromName(name)).giveBack(countedAt[i])),
  );
}

// Conversations: one Durable Object per sender (conversation.mjs), asked over RPC. Failures reject
// (the core answers 503); a begin() that does not answer within `timeoutMs` too.
function conversation(namespace, id) {
  return namespace.get(namespace.idFromName(id));
}

// Resolves to [token, record or null] once the sender's previous turn has ended.
export function conversationBegin(namespace, id, timeoutMs) {
  return withTimeout(conversation(namespace, id).begin(), timeoutMs);
}

// Resolves to whether the record was stored.
export async function conversationCommit(namespace, id, token, record, retentionSeconds) {
  return (await conversation(namespace, id).commit(token, record, retentionSeconds)) === true;
}

export function conversationAbort(namespace, id, token) {
  return conversation(namespace, id).abort(token);
}

// Resolves to the record or null.
export function conversationRead(namespace, id) {
  return conversation(namespace, id).read();
}

function withTimeout(promise, timeoutMs) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Analytics: one AnalyticsStore Durable Object per UTC day (see src/edge/analytics.rs), asked over
// RPC. Rows are [minute, route, counts], minutes since the Unix epoch.
const MINUTES_PER_DAY = 1440;
const dayStore = (store, day) => store.get(store.idFromName("day:" + day));

// Adds a batch's rows to the days' stores, and writes one Analytics Engine data point per row when
// a dataset is bound: index the route; blobs the route; doubles the minute, then requests, 2xx,
// 3xx, 4xx, 5xx, HIT, MISS, BYPASS, STALE and limited.
export async function recordAnalytics(store, engine, rowsJson) {
  const rows = JSON.parse(rowsJson);
  const byDay = new Map();
  for (const row of rows) {
    const day = Math.floor(row[0] / MINUTES_PER_DAY);
    if (!byDay.has(day)) byDay.set(day, []);
    byDay.get(day).push(row);
  }
  if (engine) {
    for (const [minute, route, counts] of rows) {
      engine.writeDataPoint({ indexes: [route], blobs: [route], doubles: [minute, ...counts.slice(0, 10)] });
    }
  }
  await Promise.all([...byDay].map(([day, dayRows]) => dayStore(store, day).record(dayRows)));
}

// The stored rows of minutes from..to (at most two days' stores), as JSON text.
export async function readAnalytics(store, from, to) {
  const days = [];
  for (let day = Math.floor(from / MINUTES_PER_DAY); day <= Math.floor(to / MINUTES_PER_DAY); day++) days.push(day);
  const parts = await Promise.all(days.map((day) => dayStore(store, day).read(from, to)));
  return JSON.stringify(parts.flat());
}
